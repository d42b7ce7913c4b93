"""Songplays per hour as an inline SVG bar chart, drawn on the server (no script, no external asset).

Every text it writes goes through :func:`html.escape`, so the SVG is safe to embed in the page as is.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

WIDTH, HEIGHT = 960, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 40
BAR_COLOUR = "#1db954"


def _text(x: float, y: float, content: str, anchor: str = "middle", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="#444">{escape(content)}</text>'
    )


def songplays_svg(hours: list[tuple[dt.datetime, int]]) -> str:
    """The SVG of ``(hour, songplays)`` pairs, one bar per hour; a short note when there are none."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="songplays-per-hour" role="img" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}" aria-label="songplays per hour">'
    )
    if not hours:
        return head + _text(WIDTH / 2, HEIGHT / 2, "no songplays loaded yet") + "</svg>"
    peak = max(plays for _, plays in hours) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(hours)
    span = f"{hours[0][0]:%Y-%m-%d %H:00} to {hours[-1][0]:%Y-%m-%d %H:00}"
    parts = [head, f"<title>songplays per hour (UTC), {escape(span)}</title>"]
    baseline = TOP + plot_h
    parts.append(f'<line x1="{LEFT}" y1="{baseline}" x2="{WIDTH - RIGHT}" y2="{baseline}" stroke="#999"/>')
    parts.append(_text(LEFT - 6, TOP + 4, f"{peak:,}", anchor="end"))
    parts.append(_text(LEFT - 6, baseline, "0", anchor="end"))
    for index, (hour, plays) in enumerate(hours):
        height = plot_h * plays / peak
        x = LEFT + index * step
        label = f"{hour:%Y-%m-%d %H:00} UTC: {plays:,} songplays"
        parts.append(
            f'<rect class="bar" x="{x + 0.5:.1f}" y="{baseline - height:.1f}" width="{max(step - 1, 1):.1f}"'
            f' height="{height:.1f}" fill="{BAR_COLOUR}" data-hour="{escape(hour.isoformat())}" data-plays="{plays}">'
            f"<title>{escape(label)}</title></rect>"
        )
        if hour.hour == 0:
            parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{baseline + 4}" stroke="#ccc"/>')
            parts.append(_text(x + 2, baseline + 30, f"{hour:%Y-%m-%d}", anchor="start"))
        if hour.hour % 6 == 0:
            parts.append(_text(x + step / 2, baseline + 14, f"{hour:%H}h", size=10))
    parts.append("</svg>")
    return "".join(parts)
