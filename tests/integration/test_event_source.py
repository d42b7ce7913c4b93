"""The event source of docs/events.md, applied from its JSON files (docs/iam/events/) to moto's server over
HTTP: the notification reaches the queue for log_data/ and song_data/ only, URL-encoded; the queue has its
visibility timeout, retention and policy; a message received too often goes to the dead-letter queue; the
triggerer's policy is a policy IAM accepts. The trigger itself receives, deletes and coalesces a burst."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import unquote_plus

import pytest
from events_local import POLICIES, create_event_source, render
from support.moto_server import client

BUCKET = "sparkify-events-it"


@pytest.fixture
def source(s3_endpoint):
    queue = f"events-{time.monotonic_ns()}"
    return create_event_source(s3_endpoint, BUCKET, "raw", queue)


def receive_all(sqs, url: str, wait: int = 1) -> list[dict]:
    got: list[dict] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages"):
        got.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)]
        )
    return got


def test_every_json_file_is_documented_and_valid() -> None:
    text = (POLICIES.parents[1] / "events.md").read_text()
    for path in sorted(POLICIES.glob("*.json")):
        json.loads(path.read_text())
        assert f"docs/iam/events/{path.name}" in text


def test_the_notification_reaches_the_queue_for_the_two_prefixes_only(s3_endpoint, source) -> None:
    s3, sqs = client(s3_endpoint, "s3"), client(s3_endpoint, "sqs")
    receive_all(sqs, source["queue_url"])  # the s3:TestEvent of an earlier configuration of the bucket
    for key in ("raw/log_data/2018/11/2018-11-01 events.json", "raw/song_data/A/B/x.json", "raw/other/y.json"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    keys = [
        unquote_plus(record["s3"]["object"]["key"])
        for message in receive_all(sqs, source["queue_url"])
        for record in json.loads(message["Body"]).get("Records", [])
    ]
    assert sorted(keys) == ["raw/log_data/2018/11/2018-11-01 events.json", "raw/song_data/A/B/x.json"]


def test_the_queue_attributes_policy_and_dead_letter_queue(s3_endpoint, source) -> None:
    sqs = client(s3_endpoint, "sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=source["queue_url"], AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "120"
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": source["dlq_arn"], "maxReceiveCount": 5}
    policy = json.loads(attributes["Policy"])
    assert policy["Statement"][0]["Resource"] == source["queue_arn"]
    assert policy["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{BUCKET}"
    # a message received maxReceiveCount times without a delete moves to the dead-letter queue
    receive_all(sqs, source["queue_url"])
    sqs.send_message(QueueUrl=source["queue_url"], MessageBody="poison")
    for _ in range(5):
        sqs.receive_message(QueueUrl=source["queue_url"], VisibilityTimeout=0, WaitTimeSeconds=1)
    sqs.receive_message(QueueUrl=source["queue_url"], VisibilityTimeout=0, WaitTimeSeconds=1)
    dead = sqs.receive_message(QueueUrl=source["dlq_url"], WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in dead] == ["poison"]


def test_the_triggerer_policy_is_accepted_by_iam(s3_endpoint, source) -> None:
    iam = client(s3_endpoint, "iam")
    document = render("triggerer-policy", queue_arn=source["queue_arn"], bucket=BUCKET, prefix="raw/")
    made = iam.create_policy(PolicyName=f"sparkify-triggerer-{time.monotonic_ns()}", PolicyDocument=document)
    actions = {a for s in json.loads(document)["Statement"] for a in s["Action"]}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} <= actions
    assert made["Policy"]["Arn"]


def test_the_trigger_receives_deletes_and_coalesces_a_burst(s3_endpoint, source, aws_connection) -> None:
    from sparkify.sqs_trigger import SqsBatchTrigger

    sqs = client(s3_endpoint, "sqs")
    receive_all(sqs, source["queue_url"])
    for n in range(35):
        sqs.send_message(QueueUrl=source["queue_url"], MessageBody=json.dumps({"n": n}))
    trigger = SqsBatchTrigger(sqs_queue=source["queue_url"], wait_time_seconds=1, batch_seconds=2)

    async def first_event():
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(first_event())
    assert sorted(json.loads(m["Body"])["n"] for m in payload["message_batch"]) == list(range(35))
    assert set(payload["message_batch"][0]) == {"MessageId", "Body"}
    assert receive_all(sqs, source["queue_url"]) == [], "every received message was deleted"
    classpath, kwargs = trigger.serialize()
    assert classpath == "sparkify.sqs_trigger.SqsBatchTrigger" and kwargs["sqs_queue"] == source["queue_url"]
