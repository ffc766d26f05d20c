"""The marketplace tables agree with each other and with the warehouse's copy of them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from spapi.regions import MARKETPLACE_CURRENCIES, MARKETPLACE_LANGUAGES, MARKETPLACES

REPO = Path(__file__).resolve().parents[3]


def test_every_marketplace_has_one_currency_and_its_languages() -> None:
    assert set(MARKETPLACE_CURRENCIES) == set(MARKETPLACES) == set(MARKETPLACE_LANGUAGES)
    for mid, languages in MARKETPLACE_LANGUAGES.items():
        assert languages and len(set(languages)) == len(languages), mid


def test_the_warehouse_marketplaces_table_agrees() -> None:
    """The first migration writes the marketplaces table from its own frozen copy: they must not drift."""
    path = REPO / "plugins/listings_pipeline/warehouse/migrations/versions/0001_initial.py"
    spec = importlib.util.spec_from_file_location("migration_0001", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for mid, country, region, currency, language in module.MARKETPLACES:
        assert MARKETPLACES[mid] == (country, region), mid
        assert MARKETPLACE_CURRENCIES[mid] == currency, mid
        if language is not None:
            assert MARKETPLACE_LANGUAGES[mid][0] == language, mid
    assert {row[0] for row in module.MARKETPLACES} == set(MARKETPLACES)
