"""The event source of docs/events.md, made from its JSON files: bucket, queue, dead-letter queue, notification.

    python scripts/events_local.py setup --endpoint http://127.0.0.1:PORT --bucket B --prefix P --queue Q

creates (idempotently) against any S3 + SQS endpoint (moto's server for ``make events-up``, or AWS with no
``--endpoint``) the dead-letter queue ``Q-dlq``, the queue ``Q`` with ``docs/iam/events/queue-attributes.json``
and ``queue-policy.json``, the bucket and its notification ``bucket-notification.json``, and prints the
queue URL. The same functions build the event source of the tests and the benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "docs" / "iam" / "events"
REGION = "us-west-2"


def render(name: str, **values: str) -> str:
    """The text of ``docs/iam/events/<name>.json`` with each ``{key}`` replaced by its value."""
    text = (POLICIES / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def clients(endpoint: str | None, region: str = REGION) -> tuple[Any, Any, Any]:
    """(s3, sqs, sts) boto3 clients of ``endpoint`` (moto: any key pair), or of AWS when ``None``."""
    import boto3

    extra: dict[str, Any] = {"region_name": region}
    if endpoint:
        extra |= {"endpoint_url": endpoint, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client("s3", **extra), boto3.client("sqs", **extra), boto3.client("sts", **extra)


def queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def create_event_source(
    endpoint: str | None, bucket: str, prefix: str, queue: str, region: str = REGION
) -> dict[str, str]:
    """Create the dead-letter queue, the queue (attributes, policy), the bucket and its notification.

    :param prefix: the source prefix inside the bucket, without slashes at either end ('' for none)
    :return: queue_url, queue_arn, dlq_url, dlq_arn
    """
    s3, sqs, sts = clients(endpoint, region)
    account = sts.get_caller_identity()["Account"]
    prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq = queue_arn(sqs, dlq_url)
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = queue_arn(sqs, url)
    values = {"queue_arn": arn, "dlq_arn": dlq, "bucket": bucket, "prefix": prefix, "account": account}
    attributes = json.loads(render("queue-attributes", **values))
    attributes["Policy"] = render("queue-policy", **values)
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes=json.loads(render("dead-letter-queue-attributes", **values)))
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration=json.loads(render("bucket-notification", **values))
    )
    return {"queue_url": url, "queue_arn": arn, "dlq_url": dlq_url, "dlq_arn": dlq}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help="create the queues, the bucket and its notification; print the queue URL")
    setup.add_argument("--endpoint", default=None, help="S3 + SQS endpoint (moto); AWS when omitted")
    setup.add_argument("--bucket", required=True)
    setup.add_argument("--prefix", default="")
    setup.add_argument("--queue", required=True)
    setup.add_argument("--region", default=REGION)
    args = parser.parse_args()
    made = create_event_source(args.endpoint, args.bucket, args.prefix, args.queue, args.region)
    print(made["queue_url"])


if __name__ == "__main__":
    main()
