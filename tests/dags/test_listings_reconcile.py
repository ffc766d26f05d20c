"""listings_reconcile and drift_resolve end to end: ``dag.test()`` against the live sandbox, whose
listings were published through the Listings API and then drifted on Amazon's side, with the
PostgreSQL warehouse. The report is requested and waited for by the DAG's own deferrable task."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

from tests.dags.conftest import REPO, Warehouse, run_note, task_states, write_pipeline_config  # noqa: E402
from tests.dags.test_resubmit import feed_sync_dag, feed_sync_runs  # noqa: E402, F401
from tests.fixtures.sandbox import SELLER, US, Sandbox, new_client  # noqa: E402
from tests.integration.test_reports_against_sandbox import publish  # noqa: E402

# SKU -> (item name, price, merchant stock), published on Amazon and known to the warehouse
LISTED: dict[str, tuple[str, Decimal, int]] = {
    "REC-STEADY": ("Acme Carry-On Spinner 55 cm", Decimal("129.99"), 12),
    "REC-PRICE": ("Acme Cabin Case", Decimal("89.00"), 4),
    "REC-STOCK": ("Acme Weekender", Decimal("149.50"), 9),
    "REC-OFF": ("Acme Garment Bag", Decimal("59.90"), 3),
}


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """The sandbox ``sandbox_connections`` points at, ending reports in a fraction of a second."""
    return start_sandbox(report_queue_seconds=0.05, report_processing_seconds=0.1)


def payload(sku: str, price: Decimal, quantity: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "operationType": "UPDATE",
        "productType": "LUGGAGE",
        "attributes": {
            "purchasable_offer": [
                {
                    "currency": "USD",
                    "marketplace_id": US,
                    "our_price": [{"schedule": [{"value_with_tax": float(price)}]}],
                }
            ],
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
        },
    }


def seed_warehouse(warehouse: Warehouse) -> None:
    """The four listings live, as a catalog sync leaves them (price and stock in their payloads),
    REC-PRICE's offer and stock also written by the offers sync, and REC-GONE, which Amazon lost."""
    from listings_pipeline.warehouse import lifecycle
    from listings_pipeline.warehouse.db import session_scope
    from listings_pipeline.warehouse.models import Inventory, Offer
    from listings_pipeline.warehouse.records import ensure_seller

    with session_scope(warehouse.engine) as session:
        ensure_seller(session, SELLER)
        for sku, (_, price, quantity) in {**LISTED, "REC-GONE": ("", Decimal("10.00"), 1)}.items():
            lifecycle.transition(
                session,
                SELLER,
                US,
                sku,
                "live",
                "seed",
                payload=payload(sku, price, quantity),
                accepted_hash="a" * 64,
            )
        session.add(
            Offer(
                seller_id=SELLER, marketplace_id=US, sku="REC-PRICE", currency="USD", our_price=Decimal("89")
            )
        )
        session.add(
            Inventory(
                seller_id=SELLER,
                marketplace_id=US,
                sku="REC-PRICE",
                fulfillment_channel_code="DEFAULT",
                quantity=4,
            )
        )


def drift(sandbox: Sandbox, sku: str, **change: Any) -> None:
    sandbox.admin("POST", f"/listings/{SELLER}/{sku}/drift", params={"marketplaceId": US}, json=change)


def run_dag(name: str, config: Path, **conf: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(REPO / "dags" / f"{name}.py")).get_dag(name)
    assert dag is not None
    return dag.test(run_conf={"config_path": str(config), **conf})


