"""FBA stock from Amazon (issue 15): every page of getInventorySummaries into ``inventory``.

FBA units sit in Amazon's fulfillment centers, so Amazon, not the seller's catalog, knows how many
can sell. One read per seller and marketplace asks for the details (fulfillable, inbound working /
shipped / receiving, reserved, unfulfillable, researching) and records, in one transaction once the
last page is in:

- each SKU's figures in its ``inventory`` row under the region's Amazon channel (``AMAZON_NA``,
  ``AMAZON_EU``, ``AMAZON_FE``, the codes a listing's ``fulfillment_availability`` uses), with
  ``quantity`` the fulfillable units, Amazon's ``lastUpdatedTime`` and ``read_at``;
- what changed, figure by figure, old and new (``fba_stock_changes``);
- the read itself (``fba_stock_reads``), whose start is where the next read starts.

Changes only: a read sends ``startDateTime`` = the latest recorded read's start, so a read that
failed half-way is simply done again from the same point. A full read happens on the first run,
when asked, and when the latest full read is older than :data:`FULL_READ_EVERY`, because Amazon's
``startDateTime`` does not see changes to the inbound quantities. Pages are read back to back
before anything is written (Amazon's ``nextToken`` expires after 30 seconds).

Nothing here writes to Amazon; and the offers sync never sends FBA quantities
(:func:`listings_pipeline.to_amazon.offers.diff`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypedDict, get_args

from sqlalchemy import func, insert, select

from listings_pipeline.branch import Branch
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import FbaStockChange, FbaStockRead, Inventory

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from spapi.client import SpApiClient
    from spapi.models.fba_inventory import InventorySummary

log = logging.getLogger(__name__)

#: the Amazon fulfillment channel of each region, as listings name it in ``fulfillment_availability``
CHANNELS: dict[str, str] = {"na": "AMAZON_NA", "eu": "AMAZON_EU", "fe": "AMAZON_FE"}
#: a changes-only read misses inbound changes, so a full read at least this often
FULL_READ_EVERY = timedelta(hours=24)
FigureName = Literal[
    "fulfillable_quantity",
    "inbound_working_quantity",
    "inbound_shipped_quantity",
    "inbound_receiving_quantity",
    "reserved_quantity",
    "unfulfillable_quantity",
    "researching_quantity",
    "total_quantity",
]
FIGURES: tuple[FigureName, ...] = get_args(FigureName)


class Figures(TypedDict):
    """One SKU's FBA stock as Amazon gave it; ``None`` where Amazon gave no figure."""

    fulfillable_quantity: int | None
    inbound_working_quantity: int | None
    inbound_shipped_quantity: int | None
    inbound_receiving_quantity: int | None
    reserved_quantity: int | None
    unfulfillable_quantity: int | None
    researching_quantity: int | None
    total_quantity: int | None


class FigureChange(TypedDict):
    old: int | None
    new: int | None


class StockRead(TypedDict):
    """What one read did, for the task's log and XCom."""

    seller_id: str
    marketplace_id: str
    full: bool
    changes_since: str | None  # ISO 8601, the startDateTime sent
    pages: int
    summaries: int
    changed: int


class StockTotals(TypedDict):
    """A run's reads added up, for its log and XCom."""

    branches: int
    full_reads: int
    skus_read: int
    skus_changed: int


def totals(reads: Iterable[StockRead]) -> StockTotals:
    reads = list(reads)
    result: StockTotals = {
        "branches": len(reads),
        "full_reads": sum(1 for r in reads if r["full"]),
        "skus_read": sum(r["summaries"] for r in reads),
        "skus_changed": sum(r["changed"] for r in reads),
    }
    log.info("FBA stock: %s", result)
    return result


def figures(summary: InventorySummary) -> Figures:
    """A summary's figures: the detail totals where Amazon gave details, else only the total."""
    d = summary.inventory_details
    reserved = d.reserved_quantity if d else None
    unfulfillable = d.unfulfillable_quantity if d else None
    researching = d.researching_quantity if d else None
    return {
        "fulfillable_quantity": d.fulfillable_quantity if d else None,
        "inbound_working_quantity": d.inbound_working_quantity if d else None,
        "inbound_shipped_quantity": d.inbound_shipped_quantity if d else None,
        "inbound_receiving_quantity": d.inbound_receiving_quantity if d else None,
        "reserved_quantity": reserved.total_reserved_quantity if reserved else None,
        "unfulfillable_quantity": unfulfillable.total_unfulfillable_quantity if unfulfillable else None,
        "researching_quantity": researching.total_researching_quantity if researching else None,
        "total_quantity": summary.total_quantity,
    }


def changes(before: Mapping[str, int | None] | None, after: Figures) -> dict[str, FigureChange]:
    """Each figure whose value differs, old and new (``old`` ``None`` for a row seen the first time)."""
    old = before or {}
    return {
        name: {"old": old.get(name), "new": after[name]}
        for name in FIGURES
        if old.get(name) != after[name] and (before is not None or after[name] is not None)
    }


