"""Offers and inventory sync: the diff, the router, the patches and feed messages, and a price write
against the live sandbox that keeps an existing discount (SQLite warehouse)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from listings_pipeline.routing import route
from listings_pipeline.to_amazon import offers
from listings_pipeline.warehouse import db
from spapi import listings
from tests.fixtures.sandbox import SELLER, US, Sandbox, new_client

from .catalog_paths import MESSAGE_SCHEMA
from .test_per_sku import CONN_ID, Warehouse
from .test_per_sku import warehouse as warehouse


def row(sku: str = "SKU-1", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sku": sku,
        "marketplace_id": US,
        "product_type": "luggage",
        "price": "129.99",
        "currency": "usd",
        "quantity": "12",
    }
    base.update(overrides)
    return base


def stored_offer(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "currency": "USD",
        "our_price": Decimal("129.99"),
        "sale_price": None,
        "sale_start_at": None,
        "sale_end_at": None,
        "min_price": None,
        "max_price": None,
    }
    base.update(overrides)
    return base


# --- state and diff --------------------------------------------------------------------------------------


def test_row_state_reads_offer_and_merchant_stock() -> None:
    state = offers.row_state(
        row(
            sale_price="99.5",
            sale_start="2026-12-01",
            sale_end="2026-12-24",
            minimum_price="90",
            maximum_price="150",
            handling_time="2",
        )
    )
    assert state == {
        "sku": "SKU-1",
        "product_type": "LUGGAGE",
        "offer": {
            "currency": "USD",
            "our_price": "129.99",
            "sale_price": "99.50",
            "sale_start_at": "2026-12-01",
            "sale_end_at": "2026-12-24",
            "min_price": "90.00",
            "max_price": "150.00",
        },
        "inventory": {"fulfillment_channel_code": "DEFAULT", "quantity": 12, "handling_time": 2},
    }


def test_bad_rows_are_skipped_with_a_reason() -> None:
    states, skipped = offers.desired_state(
        [
            row("A"),
            row("B", price="abc"),
            row("C", sale_price="5"),
            row("D", quantity="-1"),
            row("E", sale_price="200", sale_start="2026-12-01", sale_end="2026-12-24"),
            row("F", minimum_price="130"),
            row("G", maximum_price="100"),
        ]
    )
    assert [s["sku"] for s in states] == ["A"]
    assert [s["sku"] for s in skipped] == ["B", "C", "D", "E", "F", "G"]
    assert "sale_price 200.00 must be below price 129.99" in skipped[3]["reason"]
    assert "minimum_price 130.00 is above price" in skipped[4]["reason"]
    assert "maximum_price 100.00 is below price" in skipped[5]["reason"]
    assert "price 'abc' is not a number" in skipped[0]["reason"]
    assert "a sale needs all of" in skipped[1]["reason"]
    # each says which column and value, as the quarantine table takes them
    assert [(s["column_name"], s["value"]) for s in skipped] == [
        ("price", "abc"),
        ("sale_start", None),
        ("quantity", "-1"),
        ("sale_price", "200.00"),
        ("minimum_price", "130.00"),
        ("maximum_price", "100.00"),
    ]


def test_rows_without_sku_and_both_rows_of_a_duplicate_are_quarantined_not_dropped() -> None:
    rows = [
        row("A", _source_row=2),
        row("", _source_row=3),
        row("DUP", price="10", _source_row=4),
        row("DUP", price="12", _source_row=5),
    ]
    states, skipped = offers.desired_state(rows)
    assert [s["sku"] for s in states] == ["A"]
    assert [(s["sku"], s["column_name"], s["source_line"]) for s in skipped] == [
        (None, "sku", 3),
        ("DUP", "sku", 4),
        ("DUP", "sku", 5),
    ]
    assert skipped[0]["reason"] == "line 3, the row has no SKU"
    assert "SKU 'DUP' appears 2 times (lines 4, 5)" in skipped[1]["reason"]
    # every row is either a state or a quarantine record
    assert len(states) + len(skipped) == len(rows)


def test_diff_keeps_only_changed_offers_and_stock() -> None:
    states, _ = offers.desired_state(
        [
            row("SAME"),
            row("PRICE", price="119.99"),
            row("QTY", quantity="3"),
            row("NEW"),
            row("HANDLING", handling_time="4"),
        ]
    )
    stored = {sku: stored_offer() for sku in ("SAME", "PRICE", "QTY", "HANDLING")}
    stock = {
        (sku, "DEFAULT"): {"quantity": 12, "handling_time": None}
        for sku in ("SAME", "PRICE", "QTY", "HANDLING")
    }
    changed, fba = offers.diff(states, stored, stock)
    assert fba == []
    by_sku = {c["sku"]: c for c in changed}
    assert set(by_sku) == {"PRICE", "QTY", "NEW", "HANDLING"}
    assert by_sku["PRICE"]["offer"]["our_price"] == "119.99" and by_sku["PRICE"]["inventory"] is None
    assert by_sku["QTY"]["offer"] is None and by_sku["QTY"]["inventory"]["quantity"] == 3
    assert by_sku["NEW"]["offer"] is not None and by_sku["NEW"]["inventory"] is not None
    assert by_sku["HANDLING"]["offer"] is None and by_sku["HANDLING"]["inventory"]["handling_time"] == 4


def test_a_stored_sale_compares_by_day_and_amount() -> None:
    from datetime import UTC, datetime

    states, _ = offers.desired_state(
        [row("S", price="129.990", sale_price="99.5", sale_start="2026-12-01", sale_end="2026-12-24")]
    )
    stored = {
        "S": stored_offer(
            sale_price=Decimal("99.50"),
            sale_start_at=datetime(2026, 12, 1, tzinfo=UTC),
            sale_end_at=datetime(2026, 12, 24, tzinfo=UTC),
        )
    }
    assert offers.diff(states, stored, {("S", "DEFAULT"): {"quantity": 12, "handling_time": None}}) == (
        [],
        [],
    )


def test_fba_quantities_are_neither_sent_nor_taken_from_the_catalog() -> None:
    states, _ = offers.desired_state(
        [
            row("FBA", fulfillment_channel="AMAZON_NA", quantity="40"),
            row("MFN", fulfillment_channel="MFN", quantity="5"),
        ]
    )
    changed, fba = offers.diff(states, {}, {})
    by_sku = {c["sku"]: c for c in changed}
    # the FBA offer's price is the seller's and is sent; its stock is Amazon's (fba_inventory_sync
    # reads it from Amazon), so the catalog's quantity is neither sent nor recorded
    assert by_sku["FBA"]["inventory"] is None and by_sku["FBA"]["offer"]["our_price"] == "129.99"
    assert fba == ["FBA"]
    assert by_sku["MFN"]["inventory"]["fulfillment_channel_code"] == "DEFAULT"
    paths = [p["path"] for p in offers.patches_for(by_sku["FBA"], US)]
    assert paths == ["/attributes/purchasable_offer"]
    # an FBA quantity alone changes nothing on Amazon, whatever Amazon's own figure in inventory
    stored = {"FBA": stored_offer()}
    amazon = {("FBA", "AMAZON_NA"): {"quantity": 7, "handling_time": None, "catalog_hash": None}}
    changed, fba = offers.diff(states[:1], stored, amazon)
    assert changed == [] and fba == ["FBA"]


# --- the router ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "none"), (1, "listings_api"), (50, "listings_api"), (51, "feed")]
)
def test_router_at_the_threshold(count: int, expected: str) -> None:
    assert route(count, 50) == expected


def test_default_threshold_is_fifty() -> None:
    from listings_pipeline.config import PipelineConfig

    config = PipelineConfig.model_validate(
        {"sellers": [{"seller_id": SELLER, "spapi_conn_id": "x", "marketplaces": [US], "catalog": "c.csv"}]}
    )
    assert config.per_sku_threshold == 50


# --- patches and messages ----------------------------------------------------------------------------------


def test_price_patch_merges_only_the_fields_we_own() -> None:
    [change] = offers.diff(offers.desired_state([row(minimum_price="100")])[0], {}, {})[0]
    price, stock = offers.patches_for(change, US)
    assert price == {
        "op": "merge",
        "path": "/attributes/purchasable_offer",
        "value": [
            {
                "marketplace_id": US,
                "currency": "USD",
                "our_price": [{"schedule": [{"value_with_tax": 129.99}]}],
                "minimum_seller_allowed_price": [{"schedule": [{"value_with_tax": 100}]}],
            }
        ],
    }
    assert "discounted_price" not in price["value"][0]  # not ours: a discount set elsewhere stays
    assert stock == {
        "op": "merge",
        "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 12}],
    }


def test_feed_messages_are_valid_patch_messages() -> None:
    states, _ = offers.desired_state(
        [
            row(f"S-{i}", sale_price="99", sale_start="2026-12-01", sale_end="2026-12-24", handling_time="3")
            for i in range(51)
        ]
    )
    changed, _ = offers.diff(states, {}, {})
    assert route(len(changed), 50) == "feed"
    messages = offers.feed_messages(changed, US)
    assert len(messages) == 51 and len({m["sku"] for m in messages}) == 51
    validator = jsonschema.Draft7Validator(json.loads(MESSAGE_SCHEMA.read_text()))
    for number, message in enumerate(messages, 1):
        numbered = {"messageId": number, **message}  # bulk.build numbers them
        errors = [e.message for e in validator.iter_errors(numbered)]
        assert errors == [], errors
        assert message["operationType"] == "PATCH"
        assert [p["path"] for p in message["patches"]] == [
            "/attributes/purchasable_offer",
            "/attributes/fulfillment_availability",
        ]
        assert all(p["op"] == "merge" for p in message["patches"])
    assert messages[0]["patches"][0]["value"][0]["discounted_price"] == [
        {"schedule": [{"start_at": "2026-12-01", "end_at": "2026-12-24", "value_with_tax": 99}]}
    ]


def test_api_changes_have_the_shape_apply_batch_sends() -> None:
    changed, _ = offers.diff(offers.desired_state([row()])[0], {}, {})
    [change] = offers.api_changes(changed, SELLER, US)
    assert change["operation"] == "patchListingsItem" and change["preview"] is False
    assert change["body"]["productType"] == "LUGGAGE" and len(change["body"]["patches"]) == 2
    assert {"seller_id", "marketplace_id", "sku", "product_type", "payload"} <= set(change)


# --- against the sandbox -------------------------------------------------------------------------------------

DISCOUNT = {"schedule": [{"start_at": "2026-11-01", "end_at": "2027-01-31", "value_with_tax": 79.99}]}


def _item(sandbox: Sandbox, sku: str) -> dict[str, Any]:
    with new_client(sandbox) as client:
        item = client.call(listings.get_listings_item(SELLER, sku, [US], included_data=["attributes"]))
    assert item.attributes is not None
    return dict(item.attributes)


def _seed_discounted(sandbox: Sandbox, sku: str) -> None:
    """An offer-only PRODUCT listing (Amazon's PRODUCT schema has ``discounted_price``; the shipped
    LUGGAGE/SHIRT/HEADPHONES schemas do not) with a discount and an FBA entry set elsewhere."""
    attributes = {
        "condition_type": [{"value": "new_new", "marketplace_id": US}],
        "purchasable_offer": [
            {
                "marketplace_id": US,
                "currency": "USD",
                "our_price": [{"schedule": [{"value_with_tax": 99.99}]}],
                "discounted_price": [DISCOUNT],
            }
        ],
        "fulfillment_availability": [
            {"fulfillment_channel_code": "DEFAULT", "quantity": 5},
            {"fulfillment_channel_code": "AMAZON_NA"},
        ],
    }
    body = {"productType": "PRODUCT", "requirements": "LISTING_OFFER_ONLY", "attributes": attributes}
    with new_client(sandbox) as client:
        answer = client.call(listings.put_listings_item(SELLER, sku, US, body))
    assert answer.accepted, answer


@pytest.fixture
def seeded(sandbox: Sandbox, warehouse: Warehouse) -> Iterator[Warehouse]:
    _seed_discounted(sandbox, "DISC-1")
    yield warehouse


@pytest.mark.airflow
@pytest.mark.integration
def test_a_price_change_keeps_an_existing_discount(sandbox: Sandbox, seeded: Warehouse) -> None:
    states, _ = offers.desired_state(
        [row("DISC-1", product_type="PRODUCT", price="109.99", quantity="7", handling_time="2")]
    )
    changed, _ = offers.diff(states, {}, {})
    changes = offers.api_changes(changed, SELLER, US)
    result = offers.apply(
        {"spapi_conn_id": CONN_ID, "config_path": seeded.config_path, "changes": changes}, "offers-run"
    )
    assert (result["accepted"], result["dead_lettered"], result["recorded"]) == (1, 0, 1), result

    attributes = _item(sandbox, "DISC-1")
    [offer] = attributes["purchasable_offer"]
    assert offer["our_price"] == [{"schedule": [{"value_with_tax": 109.99}]}]
    assert offer["discounted_price"] == [DISCOUNT]  # the foreign field survived the price write
    assert {e["fulfillment_channel_code"] for e in attributes["fulfillment_availability"]} == {
        "DEFAULT",
        "AMAZON_NA",
    }
    default = next(
        e for e in attributes["fulfillment_availability"] if e["fulfillment_channel_code"] == "DEFAULT"
    )
    assert default == {"fulfillment_channel_code": "DEFAULT", "quantity": 7, "lead_time_to_ship_max_days": 2}

    # the warehouse holds what was accepted, so the same catalog row sends nothing next time
    [stored] = seeded.rows("select currency, our_price from offers where sku = 'DISC-1'")
    assert (stored.currency, Decimal(str(stored.our_price))) == ("USD", Decimal("109.99"))
    engine = db.make_engine(seeded.engine.url)
    try:
        stored_offers, stored_stock = offers._stored(engine, SELLER, US)
    finally:
        engine.dispose()
    assert offers.diff(states, stored_offers, stored_stock) == ([], [])


@pytest.mark.airflow
@pytest.mark.integration
def test_replace_would_drop_the_discount(sandbox: Sandbox, seeded: Warehouse) -> None:
    """Why the sync uses ``merge``: the hotfix's ``replace`` sets the whole offer (the sandbox agrees)."""
    [patch] = offers.patches_for({"offer": {"currency": "USD", "our_price": "109.99"}}, US)
    with new_client(sandbox) as client:
        answer = client.call(
            listings.patch_listings_item(
                SELLER, "DISC-1", [US], {"productType": "PRODUCT", "patches": [{**patch, "op": "replace"}]}
            )
        )
    assert answer.accepted, answer
    assert "discounted_price" not in _item(sandbox, "DISC-1")["purchasable_offer"][0]


def test_record_needs_nothing_but_the_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        states, _ = offers.desired_state(
            [row("R-1", sale_price="99", sale_start="2026-12-01", sale_end="2026-12-24", handling_time="3")]
        )
        changed, _ = offers.diff(states, {}, {})
        assert offers.record(engine, SELLER, US, changed) == 1
        assert offers.diff(states, *offers._stored(engine, SELLER, US)) == ([], [])
        changed, _ = offers.diff(
            offers.desired_state([row("R-1", price="1")])[0], *offers._stored(engine, SELLER, US)
        )
        assert [c["sku"] for c in changed] == ["R-1"] and changed[0][
            "inventory"
        ] is not None  # handling_time gone
    finally:
        engine.dispose()
