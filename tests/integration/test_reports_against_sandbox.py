"""The Reports client against the real sandbox server over HTTP: list through the Listings API, let
Amazon's side drift, request GET_MERCHANT_LISTINGS_ALL_DATA, wait, download, parse, and find the
drift, the way the reconciliation slice will."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from spapi import listings, reports
from spapi.client import SpApiClient
from spapi.errors import InvalidRequestError
from spapi.flat_files import parse_merchant_listings
from spapi.models.listings import ListingsItemPutRequest
from spapi.models.reports import GET_MERCHANT_LISTINGS_ALL_DATA, MerchantListingRow, Report
from tests.fixtures.sandbox import SELLER, US, Sandbox, new_client
from tests.fixtures.waiting import wait_until
from tests.sandbox.conftest import luggage_attributes, v

pytestmark = pytest.mark.integration


@pytest.fixture
def reports_sandbox(start_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return start_sandbox(report_queue_seconds=0.05, report_processing_seconds=0.1)


@pytest.fixture
def client(reports_sandbox: Sandbox) -> Iterator[SpApiClient]:
    with new_client(reports_sandbox) as c:
        yield c


# What the seller's catalog says: SKU -> (item name, price, quantity)
CATALOG: dict[str, tuple[str, Decimal, int]] = {
    "REC-STEADY": ("Acme Carry-On Spinner 55 cm", Decimal("129.99"), 12),
    "REC-PRICE": ("Acme Cabin Case", Decimal("89.00"), 4),
    "REC-STOCK": ("Acme Weekender", Decimal("149.50"), 9),
    "REC-OFF": ("Acme Garment Bag", Decimal("59.90"), 3),
}


def publish(client: SpApiClient, sku: str, name: str, price: Decimal, quantity: int) -> None:
    attributes = luggage_attributes(
        item_name=v(name, language_tag="en_US"),
        purchasable_offer=[
            {
                "currency": "USD",
                "marketplace_id": US,
                "our_price": [{"schedule": [{"value_with_tax": float(price)}]}],
            }
        ],
        fulfillment_availability=[{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
    )
    body = ListingsItemPutRequest(product_type="LUGGAGE", requirements="LISTING", attributes=attributes)
    assert client.call(listings.put_listings_item(SELLER, sku, US, body)).status == "ACCEPTED"


def drift(sandbox: Sandbox, sku: str, **change: Any) -> None:
    sandbox.admin("POST", f"/listings/{SELLER}/{sku}/drift", params={"marketplaceId": US}, json=change)


def request_listings_report(client: SpApiClient) -> tuple[Report, list[MerchantListingRow]]:
    created = client.call(reports.create_report(GET_MERCHANT_LISTINGS_ALL_DATA, [US]))

    def ended() -> Report | None:
        report = client.call(reports.get_report(created.report_id))
        return report if report.is_terminal else None

    report = wait_until(ended, timeout=15, interval=0.05, what=f"report {created.report_id} to end")
    assert report is not None and report.processing_status == "DONE", report
    assert report.report_document_id is not None
    document = client.call(reports.get_report_document(report.report_document_id))
    assert document.compression_algorithm == "GZIP"
    return report, parse_merchant_listings(client.call(reports.download_report_document(document)))


def test_a_listings_report_shows_the_drift_seeded_on_amazons_side(
    reports_sandbox: Sandbox, client: SpApiClient
) -> None:
    for sku, (name, price, quantity) in CATALOG.items():
        publish(client, sku, name, price, quantity)
    drift(reports_sandbox, "REC-PRICE", price="79.00")
    drift(reports_sandbox, "REC-STOCK", quantity=0)
    drift(reports_sandbox, "REC-OFF", status="Inactive")
    drift(reports_sandbox, "REC-UNKNOWN", itemName="Porte-documents Café", price="19.99", quantity=2)

    report, rows = request_listings_report(client)
    by_sku = {row.seller_sku: row for row in rows}
    assert set(by_sku) == set(CATALOG) | {"REC-UNKNOWN"}

    # what a reconciliation would find: Amazon's view against the catalog
    unknown = set(by_sku) - set(CATALOG)
    missing = set(CATALOG) - set(by_sku)
    differs = {
        sku: [
            field
            for field, ours, theirs in (
                ("item-name", name, by_sku[sku].item_name),
                ("price", price, by_sku[sku].price),
                ("quantity", quantity, by_sku[sku].quantity),
            )
            if ours != theirs
        ]
        for sku, (name, price, quantity) in CATALOG.items()
        if sku in by_sku
    }
    inactive = {sku for sku, row in by_sku.items() if not row.is_active}
    assert unknown == {"REC-UNKNOWN"} and missing == set()
    assert {sku: fields for sku, fields in differs.items() if fields} == {
        "REC-PRICE": ["price"],
        "REC-STOCK": ["quantity"],
    }
    assert inactive == {"REC-STOCK", "REC-OFF"}  # no stock; suppressed by Amazon
    assert by_sku["REC-UNKNOWN"].item_name == "Porte-documents Café"  # Cp1252, read as such
    assert by_sku["REC-UNKNOWN"].price == Decimal("19.99")

    # the listings report and getListingsItem agree on the ASIN
    item = client.call(listings.get_listings_item(SELLER, "REC-STEADY", [US]))
    assert item.summaries is not None and by_sku["REC-STEADY"].asin1 == item.summaries[0].asin

    # getReports pages find it; a DONE report can no longer be cancelled
    found = [
        r.report_id
        for page in client.paginate(
            reports.get_reports(report_types=[GET_MERCHANT_LISTINGS_ALL_DATA], page_size=1), reports.next_page
        )
        for r in page.reports
    ]
    assert found == [report.report_id]
    with pytest.raises(InvalidRequestError):
        client.call(reports.cancel_report(report.report_id))


def test_a_report_of_nothing_is_cancelled_by_amazon(reports_sandbox: Sandbox, client: SpApiClient) -> None:
    created = client.call(reports.create_report(GET_MERCHANT_LISTINGS_ALL_DATA, [US]))

    def ended() -> Report | None:
        report = client.call(reports.get_report(created.report_id))
        return report if report.is_terminal else None

    report = wait_until(ended, timeout=15, what="the empty report to end")
    assert report is not None and report.processing_status == "CANCELLED"
    assert report.report_document_id is None
