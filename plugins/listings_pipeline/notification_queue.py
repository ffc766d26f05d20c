"""The SQS queue the ``amazon_notifications`` DAG watches, described cheaply at parse time.

The DAG is scheduled on an Asset whose AssetWatcher runs the common-messaging provider's
``MessageQueueTrigger`` (scheme ``sqs``) in the triggerer. Importing that trigger imports the
amazon provider's SQS hook, boto3 and botocore (about 0.1 s, and the DAG files import nothing
heavy: tests/dags/test_dag_integrity.py), so the DAG file holds :class:`NotificationQueueTrigger`
instead: it serializes to exactly what ``MessageQueueTrigger(scheme="sqs", ...)`` serializes to
(the amazon provider's ``SqsSensorTrigger`` with the same arguments; tested), which is all Airflow
keeps of a watcher's trigger, and the triggerer runs that.

Messages are received with ``delete_message_on_reception=False``: a message leaves the queue only
when the DAG run recorded it (``from_amazon.notifications.acknowledge``), so a run that fails lets
it come back after the visibility timeout, and one that can never be read goes to the
dead-letter queue after the queue's ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from listings_pipeline.config import NotificationsConfig, load_config

log = logging.getLogger(__name__)

SQS_TRIGGER = "airflow.providers.amazon.aws.triggers.sqs.SqsSensorTrigger"
ASSET_NAME = "amazon_notifications_queue"
MAX_MESSAGES = 10  # SQS's most per receive
#: receives per trigger event: up to 100 messages a DAG run, so a feed that changes hundreds of
#: listings starts a few runs, not one per ten notifications
BATCHES = 10


def trigger_kwargs(queue: NotificationsConfig) -> dict[str, Any]:
    """``MessageQueueTrigger(scheme="sqs", **these)``: the queue, read without deleting."""
    return {
        "sqs_queue": queue.queue_url,
        "aws_conn_id": queue.aws_conn_id,
        "max_messages": MAX_MESSAGES,
        "num_batches": BATCHES,
        "wait_time_seconds": 1,
        "visibility_timeout": queue.visibility_timeout,
        "delete_message_on_reception": False,
        "waiter_delay": queue.poll_seconds,
    }


class NotificationQueueTrigger(BaseEventTrigger):
    """``MessageQueueTrigger(scheme="sqs", ...)`` as Airflow stores it, without importing it here.

    :param queue: the pipeline config's notifications section.
    """

    def __init__(self, queue: NotificationsConfig) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseEventTrigger.__init__ is unannotated
        self.queue = queue

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = trigger_kwargs(self.queue)
        return SQS_TRIGGER, {
            "sqs_queue": kwargs["sqs_queue"],
            "aws_conn_id": kwargs["aws_conn_id"],
            "max_messages": kwargs["max_messages"],
            "num_batches": kwargs["num_batches"],
            "wait_time_seconds": kwargs["wait_time_seconds"],
            "visibility_timeout": kwargs["visibility_timeout"],
            "message_filtering": None,
            "delete_message_on_reception": False,
            "message_filtering_match_values": None,
            "message_filtering_config": None,
            "waiter_delay": kwargs["waiter_delay"],
            "region_name": None,
            "verify": None,
            "botocore_config": None,
        }

    async def run(
        self,
    ) -> AsyncIterator[TriggerEvent]:  # pragma: no cover - the triggerer runs the SQS trigger
        raise NotImplementedError(
            "the triggerer runs the serialized MessageQueueTrigger, not this description"
        )
        yield  # an async generator, as Airflow expects


def watched_queue() -> NotificationsConfig | None:
    """The deployed config's queue (one small YAML read, as the forms do); None without one, or when
    the config cannot be read (the DAG then runs only when triggered, and says why)."""
    try:
        return load_config().notifications
    except (OSError, ValueError) as err:
        log.warning("amazon_notifications watches no queue: %s", err)
        return None
