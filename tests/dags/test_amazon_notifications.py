"""The notifications DAGs: the watcher's trigger is exactly the MessageQueueTrigger it stands for,
the DAG is scheduled on the queue's asset only when the config names a queue, and a run takes in
what its asset events carried (the real queue: moto; the real warehouse: SQLite)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from listings_pipeline.config import NotificationsConfig
from listings_pipeline.from_amazon import notifications
from listings_pipeline.notification_queue import NotificationQueueTrigger, trigger_kwargs
from listings_pipeline.warehouse import db
from tests.fixtures.sqs import LocalSqs

QUEUE = NotificationsConfig(
    queue_arn="arn:aws:sqs:us-east-1:123456789012:spapi-notifications",
    queue_url="http://127.0.0.1:4566/123456789012/spapi-notifications",
    aws_conn_id="aws_notifications",
    visibility_timeout=45,
    poll_seconds=7,
)


def test_the_watcher_trigger_serializes_as_message_queue_trigger() -> None:
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    real = MessageQueueTrigger(scheme="sqs", **trigger_kwargs(QUEUE))
    assert NotificationQueueTrigger(QUEUE).serialize() == real.serialize()
    classpath, kwargs = real.serialize()
    assert classpath == "airflow.providers.amazon.aws.triggers.sqs.SqsSensorTrigger"
    assert kwargs["delete_message_on_reception"] is False  # a message leaves only once recorded
    assert (kwargs["visibility_timeout"], kwargs["waiter_delay"]) == (45, 7)


def write_config(tmp_path: Path, queue: dict[str, Any] | None, warehouse: Path) -> Path:
    config = {
        "environment": "sandbox",
        "var_dir": str(tmp_path / "var"),
        "sellers": [
            {
                "seller_id": "A1SANDBOXNA0001",
                "spapi_conn_id": "spapi_sandbox_na",
                "region": "na",
                "marketplaces": ["ATVPDKIKX0DER"],
                "catalog": "catalog.csv",
            }
        ],
    }
    if queue is not None:
        config["notifications"] = queue
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps(config))
    return path


def load_dag(monkeypatch: pytest.MonkeyPatch, config: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("SPAPI_PIPELINE_CONFIG", str(config))
    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags" / "amazon_notifications.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["amazon_notifications"]


def test_scheduled_on_the_queue_only_when_one_is_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    queue = QUEUE.model_dump()
    dag = load_dag(monkeypatch, write_config(tmp_path, queue, tmp_path / "wh.db"))
    (asset,) = dag.schedule
    (watcher,) = asset.watchers
    assert watcher.trigger.serialize()[1]["sqs_queue"] == QUEUE.queue_url
    (tmp_path / "none").mkdir()
    unscheduled = load_dag(monkeypatch, write_config(tmp_path / "none", None, tmp_path / "wh.db"))
    assert unscheduled.schedule is None


def test_a_run_records_and_acknowledges(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, local_sqs: LocalSqs
) -> None:
    url, arn = local_sqs.new_queue()
    warehouse = tmp_path / "warehouse.db"
    db.upgrade(db.sqlite_url(warehouse))
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", db.sqlite_url(warehouse))
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_NOTIFICATIONS",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "test",
                "password": "test",
                "extra": {"endpoint_url": local_sqs.endpoint_url, "region_name": "us-east-1"},
            }
        ),
    )
    config = write_config(
        tmp_path, {"queue_arn": arn, "queue_url": url, "aws_conn_id": "aws_notifications"}, warehouse
    )
    sqs = local_sqs.client()
    feed = {
        "notificationVersion": "2020-09-04",
        "notificationType": "FEED_PROCESSING_FINISHED",
        "payloadVersion": "2020-09-04",
        "eventTime": "2026-12-01T12:00:00.000Z",
        "payload": {
            "feedProcessingFinishedNotification": {
                "accountId": "amzn1.merchant.o.A1SANDBOXNA0001",
                "sellerId": "A1SANDBOXNA0001",
                "feedId": "50009",
                "feedType": "JSON_LISTINGS_FEED",
                "processingStatus": "DONE",
            }
        },
        "notificationMetadata": {
            "applicationId": "amzn1.sellerapps.app.test",
            "subscriptionId": "s",
            "publishTime": "2026-12-01T12:00:00.000Z",
            "notificationId": str(uuid.uuid4()),
        },
    }
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(feed))
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    received = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1, WaitTimeSeconds=1
    )
    batch = received["Messages"]
    assert len(batch) == 2
    summary = notifications.run(
        [{"from_trigger": True, "payload": {"message_batch": batch}}], "run-1", str(config)
    )
    assert summary["counts"] == {"applied": 1, "rejected": 1} and summary["acknowledged"] == 1
    assert [f["feed_id"] for f in summary["feeds_finished"]] == ["50009"]
    left = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in left] == ["poison"]  # only the poison message is still on the queue
    engine = db.make_engine(db.sqlite_url(warehouse))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM amazon_notifications")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT COUNT(*) FROM notification_rejects")).scalar_one() == 1
    engine.dispose()
