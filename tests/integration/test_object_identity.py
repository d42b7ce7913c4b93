"""Exact object identity and compression, on both targets (issues 18 and 19).

A day holds its day file, a longer-named neighbour (``….json.late``, whose key starts with the day
file's: a COPY of the day file's key as a prefix would load it too), a gzip object named ``.json.gz``
and gzip bytes under a ``.json`` name. PostgreSQL (``COPY FROM STDIN``, fed from moto's S3) and
Redshift (the emulator, whose COPY reads a key as a prefix as Redshift does) must stage the same rows,
object by object, and build the same star, both equal to the oracle's reading of the files.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import json
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from airflow.sdk.exceptions import AirflowFailException
from generate_demo_data import generate
from support import oracle
from support.moto_server import client, upload_folder
from support.runner import run_window
from support.star_schema import assert_star_schema_matches, days_touched
from support.warehouse_state import recreate_tables, rows, snapshot

if TYPE_CHECKING:
    from pathlib import Path

UTC = dt.UTC
ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3"
WINDOW = (dt.datetime(2018, 11, 2, tzinfo=UTC), dt.datetime(2018, 11, 3, tzinfo=UTC))
FOLDER = "log_data/2018/11"
DAY_FILE = f"{FOLDER}/2018-11-02-events.json"
LATE = f"{DAY_FILE}.late"  # a longer-named neighbour: its key starts with the day file's
GZ = f"{FOLDER}/2018-11-02-events-2.json.gz"  # gzip, named so
GZ_AS_JSON = f"{FOLDER}/2018-11-02-events-3.json"  # gzip bytes under a .json name
STAGED = "select * from staging_events order by _source_key, ts, session_id, item_in_session"
PER_OBJECT = "select _source_key, count(*) from staging_events group by _source_key"


COLUMNS = (
    "artist, auth, first_name, gender, item_in_session, last_name, length, level, location, method, page,"
    " registration, session_id, song, status, ts, user_agent, user_id"
)


def copy_sql(bucket: dict, key: str, *, compressed: bool = False) -> str:
    """A day file's COPY into the temporary table ``probe`` as a hand-written statement names it: by its key."""
    return (
        f"copy probe ({COLUMNS}) from '{bucket['uri']}/{key}' iam_role '{ROLE}'"
        f" format as json '{bucket['uri']}/log_json_path.json' timeformat 'epochmillisecs'"
        + (" gzip" if compressed else "")
    )


def probe(conn) -> None:
    conn.execute(f"create temp table probe as select {COLUMNS} from staging_events limit 0")


def new_plays(folder: Path, count: int, first_session: int) -> list[str]:
    """``count`` plays of the day that no file holds yet: NextSong events of the day file under new sessions."""
    plays = [json.loads(line) for line in (folder / DAY_FILE).read_text().splitlines() if '"NextSong"' in line]
    assert len(plays) >= count
    return [json.dumps({**play, "sessionId": first_session + n}) + "\n" for n, play in enumerate(plays[:count])]


