"""A hotfix Amazon accepts: it merges (a sale or price bound set earlier survives), it is recorded in
``offers`` / ``inventory`` with the old and new values and who triggered it, the offers sync holds
it until the catalog changes, and a preview's issues stay apart from the listing's. Against the
live sandbox with a SQLite warehouse."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from listings_pipeline import triggered_by
from listings_pipeline.config import load_config
from listings_pipeline.to_amazon import offers
from listings_pipeline.to_amazon.per_sku import apply_batch, build_changes
from listings_pipeline.triggered_by import TriggeredBy
from listings_pipeline.warehouse import db
from tests.fixtures.sandbox import SELLER, US, Sandbox

from .test_offers import DISCOUNT, _item, _seed_discounted, row
from .test_per_sku import CONN_ID, Warehouse, form, parse_request, seed
from .test_per_sku import warehouse as warehouse

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

ALICE = TriggeredBy(user="alice", dag_id="listings_hotfix")
CATALOG = {
    "product_type": "PRODUCT",
    "price": "109.99",
    "sale_price": "79.99",
    "sale_start": "2026-11-01",
    "sale_end": "2027-01-31",
    "minimum_price": "70",
    "quantity": "7",
    "handling_time": "2",
}


def hotfix(warehouse: Warehouse, run_id: str = "hotfix-run", **overrides: Any) -> dict[str, Any]:
    request = parse_request(form(**overrides))
    changes = build_changes(request, load_config(warehouse.config_path))
    result = apply_batch(
        changes, spapi_conn_id=CONN_ID, run_id=run_id, config_path=warehouse.config_path, who=ALICE
    )
    return dict(result)


def offers_sync(warehouse: Warehouse, sku: str, **catalog: str) -> list[Any]:
    """The offers sync's per-SKU route for one catalog row; the catalog's states."""
    states, _ = offers.desired_state([row(sku, **{**CATALOG, **catalog})])
    changed, _ = offers.diff(states, *stored(warehouse))
    if changed:
        batch = {"spapi_conn_id": CONN_ID, "config_path": warehouse.config_path}
        result = offers.apply({**batch, "changes": offers.api_changes(changed, SELLER, US)}, "sync-run")  # type: ignore[typeddict-item]
        assert result["accepted"] == len(changed), result
    return states


def stored(warehouse: Warehouse) -> Any:
    engine = db.make_engine(warehouse.engine.url)
    try:
        return offers._stored(engine, SELLER, US)
    finally:
        engine.dispose()


def accepted_event(warehouse: Warehouse, sku: str, run_id: str) -> Any:
    [event] = warehouse.rows(
        "select e.actor, e.dag_id, e.run_id, e.cause, e.changes from listing_events e"
        " join listings l on l.id = e.listing_id"
        " where l.sku = :sku and e.run_id = :run and e.to_status = 'accepted'",
        sku=sku,
        run=run_id,
    )
    return event


def changes_of(event: Any) -> Any:
    return json.loads(event.changes) if isinstance(event.changes, str) else event.changes


def test_a_hotfix_price_keeps_the_sale_and_the_history_says_what_changed(
    sandbox: Sandbox, warehouse: Warehouse
) -> None:
    _seed_discounted(sandbox, "DISC-1")
    states = offers_sync(warehouse, "DISC-1")
    result = hotfix(
        warehouse, skus="DISC-1", product_type="PRODUCT", price=89.99, currency="USD", preview=False
    )
    assert result["accepted"] == 1, result

    # Amazon merged the price in: the sale and the minimum set earlier are still there
    [offer] = _item(sandbox, "DISC-1")["purchasable_offer"]
    assert offer["our_price"] == [{"schedule": [{"value_with_tax": 89.99}]}]
    assert offer["discounted_price"] == [DISCOUNT]
    assert offer["minimum_seller_allowed_price"] == [{"schedule": [{"value_with_tax": 70}]}]

    # offers says what Amazon has; the acceptance says what changed, who triggered it, in which run
    [stored_offer] = warehouse.rows(
        "select our_price, sale_price, min_price from offers where sku = 'DISC-1'"
    )
    assert [Decimal(str(v)) for v in stored_offer] == [Decimal("89.99"), Decimal("79.99"), Decimal("70")]
    event = accepted_event(warehouse, "DISC-1", "hotfix-run")
    assert (event.actor, event.dag_id, event.cause.startswith("listings_api:")) == (
        "alice",
        "listings_hotfix",
        True,
    )
    assert changes_of(event) == {"our_price": {"old": "109.99", "new": "89.99"}}
    [listing] = warehouse.rows("select status from listings where sku = 'DISC-1'")
    assert listing.status == "live"

    # the next offers sync holds the hotfix while the catalog says what it said ...
    assert offers.diff(states, *stored(warehouse)) == ([], [])
    # ... and sends the catalog's price once the catalog itself changes
    changed, _ = offers.diff(
        offers.desired_state([row("DISC-1", **{**CATALOG, "price": "99.99"})])[0], *stored(warehouse)
    )
    assert [(c["sku"], c["offer"] is not None, c["inventory"]) for c in changed] == [("DISC-1", True, None)]


def test_a_hotfix_quantity_keeps_the_handling_time_and_the_fba_entry(
    sandbox: Sandbox, warehouse: Warehouse
) -> None:
    _seed_discounted(sandbox, "DISC-1")
    offers_sync(warehouse, "DISC-1")
    result = hotfix(
        warehouse,
        run_id="stock-run",
        skus="DISC-1",
        action="quantity",
        product_type="PRODUCT",
        price=None,
        currency=None,
        quantity=3,
        preview=False,
    )
    assert result["accepted"] == 1, result
    stock = {e["fulfillment_channel_code"]: e for e in _item(sandbox, "DISC-1")["fulfillment_availability"]}
    assert stock == {
        "DEFAULT": {"fulfillment_channel_code": "DEFAULT", "quantity": 3, "lead_time_to_ship_max_days": 2},
        "AMAZON_NA": {"fulfillment_channel_code": "AMAZON_NA"},
    }
    [inventory] = warehouse.rows("select quantity, handling_time from inventory where sku = 'DISC-1'")
    assert tuple(inventory) == (3, 2)
    assert changes_of(accepted_event(warehouse, "DISC-1", "stock-run")) == {"quantity": {"old": 7, "new": 3}}


def test_a_preview_leaves_the_listing_without_its_issues(sandbox: Sandbox, warehouse: Warehouse) -> None:
    seed(sandbox, "HOT-1")
    assert hotfix(warehouse, run_id="live-run", preview=False, price=99.95)["accepted"] == 1
    bad = [
        {
            "op": "replace",
            "path": "/attributes/luggage_size",
            "value": [{"value": "gigantic", "marketplace_id": US}],
        }
    ]
    result = hotfix(
        warehouse,
        run_id="preview-run",
        action="patch",
        price=None,
        currency=None,
        attribute_patch=json.dumps(bad),
    )
    assert result["invalid"] == 1 and result["issues"] >= 1, result

    issues = warehouse.rows("select preview, severity, run_id from listing_issues where sku = 'HOT-1'")
    assert issues and all(i.preview and i.run_id == "preview-run" for i in issues)
    [status] = warehouse.rows(
        "select status, error_count, issue_count from v_listing_status where sku = 'HOT-1'"
    )
    assert tuple(status) == ("live", 0, 0)
    assert warehouse.rows("select * from v_issues_by_code") == []


def test_the_user_who_triggered_the_run_comes_from_the_running_task(monkeypatch: pytest.MonkeyPatch) -> None:
    assert triggered_by.current() == TriggeredBy(None, None)  # outside a task: nobody
    import airflow.sdk

    run = SimpleNamespace(triggering_user_name="alice", dag_id="listings_hotfix")
    monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: {"dag_run": run})
    assert triggered_by.current() == ALICE
    run.triggering_user_name = None  # a scheduled run
    assert triggered_by.current() == TriggeredBy(None, "listings_hotfix")
