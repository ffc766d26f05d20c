"""The demo's local queues on moto's server: a message nobody can read moves to the dead-letter
queue after MAX_RECEIVES receives (the redrive policy the poison handling relies on), and the
config section and connection point at the queue."""

from __future__ import annotations

import json
import time

import pytest

from demo import local_sqs as demo_sqs
from tests.fixtures.sqs import LocalSqs


def test_a_message_received_too_often_moves_to_the_dead_letter_queue(local_sqs: LocalSqs) -> None:
    endpoint = local_sqs.endpoint_url
    queue = demo_sqs.create_queues(endpoint, time.monotonic() + 10)
    assert demo_sqs.create_queues(endpoint, time.monotonic() + 10) == queue  # idempotent
    client = local_sqs.client()
    client.send_message(QueueUrl=queue, MessageBody="poison")
    for _ in range(demo_sqs.MAX_RECEIVES):
        got = client.receive_message(QueueUrl=queue, VisibilityTimeout=0, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in got] == ["poison"]  # received, not deleted: it comes back
    assert (
        client.receive_message(QueueUrl=queue, VisibilityTimeout=0, WaitTimeSeconds=1).get("Messages", [])
        == []
    )
    dead = demo_sqs.queue_url(endpoint, demo_sqs.DEAD_LETTERS)
    moved = client.receive_message(QueueUrl=dead, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in moved] == ["poison"]
    section = demo_sqs.notifications_config(endpoint)
    assert section["queue_url"] == queue and section["queue_arn"].endswith(":spapi-notifications")
    assert json.loads(demo_sqs.aws_connection(endpoint)["extra"])["endpoint_url"] == endpoint


def test_the_command_compose_runs_creates_both_queues(
    local_sqs: LocalSqs, capsys: pytest.CaptureFixture[str]
) -> None:
    """docker-compose.yaml's sqs-init runs ``python -m demo.local_sqs --endpoint-url ...``."""
    endpoint = local_sqs.endpoint_url
    demo_sqs.main(["--endpoint-url", endpoint, "--wait", "10"])
    assert capsys.readouterr().out.strip() == demo_sqs.queue_url(endpoint)
    client = local_sqs.client()
    attributes = client.get_queue_attributes(QueueUrl=demo_sqs.queue_url(endpoint), AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == demo_sqs.queue_arn(demo_sqs.DEAD_LETTERS)
    assert int(redrive["maxReceiveCount"]) == demo_sqs.MAX_RECEIVES
