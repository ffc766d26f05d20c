"""Seller performance reports from seeded data: ``GET_V2_SELLER_PERFORMANCE_REPORT`` (account health)
and ``GET_SALES_AND_TRAFFIC_REPORT`` (sales and traffic by date and by ASIN).

The sandbox has no orders, so both are built from a seed per seller and marketplace, set through
``POST /_sandbox/seller-performance/{sellerId}/{marketplaceId}`` or the sellers file's
``seller_performance`` entries. The documents follow the vendored schemas
(``schemas/reports/accountHealthReport-2020-11-18.json``, ``sellerSalesAndTrafficReport.json``;
``tests/sandbox/test_seller_performance.py`` validates them), and the sales report reads its
``reportOptions`` as the schema's descriptions say:

- ``dateGranularity`` ``DAY`` (default), ``WEEK`` or ``MONTH``: one ``salesAndTrafficByDate`` entry
  per period, dated by its first day; the requested dates are widened to whole periods (a week runs
  Sunday to Saturday, a month from its first to its last day);
- ``asinGranularity`` ``PARENT`` (default), ``CHILD`` or ``SKU``: ``salesAndTrafficByAsin`` summed
  over the whole range per parent ASIN, child ASIN or SKU (``childAsin`` only from CHILD on,
  ``sku`` only for SKU);
- the time of day of ``dataStartTime`` / ``dataEndTime`` is ignored; a start more than two years
  back cancels the report; more than one marketplace makes it fail (FATAL), since "this report type
  supports only one marketplaceId per report".

A marketplace without a seed has nothing to report: the report ends CANCELLED, as Amazon cancels a
report with no data.

Seed (every key optional; the defaults describe a healthy account with no sales)::

    {"accountHealth": {"accountStatus": "NORMAL", "ahrStatus": "GREAT",
                       "mfnOrders": 400, "afnOrders": 600, "mfnDefects": 2, "afnDefects": 1,
                       "lateShipments": 6, "cancellations": 3, "invoiceDefects": 0,
                       "validTrackingShipments": 396, "onTimeDeliveries": 380,
                       "violations": {"listingPolicyViolations": 0, ...},
                       "warningStates": [{"warningType": "...", "status": "BAD"}]},
     "salesAndTraffic": {"currency": "USD", "weekdayFactors": [1, 1, 1, 1, 1, 1.2, 1.2],
                         "feedbackPerDay": 2, "negativeFeedbackPerDay": 0, "refundedUnitsPerDay": 0,
                         "asins": [{"parentAsin", "childAsin", "sku", "price", "unitsPerDay",
                                    "sessionsPerDay", "pageViewsPerDay", "buyBoxPercentage"}]}}

A day's figures per SKU are ``round(unitsPerDay * factor)`` units and ``round(sessionsPerDay *
factor)`` sessions, the factor being ``weekdayFactors[date.weekday()]`` (Monday first), so a test can
work them out by hand.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Request
from starlette.responses import Response

from .core import ApiError, Sandbox, json_response
from .store import Store

ACCOUNT_HEALTH = "GET_V2_SELLER_PERFORMANCE_REPORT"
SALES_AND_TRAFFIC = "GET_SALES_AND_TRAFFIC_REPORT"
REPORT_TYPES = (ACCOUNT_HEALTH, SALES_AND_TRAFFIC)
CONTENT_TYPE = "application/json; charset=utf-8"

DATE_GRANULARITIES = ("DAY", "WEEK", "MONTH")
ASIN_GRANULARITIES = ("PARENT", "CHILD", "SKU")
MAX_AGE_DAYS = 2 * 365

CURRENCIES = {
    "ATVPDKIKX0DER": "USD",
    "A2EUQ1WTGCTBG2": "CAD",
    "A1AM78C64UM0Y8": "MXN",
    "A2Q3Y263D00KWC": "BRL",
    "A1F83G8C2ARO7P": "GBP",
    "A1PA6795UKMFR9": "EUR",
    "A13V1IB3VIYZZH": "EUR",
    "APJ6JRA9NG5V4": "EUR",
    "A1RKKUPIHCS9HS": "EUR",
    "A1805IZSGTT6HS": "EUR",
    "A28R8C7NBKEWEA": "EUR",
    "AMEN7PMS3EDWL": "EUR",
    "A1C3SOZRARQ6R3": "PLN",
    "A2NODRKZP88ZB9": "SEK",
    "A1VC38T7YXB528": "JPY",
    "A39IBJ37TRP1C6": "AUD",
    "A19VAU5U5O7RUS": "SGD",
}

# The ten listing-level metrics of the schema (``ListingLevelViolation``), each with target 0.
VIOLATIONS = (
    "listingPolicyViolations",
    "productAuthenticityCustomerComplaints",
    "productConditionCustomerComplaints",
    "productSafetyCustomerComplaints",
    "receivedIntellectualPropertyComplaints",
    "restrictedProductPolicyViolations",
    "suspectedIntellectualPropertyViolations",
    "foodAndProductSafetyIssues",
    "otherPolicyViolations",
    "documentRequests",
)

# Amazon's targets (Seller Central's Account Health page): rate, condition, window in days.
ODR = (0.01, "LESS_THAN", 60)
LATE_SHIPMENT = (0.04, "LESS_THAN", 30)
CANCELLATION = (0.025, "LESS_THAN", 7)
INVOICE_DEFECT = (0.05, "LESS_THAN", 7)
VALID_TRACKING = (0.95, "GREATER_THAN", 30)
ON_TIME_DELIVERY = (0.90, "GREATER_THAN", 30)
VIOLATION_WINDOW = 180

router = APIRouter()

# Seeds are the sandbox's configuration, like its sellers: its own table, created here (so the shared
# store schema stays untouched) and kept by ``/_sandbox/reset``; DELETE on the admin path clears one.
TABLE = """
CREATE TABLE IF NOT EXISTS seller_performance (
    seller_id TEXT NOT NULL, marketplace_id TEXT NOT NULL, seed TEXT NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (seller_id, marketplace_id)
)
"""


def ensure_table(store: Store) -> None:
    store.execute(TABLE)


# -- seeds -------------------------------------------------------------------------------------


def seed_of(store: Store, seller_id: str, marketplace_id: str) -> dict[str, Any] | None:
    ensure_table(store)
    row = store.one(
        "SELECT seed FROM seller_performance WHERE seller_id=? AND marketplace_id=?",
        (seller_id, marketplace_id),
    )
    return json.loads(row["seed"]) if row else None


def check_seed(seed: object) -> dict[str, Any]:
    """A seed as the admin endpoint takes it; ``ValueError`` says what is wrong."""
    if not isinstance(seed, dict) or not set(seed) <= {"accountHealth", "salesAndTraffic"}:
        raise ValueError('expected {"accountHealth": {...}, "salesAndTraffic": {...}}')
    health = seed.get("accountHealth") or {}
    sales = seed.get("salesAndTraffic") or {}
    if not isinstance(health, dict) or not isinstance(sales, dict):
        raise ValueError("accountHealth and salesAndTraffic must be objects")
    if health.get("accountStatus", "NORMAL") not in ("NORMAL", "AT_RISK", "DEACTIVATED"):
        raise ValueError("accountStatus must be NORMAL, AT_RISK or DEACTIVATED")
    if health.get("ahrStatus", "GREAT") not in ("GREAT", "WARNED"):
        raise ValueError("ahrStatus must be GREAT or WARNED")
    unknown = set(health.get("violations") or {}) - set(VIOLATIONS)
    if unknown:
        raise ValueError(f"unknown violations {sorted(unknown)}; known: {', '.join(VIOLATIONS)}")
    factors = sales.get("weekdayFactors", [1] * 7)
    if not isinstance(factors, list) or len(factors) != 7 or not all(_number(f) and f >= 0 for f in factors):
        raise ValueError("weekdayFactors must be 7 numbers >= 0, Monday first")
    asins = sales.get("asins") or []
    if not isinstance(asins, list) or not all(isinstance(a, dict) and a.get("childAsin") for a in asins):
        raise ValueError("asins must be a list of objects with childAsin")
    for item in asins:
        bb = item.get("buyBoxPercentage", 100)
        if not _number(bb) or not 0 <= bb <= 100:
            raise ValueError("buyBoxPercentage must be between 0 and 100")
        for key in ("price", "unitsPerDay", "sessionsPerDay", "pageViewsPerDay"):
            if key in item and (not _number(item[key]) or item[key] < 0):
                raise ValueError(f"{key} must be a number >= 0")
    return {"accountHealth": health, "salesAndTraffic": sales}


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def set_seed(store: Store, seller_id: str, marketplace_id: str, seed: object, now: float) -> None:
    checked = check_seed(seed)
    ensure_table(store)
    store.execute(
        "INSERT INTO seller_performance(seller_id, marketplace_id, seed, updated) VALUES (?,?,?,?) "
        "ON CONFLICT(seller_id, marketplace_id) DO UPDATE SET seed=excluded.seed, updated=excluded.updated",
        (seller_id, marketplace_id, json.dumps(checked), now),
    )


def load_seed(store: Store, data: Mapping[str, Any], now: float) -> int:
    """The sellers file's ``seller_performance``: ``[{seller_id, marketplace_id, accountHealth,
    salesAndTraffic}]``, each written only where the sandbox has no seed yet (an admin change
    survives a restart)."""
    written = 0
    for entry in data.get("seller_performance") or []:
        seller_id, marketplace_id = entry.get("seller_id"), entry.get("marketplace_id")
        if not seller_id or not marketplace_id:
            raise ValueError("each seller_performance entry needs seller_id and marketplace_id")
        if seed_of(store, seller_id, marketplace_id) is None:
            seed = {k: v for k, v in entry.items() if k in ("accountHealth", "salesAndTraffic")}
            set_seed(store, seller_id, marketplace_id, seed, now)
            written += 1
    return written


def load_seed_file(store: Store, path: str | Path, now: float) -> int:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return load_seed(store, data, now)


# -- createReport ------------------------------------------------------------------------------


def check_options(report_type: str, options: Mapping[str, str] | None) -> None:
    """createReport's ``reportOptions`` for the sales report: only the two the schema names, with
    the values it allows (400 otherwise, naming them)."""
    if report_type != SALES_AND_TRAFFIC or not options:
        return
    allowed = {"dateGranularity": DATE_GRANULARITIES, "asinGranularity": ASIN_GRANULARITIES}
    for name, value in options.items():
        if name not in allowed:
            raise ApiError.invalid(
                f"Invalid reportOptions: {name} is not an option of {report_type}.",
                "Options: dateGranularity, asinGranularity.",
            )
        if value not in allowed[name]:
            raise ApiError.invalid(
                f"Invalid reportOptions: {name} {value!r}.",
                f"{name} must be one of {', '.join(allowed[name])}.",
            )


# -- account health ----------------------------------------------------------------------------


def _window(end: date, days: int) -> dict[str, str]:
    start = end - timedelta(days=days - 1)
    return {
        "reportingDateFrom": f"{start.isoformat()}T00:00Z",
        "reportingDateTo": f"{end.isoformat()}T23:59Z",
    }


def _meets(rate: float, target: float, condition: str) -> bool:
    if condition == "LESS_THAN":
        return rate < target
    if condition == "GREATER_THAN":
        return rate > target
    return rate == target


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _rated(end: date, spec: tuple[float, str, int], rate: float, **figures: Any) -> dict[str, Any]:
    target, condition, days = spec
    return {
        "reportingDateRange": _window(end, days),
        **figures,
        "status": "GOOD" if _meets(rate, target, condition) else "BAD",
        "rate": rate,
        "targetValue": target,
        "targetCondition": condition,
    }


def _order_defects(end: date, orders: int, defects: int, fulfillment: str) -> dict[str, Any]:
    # a defect is a claim, a chargeback or a negative feedback; the seed gives only their total
    claims, chargebacks = defects // 2, defects // 4
    negative = defects - claims - chargebacks
    rate = _rate(defects, orders)
    meets = _meets(rate, ODR[0], ODR[1])
    return _rated(
        end,
        ODR,
        rate,
        orderCount=orders,
        orderWithDefects={"count": defects, "status": "GOOD" if meets else "BAD"},
        claims={"count": claims, "status": "NONE" if claims == 0 else "GOOD"},
        chargebacks={"count": chargebacks, "status": "NONE" if chargebacks == 0 else "GOOD"},
        negativeFeedback={"count": negative, "status": "NONE" if negative == 0 else "GOOD"},
        fulfillmentType=fulfillment,
    )


def account_health_metrics(seed: Mapping[str, Any], marketplace_id: str, end: date) -> dict[str, Any]:
    """One marketplace's ``performanceMetrics`` entry, every window ending on ``end``."""
    mfn = int(seed.get("mfnOrders", 400))
    afn = int(seed.get("afnOrders", 600))
    late = int(seed.get("lateShipments", 0))
    cancelled = int(seed.get("cancellations", 0))
    invoices = int(seed.get("invoiceDefects", 0))
    tracked = int(seed.get("validTrackingShipments", mfn))
    on_time = int(seed.get("onTimeDeliveries", tracked))
    violations = seed.get("violations") or {}
    out: dict[str, Any] = {
        "marketplaceId": marketplace_id,
        "invoiceDefectRate": _rated(
            end,
            INVOICE_DEFECT,
            _rate(invoices, mfn),
            orderCount=mfn,
            invoiceDefect={"count": invoices, "status": "GOOD"},
            missingInvoice={"count": invoices, "status": "NONE" if invoices == 0 else "GOOD"},
            lateInvoice={"count": 0, "status": "NONE"},
        ),
        "lateShipmentRate": _rated(
            end, LATE_SHIPMENT, _rate(late, mfn), orderCount=mfn, lateShipmentCount=late
        ),
        "orderDefectRate": {
            "mfn": _order_defects(end, mfn, int(seed.get("mfnDefects", 0)), "mfn"),
            "afn": _order_defects(end, afn, int(seed.get("afnDefects", 0)), "afn"),
        },
        "onTimeDeliveryRate": _rated(
            end,
            ON_TIME_DELIVERY,
            _rate(on_time, tracked),
            shipmentCountWithValidTracking=tracked,
            onTimeDeliveryCount=on_time,
        ),
        "unitOnTimeDeliveryRate": _rated(
            end,
            ON_TIME_DELIVERY,
            _rate(on_time, tracked),
            unitOnTimeDeliveryCount=on_time,
            totalUnitCount=tracked,
        ),
        "validTrackingRate": _rated(
            end, VALID_TRACKING, _rate(tracked, mfn), shipmentCount=mfn, validTrackingCount=tracked
        ),
        "preFulfillmentCancellationRate": _rated(
            end, CANCELLATION, _rate(cancelled, mfn), orderCount=mfn, cancellationCount=cancelled
        ),
        "warningStates": list(seed.get("warningStates") or []),
        "accountHealthRating": {
            "ahrStatus": seed.get("ahrStatus", "GREAT"),
            "reportingDateRange": _window(end, VIOLATION_WINDOW),
        },
    }
    for name in VIOLATIONS:
        count = int(violations.get(name, 0))
        out[name] = {
            "reportingDateRange": _window(end, VIOLATION_WINDOW),
            "defectsCount": count,
            "status": "GOOD" if count == 0 else "BAD",
            "targetValue": 0,
            "targetCondition": "EQUALS",
        }
    return out


