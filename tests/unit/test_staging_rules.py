"""What the models need of each staged record (issue 18): rules from the catalogue, the same verdicts on
the fast path and the reference path, normalised vocabularies, and errors that name field and value."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import shutil
from pathlib import Path

import pytest

from sparkify.models.catalogue import load_catalogue
from sparkify.staging.catalogue_rules import table_rules
from sparkify.staging.json_copy import (
    Column,
    CopyOptions,
    JsonMapping,
    StagingDataError,
    iter_records,
)
from sparkify.staging.json_stream import StreamEncoder
from sparkify.staging.row_encoder import RowEncoder, copy_suffix
from sparkify.staging.rules import RecordRules, StagingRules

SQL = Path(__file__).resolve().parents[2] / "sql"
COLUMNS = [
    Column("page", "character varying", 64),
    Column("session_id", "integer"),
    Column("user_id", "integer"),
    Column("level", "character varying", 16),
    Column("ts", "timestamp without time zone"),
]
PATHS = {"jsonpaths": ["$['page']", "$['sessionId']", "$['userId']", "$['level']", "$['ts']"]}
WHERE = "s3://b/log_data/2018/11/2018-11-01-events.json"
DAY = dt.date(2018, 11, 1)
NOON = 1541073600000  # 2018-11-01 12:00 UTC, in epoch milliseconds


def encoders() -> tuple[StreamEncoder, RecordRules]:
    mapping = JsonMapping(COLUMNS, "paths.json", PATHS)
    rules = StagingRules(table_rules("staging_events"), "ts", {"k": DAY}, dt.timedelta(days=1))
    compiled = rules.for_object("k", mapping.columns, mapping.describe)
    assert compiled is not None
    return StreamEncoder(mapping, CopyOptions()), compiled


def test_the_rules_come_from_the_catalogue_and_a_model_reads_only_its_rows() -> None:
    events = {(r.column, r.kind): r for r in table_rules("staging_events")}
    for column in ("session_id", "item_in_session", "user_id", "ts"):  # songplay_id is computed from them
        assert events[column, "not_null"].when == (("page", ("NextSong",)),)
    assert events["page", "vocabulary"].values[0] == "NextSong"
    assert events["level", "vocabulary"].values == ("free", "paid")  # from accepted_values(level)
    songs = {(r.column, r.kind): r for r in table_rules("staging_songs")}
    assert songs["duration", "range"].bounds == (("greater_than", 0),)
    assert ("song_id", "not_null") in songs and ("artist_id", "not_null") in songs


def test_a_new_models_needs_are_checked_too(tmp_path) -> None:
    root = tmp_path / "sql"
    shutil.copytree(SQL, root)
    (root / "ddl" / "sessions.sql").write_text(
        "create table if not exists sessions (session_id integer not null, {{ primary_key() }})\n"
    )
    (root / "models" / "sessions.sql").write_text("select distinct session_id, status from staging_events")
    (root / "models" / "sessions.yml").write_text(
        "table: sessions\nkind: dimension\ngrain: one row per session\nprimary_key: [session_id]\n"
        "load: upsert\ndepends_on: [staging_events]\n"
        "columns:\n  - {name: session_id, from: [staging_events.session_id]}\n"
        "  - {name: status, from: [staging_events.status]}\n"
        "checks:\n  - not_null: [session_id]\n  - range: {column: status, min: 100, max: 599}\n"
    )
    rules = {(r.column, r.kind, r.when, r.bounds) for r in table_rules("staging_events", load_catalogue(root))}
    assert ("session_id", "not_null", (), ()) in rules  # every event, not only plays: this model reads them all
    assert ("status", "range", (), (("min", 100), ("max", 599))) in rules


def _record(pick: random.Random) -> dict:
    return {
        "page": pick.choice(["NextSong", "NextSong", "Home", "nextsong", "NextSong ", "Next Song", None, "", {"a": 1}]),
        "sessionId": pick.choice([1, 2, None, "", 7]),
        "userId": pick.choice(["5", "", None, 3]),
        "level": pick.choice(["free", "paid", " Paid", "FREE", "gold", None]),
        "ts": pick.choice([NOON, NOON // 1000, None, -1, NOON + 3 * 86_400_000, NOON + 0.5]),
    }


@pytest.mark.parametrize("seed", range(5))
def test_fast_and_reference_paths_give_the_same_rows_and_rejections(seed: int) -> None:
    pick = random.Random(seed)
    records = [_record(pick) for _ in range(300)]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    encoder, rules = encoders()

    def run(stream_encoder: bool) -> tuple[list[str], list[tuple]]:
        rejected: list[tuple] = []

        def reject(line, path, reason, record):
            rejected.append((line, path, reason))

        if stream_encoder:
            chunks = encoder.chunks(io.BytesIO(body), WHERE, ("k",), reject=reject, rules=rules)
            return "".join(chunk for chunk, _ in chunks).splitlines(), rejected
        reference = RowEncoder(encoder.exact.mapping, CopyOptions())
        out = reference.encode_records(iter_records(body.decode(), WHERE), WHERE, copy_suffix(("k",)), reject, rules)
        return "".join(out).splitlines(), rejected

    fast, fast_rejected = run(True)
    exact, exact_rejected = run(False)
    assert fast_rejected == exact_rejected
    assert [_instant(line) for line in fast] == [_instant(line) for line in exact]
    # an independent count: the records a play needs and the window allows
    expected_rejects = sum(1 for r in records if _breaks(r))
    assert len(exact_rejected) == expected_rejects and len(exact) == len(records) - expected_rejects


def _instant(line: str) -> list:
    cells: list = line.split("\t")
    if cells[4] != r"\N":
        cells[4] = dt.datetime.fromisoformat(cells[4])
    return cells


def _breaks(record: dict) -> bool:
    """Whether a record breaks a rule, computed from the issue's rules directly."""
    ts = record["ts"]
    low, high = NOON - 36 * 3_600_000, NOON + 36 * 3_600_000  # the day, and a day either side
    if ts is None or not low <= ts < high:
        return True
    page = record["page"]
    play = isinstance(page, str) and page.strip().lower() == "nextsong"
    return play and any(record[k] in (None, "") for k in ("sessionId", "userId"))


def test_vocabularies_are_normalised_and_an_unknown_value_is_kept_trimmed() -> None:
    encoder, rules = encoders()
    records = [
        {"page": " nextsong ", "sessionId": 1, "userId": 2, "level": "PAID", "ts": NOON},
        {"page": "Next Song ", "sessionId": 1, "userId": 2, "level": "gold", "ts": NOON},
    ]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    lines = "".join(c for c, _ in encoder.chunks(io.BytesIO(body), WHERE, ("k",), rules=rules)).splitlines()
    assert [line.split("\t")[:4] for line in lines] == [["NextSong", "1", "2", "paid"], ["Next Song", "1", "2", "gold"]]


def test_a_broken_rule_names_object_line_field_and_value() -> None:
    encoder, rules = encoders()
    body = json.dumps({"page": "NextSong", "sessionId": 1, "userId": 2, "level": "free", "ts": NOON // 1000}) + "\n"
    with pytest.raises(StagingDataError) as error:
        list(encoder.chunks(io.BytesIO(body.encode()), WHERE, ("k",), rules=rules))
    message = str(error.value)
    assert message.startswith(f"{WHERE}, line 1, field $['ts'] (column ts): {NOON // 1000} (1970-01-18 ")
    assert "no window would ever load it" in message