def drift_rows(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return sorted(
        tuple(r)
        for r in warehouse.rows(
            "select sku, kind, ours, amazon, state from listing_drift where seller_id = :s", s=SELLER
        )
    )


@pytest.mark.usefixtures("feed_sync_dag")  # catalog_feed_sync in the metadata DB: resubmit triggers it
def test_drift_seeded_on_amazon_is_found_then_accepted_or_resubmitted(
    tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None
) -> None:
    sandbox = sandbox_connections
    with new_client(sandbox) as client:
        for sku, (name, price, quantity) in LISTED.items():
            publish(client, sku, name, price, quantity)
    seed_warehouse(pg_warehouse)
    drift(sandbox, "REC-PRICE", price="79.00")
    drift(sandbox, "REC-STOCK", quantity=0)
    drift(sandbox, "REC-OFF", status="Inactive")
    drift(sandbox, "REC-UNKNOWN", itemName="Porte-documents Café", price="19.99", quantity=2)
    config = write_pipeline_config(tmp_path, REPO / "include" / "sample_catalog" / "catalog.csv")

    # 1. the first check finds every kind, records it, and the run says so by failing at outcome
    first = run_dag("listings_reconcile", config, sellers=[SELLER])
    assert first.state == "failed"
    states = task_states(first)
    assert states["outcome"] == {"failed"} and states["check"] == {"success"}, states
    assert states["request_report"] == {"success"}, states
    found = [
        ("REC-GONE", "missing_on_amazon", "live", None, "open"),
        ("REC-OFF", "inactive", "Active", "Inactive", "open"),
        ("REC-PRICE", "price", "89.00", "79.00", "open"),
        ("REC-STOCK", "inactive", "Active", "Inactive", "open"),
        ("REC-STOCK", "quantity", "9", "0", "open"),
        ("REC-UNKNOWN", "unknown_to_catalog", None, "Active", "open"),
    ]
    assert drift_rows(pg_warehouse) == found
    checks = pg_warehouse.rows(
        "select marketplace_id, report_status, amazon_rows, our_listings, found, opened from drift_checks"
    )
    # the US report lists the four published and the unknown one; Canada has nothing to report
    assert sorted(tuple(c) for c in checks) == [
        ("A2EUQ1WTGCTBG2", "CANCELLED", 0, 0, 0, 0),
        (US, "DONE", 5, 5, 6, 6),
    ]
    note = run_note(first)
    assert note is not None and "needs attention. 6 new drift" in note, note
    assert f"{SELLER}/{US}" in note
    view = pg_warehouse.rows("select difference, is_open, found_by_run from v_drift where sku = 'REC-PRICE'")
    assert [(Decimal(v.difference), v.is_open, v.found_by_run) for v in view] == [
        (Decimal("-10"), 1, first.run_id)
    ]

    # 2. Amazon shows REC-OFF again: its drift is gone; the rest is still open, nothing new: green
    drift(sandbox, "REC-OFF", status="Active")
    second = run_dag("listings_reconcile", config, sellers=[SELLER])
    assert second.state == "success"
    assert ("REC-OFF", "inactive", "Active", "Inactive", "gone") in drift_rows(pg_warehouse)
    assert pg_warehouse.scalar("select count(*) from listing_drift where state = 'open'") == 5
    note = run_note(second)
    assert note is not None and "no new drift. 5 drift still open" in note, note

    # 3. the operator takes Amazon's price, and acknowledges the listing the catalog never had
    accepted = run_dag(
        "drift_resolve",
        config,
        seller_id=SELLER,
        marketplace_id=US,
        skus="REC-PRICE\nREC-UNKNOWN",
        action="accept_amazon",
        note="repriced in Seller Central",
    )
    assert accepted.state == "success", task_states(accepted)
    assert pg_warehouse.scalar("select our_price from offers where sku = 'REC-PRICE'") == Decimal("79.00")
    event = pg_warehouse.rows(
        "select e.cause, e.changes, e.run_id from listing_events e join listings l on l.id = e.listing_id "
        "where l.sku = 'REC-PRICE' order by e.id desc limit 1"
    )[0]
    assert event.cause == "reconcile:accept_amazon" and event.run_id == accepted.run_id
    assert event.changes == {"our_price": {"old": "89.00", "new": "79.00"}}
    resolved = pg_warehouse.rows(
        "select sku, state, resolved_by, resolved_run_id, note from listing_drift where state = 'accepted_amazon'"
    )
    assert sorted((r.sku, r.resolved_run_id, r.note) for r in resolved) == [
        ("REC-PRICE", accepted.run_id, "repriced in Seller Central"),
        ("REC-UNKNOWN", accepted.run_id, "repriced in Seller Central"),
    ]
    assert all(r.resolved_by for r in resolved)

    # 4. ours goes again for the stock and the lost listing: back to ready, a narrowed sync triggered
    before = feed_sync_runs()
    resubmitted = run_dag(
        "drift_resolve",
        config,
        seller_id=SELLER,
        marketplace_id=US,
        skus="REC-STOCK, REC-GONE",
        action="resubmit",
    )
    assert resubmitted.state == "success", task_states(resubmitted)
    assert task_states(resubmitted)["resubmit_drift"] == {"success"}
    statuses = pg_warehouse.rows("select sku, status from listings where sku in ('REC-STOCK', 'REC-GONE')")
    assert sorted(tuple(s) for s in statuses) == [("REC-GONE", "ready"), ("REC-STOCK", "ready")]
    new = [conf for run_id, (_, conf, _) in feed_sync_runs().items() if run_id not in before]
    assert new == [{"sellers": [SELLER], "skus": ["REC-GONE", "REC-STOCK"], "config_path": str(config)}]
    assert pg_warehouse.scalar("select count(*) from listing_drift where state = 'resubmitted'") == 3

    # 5. the next check: the accepted price agrees, the acknowledged listing is not opened again, and
    # the resubmitted ones are on their way (ready): nothing open, a green run
    third = run_dag("listings_reconcile", config, sellers=[SELLER])
    assert third.state == "success", task_states(third)
    assert pg_warehouse.scalar("select count(*) from listing_drift where state = 'open'") == 0
    note = run_note(third)
    assert note is not None and "Amazon's listings match the warehouse" in note, note


def test_a_wrong_resolve_form_fails_with_every_problem(
    tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None
) -> None:
    config = write_pipeline_config(tmp_path, REPO / "include" / "sample_catalog" / "catalog.csv")
    run = run_dag("drift_resolve", config, seller_id=SELLER, marketplace_id="A1PA6795UKMFR9", kinds=["typo"])
    assert run.state == "failed"
    note = run_note(run)
    assert note is not None and "3 problems" in note, note
    for field in ("marketplace\\_id", "skus", "kinds"):
        assert field in note, note
