"""The sandbox's own tables (``sandbox.published``) re-derived from Amazon's files in include/spapi-models.

The sandbox may not read the client's tables (issue 12), so its figures are checked here against
Amazon's sources directly: each operation's usage plan in the model's description, the SDK's
``rate-limits.yml``, the parameter definitions of the models, and every marketplace id Amazon's
files and the served product types use. A model update that changes a figure fails here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox import published
from sandbox.published import MARKETPLACES, USAGE_PLANS, Quota

from .conftest import MODELS, REPO

SERVED_MODELS = {
    "listings": MODELS / "models" / "listings-items-api-model" / "listingsItems_2021-08-01.json",
    "feeds": MODELS / "models" / "feeds-api-model" / "feeds_2021-06-30.json",
    "definitions": MODELS
    / "models"
    / "product-type-definitions-api-model"
    / "definitionsProductTypes_2020-09-01.json",
    "fba_inventory": MODELS / "models" / "fba-inventory-api-model" / "fbaInventory.json",
    "reports": MODELS / "models" / "reports-api-model" / "reports_2021-06-30.json",
    "notifications": MODELS / "models" / "notifications-api-model" / "notifications.json",
}
# Report schedules are not served: the pipeline requests each report when it needs one. Nor is
# getSubscriptions (every subscription across payload versions): the setup asks getSubscription.
UNSERVED = {
    "getReportSchedules",
    "createReportSchedule",
    "cancelReportSchedule",
    "getReportSchedule",
    "getSubscriptions",
}


def model(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SERVED_MODELS[name].read_bytes())
    return data


def operations(name: str) -> Iterator[dict[str, Any]]:
    """The model's operations for production; the sandbox-only ones (FBA Inventory's
    createInventoryItem, addInventory, deleteInventoryItem seed Amazon's own sandbox) are not served."""
    for item in model(name)["paths"].values():
        if item.get("x-amzn-api-sandbox-only"):
            continue
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                yield operation


def operation(name: str, operation_id: str) -> dict[str, Any]:
    return next(op for op in operations(name) if op["operationId"] == operation_id)


def parameter(name: str, operation_id: str, parameter_name: str) -> dict[str, Any]:
    return next(p for p in operation(name, operation_id)["parameters"] if p["name"] == parameter_name)


