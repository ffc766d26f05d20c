"""Which way a change set goes to Amazon: the Listings Items API, a feed, or nowhere.

Small change sets go through the Listings Items API (an answer in seconds per SKU, no feed quota);
larger ones through a ``JSON_LISTINGS_FEED`` (one call for thousands). An empty one goes nowhere,
so neither path opens a client or writes a document for it. Every path asks this one function, so the
bulk path and the offers sync can never disagree about where a change set of a given size goes.
"""

from __future__ import annotations

from typing import Literal

Route = Literal["none", "listings_api", "feed"]


def route(count: int, threshold: int) -> Route:
    """``none`` for an empty change set, ``listings_api`` for up to ``threshold`` changes, else ``feed``."""
    if count <= 0:
        return "none"
    return "listings_api" if count <= threshold else "feed"