def account_health(store: Store, seller_id: str, marketplace_ids: Sequence[str], end: date) -> bytes | None:
    """The document for the seeded marketplaces among those asked for; ``None`` when none is seeded."""
    statuses, metrics = [], []
    for marketplace_id in marketplace_ids:
        seed = seed_of(store, seller_id, marketplace_id)
        if seed is None:
            continue
        health = seed.get("accountHealth") or {}
        statuses.append({"marketplaceId": marketplace_id, "status": health.get("accountStatus", "NORMAL")})
        metrics.append(account_health_metrics(health, marketplace_id, end))
    if not metrics:
        return None
    return json.dumps({"accountStatuses": statuses, "performanceMetrics": metrics}).encode()


# -- sales and traffic -------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """One SKU's figures on one day."""

    parent: str
    child: str
    sku: str
    units: int
    sessions: int
    page_views: int
    buy_box_views: float  # page views that showed the buy box
    sales: float


def day_figures(sales: Mapping[str, Any], day: date) -> list[Day]:
    factor = float((sales.get("weekdayFactors") or [1] * 7)[day.weekday()])
    out = []
    for item in sales.get("asins") or []:
        units = round(float(item.get("unitsPerDay", 0)) * factor)
        sessions = round(float(item.get("sessionsPerDay", 0)) * factor)
        views = round(float(item.get("pageViewsPerDay", sessions)) * factor)
        out.append(
            Day(
                parent=item.get("parentAsin") or item["childAsin"],
                child=item["childAsin"],
                sku=item.get("sku") or item["childAsin"],
                units=units,
                sessions=sessions,
                page_views=views,
                buy_box_views=views * float(item.get("buyBoxPercentage", 100)) / 100,
                sales=round(units * float(item.get("price", 0)), 2),
            )
        )
    return out


