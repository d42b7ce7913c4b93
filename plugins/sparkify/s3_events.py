"""What a batch of S3 event notifications asks to load: the windows of ``sparkify_etl`` runs.

The source bucket sends ``s3:ObjectCreated:*`` notifications for ``log_data/`` and ``song_data/`` to an SQS
queue; the asset watcher of ``dags/sparkify_events.py`` hands the messages of a burst to one run, which
calls :func:`plan` here. Every message is decided on its own and the reason for each skip is kept:

* not JSON, not an S3 notification, ``s3:TestEvent``, a record that is not ``ObjectCreated``: skipped;
* a key of another bucket, outside the source prefix, or outside the known layouts: skipped;
* ``log_data/YYYY/MM/YYYY-MM-DD…`` (the layout ``sparkify_etl`` stages): the day ``[D, D+1)``;
* ``song_data/…/*.json``: a song file, resolved later into the hours of the plays it may now match.

Keys in notifications are URL-encoded (``log_data%2F2018%2F…``, a space as ``+``): they are decoded with
``unquote_plus`` first. Hours are merged into contiguous windows, at most ``max_days`` long, so a
burst of uploads of one month gives one run, not one run per file. Nothing here touches S3 or the warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urlparse

if TYPE_CHECKING:
    from collections.abc import Iterable

UTC = dt.UTC
DAY_FILE = re.compile(r"^log_data/(?P<y>\d{4})/(?P<m>\d{2})/(?P=y)-(?P=m)-(?P<d>\d{2})[^/]*$")
SONG_FILE = re.compile(r"^song_data/(?:[^/]+/)*[^/]+\.json$")


@dataclass(frozen=True)
class Skipped:
    """A message, or one record of it, that loads nothing, and why."""

    message_id: str
    reason: str


@dataclass
class Plan:
    """What one batch of messages asks for."""

    #: day files: object key → its day
    days: dict[str, dt.date] = field(default_factory=dict)
    #: song files: object keys
    songs: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    messages: int = 0


def source_location(source: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (bucket, prefix with a trailing ``/`` or empty)."""
    parsed = urlparse(source)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"events need an s3://bucket/prefix source, not {source!r}")
    prefix = parsed.path.strip("/")
    return parsed.netloc, f"{prefix}/" if prefix else ""


def message_body(message: Any) -> tuple[str, str]:
    """(message id, body) of one SQS message as the trigger passes it on (a dict), or of a bare body."""
    if isinstance(message, dict) and "Body" in message:
        return str(message.get("MessageId", "?")), str(message["Body"])
    return "?", message if isinstance(message, str) else json.dumps(message)


def plan(messages: Iterable[Any], bucket: str, prefix: str) -> Plan:
    """Sort the notifications of ``messages`` into day files, song files and skips (with reasons)."""
    result = Plan()
    for message in messages:
        result.messages += 1
        message_id, body = message_body(message)
        try:
            document = json.loads(body)
        except ValueError as error:
            result.skipped.append(Skipped(message_id, f"malformed JSON ({error})"))
            continue
        if isinstance(document, dict) and document.get("Event") == "s3:TestEvent":
            result.skipped.append(Skipped(message_id, "s3:TestEvent (sent when the notification is configured)"))
            continue
        records = document.get("Records") if isinstance(document, dict) else None
        if not isinstance(records, list) or not records:
            result.skipped.append(Skipped(message_id, "not an S3 event notification (no Records)"))
            continue
        for record in records:
            reason = _record(record, bucket, prefix, result)
            if reason:
                result.skipped.append(Skipped(message_id, reason))
    return result


def _record(record: Any, bucket: str, prefix: str, result: Plan) -> str | None:
    """File one record into ``result``; the reason it loads nothing, or None."""
    try:
        event_name = str(record["eventName"])
        record_bucket = str(record["s3"]["bucket"]["name"])
        key = unquote_plus(str(record["s3"]["object"]["key"]))
    except (KeyError, TypeError):
        return "not an S3 event record (no eventName, bucket or key)"
    if not event_name.startswith("ObjectCreated:"):
        return f"{event_name} is not an object creation: s3://{record_bucket}/{key}"
    if record_bucket != bucket or not key.startswith(prefix):
        return f"s3://{record_bucket}/{key} is outside the source s3://{bucket}/{prefix}"
    relative = key[len(prefix) :]
    if day := DAY_FILE.match(relative):
        try:
            result.days[relative] = dt.date(int(day["y"]), int(day["m"]), int(day["d"]))
        except ValueError:
            return f"{relative}: no such day"
        return None
    if SONG_FILE.match(relative):
        if relative not in result.songs:
            result.songs.append(relative)
        return None
    return f"{relative}: outside the known layouts (log_data/YYYY/MM/YYYY-MM-DD…, song_data/…/*.json)"


def hour_spans(hours: Iterable[dt.datetime], max_days: int = 366) -> list[tuple[dt.datetime, dt.datetime]]:
    """Contiguous runs of hours as ``[start, end)`` UTC windows, each at most ``max_days`` long."""
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    step = dt.timedelta(hours=1)
    for hour in sorted({h.replace(minute=0, second=0, microsecond=0, tzinfo=h.tzinfo or UTC) for h in hours}):
        if spans and spans[-1][1] == hour and hour - spans[-1][0] < dt.timedelta(days=max_days):
            spans[-1] = (spans[-1][0], hour + step)
        else:
            spans.append((hour, hour + step))
    return spans


def run_conf(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """The conf of a ``sparkify_etl`` run over ``[start, end)``."""
    return {"window_start": start.isoformat(), "window_end": end.isoformat()}
