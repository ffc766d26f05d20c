"""The demo's local SQS: moto in server mode, and the queues Amazon's notifications go to.

In a deployment the queue and its dead-letter queue are infrastructure (created once, with a
policy that lets Amazon's account write to it); here the demo starts moto's server as one of its
services and creates both queues on it, so the sandbox can deliver notifications and the
``amazon_notifications`` DAG can watch the queue. A message that fails to be read is moved to the
dead-letter queue by SQS itself after :data:`MAX_RECEIVES` receives (the redrive policy).

The compose deployment's trial queue is made by the same code: its one-shot ``sqs-init`` service
runs ``python -m demo.local_sqs --endpoint-url http://sqs:5000`` against the ``sqs`` service.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
QUEUE = "spapi-notifications"
DEAD_LETTERS = "spapi-notifications-dlq"
MAX_RECEIVES = 3
VISIBILITY_TIMEOUT = 30  # seconds: a demo run records a batch in a few


def queue_arn(name: str = QUEUE) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def queue_url(endpoint_url: str, name: str = QUEUE) -> str:
    return f"{endpoint_url}/{ACCOUNT}/{name}"


def _client(endpoint_url: str) -> Any:
    import boto3  # type: ignore[import-untyped]

    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )


def create_queues(endpoint_url: str, deadline: float) -> str:
    """Create the notifications queue and its dead-letter queue (idempotent, as SQS's create_queue
    is for the same attributes), once the server answers; returns the queue's URL."""
    import botocore.exceptions

    client = _client(endpoint_url)
    while True:
        try:
            client.create_queue(QueueName=DEAD_LETTERS)
            break
        except botocore.exceptions.EndpointConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    redrive = {"deadLetterTargetArn": queue_arn(DEAD_LETTERS), "maxReceiveCount": str(MAX_RECEIVES)}
    created = client.create_queue(
        QueueName=QUEUE,
        Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": str(VISIBILITY_TIMEOUT)},
    )
    return str(created["QueueUrl"])


def notifications_config(endpoint_url: str) -> dict[str, Any]:
    """The pipeline config's ``notifications`` section for the local queue."""
    return {
        "queue_arn": queue_arn(),
        "queue_url": queue_url(endpoint_url),
        "aws_conn_id": "aws_notifications",
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "poll_seconds": 2,
    }


def aws_connection(endpoint_url: str) -> dict[str, Any]:
    """The Airflow ``aws`` connection the watcher reads the local queue through."""
    return {
        "conn_type": "aws",
        "description": "The local SQS (moto) the sandbox delivers notifications to (make demo)",
        "login": "demo",
        "password": "demo",
        "extra": json.dumps({"endpoint_url": endpoint_url, "region_name": REGION}),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m demo.local_sqs --endpoint-url URL``: create both queues on a running local SQS and
    print the notifications queue's URL."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.local_sqs",
        description=f"Create the notifications queue {QUEUE!r} and its dead-letter queue {DEAD_LETTERS!r} "
        f"(after {MAX_RECEIVES} receives) on a local SQS; idempotent.",
    )
    parser.add_argument("--endpoint-url", required=True, help="the local SQS, e.g. http://sqs:5000")
    parser.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for the server to answer (default 60)"
    )
    args = parser.parse_args(argv)
    print(create_queues(args.endpoint_url, time.monotonic() + args.wait))


if __name__ == "__main__":
    main()