def period_start(day: date, granularity: str) -> date:
    if granularity == "WEEK":  # weeks run Sunday to Saturday
        return day - timedelta(days=(day.weekday() + 1) % 7)
    if granularity == "MONTH":
        return day.replace(day=1)
    return day


def period_end(day: date, granularity: str) -> date:
    if granularity == "WEEK":
        return period_start(day, "WEEK") + timedelta(days=6)
    if granularity == "MONTH":
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return following - timedelta(days=1)
    return day


def _split(total: int) -> tuple[int, int]:
    """Browser and mobile app shares of a count: two thirds in a browser."""
    mobile = total // 3
    return total - mobile, mobile


def _pct(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def _amount(value: float, currency: str) -> dict[str, Any]:
    return {"amount": round(value, 2), "currencyCode": currency}


def _by_date(
    days: list[Day], currency: str, sales: Mapping[str, Any], span: int, when: date
) -> dict[str, Any]:
    units = sum(d.units for d in days)
    items = units  # one unit per order item in the sandbox
    sessions = sum(d.sessions for d in days)
    views = sum(d.page_views for d in days)
    revenue = round(sum(d.sales for d in days), 2)
    refunded = int(sales.get("refundedUnitsPerDay", 0)) * span
    feedback = int(sales.get("feedbackPerDay", 0)) * span
    negative = int(sales.get("negativeFeedbackPerDay", 0)) * span
    browser_views, app_views = _split(views)
    browser_sessions, app_sessions = _split(sessions)
    skus = {d.sku for d in days}
    return {
        "date": when.isoformat(),
        "salesByDate": {
            "orderedProductSales": _amount(revenue, currency),
            "unitsOrdered": units,
            "totalOrderItems": items,
            "averageSalesPerOrderItem": _amount(revenue / items if items else 0, currency),
            "averageUnitsPerOrderItem": 1.0 if items else 0.0,
            "averageSellingPrice": _amount(revenue / units if units else 0, currency),
            "unitsRefunded": refunded,
            "refundRate": min(100.0, _pct(refunded, units)),
            "claimsGranted": 0,
            "claimsAmount": _amount(0, currency),
            "shippedProductSales": _amount(revenue, currency),
            "unitsShipped": units,
            "ordersShipped": items,
        },
        "trafficByDate": {
            "browserPageViews": browser_views,
            "mobileAppPageViews": app_views,
            "pageViews": views,
            "browserSessions": browser_sessions,
            "mobileAppSessions": app_sessions,
            "sessions": sessions,
            "buyBoxPercentage": _pct(sum(d.buy_box_views for d in days), views),
            "orderItemSessionPercentage": _pct(items, sessions),
            "unitSessionPercentage": _pct(units, sessions),
            "averageOfferCount": len(skus),
            "averageParentItems": len({d.parent for d in days}),
            "feedbackReceived": feedback,
            "negativeFeedbackReceived": negative,
            "receivedNegativeFeedbackRate": min(100.0, _pct(negative, items)),
        },
    }


def _by_asin(
    key: tuple[str, ...], days: list[Day], currency: str, total_sessions: int, total_views: int
) -> dict[str, Any]:
    units = sum(d.units for d in days)
    sessions = sum(d.sessions for d in days)
    views = sum(d.page_views for d in days)
    browser_sessions, app_sessions = _split(sessions)
    browser_views, app_views = _split(views)
    total_browser_s, total_app_s = _split(total_sessions)
    total_browser_v, total_app_v = _split(total_views)
    out: dict[str, Any] = {"parentAsin": key[0]}
    if len(key) > 1:
        out["childAsin"] = key[1]
    if len(key) > 2:
        out["sku"] = key[2]
    out["salesByAsin"] = {
        "unitsOrdered": units,
        "orderedProductSales": _amount(sum(d.sales for d in days), currency),
        "totalOrderItems": units,
    }
    out["trafficByAsin"] = {
        "browserSessions": browser_sessions,
        "mobileAppSessions": app_sessions,
        "sessions": sessions,
        "browserSessionPercentage": _pct(browser_sessions, total_browser_s),
        "mobileAppSessionPercentage": _pct(app_sessions, total_app_s),
        "sessionPercentage": _pct(sessions, total_sessions),
        "browserPageViews": browser_views,
        "mobileAppPageViews": app_views,
        "pageViews": views,
        "browserPageViewsPercentage": _pct(browser_views, total_browser_v),
        "mobileAppPageViewsPercentage": _pct(app_views, total_app_v),
        "pageViewsPercentage": _pct(views, total_views),
        "buyBoxPercentage": _pct(sum(d.buy_box_views for d in days), views),
        "unitSessionPercentage": _pct(units, sessions),
    }
    return out


def _dates(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def sales_and_traffic(
    sales: Mapping[str, Any],
    marketplace_id: str,
    options: Mapping[str, str],
    start: date,
    end: date,
) -> dict[str, Any]:
    """The document for one marketplace's seed over ``start``..``end`` (widened to whole periods)."""
    date_granularity = options.get("dateGranularity", "DAY")
    asin_granularity = options.get("asinGranularity", "PARENT")
    currency = str(sales.get("currency") or CURRENCIES.get(marketplace_id, "USD"))
    first, last = period_start(start, date_granularity), period_end(end, date_granularity)
    periods: dict[date, list[Day]] = {}
    spans: dict[date, int] = {}
    everything: list[Day] = []
    for day in _dates(first, last):
        figures = day_figures(sales, day)
        key = period_start(day, date_granularity)
        periods.setdefault(key, []).extend(figures)
        spans[key] = spans.get(key, 0) + 1
        everything.extend(figures)
    width = {"PARENT": 1, "CHILD": 2, "SKU": 3}[asin_granularity]
    groups: dict[tuple[str, ...], list[Day]] = {}
    for d in everything:
        groups.setdefault((d.parent, d.child, d.sku)[:width], []).append(d)
    total_sessions = sum(d.sessions for d in everything)
    total_views = sum(d.page_views for d in everything)
    return {
        "reportSpecification": {
            "reportType": SALES_AND_TRAFFIC,
            "reportOptions": {"dateGranularity": date_granularity, "asinGranularity": asin_granularity},
            "dataStartTime": start.isoformat(),
            "dataEndTime": end.isoformat(),
            "marketplaceIds": [marketplace_id],
        },
        "salesAndTrafficByDate": [
            _by_date(days, currency, sales, spans[when], when) for when, days in sorted(periods.items())
        ],
        "salesAndTrafficByAsin": [
            _by_asin(key, days, currency, total_sessions, total_views) for key, days in sorted(groups.items())
        ],
    }


# -- the report processor's branch -------------------------------------------------------------


def _error_document(message: str) -> tuple[bytes, str]:
    return gzip.compress(json.dumps({"errorDetails": message}).encode(), mtime=0), "application/json"


def outcome(store: Store, row: Mapping[str, Any], now: float) -> tuple[str, tuple[bytes, str] | None]:
    """How a seller performance report ends (``ReportProcessor.outcome`` calls this for both types)."""
    marketplace_ids: list[str] = json.loads(row["marketplaces"])
    options: dict[str, str] = json.loads(row["options"]) if row["options"] else {}
    today = datetime.fromtimestamp(now, UTC).date()
    if row["report_type"] == ACCOUNT_HEALTH:
        # the windows end with the last whole day before the report was asked for
        end = datetime.fromtimestamp(row["created"], UTC).date() - timedelta(days=1)
        content = account_health(store, row["seller_id"], marketplace_ids, end)
    else:
        if len(marketplace_ids) != 1:
            return "FATAL", _error_document(
                f"{SALES_AND_TRAFFIC} supports only one marketplaceId per report; {len(marketplace_ids)} were given."
            )
        start = datetime.fromtimestamp(row["data_start"], UTC).date()
        end = datetime.fromtimestamp(row["data_end"], UTC).date()
        seed = seed_of(store, row["seller_id"], marketplace_ids[0])
        sales = (seed or {}).get("salesAndTraffic") or {}
        if (today - start).days > MAX_AGE_DAYS or not sales.get("asins"):
            content = None
        else:
            document = sales_and_traffic(sales, marketplace_ids[0], options, start, end)
            content = json.dumps(document).encode()
    if content is None:
        return "CANCELLED", None
    return "DONE", (gzip.compress(content, mtime=0), CONTENT_TYPE)


# -- admin (no auth; local use only, like sandbox.admin) ------------------------------------------

ADMIN_PATH = "/_sandbox/seller-performance/{seller_id}/{marketplace_id}"


def _admin_error(message: str) -> Response:
    return json_response(400, {"errors": [{"code": "InvalidInput", "message": message, "details": ""}]})


@router.get(ADMIN_PATH)
async def show_seed(request: Request, seller_id: str, marketplace_id: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    seed = seed_of(sandbox.store, seller_id, marketplace_id)
    if seed is None:
        return json_response(404, {"errors": [{"code": "NotFound", "message": "no seed", "details": ""}]})
    return json_response(200, seed)


@router.post(ADMIN_PATH)
async def put_seed(request: Request, seller_id: str, marketplace_id: str) -> Response:
    """Replace the seller's seed in that marketplace (the reports asked for from then on use it)."""
    sandbox: Sandbox = request.app.state.sandbox
    seller = sandbox.store.seller(seller_id)
    if seller is None or marketplace_id not in seller["marketplaces"]:
        return _admin_error(f"seller {seller_id} does not sell in {marketplace_id}")
    try:
        set_seed(sandbox.store, seller_id, marketplace_id, json.loads(await request.body()), time.time())
    except ValueError as exc:
        return _admin_error(str(exc))
    return json_response(200, {"seeded": True})


@router.delete(ADMIN_PATH)
async def clear_seed(request: Request, seller_id: str, marketplace_id: str) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    ensure_table(sandbox.store)
    cursor = sandbox.store.execute(
        "DELETE FROM seller_performance WHERE seller_id=? AND marketplace_id=?", (seller_id, marketplace_id)
    )
    return json_response(200, {"deleted": cursor.rowcount})
