"""The pipeline's own configuration: which sellers, marketplaces and catalogs; where files go.

One YAML file (``include/pipeline.yaml`` by default, ``SPAPI_PIPELINE_CONFIG`` or a DAG param to
override), read inside tasks; at DAG parse time only by ``forms.choices``, for the sellers a form
offers. Credentials are not here: each seller names its Airflow ``spapi`` connection, which can live
in any secrets backend. A file without a ``notifications`` section takes it from the environment
(:data:`NOTIFICATIONS_ENV`), as the compose deployment gives its local queue.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from listings_pipeline.branch import Target
from spapi.config import Environment
from spapi.regions import RegionCode, check_marketplaces

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "include" / "pipeline.yaml"
#: the ``notifications`` section as a JSON object, for a config file that has none: the queue is
#: the deployment's, like the connections (docker-compose.yaml sets it for its local SQS)
NOTIFICATIONS_ENV = "SPAPI_NOTIFICATIONS"

Share = Annotated[float, Field(ge=0, le=1)]


class SellerConfig(BaseModel):
    """One selling account: its connection, region, marketplaces and catalog source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seller_id: str = Field(min_length=1)
    spapi_conn_id: str = Field(min_length=1)
    region: RegionCode = "na"
    marketplaces: tuple[str, ...] = Field(min_length=1)
    catalog: str | dict[str, Any] = Field(description="a file/glob, s3:// URI, or {kind: sql, ...}")
    catalog_all_marketplaces: bool = Field(
        default=False,
        description="the catalog has no marketplace_id column and each row serves every marketplace "
        "of this seller; the mappings must then give each marketplace its currency and language",
    )
    name: str | None = None

    @model_validator(mode="after")
    def _marketplaces_of_region(self) -> SellerConfig:
        try:
            check_marketplaces(self.marketplaces, self.region)
        except ValueError as err:
            raise ValueError(f"seller {self.seller_id}: {err}") from None
        return self


