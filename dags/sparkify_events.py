"""
# sparkify_events

Loads a new S3 object within a minute: the source bucket's `s3:ObjectCreated:*` notifications for
`log_data/` and `song_data/` go to an SQS queue; an asset watcher on that queue (the triggerer) turns each
burst of messages into one asset event, and each asset event (or several, coalesced by the scheduler)
into a run of this DAG, which triggers `sparkify_etl` for the windows the messages name:

```
plan_loads → load (TriggerDagRunOperator to sparkify_etl, one per window)
```

* a day file `log_data/YYYY/MM/YYYY-MM-DD…` (new or changed): its day `[D, D+1)`;
* a song file `song_data/…/*.json`: the hours of the staged plays it matches (title, artist, duration),
  so those songplays are reloaded and matched; if it matches none, the latest staged hour, so the song
  and artist dimensions get it;
* anything else (`s3:TestEvent`, not a notification, malformed JSON, another bucket or prefix, a key
  outside the layouts, an object deleted before the run) is logged with its reason and skipped.

Contiguous days and hours become one window, so a burst of uploads makes a handful of `sparkify_etl`
runs. Staging's ledger stages each object version once, and every load replaces its window: a message
delivered twice, or a file uploaded twice, loads nothing twice. What guarantees what: docs/events.md.

**Configuration.** `SPARKIFY_SQS_QUEUE_URL` (where the DAG processor and triggerer run): the queue;
unset, the DAG has no watcher and runs only when triggered by hand (conf `{"messages": [...]}`). The
connection `aws_default` reaches SQS and S3; the Variable `sparkify_source` (an `s3://bucket/prefix`)
says which bucket and prefix the notifications must name.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Asset, AssetWatcher, Param, get_current_context, task

from sparkify import s3_events
from sparkify.settings import from_env, from_variable
from sparkify.sqs_trigger import SqsBatchTrigger

log = logging.getLogger(__name__)

QUEUE_URL: str = from_env("sqs_queue_url")
# after the first message of a burst, how long the trigger keeps collecting before one asset event
BATCH_SECONDS: int = from_env("events_batch_seconds")

S3_NOTIFICATIONS = Asset(
    name="sparkify.s3_notifications",
    uri=f"sqs://{QUEUE_URL.split('://', 1)[-1]}" if QUEUE_URL else "sqs://unconfigured/sparkify",
    watchers=(
        [
            AssetWatcher(
                name="sparkify_s3_notifications",
                trigger=SqsBatchTrigger(sqs_queue=QUEUE_URL, aws_conn_id="aws_default", batch_seconds=BATCH_SECONDS),
            )
        ]
        if QUEUE_URL
        else []
    ),
)


def messages_of_run(context: dict) -> list:
    """The SQS messages of the asset events that triggered this run, or of the conf ``messages``."""
    messages = list(context["params"].get("messages") or [])
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            payload = (event.extra or {}).get("payload") or {}
            messages.extend(payload.get("message_batch") or [])
    return messages


def song_keys_of(source, key: str) -> list[tuple[str, str, float]]:
    """(title, artist name, duration) of every song in one song file (one JSON object a line, or one)."""
    songs = []
    for line in source.read(key).decode("utf-8").splitlines():
        if line.strip():
            song = json.loads(line)
            songs.append((song["title"], song["artist_name"], float(song["duration"])))
    return songs


def hours_of_plays(songs: list[tuple[str, str, float]]) -> tuple[list[dt.datetime], dt.datetime | None]:
    """The hours of the staged plays of ``songs``, and the latest staged hour (None: nothing staged)."""
    from sparkify.warehouses import open_warehouse

    hours: list[dt.datetime] = []
    with open_warehouse("redshift").transaction() as cursor:
        cursor.execute("select to_regclass('staging_events') is not null")
        if not cursor.fetchone()[0]:
            return [], None
        for title, artist, duration in songs:
            cursor.execute(
                "select distinct date_trunc('hour', ts) from staging_events"
                " where page = 'NextSong' and song = %s and artist = %s and length = %s",
                (title, artist, duration),
            )
            hours.extend(row[0].replace(tzinfo=dt.UTC) for row in cursor.fetchall())
        cursor.execute("select date_trunc('hour', max(ts)) from staging_events")
        latest = cursor.fetchone()[0]
    return hours, latest.replace(tzinfo=dt.UTC) if latest else None


@task
def plan_loads() -> list[dict]:
    """Decide the sparkify_etl windows the messages ask for; log every message skipped, with its reason."""
    from sparkify.sources import open_source

    context = get_current_context()
    messages = messages_of_run(context)  # type: ignore[arg-type]
    source_uri = from_variable("source")
    bucket, prefix = s3_events.source_location(source_uri)
    plan = s3_events.plan(messages, bucket, prefix)
    for skip in plan.skipped:
        log.warning("skipped SQS message %s: %s", skip.message_id, skip.reason)

    source = open_source(source_uri)
    hours: set[dt.datetime] = set()
    for key, day in sorted(plan.days.items()):
        if source.stat(key) is None:
            log.warning("skipped %s: deleted before this run (its day is loaded by any later run of it)", key)
            continue
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        hours.update(start + dt.timedelta(hours=h) for h in range(24))
    songs = []
    for key in plan.songs:
        if source.stat(key) is None:
            log.warning("skipped %s: deleted before this run", key)
            continue
        try:
            songs.extend(song_keys_of(source, key))
        except (ValueError, KeyError, TypeError) as error:
            log.warning("skipped %s: not a song file (%s); staging will say more", key, error)
    if songs:
        matched, latest = hours_of_plays(songs)
        log.info("%d song(s) match staged plays in %d hour(s)", len(songs), len(set(matched)))
        hours.update(matched)
        if not hours and latest is not None:
            hours.add(latest)  # any run upserts songs and artists from every staged song
    windows = s3_events.hour_spans(hours)
    log.info(
        "%d message(s): %d day file(s), %d song file(s), %d skipped → %d sparkify_etl run(s): %s",
        plan.messages,
        len(plan.days),
        len(plan.songs),
        len(plan.skipped),
        len(windows),
        [(s.isoformat(), e.isoformat()) for s, e in windows],
    )
    return [s3_events.run_conf(start, end) for start, end in windows]


with DAG(
    dag_id="sparkify_events",
    description="Load what S3 notifications name, through sparkify_etl, within a minute",
    doc_md=__doc__,
    schedule=[S3_NOTIFICATIONS] if QUEUE_URL else None,
    start_date=dt.datetime(2018, 11, 1, tzinfo=dt.UTC),
    catchup=False,
    default_args={"owner": "sparkify-data", "retries": 2, "retry_delay": dt.timedelta(seconds=30)},
    tags=["sparkify", "etl", "events"],
    params={
        "messages": Param(
            [],
            type="array",
            description="SQS messages (or bare notification bodies) to plan, for a manual run or a replay.",
        ),
    },
) as dag:
    windows = plan_loads()
    TriggerDagRunOperator.partial(task_id="load", trigger_dag_id="sparkify_etl", logical_date=None).expand(conf=windows)
