"""SP-API regions, their hosts and marketplaces (SPAPI-FACTS.md section 1).

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