@pytest.fixture
def bucket(s3_endpoint, tmp_path, request):
    """A generated source with the day's extra objects, in a bucket of its own, and a workspace bucket."""
    folder = tmp_path / "raw"
    generate(folder, songs=60, users=12, days=3, events_per_day=150, seed=23)
    (folder / LATE).write_text("".join(new_plays(folder, 3, 90_001)))
    (folder / GZ).write_bytes(gzip.compress("".join(new_plays(folder, 4, 91_001)).encode()))
    (folder / GZ_AS_JSON).write_bytes(gzip.compress("".join(new_plays(folder, 2, 92_001)).encode()))
    name = f"identity-{request.node.name[5:25].replace('_', '-').lower()}-{id(folder) % 10_000}"
    upload_folder(s3_endpoint, folder, name, "raw")
    client(s3_endpoint).create_bucket(
        Bucket=f"{name}-work", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    return {"folder": folder, "name": name, "uri": f"s3://{name}/raw", "workspace": f"s3://{name}-work/etl"}


def use_redshift(monkeypatch, emulator, warehouse_dsn: str, bucket: dict, *, workspace: bool = True) -> None:
    database = warehouse_dsn.rsplit("/", 1)[1]
    extras = f"iam_role={quote(ROLE, safe='')}"
    if workspace:
        extras += f"&workspace={quote(bucket['workspace'], safe='')}"
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", f"{emulator.uri(database)}?{extras}")


def upload(s3_endpoint: str, bucket: dict, key: str, data: bytes) -> None:
    (bucket["folder"] / key).write_bytes(data)
    client(s3_endpoint).put_object(Bucket=bucket["name"], Key=f"raw/{key}", Body=data)


def expected_per_object(folder: Path) -> dict[str, int]:
    """Rows per object of the window's days, counted from the files by the oracle."""
    counts: dict[str, int] = {}
    for event in oracle.events(folder, days_touched(*WINDOW), every_object=True):
        counts[event["_object"]] = counts.get(event["_object"], 0) + 1
    return counts


def state(db) -> tuple[list[tuple], dict]:
    return rows(db, STAGED), snapshot(db)


def check_against_oracle(db, folder: Path) -> None:
    assert dict(rows(db, PER_OBJECT)) == expected_per_object(folder)
    assert_star_schema_matches(db, folder, *WINDOW, every_object=True)


@pytest.mark.usefixtures("aws_connection")
def test_each_object_is_staged_exactly_once_and_both_targets_agree(
    dag, db, warehouse_dsn, redshift_emulator, bucket, s3_endpoint, monkeypatch
) -> None:
    folder = bucket["folder"]
    five_plays = "".join(new_plays(folder, 3, 90_001)[:2]).encode()

    # PostgreSQL: COPY FROM STDIN, every object fetched from S3
    run_window(dag, *WINDOW, bucket["uri"])
    check_against_oracle(db, folder)
    on_postgres = state(db)
    upload(s3_endpoint, bucket, LATE, five_plays)  # the neighbour again, one play fewer
    run_window(dag, *WINDOW, bucket["uri"])
    check_against_oracle(db, folder)
    on_postgres_after = state(db)

    # Redshift, from the same bucket as it first was
    upload(s3_endpoint, bucket, LATE, "".join(new_plays(folder, 3, 90_001)).encode())
    recreate_tables(db)
    use_redshift(monkeypatch, redshift_emulator, warehouse_dsn, bucket)
    first_copy = len(redshift_emulator.copies)
    run_window(dag, *WINDOW, bucket["uri"])
    check_against_oracle(db, folder)
    assert state(db) == on_postgres
    day_copies = [c for c in redshift_emulator.copies[first_copy:] if "/log_data/" in " ".join(c.objects)]
    loaded = sorted(uri.removeprefix(f"{bucket['uri']}/") for c in day_copies for uri in c.objects)
    assert loaded == sorted(expected_per_object(folder)), "each day object read once, by one COPY"
    assert all(len(c.objects) == 1 for c in day_copies), "a day object's COPY reads that object only"
    assert all(str(c.source).startswith(bucket["workspace"]) for c in day_copies), "named in a manifest"
    assert client(s3_endpoint).list_objects_v2(Bucket=f"{bucket['name']}-work").get("KeyCount", 0) == 0

    upload(s3_endpoint, bucket, LATE, five_plays)
    run_window(dag, *WINDOW, bucket["uri"])
    check_against_oracle(db, folder)
    assert state(db) == on_postgres_after
    late_plays = "select count(*) from songplays where session_id between 90001 and 90003"
    assert rows(db, late_plays)[0][0] == 2, "the play removed from the neighbour is gone"


def test_the_emulator_reads_a_copy_key_as_a_prefix_as_redshift_does(
    db, warehouse_dsn, redshift_emulator, bucket, monkeypatch
) -> None:
    """What makes the manifests necessary: without them the day file's COPY also loads the neighbour."""
    import psycopg

    recreate_tables(db)
    with psycopg.connect(redshift_emulator.dsn(db.info.dbname), autocommit=True) as conn:
        probe(conn)
        conn.execute(copy_sql(bucket, DAY_FILE))
    read = redshift_emulator.copies[-1].objects
    assert sorted(read) == [f"{bucket['uri']}/{DAY_FILE}", f"{bucket['uri']}/{LATE}"]


@pytest.mark.usefixtures("aws_connection")
def test_without_a_workspace_a_day_file_with_a_neighbour_fails_naming_it(
    dag, db, warehouse_dsn, redshift_emulator, bucket, monkeypatch
) -> None:
    use_redshift(monkeypatch, redshift_emulator, warehouse_dsn, bucket, workspace=False)
    stage = ("create_tables", "stage_events")
    with pytest.raises(AirflowFailException, match=r"would also load .*2018-11-02-events\.json\.late") as error:
        run_window(dag, *WINDOW, bucket["uri"], only=stage)
    assert "workspace" in str(error.value)
    staged = rows(db, "select distinct _source_key from staging_events")
    assert f"{DAY_FILE}" not in {key for (key,) in staged}, "the day file was not loaded with its neighbour"


def run_both(dag, db, warehouse_dsn, redshift_emulator, bucket, monkeypatch, *, expect: list[str]) -> list[dict]:
    """Stage the window on PostgreSQL, then on Redshift (fresh tables): each run must fail naming ``expect``,
    after committing the objects before the bad one; returns each target's rows per object."""
    stage = ("create_tables", "stage_events")
    outcomes = []
    for target in ("postgres", "redshift"):
        recreate_tables(db)
        if target == "redshift":
            use_redshift(monkeypatch, redshift_emulator, warehouse_dsn, bucket)
        with pytest.raises(AirflowFailException) as error:  # fails at once: a retry cannot help
            run_window(dag, *WINDOW, bucket["uri"], only=stage)
        for text in expect:
            assert text in str(error.value), (target, str(error.value))
        outcomes.append(dict(rows(db, PER_OBJECT)))
    return outcomes


@pytest.mark.usefixtures("aws_connection")
def test_a_day_file_and_its_gz_twin_fail_naming_both_on_both_targets(
    dag, db, warehouse_dsn, redshift_emulator, bucket, s3_endpoint, monkeypatch
) -> None:
    upload(s3_endpoint, bucket, f"{DAY_FILE}.gz", gzip.compress((bucket["folder"] / DAY_FILE).read_bytes()))
    postgres, redshift = run_both(
        dag,
        db,
        warehouse_dsn,
        redshift_emulator,
        bucket,
        monkeypatch,
        expect=[f"{bucket['uri']}/{DAY_FILE} and {bucket['uri']}/{DAY_FILE}.gz", "twice"],
    )
    assert postgres == redshift
    assert all(key not in postgres for key in (DAY_FILE, f"{DAY_FILE}.gz")), "neither twin was staged"


@pytest.mark.usefixtures("aws_connection")
def test_bzip2_fails_naming_the_compression_and_the_object_and_what_came_before_stays(
    dag, db, warehouse_dsn, redshift_emulator, bucket, s3_endpoint, monkeypatch
) -> None:
    bad = f"{FOLDER}/2018-11-02-events-4.json"
    upload(s3_endpoint, bucket, bad, bz2.compress((bucket["folder"] / DAY_FILE).read_bytes()))
    postgres, redshift = run_both(
        dag, db, warehouse_dsn, redshift_emulator, bucket, monkeypatch, expect=["compressed with bzip2", bad]
    )
    assert postgres == redshift
    # keys in order: the objects before the bzip2 one are staged, each with all its rows; none after it
    (bucket["folder"] / bad).unlink()
    expected = expected_per_object(bucket["folder"])
    before = {key: n for key, n in expected.items() if key < bad}
    assert before and postgres == before


@pytest.mark.usefixtures("aws_connection")
def test_gzip_bytes_without_the_gzip_option_are_rejected_by_the_emulated_redshift(
    db, redshift_emulator, bucket
) -> None:
    import psycopg

    recreate_tables(db)
    with psycopg.connect(redshift_emulator.dsn(db.info.dbname), autocommit=True) as conn:
        probe(conn)
        # gzip's second byte (8b) is not UTF-8: the record fails that check (error 1220) before any JSON is read
        with pytest.raises(psycopg.Error, match=r"invalid or unsupported UTF8 codepoints\. Bad UTF8 hex sequence: 8b"):
            conn.execute(copy_sql(bucket, GZ_AS_JSON))
        assert conn.execute("select count(*) from probe").fetchone()[0] == 0
        conn.execute(copy_sql(bucket, GZ_AS_JSON, compressed=True))
        assert conn.execute("select count(*) from probe").fetchone()[0] == 2
        with pytest.raises(psycopg.Error, match=f"Failed to inflate S3 object '{bucket['uri']}/{DAY_FILE}'"):
            conn.execute(copy_sql(bucket, DAY_FILE, compressed=True))
        assert conn.execute("select count(*) from probe").fetchone()[0] == 2


def test_the_fixture_holds_what_the_tests_say(bucket) -> None:
    folder = bucket["folder"]
    assert (folder / GZ).read_bytes()[:2] == b"\x1f\x8b" and (folder / GZ_AS_JSON).read_bytes()[:2] == b"\x1f\x8b"
    assert len((folder / LATE).read_text().splitlines()) == 3


@pytest.mark.usefixtures("aws_connection")
def test_a_bad_record_in_a_gzip_object_is_named_by_object_line_and_field_on_both_targets(
    dag, db, warehouse_dsn, redshift_emulator, bucket, s3_endpoint, monkeypatch
) -> None:
    lines = gzip.decompress((bucket["folder"] / GZ).read_bytes()).decode().splitlines(keepends=True)
    record = json.loads(lines[2])
    record["sessionId"] = "not-a-number"
    lines[2] = json.dumps(record) + "\n"
    upload(s3_endpoint, bucket, GZ, gzip.compress("".join(lines).encode()))
    postgres, redshift = run_both(
        dag, db, warehouse_dsn, redshift_emulator, bucket, monkeypatch, expect=[f"{bucket['uri']}/{GZ}", "line 3"]
    )
    assert postgres == redshift
    expected = expected_per_object(bucket["folder"])
    assert postgres == {key: n for key, n in expected.items() if key < GZ}, "what came before stays, whole"


def test_song_files_may_be_gzip_by_name_or_by_bytes_on_both_targets(
    aws_connection, db, warehouse_dsn, redshift_emulator, bucket, s3_endpoint, monkeypatch
) -> None:
    from sparkify.operators import CreateTablesOperator, StageToRedshiftOperator

    folder = bucket["folder"]
    songs = sorted((folder / "song_data").rglob("*.json"))
    # what the plain files say, read before any is compressed
    expected = sorted((s["song_id"], s["title"], s["artist_id"], s["year"]) for s in oracle.songs(folder))
    s3 = client(s3_endpoint)
    for path in songs[:3]:  # gzip named so, in place of the plain file
        key = f"raw/{path.relative_to(folder).as_posix()}"
        s3.delete_object(Bucket=bucket["name"], Key=key)
        s3.put_object(Bucket=bucket["name"], Key=f"{key}.gz", Body=gzip.compress(path.read_bytes()))
    for path in songs[3:5]:  # gzip bytes under the .json name
        s3.put_object(
            Bucket=bucket["name"],
            Key=f"raw/{path.relative_to(folder).as_posix()}",
            Body=gzip.compress(path.read_bytes()),
        )
    song_columns = "song_id, title, artist_id, year"
    staged = {}
    for target in ("postgres", "redshift"):
        recreate_tables(db)
        if target == "redshift":
            use_redshift(monkeypatch, redshift_emulator, warehouse_dsn, bucket)
        CreateTablesOperator(task_id="create_tables").execute({})
        result = StageToRedshiftOperator(
            task_id="stage_songs",
            table="staging_songs",
            source=bucket["uri"],
            prefix="song_data/",
            json_format="auto",
            manifest_batch=20,
        ).execute({})
        assert result["objects_staged"] == len(songs), target
        staged[target] = rows(db, f"select {song_columns} from staging_songs order by song_id")
    assert staged["postgres"] == staged["redshift"]
    assert staged["postgres"] == expected, "every song file once, compressed or not"


def test_a_local_folder_stages_the_same_objects_as_the_bucket(dag, db, bucket) -> None:
    """The folder the bucket was uploaded from: the same listing rule, the same rows, the oracle's star."""
    run_window(dag, *WINDOW, bucket["folder"])
    check_against_oracle(db, bucket["folder"])
    assert {key for (key,) in rows(db, "select distinct _source_key from staging_events")} >= {
        DAY_FILE,
        LATE,
        GZ,
        GZ_AS_JSON,
    }
