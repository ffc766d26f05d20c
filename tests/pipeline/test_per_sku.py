"""The per-SKU path: the hotfix request, the changes it builds, and applying them to the live sandbox
with a SQLite warehouse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from listings_pipeline.config import load_config
from listings_pipeline.forms.hotfix import check_form as parse_request
from listings_pipeline.forms.problems import FormError
from listings_pipeline.to_amazon.per_sku import apply_batch, batches, build_changes
from listings_pipeline.warehouse import db
from spapi import listings
from spapi.product_types import ProductTypeSchemas
from tests.fixtures.sandbox import APP_ID, APP_SECRET, CA, SELLER, SELLER_TOKEN, US, Sandbox, new_client
from tests.sandbox.conftest import luggage_attributes

from .catalog_paths import REPO

CONN_ID = "spapi_hotfix_test"


def form(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "seller_id": SELLER,
        "marketplace_ids": [US],
        "skus": "HOT-1",
        "action": "price",
        "product_type": "LUGGAGE",
        "price": 119.5,
        "currency": "USD",
    }
    base.update(overrides)
    return base


# --- the changes ------------------------------------------------------------------------------------


def patched_attributes(change: dict[str, Any]) -> dict[str, Any]:
    return {p["path"].removeprefix("/attributes/"): p["value"] for p in change["body"]["patches"]}


def test_price_change_is_a_purchasable_offer_patch_per_sku_and_marketplace(
    schemas: ProductTypeSchemas,
) -> None:
    request = parse_request(form(skus="A,B", marketplace_ids=[CA], currency="CAD", preview=False))
    changes = build_changes(request, load_config())
    assert [(c["sku"], c["marketplace_id"]) for c in changes] == [("A", CA), ("B", CA)]
    change = changes[1]
    assert change["operation"] == "patchListingsItem" and change["body"]["productType"] == "LUGGAGE"
    [offer] = patched_attributes(change)["purchasable_offer"]
    assert offer == {
        "marketplace_id": CA,
        "currency": "CAD",
        "our_price": [{"schedule": [{"value_with_tax": 119.5}]}],
    }
    assert schemas.validate("LUGGAGE", patched_attributes(change), enforce_required=False) == []


def test_sale_and_price_bounds_take_amazons_nesting(schemas: ProductTypeSchemas) -> None:
    request = parse_request(
        form(
            sale_price=99,
            sale_start="2026-03-01",
            sale_end="2026-03-31",
            minimum_price=90,
            maximum_price=150,
        )
    )
    [change] = build_changes(request, load_config())
    attrs = patched_attributes(change)
    [offer] = attrs["purchasable_offer"]
    assert offer["discounted_price"] == [
        {"schedule": [{"start_at": "2026-03-01", "end_at": "2026-03-31", "value_with_tax": 99}]}
    ]
    assert offer["minimum_seller_allowed_price"] == [{"schedule": [{"value_with_tax": 90}]}]
    assert offer["maximum_seller_allowed_price"] == [{"schedule": [{"value_with_tax": 150}]}]
    # The shipped LUGGAGE schema has no sale or bounds; Amazon's full PRODUCT schema defines them
    # (its start_at/end_at are oneOf(date, date-time): the project's validator checks both formats).
    assert schemas.validate("PRODUCT", attrs, enforce_required=False) == []


def test_quantity_change_is_a_fulfillment_availability_patch(schemas: ProductTypeSchemas) -> None:
    request = parse_request(form(action="quantity", price=None, currency=None, quantity=7, handling_time=3))
    [change] = build_changes(request, load_config())
    attrs = patched_attributes(change)
    assert attrs == {
        "fulfillment_availability": [
            {"fulfillment_channel_code": "DEFAULT", "quantity": 7, "lead_time_to_ship_max_days": 3}
        ]
    }
    assert schemas.validate("LUGGAGE", attrs, enforce_required=False) == []


def test_attribute_patch_is_sent_as_given(schemas: ProductTypeSchemas) -> None:
    ops = [
        {
            "op": "replace",
            "path": "/attributes/color",
            "value": [{"value": "Red", "language_tag": "en_US", "marketplace_id": US}],
        }
    ]
    request = parse_request(form(action="patch", price=None, currency=None, attribute_patch=json.dumps(ops)))
    [change] = build_changes(request, load_config())
    assert change["body"] == {"productType": "LUGGAGE", "patches": ops}
    assert schemas.validate("LUGGAGE", patched_attributes(change), enforce_required=False) == []


def test_delete_is_one_call_per_marketplace() -> None:
    request = parse_request(
        form(action="delete", price=None, currency=None, preview=False, marketplace_ids=[US, CA])
    )
    changes = build_changes(request, load_config())
    assert [(c["operation"], c["marketplace_id"], c["body"]) for c in changes] == [
        ("deleteListingsItem", US, None),
        ("deleteListingsItem", CA, None),
    ]


def test_put_from_catalog_maps_the_catalog_row(tmp_path: Path, schemas: ProductTypeSchemas) -> None:
    config = config_file(tmp_path)
    request = parse_request(
        form(action="put_from_catalog", price=None, currency=None, product_type=None, skus="TT-01-CABIN-GRY")
    )
    [change] = build_changes(request, load_config(config), run_id="t1")
    assert change["operation"] == "putListingsItem" and change["product_type"] == "LUGGAGE"
    assert change["body"]["requirements"] == "LISTING"
    assert schemas.validate("LUGGAGE", change["body"]["attributes"]) == []
    assert change["payload"]["operationType"] == "UPDATE"

    missing = parse_request(
        form(action="put_from_catalog", price=None, currency=None, product_type=None, skus="NOT-IN-CATALOG")
    )
    with pytest.raises(FormError, match="SKU NOT-IN-CATALOG has no catalog row for marketplace"):
        build_changes(missing, load_config(config), run_id="t2")


def test_sellers_and_marketplaces_must_be_in_the_config() -> None:
    with pytest.raises(FormError, match="seller_id: 'A9NOBODY' is not a seller of the pipeline config"):
        build_changes(parse_request(form(seller_id="A9NOBODY")), load_config())
    with pytest.raises(FormError, match=r"marketplace_ids: Mexico \(A1AM78C64UM0Y8\) is not a marketplace"):
        build_changes(parse_request(form(marketplace_ids=["A1AM78C64UM0Y8"], currency="MXN")), load_config())


def test_batches_cut_in_order() -> None:
    items = [{"n": i} for i in range(45)]
    assert [len(b) for b in batches(items)] == [20, 20, 5]
    assert [b[0]["n"] for b in batches(items, 10)] == [0, 10, 20, 30, 40]
    assert batches([]) == []


# --- apply against the sandbox ---------------------------------------------------------------------------


def config_file(tmp_path: Path) -> Path:
    text = (REPO / "include" / "pipeline.yaml").read_text()
    for key, value in {
        "var_dir: ../var": f"var_dir: {tmp_path / 'var'}",
        "mappings_dir: catalog_mappings": f"mappings_dir: {REPO / 'include' / 'catalog_mappings'}",
        "product_types_dir: product_types": f"product_types_dir: {REPO / 'include' / 'product_types'}",
        "content_policy: content_policy.yaml": f"content_policy: {REPO / 'include' / 'content_policy.yaml'}",
        "catalog: sample_catalog/catalog.csv": f"catalog: {REPO / 'include' / 'sample_catalog' / 'catalog.csv'}",
    }.items():
        assert key in text, key
        text = text.replace(key, value)
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


class Warehouse:
    def __init__(self, url: str, config_path: Path) -> None:
        self.engine = db.make_engine(url)
        self.config_path = str(config_path)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))


@pytest.fixture
def warehouse(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    db.upgrade(url)
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", url)
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
    extra = {
        "environment": "sandbox",
        "refresh_token": SELLER_TOKEN,
        "seller_id": SELLER,
        "endpoint_url": sandbox.url,
        "token_url": f"{sandbox.url}/auth/o2/token",
        "rate_scale": 50,
        "backoff_base": 0.05,
        "backoff_cap": 0.2,
        "max_attempts": 3,
    }
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps({"conn_type": "spapi", "login": APP_ID, "password": APP_SECRET, "extra": extra}),
    )
    wh = Warehouse(url, config_file(tmp_path))
    yield wh
    wh.engine.dispose()


def seed(sandbox: Sandbox, sku: str) -> None:
    with new_client(sandbox) as client:
        answer = client.call(
            listings.put_listings_item(
                SELLER,
                sku,
                US,
                {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes(US)},
            )
        )
        assert answer.accepted, answer


def sandbox_price(sandbox: Sandbox, sku: str) -> Any:
    with new_client(sandbox) as client:
        item = client.call(listings.get_listings_item(SELLER, sku, [US], included_data=["attributes"]))
    assert item.attributes is not None
    return item.attributes["purchasable_offer"][0]["our_price"][0]["schedule"][0]["value_with_tax"]


def run(warehouse: Warehouse, **overrides: Any) -> dict[str, Any]:
    request = parse_request(form(**overrides))
    changes = build_changes(request, load_config(warehouse.config_path))
    return apply_batch(changes, spapi_conn_id=CONN_ID, run_id="test-run", config_path=warehouse.config_path)


@pytest.mark.airflow
@pytest.mark.integration
def test_an_accepted_price_patch_changes_the_listing(sandbox: Sandbox, warehouse: Warehouse) -> None:
    seed(sandbox, "HOT-1")
    result = run(warehouse, preview=False, price=99.95)
    assert (result["accepted"], result["dead_lettered"]) == (1, 0)
    [outcome] = result["outcomes"]
    assert outcome["status"] == "accepted" and outcome["submission_id"]
    assert sandbox_price(sandbox, "HOT-1") == 99.95
    [listing] = warehouse.rows(
        "select status, last_submission_id, submitted_hash, accepted_hash, buyable from listings"
    )
    # read back from Amazon at once: the sandbox shows it buyable, so it is live
    assert listing.status == "live" and listing.last_submission_id == outcome["submission_id"]
    assert listing.buyable
    # a patch is not a payload: the hash of the change was sent, none was accepted whole
    assert listing.submitted_hash is not None and listing.accepted_hash is None
    events = [r.to_status for r in warehouse.rows("select to_status from listing_events order by id")]
    assert events == ["ready", "submitted", "accepted", "live"]
    calls = warehouse.rows("select operation, trace_id from api_calls order by id")
    assert [(c.operation, c.trace_id) for c in calls] == [
        ("patchListingsItem", f"test-run|{SELLER}|{US}"),
        ("getListingsItem", f"test-run|{SELLER}|{US}"),
    ]
    assert "Atz" not in json.dumps(result)


@pytest.mark.airflow
@pytest.mark.integration
def test_preview_changes_nothing(sandbox: Sandbox, warehouse: Warehouse) -> None:
    seed(sandbox, "HOT-1")
    result = run(warehouse, price=42)
    assert result["valid"] == 1 and result["outcomes"][0]["status"] == "valid"
    assert sandbox_price(sandbox, "HOT-1") == 129.99
    assert warehouse.rows("select * from listings") == []
    assert warehouse.rows("select * from dead_letters") == []


@pytest.mark.airflow
@pytest.mark.integration
def test_an_invalid_patch_lands_in_issues_and_dead_letters(sandbox: Sandbox, warehouse: Warehouse) -> None:
    seed(sandbox, "HOT-1")
    bad = [
        {
            "op": "replace",
            "path": "/attributes/number_of_wheels",
            "value": [{"value": "many", "marketplace_id": US}],
        }
    ]
    result = run(warehouse, preview=False, action="patch", price=None, currency=None, attribute_patch=bad)
    [outcome] = result["outcomes"]
    assert outcome["status"] == "invalid" and result["dead_lettered"] == 1
    code = outcome["error_code"]
    assert code and code in outcome["issue_codes"]
    issues = warehouse.rows("select source, code, severity, sku, submission_id from listing_issues")
    assert [(i.source, i.code, i.severity, i.sku) for i in issues] == [
        ("listings_api", code, "ERROR", "HOT-1")
    ]
    [letter] = warehouse.rows("select path, operation, code, state, reason, payload from dead_letters")
    assert (letter.path, letter.operation, letter.code, letter.state) == (
        "listings_api",
        "patchListingsItem",
        code,
        "open",
    )
    assert code in letter.reason
    payload = json.loads(letter.payload) if isinstance(letter.payload, str) else letter.payload
    assert payload["body"]["patches"] == bad
    assert warehouse.rows("select status from listings")[0].status == "dead_lettered"

    # the same mistake in preview: the issue is recorded, nothing else
    again = run(warehouse, action="patch", price=None, currency=None, attribute_patch=bad)
    assert again["outcomes"][0]["status"] == "invalid" and again["dead_lettered"] == 0
    assert len(warehouse.rows("select * from listing_issues")) == 2
    assert len(warehouse.rows("select * from dead_letters")) == 1


@pytest.mark.airflow
@pytest.mark.integration
def test_a_call_that_keeps_failing_is_dead_lettered_not_dropped(
    sandbox: Sandbox, warehouse: Warehouse
) -> None:
    seed(sandbox, "HOT-1")
    sandbox.faults({"kind": "error", "status": 503, "operation": "patchListingsItem"})
    result = run(warehouse, preview=False, skus="HOT-1,HOT-2")
    assert (result["failed"], result["dead_lettered"]) == (2, 2)
    assert {o["error_code"] for o in result["outcomes"]} <= {"503", "ServiceUnavailable", "InternalFailure"}
    letters = warehouse.rows("select sku, path, operation, code, state from dead_letters order by sku")
    assert [(r.sku, r.path, r.operation, r.state) for r in letters] == [
        ("HOT-1", "listings_api", "patchListingsItem", "open"),
        ("HOT-2", "listings_api", "patchListingsItem", "open"),
    ]
    assert {r.status for r in warehouse.rows("select status from listings")} == {"dead_lettered"}
    attempts = warehouse.rows("select count(*) as n from api_calls where operation = 'patchListingsItem'")
    assert attempts[0].n == 6  # 3 attempts per SKU, all recorded


@pytest.mark.airflow
@pytest.mark.integration
def test_a_refused_call_keeps_amazons_errors_as_issues(sandbox: Sandbox, warehouse: Warehouse) -> None:
    """HTTP 400: no submission, no retry, but Amazon's reason is in listing_issues and the dead letter."""
    seed(sandbox, "HOT-1")
    sandbox.faults({"kind": "error", "status": 400, "operation": "patchListingsItem", "count": 1})
    result = run(warehouse, preview=False, skus="HOT-1")
    [outcome] = result["outcomes"]
    assert (outcome["status"], outcome["error_code"], outcome["issue_codes"]) == (
        "failed",
        "InvalidInput",
        ["InvalidInput"],
    )
    issues = warehouse.rows(
        "select source, code, severity, sku, marketplace_id, message, run_id from listing_issues"
    )
    assert [(i.source, i.code, i.severity, i.sku, i.marketplace_id, i.run_id) for i in issues] == [
        ("listings_api", "InvalidInput", "ERROR", "HOT-1", US, "test-run")
    ]
    assert issues[0].message.startswith("Invalid input.")
    [letter] = warehouse.rows("select code, state from dead_letters")
    assert (letter.code, letter.state) == ("InvalidInput", "open")
    attempts = warehouse.rows("select count(*) as n from api_calls where operation = 'patchListingsItem'")
    assert attempts[0].n == 1  # a 400 is not retried


