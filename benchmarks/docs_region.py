"""``make bench`` writes its own run into docs/benchmarks.md: no figure in the docs without its run.

The report goes between ``<!-- bench-run:EVENTS -->`` and ``<!-- /bench-run:EVENTS -->`` (one region per
data-set size, so a 1 M run does not erase the 10 M one), under a line that says when, on which commit and
whether the working tree held uncommitted changes. A size without a region yet gets a new section at the
end of the file.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commit() -> str:
    """The short commit of the working tree, ``+changes`` when it differs from that commit."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    return head.stdout.strip() + (" +uncommitted changes" if dirty.stdout.strip() else "")


def region(events: int, report: str, when: dt.datetime, revision: str, command: str) -> str:
    return (
        f"<!-- bench-run:{events} -->\n"
        f"Written by `{command}` on {when:%Y-%m-%d %H:%M} UTC, commit {revision}.\n\n"
        f"```text\n{report.strip()}\n```\n"
        f"<!-- /bench-run:{events} -->"
    )


def write(path: Path, events: int, report: str, command: str, when: dt.datetime | None = None) -> None:
    """Put ``report`` into ``path``'s region for ``events`` (added at the end when there is none)."""
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    block = region(events, report, when or dt.datetime.now(dt.UTC), commit(), command)
    pattern = re.compile(rf"<!-- bench-run:{events} -->\n.*?<!-- /bench-run:{events} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + f"\n\n## Latest run at {events:,} events\n\n{block}\n"
    path.write_text(text)