class NotificationsConfig(BaseModel):
    """Where Amazon's notifications arrive: one SQS queue for every seller of the config.

    ``queue_arn`` is what Amazon is told (the destination); ``queue_url`` is where the
    ``amazon_notifications`` DAG reads, through the Airflow AWS connection ``aws_conn_id``. The
    queue and its dead-letter queue (a redrive policy with ``maxReceiveCount``) are the
    deployment's to create; the demo creates them on its local SQS.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    queue_arn: str = Field(pattern=r"^arn:aws:sqs:\S+:\S+:\S+")
    queue_url: str = Field(min_length=1)
    aws_conn_id: str = Field(default="aws_notifications", min_length=1)
    destination_name: str = Field(default="spapi-listings", min_length=1, max_length=256)
    #: seconds a received message stays invisible while its run records it; a message not
    #: deleted by then (its run failed) comes back, and counts one more receive
    visibility_timeout: int = Field(default=300, ge=1, le=43200)
    #: seconds the watcher waits before asking an empty queue again
    poll_seconds: int = Field(default=20, ge=1)


class PipelineConfig(BaseModel):
    """Everything the DAGs need besides credentials.

    :param environment: ``sandbox``, ``dev``, ``stage`` or ``prod``; every ``spapi`` connection the
        config names must state the same one, so that a test config can never drive a live seller
        account (``listings_pipeline.connections.check_connections``). Unset, the pipeline refuses
        to run; it is optional here only so that code which never calls SP-API can load a config.
    :param var_dir: run artifacts: snapshots, feed documents, reports, Data Docs.
    :param max_failing_share: a branch fails when more than this share of rows is quarantined.
    :param per_sku_threshold: change sets up to this size go through the Listings Items API.
    :param delete_removed: send DELETE for SKUs that left the catalog (only after a complete, clean
        read of it, and never for a SKU that is still in it for another marketplace).
    :param max_deletes: a branch that would delete more SKUs than this stops (like rsync's
        ``--max-delete``) unless an operator confirms the deletion on a manual run.
    :param max_delete_share: likewise for the share of the branch's live listings.
    :param feed_wait_hours: how long to wait for Amazon to process a feed.
    :param reconcile_after_minutes: a feed that ended without its outcome reaching the warehouse
        (its wait or parse task died) is read by the next run's plan step at once; only a feed of
        the planning run itself (a cleared, re-run plan) gets this long for its own parse task.
    :param max_feed_attempts: a message that keeps failing retryably is dead-lettered after this many.
    :param chunk_rows: a branch's catalog is validated and mapped in chunks of this many rows to
        check (an incremental run's unchanged rows are not checked, so they do not count), each a
        task of its own that any worker may take (``catalog.chunks``); the result is the same
        however it is cut.
    :param listing_reads_per_branch: how many accepted or live listings of a branch the bulk path
        reads back from Amazon (getListingsItem, to set ``live``) after each parse and in each
        settle step, least recently read first; 0 reads none. Bounded because getListingsItem
        allows 5 calls a second per seller (``to_amazon.amazon_view``).
    :param notifications: the SQS queue Amazon's notifications arrive on (:class:`NotificationsConfig`);
        without it nothing subscribes and ``amazon_notifications`` has nothing to read.
    :param data_docs_keep_runs: each seller and marketplace keeps the Great Expectations Data Docs
        of its latest this many catalog runs (the running one included); the join step deletes the
        ``data_docs`` folders of older runs, and nothing else of them
        (``catalog.data_docs.retention``). None keeps every run's.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    sellers: tuple[SellerConfig, ...] = Field(min_length=1)
    environment: Environment | None = None
    warehouse_conn_id: str = "warehouse_default"
    var_dir: Path = REPO_ROOT / "var"
    mappings_dir: Path = REPO_ROOT / "include" / "catalog_mappings"
    product_types_dir: Path = REPO_ROOT / "include" / "product_types"
    content_policy: Path = REPO_ROOT / "include" / "content_policy.yaml"
    max_failing_share: Share = 0.2
    per_sku_threshold: int = Field(default=50, ge=0)
    delete_removed: bool = False
    max_deletes: int = Field(default=100, ge=0)
    max_delete_share: Share = 0.05
    feed_wait_hours: float = Field(default=12.0, gt=0)
    reconcile_after_minutes: float = Field(default=15.0, ge=0)
    feed_poll_seconds: float = Field(default=30.0, gt=0)
    max_feed_attempts: int = Field(default=3, ge=1)
    chunk_rows: int = Field(default=250_000, ge=1)
    listing_reads_per_branch: int = Field(default=100, ge=0)
    data_docs_keep_runs: int | None = Field(default=14, ge=1)
    issue_locale: str = "en_US"
    notifications: NotificationsConfig | None = None

    def seller(self, seller_id: str) -> SellerConfig:
        for seller in self.sellers:
            if seller.seller_id == seller_id:
                return seller
        raise KeyError(f"seller {seller_id!r} is not in the pipeline config")

    def catalog_sharers(self, seller_id: str) -> dict[str, frozenset[str]]:
        """Every seller reading the same catalog as ``seller_id``, with its marketplaces: a row of
        that catalog belongs to one of them, or to nobody (and is then a defect, never "everyone")."""
        catalog = self.seller(seller_id).catalog
        return {s.seller_id: frozenset(s.marketplaces) for s in self.sellers if s.catalog == catalog}

    def targets(self) -> list[Target]:
        """One target per seller and marketplace, in the config's order."""
        return [
            Target(seller_id=s.seller_id, marketplace_id=m, spapi_conn_id=s.spapi_conn_id, region=s.region)
            for s in self.sellers
            for m in s.marketplaces
        ]


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Read and validate the config; relative paths in it are relative to the file's folder.

    Without a ``notifications`` section in the file, a non-empty ``SPAPI_NOTIFICATIONS``
    (:data:`NOTIFICATIONS_ENV`, a JSON object) is that section; the file's own always wins.
    """
    cfg_path = Path(path or os.environ.get("SPAPI_PIPELINE_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = yaml.safe_load(cfg_path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"pipeline config {cfg_path} does not exist") from None
    except yaml.YAMLError as err:
        raise ValueError(f"pipeline config {cfg_path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"pipeline config {cfg_path} must be a mapping")
    base = cfg_path.resolve().parent
    for key in ("var_dir", "mappings_dir", "product_types_dir", "content_policy"):
        if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
            raw[key] = str((base / raw[key]).resolve())
    # a section of the wrong shape is left to the model, which names it (a ValueError)
    sellers = raw.get("sellers")
    for seller in sellers if isinstance(sellers, list) else []:
        catalog = seller.get("catalog") if isinstance(seller, dict) else None
        if isinstance(catalog, str) and "://" not in catalog and not Path(catalog).is_absolute():
            seller["catalog"] = str(base / catalog)
    queue = os.environ.get(NOTIFICATIONS_ENV, "").strip()
    if queue and raw.get("notifications") is None:
        try:
            raw["notifications"] = json.loads(queue)
        except json.JSONDecodeError as err:
            raise ValueError(f"{NOTIFICATIONS_ENV} is not valid JSON: {err}") from None
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as err:
        raise ValueError(f"pipeline config {cfg_path} is invalid:\n{err}") from None
