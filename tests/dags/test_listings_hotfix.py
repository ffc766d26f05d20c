"""listings_hotfix end to end: ``dag.test(run_conf=...)`` against the live sandbox, with the PostgreSQL
warehouse. One seeded listing per action keeps each run to a few calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

from spapi import listings  # noqa: E402
from tests.dags.conftest import REPO, Warehouse, run_note, task_states, write_pipeline_config  # noqa: E402
from tests.fixtures.sandbox import SELLER, US, Sandbox, new_client  # noqa: E402
from tests.sandbox.conftest import luggage_attributes  # noqa: E402


@dataclass
class Hotfix:
    config_path: Path
    warehouse: Warehouse
    sandbox: Sandbox

    def seed(self, sku: str) -> None:
        body = {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes(US)}
        with new_client(self.sandbox) as client:
            assert client.call(listings.put_listings_item(SELLER, sku, US, body)).accepted

    def item(self, sku: str) -> Any:
        from spapi.errors import NotFoundError

        with new_client(self.sandbox) as client:
            try:
                return client.call(
                    listings.get_listings_item(SELLER, sku, [US], included_data=["attributes"])
                )
            except NotFoundError:
                return None

    def run(self, **conf: Any) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(REPO / "dags" / "listings_hotfix.py")).get_dag("listings_hotfix")
        assert dag is not None
        base = {"seller_id": SELLER, "marketplace_ids": [US], "config_path": str(self.config_path)}
        return dag.test(run_conf={**base, **conf})

    def rows(self, sql: str, **params: Any) -> list[Any]:
        return self.warehouse.rows(sql, **params)


@pytest.fixture
def hotfix(tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None) -> Hotfix:
    config = write_pipeline_config(tmp_path, REPO / "include" / "sample_catalog" / "catalog.csv")
    return Hotfix(config, pg_warehouse, sandbox_connections)


def offer_price(item: Any) -> Any:
    return item.attributes["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"]


def test_each_action_reaches_the_sandbox(hotfix: Hotfix) -> None:
    for sku in ("HF-PRICE", "HF-QTY", "HF-PATCH", "HF-DEL", "HF-PREVIEW"):
        hotfix.seed(sku)

    common = {"product_type": "LUGGAGE", "preview": False}
    run = hotfix.run(action="price", skus="HF-PRICE", price=88.5, currency="USD", **common)
    assert run.state == "success"
    assert offer_price(hotfix.item("HF-PRICE")) == 88.5
    # a clean run ends green, with a note that says so
    assert run_note(run) == (
        "Run outcome: OK. 1 change(s) accepted, none rejected.\n\n"
        "accepted 1 · invalid 0 · dead-lettered 0 · retry 0"
    )

    assert (
        hotfix.run(action="quantity", skus="HF-QTY", quantity=3, handling_time=2, **common).state == "success"
    )
    assert hotfix.item("HF-QTY").attributes["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 3, "lead_time_to_ship_max_days": 2}
    ]

    patch = [
        {
            "op": "replace",
            "path": "/attributes/color",
            "value": [{"value": "Red", "language_tag": "en_US", "marketplace_id": US}],
        }
    ]
    assert (
        hotfix.run(action="patch", skus="HF-PATCH", attribute_patch=json.dumps(patch), **common).state
        == "success"
    )
    assert hotfix.item("HF-PATCH").attributes["color"][0]["value"] == "Red"

    assert hotfix.run(action="delete", skus="HF-DEL", preview=False).state == "success"
    assert hotfix.item("HF-DEL") is None

    assert hotfix.run(action="put_from_catalog", skus="TT-01-CABIN-GRY", preview=False).state == "success"
    assert hotfix.item("TT-01-CABIN-GRY") is not None

    assert (
        hotfix.run(action="price", skus="HF-PREVIEW", price=1.5, currency="USD", product_type="LUGGAGE").state
        == "success"
    )
    assert offer_price(hotfix.item("HF-PREVIEW")) == 129.99

    # accepted, then read back from Amazon at once: the sandbox shows them, so they are live
    statuses = dict(hotfix.rows("select sku, status from listings"))
    assert statuses == {
        "HF-PRICE": "live",
        "HF-QTY": "live",
        "HF-PATCH": "live",
        "HF-DEL": "deleted",
        "TT-01-CABIN-GRY": "live",
    }
    # the SKU's history says who triggered the run (dag.test's user), in which DAG, and what changed
    [accepted] = hotfix.rows(
        "select e.actor, e.dag_id, e.changes from listing_events e join listings l on l.id = e.listing_id"
        " where l.sku = 'HF-PRICE' and e.to_status = 'accepted'"
    )
    changes = json.loads(accepted.changes) if isinstance(accepted.changes, str) else accepted.changes
    assert (accepted.actor, accepted.dag_id, changes) == (
        "dag_test",
        "listings_hotfix",
        {"our_price": {"old": None, "new": "88.50"}, "currency": {"old": None, "new": "USD"}},
    )
    assert hotfix.rows("select * from dead_letters") == []

    # Amazon rejects every change (no such listing): everything is recorded, then the run ends red
    # at its last task, and its note says what and why
    run = hotfix.run(action="patch", skus="HF-MISSING", attribute_patch=json.dumps(patch), **common)
    assert run.state == "failed"
    states = task_states(run)
    assert states["summarise"] == {"success"} and states["outcome"] == {"failed"}, states
    [letter] = hotfix.rows("select sku, code, run_id from dead_letters")
    assert (letter.sku, letter.code, letter.run_id) == ("HF-MISSING", "4000006", run.run_id)
    note = run_note(run)
    assert note is not None and note.startswith(
        "Run outcome: needs attention. Amazon rejected 1 of 1 change(s), 1 dead-lettered."
    ), note
    assert "accepted 0 · invalid 1 · dead-lettered 1 · retry 0" in note
    assert f"- `HF-MISSING` {US} 4000006: " in note


def test_an_invalid_form_fails_the_first_task_with_every_problem(
    hotfix: Hotfix, capfd: pytest.CaptureFixture[str]
) -> None:
    """Issue #14: one run shows every problem of the form, in the failure message and the run's note."""
    run = hotfix.run(
        action="price",
        skus='HF-1\n"HF-2"\nHF 3',
        price=10.005,
        currency="usd",
        quantity=3,
    )
    assert run.state == "failed"
    states = task_states(run)
    assert states["validate_form"] == {"failed"}, states
    assert states["plan"] <= {"upstream_failed", "None"}, states
    assert [ti.try_number for ti in run.get_task_instances() if ti.task_id == "validate_form"] == [1]
    assert hotfix.rows("select * from listings") == []
    problems = [
        'skus: \'"HF-2"\' has quotes ("): paste SKUs without them',
        "skus: 'HF 3' has a space inside: if these are several SKUs, put each on its own line or separate "
        "them with commas",
        "product_type: is required for 'price' (Amazon's patch names it) and the warehouse does not know "
        "'HF-1'; give it, e.g. LUGGAGE",
        "price: 10.005 has 3 decimal places; USD has 2 decimal places",
        "currency: 'usd' is not a currency code; did you mean USD?",
        "quantity: belongs to the 'quantity' action; clear it for 'price'",
    ]
    out, err = capfd.readouterr()
    message = "\n".join(["The hotfix form has 6 problems; nothing was done:", *(f"- {p}" for p in problems)])
    assert message in (out + err).replace("\\n", "\n"), out + err
    assert "FormError" not in out + err  # the list once, not again as the chained exception's
    assert run_note(run) == "\n\n".join(
        [
            "Run outcome: the hotfix form has 6 problems; nothing was done.",
            "\n".join(f"- {p}" for p in problems).replace("_", "\\_"),
        ]
    )