def usage_plan(description: str) -> Quota:
    """The default row of the markdown table under "Usage Plan(s)" in an operation's description."""
    lines = [line.strip() for line in description.splitlines() if line.strip().startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rate_at = next(i for i, c in enumerate(header) if c.startswith("Rate"))
    burst_at = header.index("Burst")
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if set(cells[rate_at]) <= set("-"):
            continue  # the separator row
        return Quota(float(cells[rate_at]), int(cells[burst_at]))
    raise AssertionError(f"no usage plan row in {description[:200]!r}")


def test_every_operation_the_sandbox_serves_has_a_usage_plan() -> None:
    served = {op["operationId"] for name in SERVED_MODELS for op in operations(name)} - UNSERVED
    assert set(USAGE_PLANS) == served


@pytest.mark.parametrize("operation_id", sorted(USAGE_PLANS))
def test_model_figures_are_the_usage_plan_in_the_models_description(operation_id: str) -> None:
    found = [
        usage_plan(op["description"])
        for name in SERVED_MODELS
        for op in operations(name)
        if op["operationId"] == operation_id
    ]
    assert found == [USAGE_PLANS[operation_id].model]


def test_sdk_figures_are_the_sdks_rate_limits_yml() -> None:
    raw = yaml.safe_load((MODELS / "rate-limits.yml").read_text())
    prefixes = {
        "ListingsApi",
        "FeedsApi",
        "DefinitionsApi",
        "FbaInventoryApi",
        "ReportsApi",
        "NotificationsApi",
    }
    sdk: dict[str, Quota] = {}
    for key, values in raw.items():
        api, operation_id = key.split("-", 1)
        if api in prefixes and operation_id in USAGE_PLANS:
            amount, burst, *seconds = values
            sdk[operation_id] = Quota(amount / seconds[0] if seconds else float(amount), int(burst))
    assert set(sdk) == set(USAGE_PLANS)
    for operation_id, quota in sdk.items():
        ours = USAGE_PLANS[operation_id].sdk
        assert math.isclose(ours.rate, quota.rate) and ours.burst == quota.burst, operation_id


def test_buckets_take_the_stricter_figure_and_the_header_the_models_rate() -> None:
    listings = USAGE_PLANS["getListingsItem"]
    assert (listings.model.burst, listings.sdk.burst, listings.bucket.burst) == (10, 5, 5)
    create = USAGE_PLANS["createFeed"]
    assert create.bucket.rate == 0.0083 < create.sdk.rate and create.header_rate == 0.0083
    for plan in USAGE_PLANS.values():
        assert plan.bucket.rate == min(plan.model.rate, plan.sdk.rate)
        assert plan.bucket.burst == min(plan.model.burst, plan.sdk.burst)


def _marketplace_ids(node: Any) -> Iterator[str]:
    """Values Amazon's files give under a marketplace-id key, including sandbox examples' ``value``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.replace("_", "").lower() in ("marketplaceid", "marketplaceids"):
                if isinstance(value, dict) and "value" in value:
                    value = value["value"]
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and re.fullmatch(r"A[0-9A-Z]{9,13}", item):
                        yield item
            yield from _marketplace_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _marketplace_ids(item)


def test_every_marketplace_id_in_amazons_files_is_known() -> None:
    used: dict[str, set[str]] = {}
    for path in sorted(MODELS.glob("**/*.json")):
        for marketplace_id in _marketplace_ids(json.loads(path.read_bytes())):
            used.setdefault(marketplace_id, set()).add(path.name)
    assert {"ATVPDKIKX0DER", "A1F83G8C2ARO7P", "A1PA6795UKMFR9"} <= set(used)  # the walk finds them
    assert set(used) <= set(MARKETPLACES), {m: used[m] for m in set(used) - set(MARKETPLACES)}


@pytest.mark.parametrize(
    "path",
    [
        MODELS / "schemas" / "definitions" / "Product.json",
        *sorted((REPO / "include" / "product_types").glob("*.json")),
    ],
    ids=lambda p: p.name,
)
def test_served_product_types_name_known_marketplaces_by_their_domain(path: Path) -> None:
    definition = json.loads(path.read_bytes())["$defs"]["marketplace_id"]
    choices = next(branch for branch in definition.get("anyOf", [definition]) if "enum" in branch)
    assert choices["enum"]
    for marketplace_id, label in zip(choices["enum"], choices["enumNames"], strict=True):
        assert marketplace_id in MARKETPLACES, marketplace_id
        assert label.lower() == MARKETPLACES[marketplace_id].domain, (marketplace_id, label)


def test_marketplaces_are_in_the_three_regions_every_model_serves_from_na() -> None:
    assert {m.region for m in MARKETPLACES.values()} == set(published.REGIONS)
    assert all(m.marketplace_id == key for key, m in MARKETPLACES.items())
    for name in SERVED_MODELS:
        assert model(name)["host"] == "sellingpartnerapi-na.amazon.com"
        assert published.region_of("ATVPDKIKX0DER") == "na"
    assert published.region_of("A1PA6795UKMFR9") == "eu" and published.region_of("NOPE") is None


@pytest.mark.parametrize(
    ("api", "operation", "types", "bounds", "creates", "resource"),
    [
        (
            "feeds",
            "getFeeds",
            "feedTypes",
            (
                published.GET_FEEDS_MAX_FEED_TYPES,
                published.GET_FEEDS_MAX_MARKETPLACES,
                published.GET_FEEDS_PAGE_SIZE,
                published.CREATE_FEED_MARKETPLACES,
            ),
            "CreateFeedSpecification",
            "Feed",
        ),
        (
            "reports",
            "getReports",
            "reportTypes",
            (
                published.GET_REPORTS_MAX_REPORT_TYPES,
                published.GET_REPORTS_MAX_MARKETPLACES,
                published.GET_REPORTS_PAGE_SIZE,
                published.CREATE_REPORT_MARKETPLACES,
            ),
            "CreateReportSpecification",
            "Report",
        ),
    ],
    ids=["getFeeds", "getReports"],
)
def test_list_bounds_are_the_models(
    api: str, operation: str, types: str, bounds: tuple[Any, ...], creates: str, resource: str
) -> None:
    """getFeeds' and getReports' filters and page size, and how many marketplaces a create takes."""
    max_types, max_marketplaces, page_size_bounds, create_bounds = bounds
    type_values = parameter(api, operation, types)
    marketplaces = parameter(api, operation, "marketplaceIds")
    statuses = parameter(api, operation, "processingStatuses")
    page_size = parameter(api, operation, "pageSize")
    assert (type_values["minItems"], type_values["maxItems"]) == (1, max_types)
    assert (marketplaces["minItems"], marketplaces["maxItems"]) == (1, max_marketplaces)
    assert tuple(statuses["items"]["enum"]) == published.PROCESSING_STATUSES
    assert (page_size["minimum"], page_size["maximum"], page_size["default"]) == page_size_bounds
    create = model(api)["definitions"][creates]["properties"]["marketplaceIds"]
    assert (create["minItems"], create["maxItems"]) == create_bounds
    # the statuses a feed or report can be in are the ones the list filters by
    status = model(api)["definitions"][resource]["properties"]["processingStatus"]
    assert tuple(sorted(status["enum"])) == published.PROCESSING_STATUSES


def test_definition_parameters_are_the_models() -> None:
    def enum(name: str) -> tuple[str, ...]:
        return tuple(parameter("definitions", "getDefinitionsProductType", name)["enum"])

    assert enum("locale") == published.DEFINITION_LOCALES
    assert enum("requirements") == published.DEFINITION_REQUIREMENTS
    assert enum("requirementsEnforced") == published.DEFINITION_REQUIREMENTS_ENFORCED
    assert enum("parentageLevel") == published.DEFINITION_PARENTAGE_LEVELS
