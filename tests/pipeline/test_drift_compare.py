"""from_amazon.drift.compare on hand-worked cases: each rule, the cases it must leave alone, the order."""

from __future__ import annotations

from decimal import Decimal

from listings_pipeline.from_amazon.drift import Drift, OurListing, compare
from spapi.models.reports import MerchantListingRow


def ours(
    sku: str,
    status: str = "live",
    price: str | None = "10.00",
    quantity: int | None = 5,
    *,
    on_amazon: bool | None = None,
    fba: int | None = None,
) -> OurListing:
    accepted = status in ("accepted", "live") if on_amazon is None else on_amazon
    return {
        "sku": sku,
        "status": status,
        "on_amazon": accepted,
        "price": None if price is None else Decimal(price),
        "quantity": quantity,
        "fba_fulfillable": fba,
    }


def row(
    sku: str,
    price: str | None = "10.00",
    quantity: str = "5",
    status: str = "Active",
    channel: str = "DEFAULT",
) -> MerchantListingRow:
    return MerchantListingRow.model_validate(
        {
            "seller-sku": sku,
            "price": price or "",
            "quantity": quantity,
            "status": status,
            "fulfillment-channel": channel,
        }
    )


def drift(sku: str, kind: str, field: str, ours: str | None, amazon: str | None) -> Drift:
    return {"sku": sku, "kind": kind, "field": field, "ours": ours, "amazon": amazon}  # type: ignore[typeddict-item]


def test_agreeing_sides_have_no_drift() -> None:
    # 10 == 10.0 == 10.00: the report writes money its own way
    assert compare([ours("A"), ours("B", price="7.5")], [row("A", price="10"), row("B", price="7.50")]) == []


def test_each_kind_on_a_hand_worked_branch() -> None:
    warehouse = [
        ours("A-SAME"),
        ours("B-PRICE", price="89.00"),
        ours("C-STOCK", quantity=9),
        ours("D-OFF", status="accepted"),
        ours("E-GONE"),
        ours("F-DELETED", status="deleted", on_amazon=False),
    ]
    report = [
        row("A-SAME"),
        row("B-PRICE", price="79,00"),  # a decimal comma, as some marketplaces write it
        row("C-STOCK", quantity="0", status="Inactive"),  # no stock: Amazon stops selling it too
        row("D-OFF", status="Inactive"),
        row("F-DELETED"),
        row("G-NEW", price="19.99", quantity="2"),
    ]
    assert compare(warehouse, report) == [
        drift("B-PRICE", "price", "price", "89.00", "79.00"),
        drift("C-STOCK", "quantity", "quantity", "9", "0"),
        drift("C-STOCK", "inactive", "status", "Active", "Inactive"),
        drift("D-OFF", "inactive", "status", "Active", "Inactive"),
        drift("E-GONE", "missing_on_amazon", "listing", "live", None),
        drift("F-DELETED", "unknown_to_catalog", "listing", "deleted", "Active"),
        drift("G-NEW", "unknown_to_catalog", "listing", None, "Active"),
    ]


def test_what_is_not_compared() -> None:
    warehouse = [
        ours("IN-FLIGHT", status="submitted", price="1.00"),  # about to change: not judged now
        ours("READY", status="ready", on_amazon=True),  # accepted once, a change waiting: nor here
        ours("NEVER", status="invalid"),  # Amazon never took it: its absence is no drift
        ours("NO-STOCK-OF-OURS", quantity=0),  # out of stock here too: Inactive is right
        ours("FBA", quantity=None),  # FBA: Amazon's stock, never compared
        ours("NO-PRICE", price=None),  # a price we never set is not ours to compare
    ]
    report = [
        row("IN-FLIGHT", price="2.00"),
        row("NO-STOCK-OF-OURS", quantity="0", status="Inactive"),
        row("FBA", quantity="", channel="AMAZON_NA"),
        row("NO-PRICE", price="3.00"),
    ]
    assert compare(warehouse, report) == []


def test_an_fba_listing_still_has_its_price_and_status_compared() -> None:
    warehouse = [ours("FBA", price="20.00", quantity=4)]  # a stale merchant row must not count for FBA
    report = [row("FBA", price="22.00", quantity="", status="Incomplete", channel="AMAZON_NA")]
    assert compare(warehouse, report) == [
        drift("FBA", "price", "price", "20.00", "22.00"),
        drift("FBA", "inactive", "status", "Active", "Incomplete"),
    ]


def test_a_price_amazon_dropped_is_drift_and_a_sku_listed_twice_is_read_once() -> None:
    report = [row("A", price=None), row("A", price="10.00")]
    assert compare([ours("A")], report) == [drift("A", "price", "price", "10.00", None)]


def test_an_empty_report_means_every_accepted_listing_is_missing() -> None:
    assert compare([ours("B", status="accepted"), ours("A"), ours("C", status="draft")], []) == [
        drift("A", "missing_on_amazon", "listing", "live", None),
        drift("B", "missing_on_amazon", "listing", "accepted", None),
    ]


def test_an_fba_listing_amazon_has_no_stock_for_is_rightly_inactive() -> None:
    warehouse = [ours("FBA-EMPTY", quantity=None, fba=0), ours("FBA-STOCKED", quantity=None, fba=3)]
    report = [
        row("FBA-EMPTY", quantity="", status="Inactive", channel="AMAZON_NA"),
        row("FBA-STOCKED", quantity="", status="Inactive", channel="AMAZON_NA"),
    ]
    assert compare(warehouse, report) == [drift("FBA-STOCKED", "inactive", "status", "Active", "Inactive")]
