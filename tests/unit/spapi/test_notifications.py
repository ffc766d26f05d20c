"""``spapi.notifications``: the Notifications API calls, and the notifications Amazon puts on the queue.

Pure (no I/O). The calls are checked against notifications.json (paths, methods, required body
fields, which operations are grantless), the notification models against Amazon's own examples
in ``schemas/notifications``; the client against the live sandbox is in
tests/integration/test_notifications.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from spapi import notifications as n
from spapi.models import notifications as m
from spapi.rates import limit_for

ARN = "arn:aws:sqs:us-east-1:123456789012:spapi-notifications"


def model(models_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (models_dir / "models" / "notifications-api-model" / "notifications.json").read_text()
    )
    return data


def operation(models_dir: Path, method: str, template: str) -> dict[str, Any]:
    found: dict[str, Any] = model(models_dir)["paths"][template][method.lower()]
    return found


CALLS = [
    (n.create_destination("q", ARN), "/notifications/v1/destinations"),
    (n.get_destinations(), "/notifications/v1/destinations"),
    (n.delete_destination("d-1"), "/notifications/v1/destinations/{destinationId}"),
    (
        n.create_subscription("FEED_PROCESSING_FINISHED", "1.0", "d-1"),
        "/notifications/v1/subscriptions/{notificationType}",
    ),
    (n.get_subscription("FEED_PROCESSING_FINISHED"), "/notifications/v1/subscriptions/{notificationType}"),
    (
        n.get_subscription_by_id("FEED_PROCESSING_FINISHED", "s-1"),
        "/notifications/v1/subscriptions/{notificationType}/{subscriptionId}",
    ),
    (
        n.delete_subscription_by_id("FEED_PROCESSING_FINISHED", "s-1"),
        "/notifications/v1/subscriptions/{notificationType}/{subscriptionId}",
    ),
]
# Amazon's docs: destinations and the by-id subscription operations are grantless
GRANTLESS = {
    "createDestination",
    "getDestinations",
    "deleteDestination",
    "getSubscriptionById",
    "deleteSubscriptionById",
}


@pytest.mark.parametrize(("call", "template"), CALLS, ids=[c.operation for c, _ in CALLS])
def test_each_call_is_the_models_operation(call: Any, template: str, models_dir: Path) -> None:
    op = operation(models_dir, call.method, template)
    assert op["operationId"] == call.operation
    assert (call.grantless_scope == "sellingpartnerapi::notifications") == (call.operation in GRANTLESS)
    assert limit_for(call.operation).rate == 1.0
    body = next((p for p in op.get("parameters", []) if p["in"] == "body"), None)
    if body is not None:
        name = body["schema"]["$ref"].rsplit("/", 1)[1]
        required = set(model(models_dir)["definitions"][name]["required"])
        assert required <= set(call.json), (call.operation, call.json)
    else:
        assert call.json is None


def test_the_bodies_are_amazons() -> None:
    assert n.create_destination("q", ARN).json == {
        "name": "q",
        "resourceSpecification": {"sqs": {"arn": ARN}},
    }
    call = n.create_subscription("LISTINGS_ITEM_STATUS_CHANGE", "1.0", "d-1")
    assert call.json == {"payloadVersion": "1.0", "destinationId": "d-1"}
    assert call.path == "/notifications/v1/subscriptions/LISTINGS_ITEM_STATUS_CHANGE"
    assert not call.idempotent and not n.create_destination("q", ARN).idempotent
    assert n.get_subscription("X", "1.0").query() == [("payloadVersion", "1.0")]


@pytest.mark.parametrize(
    "arn", ["arn:aws:s3:::bucket", "not an arn", "arn:aws:sqs:us-east-1:1:" + "q" * 1000]
)
def test_a_destination_must_be_an_sqs_arn(arn: str) -> None:
    with pytest.raises(ValueError):
        n.create_destination("q", arn)


def test_responses_parse(models_dir: Path) -> None:
    example = operation(models_dir, "POST", "/notifications/v1/destinations")["responses"]["200"]["examples"]
    body = example["application/json"] if "application/json" in example else next(iter(example.values()))
    parsed = n.create_destination("q", ARN).parse(httpx.Response(200, json=body))
    assert parsed.payload.resource.sqs is not None
    assert parsed.payload.resource.sqs.arn.startswith("arn:aws:sqs:")
    listed = n.get_destinations().parse(httpx.Response(200, json={"payload": [body["payload"]]}))
    assert listed.payload[0].destination_id == parsed.payload.destination_id


def examples(models_dir: Path, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads((models_dir / "schemas" / "notifications" / name).read_text())[
        "examples"
    ]
    return found


def test_amazons_feed_example_parses(models_dir: Path) -> None:
    first, vendor = examples(models_dir, "FeedProcessingFinishedNotification.json")
    parsed = m.parse_notification(json.dumps(first))
    assert isinstance(parsed, m.FeedProcessingFinishedNotification)
    finished = parsed.payload.feed_processing_finished_notification
    assert (finished.feed_id, finished.processing_status, finished.seller_id) == (
        "53347018456",
        "DONE",
        "A3TH9S8BH6GOGM",
    )
    assert parsed.notification_id == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert (
        m.parse_notification(json.dumps(vendor)).payload.feed_processing_finished_notification.seller_id
        is None
    )


def test_amazons_report_example_parses(models_dir: Path) -> None:
    first, vendor = examples(models_dir, "ReportProcessingFinishedNotification.json")
    parsed = m.parse_notification(json.dumps(first))
    assert isinstance(parsed, m.ReportProcessingFinishedNotification)
    finished = parsed.payload.report_processing_finished_notification
    assert (finished.report_id, finished.processing_status, finished.seller_id) == (
        "54517018502",
        "CANCELLED",
        "A3TH9S8BH6GOGM",
    )
    assert (
        finished.report_document_id
        == first["payload"]["reportProcessingFinishedNotification"]["reportDocumentId"]
    )
    assert parsed.notification_id == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    vendors = m.parse_notification(json.dumps(vendor))
    assert isinstance(vendors, m.ReportProcessingFinishedNotification)
    assert vendors.payload.report_processing_finished_notification.seller_id is None
    del first["payload"]["reportProcessingFinishedNotification"]["reportId"]
    with pytest.raises(m.UnreadableNotification, match="reportId"):
        m.parse_notification(json.dumps(first))


@pytest.mark.parametrize(
    ("name", "model_type"),
    [
        ("ListingsItemStatusChangeNotification.json", m.ListingsItemStatusChangeNotification),
        ("ListingsItemIssuesChangeNotification.json", m.ListingsItemIssuesChangeNotification),
        ("ListingsItemIssuesChangeNotification_2023-12-13.json", m.ListingsItemIssuesChangeNotification),
        ("ProductTypeDefinitionsChangeNotification.json", m.ProductTypeDefinitionsChangeNotification),
    ],
)
def test_amazons_pascal_case_examples_parse(models_dir: Path, name: str, model_type: type[Any]) -> None:
    for example in examples(models_dir, name):
        parsed = m.parse_notification(json.dumps(example).encode())
        assert isinstance(parsed, model_type)
        assert parsed.notification_id == example["NotificationMetadata"]["NotificationId"]


def test_status_lists_what_holds(models_dir: Path) -> None:
    (example,) = examples(models_dir, "ListingsItemStatusChangeNotification.json")
    parsed = m.parse_notification(json.dumps(example))
    assert isinstance(parsed, m.ListingsItemStatusChangeNotification)
    assert parsed.payload.status == ["BUYABLE", "DISCOVERABLE"]
    assert parsed.payload.sku == "NLS-SHOES-03"


SECRET_SKU = "SKU-THAT-MUST-NOT-LEAK"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"NotificationType": "ANY_OFFER_CHANGED", "Payload": {}}).encode(),
        json.dumps(
            {
                "NotificationType": "LISTINGS_ITEM_STATUS_CHANGE",
                "NotificationVersion": "1.0",
                "PayloadVersion": "1.0",
                "EventTime": "2021-02-03T18:59:30.194Z",
                "Payload": {"Sku": SECRET_SKU, "Status": "BUYABLE"},
                "NotificationMetadata": {},
            }
        ).encode(),
    ],
    ids=["not-json", "not-an-object", "unknown-type", "invalid"],
)
def test_unreadable_messages_are_named_without_their_content(body: bytes) -> None:
    with pytest.raises(m.UnreadableNotification) as caught:
        m.parse_notification(body)
    assert SECRET_SKU not in str(caught.value)
