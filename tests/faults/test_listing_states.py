"""The state model on data made by the real steps (issue #14): counts that add up on the views the
status page and analysts read, ``live`` from Amazon's own view, a hotfixed listing still in sync,
and a preview that leaves a live listing without errors; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from listings_pipeline.changes import Change
from listings_pipeline.to_amazon.offer_patches import offer_patch
from listings_pipeline.to_amazon.per_sku import apply_batch
from listings_pipeline.triggered_by import TriggeredBy
from tests.fixtures.sandbox import SELLER, US

from .conftest import CONN_ID, GATED_SKU, QUARANTINED_SKU, Bench, assert_views_add_up

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def _patch(bench: Bench, sku: str, patches: list[Any], *, preview: bool) -> Change:
    [product_type] = [r["product_type"].upper() for r in bench.catalog if r["sku"] == sku]
    return {
        "seller_id": SELLER,
        "marketplace_id": US,
        "sku": sku,
        "action": "price" if not preview else "patch",
        "operation": "patchListingsItem",
        "product_type": product_type,
        "preview": preview,
        "body": {"productType": product_type, "patches": patches},
        "payload": None,
    }


def _states_and_counts(bench: Bench) -> tuple[dict[str, Any], dict[str, int]]:
    rows = {
        r.sku: r
        for r in bench.warehouse.rows("select * from v_listing_status where marketplace_id = :m", m=US)
    }
    counts: dict[str, int] = {}
    for row in rows.values():
        counts[row.status] = counts.get(row.status, 0) + 1
    counts["in_sync"] = sum(int(r.in_sync) for r in rows.values())
    counts["with_errors"] = sum(int(r.error_count > 0) for r in rows.values())
    return rows, counts


def _the_runs_add_up(bench: Bench) -> None:
    bench.clean_run()  # asserts the views add up, among the ledger's invariants
    rows, counts = _states_and_counts(bench)
    good = len(bench.good_skus)
    # parse read every accepted listing back from Amazon (the sandbox shows them all)
    assert counts == {
        "live": good,
        "quarantined": 1,
        "dead_lettered": 1,
        "in_sync": good,
        "with_errors": 2,
    }, counts
    assert all(rows[s].discoverable for s in bench.good_skus)
    in_stock = {r["sku"] for r in bench.catalog if int(r["quantity"] or 0) > 0}
    assert {s for s in bench.good_skus if rows[s].buyable} == bench.good_skus & in_stock
    assert rows[QUARANTINED_SKU].error_count and rows[GATED_SKU].error_count

    hotfixed, previewed = sorted(bench.good_skus)[:2]
    who = TriggeredBy("alice", "listings_hotfix")
    price = offer_patch(US, "USD", "77.00")
    bad = {"op": "replace", "path": "/attributes/item_name", "value": [{"value": ""}]}
    result = apply_batch(
        [
            _patch(bench, hotfixed, [dict(price)], preview=False),
            _patch(bench, previewed, [bad], preview=True),
        ],
        spapi_conn_id=CONN_ID,
        run_id="manual__hotfix",
        config_path=str(bench.config_path),
        who=who,
    )
    assert (result["accepted"], result["invalid"]) == (1, 1), result
    assert_views_add_up(bench.warehouse)
    rows, after = _states_and_counts(bench)
    assert after == counts, "a hotfix Amazon accepted and a preview change no count"
    assert (rows[hotfixed].status, rows[hotfixed].in_sync) == ("live", 1)
    assert (rows[previewed].status, rows[previewed].error_count) == ("live", 0)

    # the next run plans nothing for the hotfixed SKU: the payload Amazon holds is still the catalog's
    run = bench.clean_run()
    assert run.branch is not None and run.branch["planned"] == 0, run.branch


def test_the_counts_add_up_on_sqlite(bench: Bench) -> None:
    _the_runs_add_up(bench)


@pytest.mark.postgres
def test_the_counts_add_up_on_postgresql(pg_bench: Bench) -> None:
    _the_runs_add_up(pg_bench)
