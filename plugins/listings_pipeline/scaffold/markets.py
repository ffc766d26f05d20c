"""A marketplace as a draft needs it: its country (for sizes and barcodes), language and currency."""

from __future__ import annotations

from dataclasses import dataclass

from spapi.regions import MARKETPLACE_CURRENCIES, MARKETPLACE_LANGUAGES, MARKETPLACES

__all__ = ["Market", "market"]


@dataclass(frozen=True)
class Market:
    """A marketplace as the draft needs it: its country, language and currency."""

    marketplace_id: str
    country: str
    language_tag: str
    currency: str | None

    @property
    def language(self) -> str:
        return self.language_tag.split("_")[0]


def market(marketplace_id: str) -> Market:
    return Market(
        marketplace_id,
        MARKETPLACES[marketplace_id][0],
        MARKETPLACE_LANGUAGES[marketplace_id][0],
        MARKETPLACE_CURRENCIES.get(marketplace_id),
    )
