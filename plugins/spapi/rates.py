"""Amazon's documented rate and burst for every operation this client calls.

Each figure is the lower of two sources (docs/spapi-facts.md §1): the operation's description
in Amazon's model and the official SDK's ``rate-limits.yml``. They disagree for getListingsItem,
putListingsItem and both Product Type Definitions operations (burst 10 vs 5); we take 5, because
exceeding the real limit costs a 429 and a backoff while staying under it costs almost nothing.
``tests/unit/spapi/test_rates.py`` re-derives the table from include/spapi-models and fails
when it drifts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` stored."""

    rate: float
    burst: int


OPERATION_LIMITS: dict[str, Limit] = {
    # Listings Items 2021-08-01
    "getListingsItem": Limit(5.0, 5),
    "putListingsItem": Limit(5.0, 5),
    "patchListingsItem": Limit(5.0, 5),
    "deleteListingsItem": Limit(5.0, 5),
    "searchListingsItems": Limit(5.0, 5),
    # Feeds 2021-06-30
    "createFeedDocument": Limit(0.5, 15),
    "createFeed": Limit(0.0083, 15),
    "getFeed": Limit(2.0, 15),
    "getFeeds": Limit(0.0222, 10),
    "cancelFeed": Limit(2.0, 15),
    "getFeedDocument": Limit(0.0222, 10),
    # Reports 2021-06-30 (report schedules are not called)
    "createReport": Limit(1 / 60, 15),  # the SDK's 1 per 60 s, under the model's 0.0167
    "getReport": Limit(2.0, 15),
    "getReports": Limit(0.0222, 10),
    "cancelReport": Limit(0.0222, 10),
    "getReportDocument": Limit(1 / 60, 15),
    # Product Type Definitions 2020-09-01
    "searchDefinitionsProductTypes": Limit(5.0, 5),
    "getDefinitionsProductType": Limit(5.0, 5),
    # FBA Inventory v1
    "getInventorySummaries": Limit(2.0, 2),
    # Notifications v1 (getSubscriptions is not called)
    "createDestination": Limit(1.0, 5),
    "getDestinations": Limit(1.0, 5),
    "deleteDestination": Limit(1.0, 5),
    "createSubscription": Limit(1.0, 5),
    "getSubscription": Limit(1.0, 5),
    "getSubscriptionById": Limit(1.0, 5),
    "deleteSubscriptionById": Limit(1.0, 5),
}

# createFeed's second throttle: 5 JSON_LISTINGS_FEED submissions per 5 minutes per region
# (SP-API changelog 2025-05-06). Keyed per seller and region like the operation bucket.
FEED_TYPE_LIMITS: dict[str, Limit] = {
    "JSON_LISTINGS_FEED": Limit(5 / 300, 5),
}

# Calls that do not go to SP-API (presigned S3 URLs, the LWA token endpoint) are not limited.
UNLIMITED = Limit(float("inf"), 0)


def limit_for(operation: str) -> Limit:
    return OPERATION_LIMITS.get(operation, UNLIMITED)
