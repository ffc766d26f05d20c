"""What Amazon publishes that the sandbox enforces: usage plans, marketplaces, parameter bounds.

The sandbox keeps its own copy instead of importing the client's tables (``spapi.rates``,
``spapi.regions``): a wrong figure in the client must show up as a 429 or a 400 from "Amazon", and
it cannot when both sides read the same table (issue 12). Every figure here comes from Amazon's
vendored files in ``include/spapi-models`` or, where those say nothing, from the page cited beside
it; ``tests/sandbox/test_published.py`` re-derives them from those files and fails when they drift.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    """A token bucket: ``rate`` requests per second, at most ``burst`` at once."""

    rate: float
    burst: int


@dataclass(frozen=True)
class UsagePlan:
    """One operation's limit as Amazon's two sources state it (docs/spapi-facts.md §1.1).

    ``model`` is the "Usage Plan" table in the operation's description, ``sdk`` the SDK's
    ``rate-limits.yml``. They disagree on a few bursts, and Amazon may enforce either: the sandbox
    fills its buckets with the stricter of each figure, so that a client tuned to the looser one
    meets its 429s here rather than in production. The ``x-amzn-RateLimit-Limit`` header reports
    the model's rate, the one Amazon says the header describes.
    """

    model: Quota
    sdk: Quota

    @property
    def bucket(self) -> Quota:
        return Quota(min(self.model.rate, self.sdk.rate), min(self.model.burst, self.sdk.burst))

    @property
    def header_rate(self) -> float:
        return self.model.rate


def _plan(model: tuple[float, int], sdk: tuple[float, int]) -> UsagePlan:
    return UsagePlan(Quota(*model), Quota(*sdk))


# operationId -> (model: rate, burst), (SDK: rate, burst); the SDK's [amount, burst, seconds] is a rate
# of amount / seconds
USAGE_PLANS: dict[str, UsagePlan] = {
    # models/listings-items-api-model/listingsItems_2021-08-01.json
    "getListingsItem": _plan((5, 10), (5, 5)),
    "putListingsItem": _plan((5, 10), (5, 5)),
    "patchListingsItem": _plan((5, 5), (5, 5)),
    "deleteListingsItem": _plan((5, 5), (5, 5)),
    "searchListingsItems": _plan((5, 5), (5, 5)),
    # models/fba-inventory-api-model/fbaInventory.json
    "getInventorySummaries": _plan((2, 2), (2, 2)),
    # models/feeds-api-model/feeds_2021-06-30.json
    "createFeedDocument": _plan((0.5, 15), (1 / 2, 15)),
    "createFeed": _plan((0.0083, 15), (1 / 120, 15)),
    "getFeed": _plan((2, 15), (2, 15)),
    "getFeeds": _plan((0.0222, 10), (1 / 45, 10)),
    "cancelFeed": _plan((2, 15), (2, 15)),
    "getFeedDocument": _plan((0.0222, 10), (1 / 45, 10)),
    # models/product-type-definitions-api-model/definitionsProductTypes_2020-09-01.json ("Default" plan)
    "searchDefinitionsProductTypes": _plan((5, 10), (5, 5)),
    "getDefinitionsProductType": _plan((5, 10), (5, 5)),
    # models/reports-api-model/reports_2021-06-30.json (the report operations the sandbox serves;
    # report schedules are not served)
    "createReport": _plan((0.0167, 15), (1 / 60, 15)),
    "getReport": _plan((2, 15), (2, 15)),
    "getReports": _plan((0.0222, 10), (1 / 45, 10)),
    "cancelReport": _plan((0.0222, 10), (1 / 45, 10)),
    "getReportDocument": _plan((0.0167, 15), (1 / 60, 15)),
    # models/notifications-api-model/notifications.json (the operations the sandbox serves)
    "createDestination": _plan((1, 5), (1, 5)),
    "getDestinations": _plan((1, 5), (1, 5)),
    "getDestination": _plan((1, 5), (1, 5)),
    "deleteDestination": _plan((1, 5), (1, 5)),
    "createSubscription": _plan((1, 5), (1, 5)),
    "getSubscription": _plan((1, 5), (1, 5)),
    "getSubscriptionById": _plan((1, 5), (1, 5)),
    "deleteSubscriptionById": _plan((1, 5), (1, 5)),
}

# createFeed's second throttle, per seller and region: 5 JSON_LISTINGS_FEED per 5 minutes since
# 2025-05-06. No model file states it: https://developer-docs.amazon.com/sp-api/changelog/
# update-feed-size-and-rate-limit-changes-for-the-json_listings_feed (docs/spapi-facts.md §1.3).
FEED_TYPE_QUOTAS: dict[str, Quota] = {"JSON_LISTINGS_FEED": Quota(5 / 300, 5)}


@dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    country: str
    region: str
    domain: str


# Amazon's marketplace ids, with the region whose endpoint serves each and the store's domain:
# https://developer-docs.amazon.com/sp-api/docs/marketplace-ids (docs/spapi-facts.md §2.2). The
# models only ever use some of these ids in examples; the test checks that each is here.
MARKETPLACES: dict[str, Marketplace] = {
    m.marketplace_id: m
    for m in (
        Marketplace("ATVPDKIKX0DER", "US", "na", "amazon.com"),
        Marketplace("A2EUQ1WTGCTBG2", "CA", "na", "amazon.ca"),
        Marketplace("A1AM78C64UM0Y8", "MX", "na", "amazon.com.mx"),
        Marketplace("A2Q3Y263D00KWC", "BR", "na", "amazon.com.br"),
        Marketplace("A28R8C7NBKEWEA", "IE", "eu", "amazon.ie"),
        Marketplace("A1RKKUPIHCS9HS", "ES", "eu", "amazon.es"),
        Marketplace("A1F83G8C2ARO7P", "UK", "eu", "amazon.co.uk"),
        Marketplace("A13V1IB3VIYZZH", "FR", "eu", "amazon.fr"),
        Marketplace("AMEN7PMS3EDWL", "BE", "eu", "amazon.com.be"),
        Marketplace("A1805IZSGTT6HS", "NL", "eu", "amazon.nl"),
        Marketplace("A1PA6795UKMFR9", "DE", "eu", "amazon.de"),
        Marketplace("APJ6JRA9NG5V4", "IT", "eu", "amazon.it"),
        Marketplace("A2NODRKZP88ZB9", "SE", "eu", "amazon.se"),
        Marketplace("AE08WJ6YKNBMC", "ZA", "eu", "amazon.co.za"),
        Marketplace("A1C3SOZRARQ6R3", "PL", "eu", "amazon.pl"),
        Marketplace("ARBP9OOSHTCHU", "EG", "eu", "amazon.eg"),
        Marketplace("A33AVAJ2PDY3EV", "TR", "eu", "amazon.com.tr"),
        Marketplace("A17E79C6D8DWNP", "SA", "eu", "amazon.sa"),
        Marketplace("A2VIGQ35RCS4UG", "AE", "eu", "amazon.ae"),
        Marketplace("A21TJRUUN4KGV", "IN", "eu", "amazon.in"),
        Marketplace("A19VAU5U5O7RUS", "SG", "fe", "amazon.sg"),
        Marketplace("A39IBJ37TRP1C6", "AU", "fe", "amazon.com.au"),
        Marketplace("A1VC38T7YXB528", "JP", "fe", "amazon.co.jp"),
    )
}
REGIONS = ("na", "eu", "fe")


def region_of(marketplace_id: str) -> str | None:
    marketplace = MARKETPLACES.get(marketplace_id)
    return marketplace.region if marketplace else None


# -- request parameters, from the models' parameter definitions --------------------------------

# getFeeds: feedTypes and marketplaceIds take 1 to 10 values, pageSize 1 to 100 (default 10),
# processingStatuses only these
GET_FEEDS_MAX_FEED_TYPES = 10
GET_FEEDS_MAX_MARKETPLACES = 10
GET_FEEDS_PAGE_SIZE = (1, 100, 10)
PROCESSING_STATUSES = ("CANCELLED", "DONE", "FATAL", "IN_PROGRESS", "IN_QUEUE")
# createFeed: CreateFeedSpecification.marketplaceIds
CREATE_FEED_MARKETPLACES = (1, 25)

# getReports: reportTypes and marketplaceIds take 1 to 10 values, pageSize 1 to 100 (default 10),
# processingStatuses the same five as feeds'
GET_REPORTS_MAX_REPORT_TYPES = 10
GET_REPORTS_MAX_MARKETPLACES = 10
GET_REPORTS_PAGE_SIZE = (1, 100, 10)
# createReport: CreateReportSpecification.marketplaceIds
CREATE_REPORT_MARKETPLACES = (1, 25)

# getDefinitionsProductType
DEFINITION_LOCALES = (
    "DEFAULT",
    "ar",
    "ar_AE",
    "de",
    "de_DE",
    "en",
    "en_AE",
    "en_AU",
    "en_CA",
    "en_GB",
    "en_IN",
    "en_SG",
    "en_US",
    "es",
    "es_ES",
    "es_MX",
    "es_US",
    "fr",
    "fr_CA",
    "fr_FR",
    "it",
    "it_IT",
    "ja",
    "ja_JP",
    "nl",
    "nl_NL",
    "pl",
    "pl_PL",
    "pt",
    "pt_BR",
    "pt_PT",
    "sv",
    "sv_SE",
    "tr",
    "tr_TR",
    "zh",
    "zh_CN",
    "zh_TW",
)
DEFINITION_REQUIREMENTS = ("LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY")
DEFINITION_REQUIREMENTS_ENFORCED = ("ENFORCED", "NOT_ENFORCED")
DEFINITION_PARENTAGE_LEVELS = ("NONE", "CHILD", "PARENT")

# getInventorySummaries: sellerSkus takes up to 50 SKUs (the model's maxItems). The model gives no page
# size: the sandbox pages by 50, like the SKU bound, and a client must follow nextToken whatever the
# size (docs/spapi-facts.md §11.7).
FBA_INVENTORY_SELLER_SKUS = 50
FBA_INVENTORY_PAGE_SIZE = 50
