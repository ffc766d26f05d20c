"""A report that keeps saying "try again" for a SKU cannot keep it going round for ever: after
``max_feed_attempts`` feeds it is dead-lettered with Amazon's last reason (a failed change is
retried or dead-lettered, never silently resent each run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from listings_pipeline.config import PipelineConfig, SellerConfig
from listings_pipeline.run_files import payload_hash
from listings_pipeline.to_amazon.bulk import _apply_report
from listings_pipeline.warehouse import db, ledger, lifecycle
from listings_pipeline.warehouse.models import DeadLetter, Listing, ListingStatus
from listings_pipeline.warehouse.records import ensure_seller

SELLER, US = "A1RETRYSELLER", "ATVPDKIKX0DER"
L = ListingStatus


@dataclass
class _Report:
    """What _apply_report reads of spapi.feed_documents' report summary."""

    messages: list[dict[str, Any]]
    summary: dict[str, int] = field(
        default_factory=lambda: {
            "messages_processed": 1,
            "messages_accepted": 0,
            "messages_invalid": 0,
            "errors": 1,
            "warnings": 0,
        }
    )
    mismatches: list[Any] = field(default_factory=list)
    unknown_message_issues: list[Any] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def issue_rows(self) -> list[dict[str, Any]]:
        return []


def _retryable(sku: str) -> dict[str, Any]:
    issue = {
        "code": "4000000",
        "severity": "ERROR",
        "message": "internal error, try again",
        "attribute_names": [],
    }
    return {"sku": sku, "message_id": 1, "status": "invalid", "issues": [issue]}


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_retryable_report_errors_are_dead_lettered_after_max_feed_attempts(
    tmp_path: Path, max_attempts: int
) -> None:
    engine = db.make_engine(db.sqlite_url(tmp_path / "w.db"))
    db.upgrade(engine)
    config = PipelineConfig(
        sellers=(
            SellerConfig(seller_id=SELLER, spapi_conn_id="unused", marketplaces=(US,), catalog="x.csv"),
        ),
        max_feed_attempts=max_attempts,
    )
    message = {"sku": "R-1", "operationType": "UPDATE", "productType": "SHIRT", "attributes": {}}
    document = {"seller_id": SELLER, "marketplace_id": US, "run_id": "run-1"}
    with db.session_scope(engine) as s:
        ensure_seller(s, SELLER, region="na")
        lifecycle.transition(
            s, SELLER, US, "R-1", L.READY, cause="plan", payload=message, payload_hash=payload_hash(message)
        )
    outcomes = []
    for attempt in range(1, max_attempts + 1):
        feed_id = f"F-{attempt}"
        with db.session_scope(engine) as s:
            row = ledger.record_attempt(s, SELLER, [US], f"doc-{attempt}", "/docs/x.json", 1, "run-1")
            ledger.advance(s, row, "uploaded", feed_document_id=f"d-{attempt}")
            ledger.advance(s, row, "feed_created", feed_id=feed_id)
            lifecycle.transition(s, SELLER, US, "R-1", L.SUBMITTED, cause="feed_document:x")
        outcomes.append(
            _apply_report(engine, config, document, feed_id, _Report([_retryable("R-1")]), tmp_path / "r")
        )
        with db.session_scope(engine) as s:
            status = s.scalar(select(Listing.status).where(Listing.sku == "R-1"))
        if attempt < max_attempts:
            assert status == L.READY and outcomes[-1]["retry"] == 1, attempt
    assert status == L.DEAD_LETTERED
    assert outcomes[-1]["dead_lettered"] == 1 and outcomes[-1]["retry"] == 0
    with db.session_scope(engine) as s:
        [letter] = s.scalars(select(DeadLetter)).all()
        assert letter.code == "4000000" and f"after {max_attempts} feeds" in letter.reason
    engine.dispose()
