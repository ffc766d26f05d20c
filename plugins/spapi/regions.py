"""SP-API regions, their hosts and marketplaces (docs/spapi-facts.md §2).

Marketplaces are keyed by Amazon's id, not the country code: Amazon's own docs write the UK
as both ``UK`` and ``GB``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

RegionCode = Literal["na", "eu", "fe"]

LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"


@dataclass(frozen=True)
class Region:
    code: RegionCode
    endpoint: str
    sandbox_endpoint: str
    aws_region: str


REGIONS: dict[str, Region] = {
    "na": Region(
        "na",
        "https://sellingpartnerapi-na.amazon.com",
        "https://sandbox.sellingpartnerapi-na.amazon.com",
        "us-east-1",
    ),
    "eu": Region(
        "eu",
        "https://sellingpartnerapi-eu.amazon.com",
        "https://sandbox.sellingpartnerapi-eu.amazon.com",
        "eu-west-1",
    ),
    "fe": Region(
        "fe",
        "https://sellingpartnerapi-fe.amazon.com",
        "https://sandbox.sellingpartnerapi-fe.amazon.com",
        "us-west-2",
    ),
}

# marketplace id -> (country code, region)
MARKETPLACES: dict[str, tuple[str, RegionCode]] = {
    "ATVPDKIKX0DER": ("US", "na"),
    "A2EUQ1WTGCTBG2": ("CA", "na"),
    "A1AM78C64UM0Y8": ("MX", "na"),
    "A2Q3Y263D00KWC": ("BR", "na"),
    "A28R8C7NBKEWEA": ("IE", "eu"),
    "A1RKKUPIHCS9HS": ("ES", "eu"),
    "A1F83G8C2ARO7P": ("UK", "eu"),
    "A13V1IB3VIYZZH": ("FR", "eu"),
    "AMEN7PMS3EDWL": ("BE", "eu"),
    "A1805IZSGTT6HS": ("NL", "eu"),
    "A1PA6795UKMFR9": ("DE", "eu"),
    "APJ6JRA9NG5V4": ("IT", "eu"),
    "A2NODRKZP88ZB9": ("SE", "eu"),
    "AE08WJ6YKNBMC": ("ZA", "eu"),
    "A1C3SOZRARQ6R3": ("PL", "eu"),
    "ARBP9OOSHTCHU": ("EG", "eu"),
    "A33AVAJ2PDY3EV": ("TR", "eu"),
    "A17E79C6D8DWNP": ("SA", "eu"),
    "A2VIGQ35RCS4UG": ("AE", "eu"),
    "A21TJRUUN4KGV": ("IN", "eu"),
    "A19VAU5U5O7RUS": ("SG", "fe"),
    "A39IBJ37TRP1C6": ("AU", "fe"),
    "A1VC38T7YXB528": ("JP", "fe"),
}

# marketplace id -> the currency its offers are priced in (one per marketplace)
MARKETPLACE_CURRENCIES: dict[str, str] = {
    "ATVPDKIKX0DER": "USD",
    "A2EUQ1WTGCTBG2": "CAD",
    "A1AM78C64UM0Y8": "MXN",
    "A2Q3Y263D00KWC": "BRL",
    "A28R8C7NBKEWEA": "EUR",
    "A1RKKUPIHCS9HS": "EUR",
    "A1F83G8C2ARO7P": "GBP",
    "A13V1IB3VIYZZH": "EUR",
    "AMEN7PMS3EDWL": "EUR",
    "A1805IZSGTT6HS": "EUR",
    "A1PA6795UKMFR9": "EUR",
    "APJ6JRA9NG5V4": "EUR",
    "A2NODRKZP88ZB9": "SEK",
    "AE08WJ6YKNBMC": "ZAR",
    "A1C3SOZRARQ6R3": "PLN",
    "ARBP9OOSHTCHU": "EGP",
    "A33AVAJ2PDY3EV": "TRY",
    "A17E79C6D8DWNP": "SAR",
    "A2VIGQ35RCS4UG": "AED",
    "A21TJRUUN4KGV": "INR",
    "A19VAU5U5O7RUS": "SGD",
    "A39IBJ37TRP1C6": "AUD",
    "A1VC38T7YXB528": "JPY",
}

# country code of MARKETPLACES -> the country's English name, as forms show a marketplace
COUNTRY_NAMES: dict[str, str] = {
    "US": "United States",
    "CA": "Canada",
    "MX": "Mexico",
    "BR": "Brazil",
    "IE": "Ireland",
    "ES": "Spain",
    "UK": "United Kingdom",
    "FR": "France",
    "BE": "Belgium",
    "NL": "Netherlands",
    "DE": "Germany",
    "IT": "Italy",
    "SE": "Sweden",
    "ZA": "South Africa",
    "PL": "Poland",
    "EG": "Egypt",
    "TR": "Turkey",
    "SA": "Saudi Arabia",
    "AE": "United Arab Emirates",
    "IN": "India",
    "SG": "Singapore",
    "AU": "Australia",
    "JP": "Japan",
}

# currency -> digits after the decimal point (ISO 4217 "minor unit"; not in Amazon's models): a
# price in a currency cannot be finer than its smallest coin
CURRENCY_DECIMALS: dict[str, int] = {currency: 2 for currency in MARKETPLACE_CURRENCIES.values()} | {"JPY": 0}

# marketplace id -> the language tags its listings are written in, the marketplace's own first.
# Amazon states each marketplace's languages in its locale references; a title in another language
# is a listing customers there cannot read (and, for a marketplace's own attributes, one Amazon
# rejects or files under the wrong locale).
MARKETPLACE_LANGUAGES: dict[str, tuple[str, ...]] = {
    "ATVPDKIKX0DER": ("en_US", "es_US"),
    "A2EUQ1WTGCTBG2": ("en_CA", "fr_CA"),
    "A1AM78C64UM0Y8": ("es_MX",),
    "A2Q3Y263D00KWC": ("pt_BR",),
    "A28R8C7NBKEWEA": ("en_IE",),
    "A1RKKUPIHCS9HS": ("es_ES",),
    "A1F83G8C2ARO7P": ("en_GB",),
    "A13V1IB3VIYZZH": ("fr_FR",),
    "AMEN7PMS3EDWL": ("fr_BE", "nl_BE"),
    "A1805IZSGTT6HS": ("nl_NL",),
    "A1PA6795UKMFR9": ("de_DE",),
    "APJ6JRA9NG5V4": ("it_IT",),
    "A2NODRKZP88ZB9": ("sv_SE",),
    "AE08WJ6YKNBMC": ("en_ZA",),
    "A1C3SOZRARQ6R3": ("pl_PL",),
    "ARBP9OOSHTCHU": ("en_AE", "ar_AE"),
    "A33AVAJ2PDY3EV": ("tr_TR",),
    "A17E79C6D8DWNP": ("en_AE", "ar_AE"),
    "A2VIGQ35RCS4UG": ("en_AE", "ar_AE"),
    "A21TJRUUN4KGV": ("en_IN", "hi_IN"),
    "A19VAU5U5O7RUS": ("en_SG",),
    "A39IBJ37TRP1C6": ("en_AU",),
    "A1VC38T7YXB528": ("ja_JP",),
}


def marketplace_name(marketplace_id: str) -> str:
    """``United States (ATVPDKIKX0DER)``: an id alone means nothing to most operators."""
    country = MARKETPLACES[marketplace_id][0]
    return f"{COUNTRY_NAMES[country]} ({marketplace_id})"


def get_region(code: str) -> Region:
    try:
        return REGIONS[code.lower()]
    except KeyError:
        raise ValueError(f"unknown SP-API region {code!r}: expected one of {sorted(REGIONS)}") from None


def region_of_marketplace(marketplace_id: str) -> RegionCode:
    try:
        return MARKETPLACES[marketplace_id][1]
    except KeyError:
        raise ValueError(f"unknown marketplace id {marketplace_id!r}") from None


def check_marketplaces(marketplace_ids: Iterable[str], region: str) -> None:
    """Raise ``ValueError`` naming the first unknown marketplace id, or one outside ``region``."""
    ids = list(marketplace_ids)
    unknown = [m for m in ids if m not in MARKETPLACES]
    if unknown:
        raise ValueError(f"unknown marketplace ids {unknown}")
    for marketplace_id in ids:
        country, home = MARKETPLACES[marketplace_id]
        if home != region:
            raise ValueError(f"marketplace {marketplace_id} ({country}) is not in region {region}")