@pytest.mark.airflow
@pytest.mark.integration
def test_server_errors_are_not_listing_issues(sandbox: Sandbox, warehouse: Warehouse) -> None:
    seed(sandbox, "HOT-1")
    sandbox.faults({"kind": "error", "status": 503, "operation": "patchListingsItem"})
    result = run(warehouse, preview=False, skus="HOT-1")
    assert result["dead_lettered"] == 1
    assert warehouse.rows("select * from listing_issues") == []


# --- a replayed feed letter, sent by the next sync's small change set -------------------------------------


def catalog_message(sku: str, brand: str = "Acme") -> dict[str, Any]:
    """A planned feed message, as the catalog sync's plan writes it."""
    brand_value = [{"value": brand, "language_tag": "en_US", "marketplace_id": US}]
    return {
        "sku": sku,
        "operationType": "UPDATE",
        "productType": "LUGGAGE",
        "requirements": "LISTING",
        "attributes": luggage_attributes(US, brand=brand_value),
    }


def feed_letter(warehouse: Warehouse, message: dict[str, Any]) -> int:
    """A listing a feed rejected, as ``bulk.parse`` leaves it: a feed letter, the listing dead-lettered."""
    from listings_pipeline.run_files import payload_hash
    from listings_pipeline.warehouse import lifecycle
    from listings_pipeline.warehouse.records import ensure_seller

    key = {"seller_id": SELLER, "marketplace_id": US, "sku": message["sku"]}
    with db.session_scope(warehouse.engine) as s:
        ensure_seller(s, SELLER)
        ready = {**key, "payload": message, "payload_hash": payload_hash(message)}
        lifecycle.transition_many(s, [ready], cause="plan", run_id="sync-1", to_status="ready")
        for status in ("submitted", "invalid"):
            lifecycle.transition_many(s, [key], cause="feed:F1", run_id="sync-1", to_status=status)
        letter = lifecycle.open_dead_letter(
            s,
            **key,
            path="feed",
            operation="JSON_LISTINGS_FEED",
            reason="5665: You need approval to list the brand.",
            code="5665",
            run_id="sync-1",
        )
        lifecycle.transition_many(s, [key], cause="feed:F1", run_id="sync-1", to_status="dead_lettered")
        return letter.id


