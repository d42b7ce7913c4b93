"""What a batch of S3 notifications loads (sparkify.s3_events): day files give their day, song files are
kept, every other message is skipped with a reason; URL-encoded keys are decoded; windows are merged."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from sparkify import s3_events

UTC = dt.UTC


def notification(key: str, bucket: str = "b", event: str = "ObjectCreated:Put") -> dict:
    record = {"eventName": event, "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}}}
    return {"MessageId": key, "Body": json.dumps({"Records": [record]})}


def test_day_files_and_song_files_are_recognised_url_encoded_keys_decoded() -> None:
    plan = s3_events.plan(
        [
            notification("raw%2Flog_data%2F2018%2F11%2F2018-11-01-events.json"),
            notification("raw/log_data/2018/11/2018-11-02+part+1.json"),
            notification("raw/song_data/A/B/C/TRABC.json"),
        ],
        "b",
        "raw/",
    )
    assert plan.days == {
        "log_data/2018/11/2018-11-01-events.json": dt.date(2018, 11, 1),
        "log_data/2018/11/2018-11-02 part 1.json": dt.date(2018, 11, 2),
    }
    assert plan.songs == ["song_data/A/B/C/TRABC.json"]
    assert plan.skipped == []


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"MessageId": "m", "Body": "{not json"}, "malformed JSON"),
        ({"MessageId": "m", "Body": json.dumps({"Event": "s3:TestEvent"})}, "s3:TestEvent"),
        ({"MessageId": "m", "Body": json.dumps({"hello": 1})}, "not an S3 event notification"),
        ({"MessageId": "m", "Body": json.dumps({"Records": [{"x": 1}]})}, "not an S3 event record"),
        (notification("raw/log_data/2018/11/2018-11-01-events.json", bucket="other"), "outside the source"),
        (notification("elsewhere/log_data/2018/11/2018-11-01-events.json"), "outside the source"),
        (notification("raw/log_data/2018/11/notes.txt"), "outside the known layouts"),
        (notification("raw/log_data/2018/12/2018-11-01-events.json"), "outside the known layouts"),
        (notification("raw/log_data/2018/02/2018-02-30-events.json"), "no such day"),
        (notification("raw/song_data/A/x.json", event="ObjectRemoved:Delete"), "is not an object creation"),
    ],
)
def test_every_bad_message_is_skipped_with_its_reason(message, reason) -> None:
    plan = s3_events.plan([message], "b", "raw/")
    assert plan.days == {} and plan.songs == []
    assert len(plan.skipped) == 1 and reason in plan.skipped[0].reason


def test_a_duplicate_is_one_day_and_hours_merge_into_contiguous_windows() -> None:
    key = "raw/log_data/2018/11/2018-11-01-events.json"
    plan = s3_events.plan([notification(key), notification(key)], "b", "raw/")
    assert plan.messages == 2 and len(plan.days) == 1
    first = dt.datetime(2018, 11, 1, tzinfo=UTC)
    hours = [first + dt.timedelta(hours=h) for h in range(48)] + [first + dt.timedelta(days=5, hours=3)]
    assert s3_events.hour_spans(reversed(hours)) == [
        (first, first + dt.timedelta(days=2)),
        (first + dt.timedelta(days=5, hours=3), first + dt.timedelta(days=5, hours=4)),
    ]
    year = [first + dt.timedelta(hours=h) for h in range(24 * 400)]
    spans = s3_events.hour_spans(year, max_days=366)
    assert len(spans) == 2 and spans[0][1] - spans[0][0] == dt.timedelta(days=366)


def test_source_location() -> None:
    assert s3_events.source_location("s3://bucket/raw/") == ("bucket", "raw/")
    assert s3_events.source_location("s3://bucket") == ("bucket", "")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        s3_events.source_location("folder/on/disk")
