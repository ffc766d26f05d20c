"""The pipeline config file: validation and relative paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listings_pipeline.config import NOTIFICATIONS_ENV, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_targets_and_relative_paths(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            """
var_dir: var
sellers:
  - seller_id: A1SELLER
    spapi_conn_id: spapi_a
    marketplaces: [ATVPDKIKX0DER, A2EUQ1WTGCTBG2]
    catalog: data/catalog.csv
  - seller_id: A2SELLER
    spapi_conn_id: spapi_b
    region: eu
    marketplaces: [A1PA6795UKMFR9]
    catalog: s3://bucket/catalog/*.parquet
""",
        )
    )
    assert cfg.var_dir == tmp_path / "var"
    assert cfg.sellers[0].catalog == str(tmp_path / "data" / "catalog.csv")
    assert cfg.sellers[1].catalog == "s3://bucket/catalog/*.parquet"
    assert [(t["seller_id"], t["marketplace_id"]) for t in cfg.targets()] == [
        ("A1SELLER", "ATVPDKIKX0DER"),
        ("A1SELLER", "A2EUQ1WTGCTBG2"),
        ("A2SELLER", "A1PA6795UKMFR9"),
    ]
    assert cfg.seller("A2SELLER").spapi_conn_id == "spapi_b"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sellers: []", "at least 1"),
        (
            "sellers: [{seller_id: S, spapi_conn_id: c, marketplaces: [A1PA6795UKMFR9], catalog: x.csv}]",
            "not in region na",
        ),
        (
            "sellers: [{seller_id: S, spapi_conn_id: c, marketplaces: [XX], catalog: x.csv}]",
            "unknown marketplace",
        ),
        (
            "max_failing_share: 2\nsellers: [{seller_id: S, spapi_conn_id: c, marketplaces: [ATVPDKIKX0DER], catalog: x}]",
            "max_failing_share",
        ),
        ("- just a list", "must be a mapping"),
        # sections of the wrong shape: a ValueError naming them, never a TypeError that would
        # break the parse of every DAG with a form (forms.choices catches ValueError)
        ("sellers: 7", "sellers"),
        ("var_dir: 7\nsellers: []", "var_dir"),
    ],
)
def test_invalid_configs_are_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(write(tmp_path, text))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        load_config(tmp_path / "nope.yaml")


NOTIFICATIONS_SECTION = {
    "queue_arn": "arn:aws:sqs:us-east-1:123456789012:spapi-notifications",
    "queue_url": "http://sqs:5000/123456789012/spapi-notifications",
    "aws_conn_id": "aws_notifications",
    "poll_seconds": 2,
}
ONE_SELLER = "sellers: [{seller_id: S, spapi_conn_id: c, marketplaces: [ATVPDKIKX0DER], catalog: x.csv}]\n"


def test_the_environment_gives_a_file_without_notifications_its_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docker-compose.yaml sets SPAPI_NOTIFICATIONS for its local SQS; the file's section wins."""
    monkeypatch.delenv(NOTIFICATIONS_ENV, raising=False)
    assert load_config(write(tmp_path, ONE_SELLER)).notifications is None
    monkeypatch.setenv(NOTIFICATIONS_ENV, " ")
    assert load_config(write(tmp_path, ONE_SELLER)).notifications is None

    monkeypatch.setenv(NOTIFICATIONS_ENV, json.dumps(NOTIFICATIONS_SECTION))
    queue = load_config(write(tmp_path, ONE_SELLER)).notifications
    assert queue is not None
    assert queue.queue_url == NOTIFICATIONS_SECTION["queue_url"] and queue.poll_seconds == 2

    own = "notifications: {queue_arn: 'arn:aws:sqs:eu-west-1:111122223333:prod', queue_url: https://q}\n"
    queue = load_config(write(tmp_path, ONE_SELLER + own)).notifications
    assert queue is not None and queue.queue_arn.endswith(":111122223333:prod")


@pytest.mark.parametrize(
    ("value", "message"),
    [("{not json", "SPAPI_NOTIFICATIONS is not valid JSON"), ('{"queue_url": "x"}', "queue_arn")],
)
def test_a_bad_notifications_variable_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv(NOTIFICATIONS_ENV, value)
    with pytest.raises(ValueError, match=message):
        load_config(write(tmp_path, ONE_SELLER))