@pytest.mark.airflow
@pytest.mark.integration
def test_a_replayed_feed_letter_ends_with_the_next_syncs_listings_api_call(
    sandbox: Sandbox, warehouse: Warehouse
) -> None:
    """A feed letter's replay puts its listing back to ``ready``; the next catalog_feed_sync has a
    small change set, so it goes through the Listings API. What Amazon answers there is the
    replay's outcome: the accepted SKU's letter is resolved, the still-gated SKU's letter is
    reopened (the same letter, attempt 2), not left ``replayed`` beside a new letter at attempt 1."""
    from listings_pipeline.run_files import BranchPaths, write_jsonl
    from listings_pipeline.to_amazon import replay
    from listings_pipeline.to_amazon.per_sku import apply_branch

    fixed, gated = catalog_message("RP-FIXED"), catalog_message("RP-GATED", brand="Gated Brand Co")
    ids = {m["sku"]: feed_letter(warehouse, m) for m in (fixed, gated)}
    replayed = replay.replay_letters(
        sorted(ids.values()), {"skus": "RP-FIXED\nRP-GATED"}, run_id="r1", config_path=warehouse.config_path
    )
    assert replayed["requeued"] == 2
    assert {r.status for r in warehouse.rows("select status from listings")} == {"ready"}

    # the next sync planned both (they are ready) and routed them to the Listings API
    write_jsonl(
        BranchPaths.of(load_config(warehouse.config_path), "sync-2", SELLER, US).planned, [fixed, gated]
    )
    branch: Any = {
        "seller_id": SELLER,
        "marketplace_id": US,
        "spapi_conn_id": CONN_ID,
        "region": "na",
        "config_path": warehouse.config_path,
        "run_id": "sync-2",
        "route": "listings_api",
    }
    sent = apply_branch(branch)
    assert (sent["messages"], sent["accepted"], sent["dead_lettered"]) == (2, 1, 1)

    letters = warehouse.rows(
        "select id, sku, state, attempts, path, operation, code from dead_letters order by id"
    )
    assert [tuple(r) for r in letters] == [
        (ids["RP-FIXED"], "RP-FIXED", "resolved", 1, "feed", "JSON_LISTINGS_FEED", "5665"),
        (ids["RP-GATED"], "RP-GATED", "open", 2, "listings_api", "putListingsItem", "5665"),
    ]
    events = warehouse.rows(
        "select d.sku, e.from_state, e.to_state, e.actor from dead_letter_events e "
        "join dead_letters d on d.id = e.dead_letter_id order by e.id"
    )
    by_sku: dict[str, list[tuple[Any, ...]]] = {}
    for e in events:
        by_sku.setdefault(e.sku, []).append((e.from_state, e.to_state, e.actor))
    submission = warehouse.rows("select last_submission_id from listings where sku = 'RP-FIXED'")[0][0]
    assert by_sku["RP-FIXED"] == [
        (None, "open", "sync-1"),
        ("open", "replayed", "dead_letter_replay:r1"),
        ("replayed", "resolved", f"listings_api:{submission}"),
    ]
    assert by_sku["RP-GATED"] == [
        (None, "open", "sync-1"),
        ("open", "replayed", "dead_letter_replay:r1"),
        ("replayed", "open", "sync-2"),
    ]
    # the reopened letter now carries the change that failed: a replay sends it through the same call
    payload = warehouse.rows("select payload from dead_letters where sku = 'RP-GATED'")[0][0]
    stored = json.loads(payload) if isinstance(payload, str) else payload
    assert (stored["operation"], stored["action"], stored["payload"]) == (
        "putListingsItem",
        "put_from_catalog",
        gated,
    )