def changes_since(session: Session, seller_id: str, marketplace_id: str, now: datetime) -> datetime | None:
    """Where a changes-only read starts: the latest read's start; ``None`` (read everything) when
    there is none, or the latest full read is older than :data:`FULL_READ_EVERY`."""
    where = (FbaStockRead.seller_id == seller_id, FbaStockRead.marketplace_id == marketplace_id)
    latest = session.scalar(select(func.max(FbaStockRead.started_at)).where(*where))
    latest_full = session.scalar(
        select(func.max(FbaStockRead.started_at)).where(*where, FbaStockRead.changes_since.is_(None))
    )
    if latest is None or latest_full is None or now - _aware(latest_full) >= FULL_READ_EVERY:
        return None
    return _aware(latest)


def _aware(value: datetime) -> datetime:
    """``func.max`` bypasses the column's type on SQLite: its text comes back naive (UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _stored(row: Inventory) -> dict[str, int | None]:
    return {name: getattr(row, name) for name in FIGURES}


def record(
    session: Session,
    seller_id: str,
    marketplace_id: str,
    channel: str,
    summaries: Iterable[InventorySummary],
    read: FbaStockRead,
) -> int:
    """Write the summaries of one complete read and the read itself; returns the SKUs that changed."""
    session.add(read)
    session.flush()  # its id, for the changes
    # the branch's FBA rows in one query, not one per SKU (a full read lists every SKU)
    rows = {
        row.sku: row
        for row in session.scalars(
            select(Inventory).where(
                Inventory.seller_id == seller_id,
                Inventory.marketplace_id == marketplace_id,
                Inventory.fulfillment_channel_code == channel,
            )
        )
    }
    changed: list[dict[str, Any]] = []
    for summary in summaries:
        sku = summary.seller_sku
        if not sku:  # nothing to file it under; Amazon always names the SKU
            log.warning("%s/%s: an FBA summary without a sellerSku was left out", seller_id, marketplace_id)
            continue
        new = figures(summary)
        row = rows.get(sku)
        before = _stored(row) if row is not None else None
        if row is None:
            row = rows[sku] = Inventory(
                seller_id=seller_id, marketplace_id=marketplace_id, sku=sku, fulfillment_channel_code=channel
            )
            session.add(row)
        for name, value in new.items():
            setattr(row, name, value)
        row.quantity = new["fulfillable_quantity"]
        row.amazon_updated_at = summary.last_updated_time
        row.read_at = read.started_at
        diff = changes(before, new)
        if diff:
            changed.append(
                {
                    "read_id": read.id,
                    "seller_id": seller_id,
                    "marketplace_id": marketplace_id,
                    "sku": sku,
                    "changes": diff,
                    "amazon_updated_at": summary.last_updated_time,
                }
            )
    if changed:
        session.execute(insert(FbaStockChange), changed)
    read.changed = len(changed)
    return len(changed)


def read_stock(
    client: SpApiClient,
    engine: Engine,
    seller_id: str,
    marketplace_id: str,
    region: str,
    *,
    full: bool = False,
    run_id: str | None = None,
    dag_id: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> StockRead:
    """Read every page of the branch's FBA stock (changes only unless ``full`` or due) and record it."""
    from spapi import fba_inventory

    started = clock()
    with session_scope(engine) as session:
        since = None if full else changes_since(session, seller_id, marketplace_id, started)
    first = fba_inventory.get_inventory_summaries(marketplace_id, start_date_time=since)
    summaries: list[InventorySummary] = []
    pages = 0
    for page in client.paginate(first, fba_inventory.next_page):
        pages += 1
        summaries.extend(page.summaries)
    read = FbaStockRead(
        seller_id=seller_id,
        marketplace_id=marketplace_id,
        started_at=started,
        finished_at=clock(),
        changes_since=since,
        pages=pages,
        summaries=len(summaries),
        run_id=run_id,
        dag_id=dag_id,
    )
    with session_scope(engine) as session:
        changed = record(session, seller_id, marketplace_id, CHANNELS[region], summaries, read)
    log.info(
        "%s/%s: %s read of FBA stock, %d page(s), %d SKU(s), %d changed",
        seller_id,
        marketplace_id,
        "a full" if since is None else f"a changes-only (since {since.isoformat()})",
        pages,
        len(summaries),
        changed,
    )
    return {
        "seller_id": seller_id,
        "marketplace_id": marketplace_id,
        "full": since is None,
        "changes_since": None if since is None else since.isoformat(),
        "pages": pages,
        "summaries": len(summaries),
        "changed": changed,
    }


def sync_branch(branch: Branch, run_id: str, *, full: bool = False) -> StockRead:
    """The DAG task: one seller and marketplace, with a client of its own whose calls go to
    ``api_calls`` under the branch's trace id."""
    from listings_pipeline import triggered_by
    from listings_pipeline.call_log import ApiCallLog, branch_trace
    from listings_pipeline.config import load_config
    from listings_pipeline.warehouse.db import make_engine, warehouse_url
    from spapi.client import trace
    from spapi.hooks import SpApiHook

    config = load_config(branch.get("config_path"))
    seller_id, marketplace_id = branch["seller_id"], branch["marketplace_id"]
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    calls = ApiCallLog(engine, run_id)
    try:
        with (
            trace(branch_trace(run_id, seller_id, marketplace_id)),
            SpApiHook(branch["spapi_conn_id"]).get_client(on_call=calls) as client,
        ):
            return read_stock(
                client,
                engine,
                seller_id,
                marketplace_id,
                branch["region"],
                full=full,
                run_id=run_id,
                dag_id=triggered_by.current().dag_id,
            )
    finally:
        calls.flush()
        engine.dispose()
