"""The asset watcher's trigger: SQS messages, a burst at a time, over boto3.

The amazon provider's ``SqsSensorTrigger`` (what ``MessageQueueTrigger(scheme="sqs")`` of common-messaging
runs) talks to SQS through aiobotocore, and no aiobotocore release accepts the project's botocore 1.44
(aiobotocore 3.10.0 needs botocore <1.43.118): in this install it fails at its first poll with
``No module named 'aiobotocore'``. This trigger keeps the provider's semantics (receive, delete what was
received, yield the batch: at-most-once from the DAG's side) and its message filtering, and runs the
synchronous boto3 client of ``SqsHook`` in a thread. It adds what an event-driven load needs:

* **coalescing**: after the first message it keeps receiving for ``batch_seconds`` (or up to
  ``max_messages_per_event``) and yields *one* event for the burst, so 500 uploads in a minute make a
  handful of asset events, hence a handful of DAG runs;
* **slim payloads**: an event carries each message's id and body only (no receipt handles, which are
  useless once deleted), since Airflow stores it in the asset event's ``extra``;
* it runs for as long as the triggerer keeps it (one event per burst, forever), rather than ending after
  one event and being recreated.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.sqs import SqsHook
from airflow.providers.amazon.aws.utils.sqs import process_response
from airflow.triggers.base import BaseEventTrigger, TriggerEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


class SqsBatchTrigger(BaseEventTrigger):
    """Receive S3 notifications from an SQS queue, delete them, and yield one event per burst.

    :param sqs_queue: the queue URL
    :param aws_conn_id: the AWS connection (its ``endpoint_url`` extra points at moto locally)
    :param wait_time_seconds: long-poll wait of each receive (SQS allows up to 20)
    :param batch_seconds: after the first message, how long to keep collecting before yielding
    :param max_messages_per_event: yield early once this many messages are collected
    :param visibility_timeout: receive's visibility timeout (None: the queue's own)
    :param region_name: AWS region over the connection's
    """

    def __init__(
        self,
        sqs_queue: str,
        aws_conn_id: str | None = "aws_default",
        wait_time_seconds: int = 10,
        batch_seconds: float = 10,
        max_messages_per_event: int = 1000,
        visibility_timeout: int | None = None,
        region_name: str | None = None,
    ) -> None:
        super().__init__()
        self.sqs_queue = sqs_queue
        self.aws_conn_id = aws_conn_id
        self.wait_time_seconds = wait_time_seconds
        self.batch_seconds = batch_seconds
        self.max_messages_per_event = max_messages_per_event
        self.visibility_timeout = visibility_timeout
        self.region_name = region_name

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{self.__class__.__module__}.{self.__class__.__qualname__}",
            {
                "sqs_queue": self.sqs_queue,
                "aws_conn_id": self.aws_conn_id,
                "wait_time_seconds": self.wait_time_seconds,
                "batch_seconds": self.batch_seconds,
                "max_messages_per_event": self.max_messages_per_event,
                "visibility_timeout": self.visibility_timeout,
                "region_name": self.region_name,
            },
        )

    def receive_and_delete(self, client: Any, wait: int) -> list[dict[str, str]]:
        """One receive (up to 10 messages) and the delete of what it got: blocking, for a thread."""
        kwargs: dict[str, Any] = {"QueueUrl": self.sqs_queue, "MaxNumberOfMessages": 10, "WaitTimeSeconds": wait}
        if self.visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = self.visibility_timeout
        messages = process_response(client.receive_message(**kwargs))
        if messages:
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
            response = client.delete_message_batch(QueueUrl=self.sqs_queue, Entries=entries)
            for failed in response.get("Failed", []):
                # still in the queue: it comes back after its visibility timeout, and is loaded then
                self.log.warning("could not delete SQS message %s: %s", failed.get("Id"), failed.get("Message"))
        return [{"MessageId": m["MessageId"], "Body": m["Body"]} for m in messages]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        self.log.info("watching SQS queue %s (bursts of %s s)", self.sqs_queue, self.batch_seconds)
        client = await asyncio.to_thread(
            lambda: SqsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name).get_conn()
        )
        while True:
            batch = await asyncio.to_thread(self.receive_and_delete, client, self.wait_time_seconds)
            if not batch:
                continue
            closes = time.monotonic() + self.batch_seconds
            while len(batch) < self.max_messages_per_event and (left := closes - time.monotonic()) > 0:
                more = await asyncio.to_thread(self.receive_and_delete, client, max(0, min(int(left), 5)))
                batch.extend(more)
            self.log.info("received and deleted %d message(s) from %s", len(batch), self.sqs_queue)
            yield TriggerEvent({"status": "success", "message_batch": batch})
