"""A PRODUCT_TYPE_DEFINITIONS_CHANGE refreshes the cached schemas of the mapped product types, for
the seller's marketplaces the notification names, through the live sandbox's PTD API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listings_pipeline.from_amazon.definitions_refresh import refresh
from listings_pipeline.from_amazon.notifications import DefinitionsChanged
from tests.fixtures.sandbox import CA, SELLER, US, Sandbox, connection_json

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_the_mapped_schemas_are_fetched_again(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SPAPI_REFRESH", connection_json(sandbox.url))
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        json.dumps(
            {
                "environment": "sandbox",
                "var_dir": str(tmp_path / "var"),
                "mappings_dir": str(REPO / "include" / "catalog_mappings"),
                "sellers": [
                    {
                        "seller_id": SELLER,
                        "spapi_conn_id": "spapi_refresh",
                        "region": "na",
                        "marketplaces": [US, CA],
                        "catalog": "catalog.csv",
                    }
                ],
            }
        )
    )
    changes = [
        DefinitionsChanged(
            seller_id=SELLER, marketplace_id=US, product_type_version="V2", new_product_types=[]
        ),
        DefinitionsChanged(
            seller_id="ANOTHERSELLER", marketplace_id=US, product_type_version="V2", new_product_types=[]
        ),
        DefinitionsChanged(
            seller_id=SELLER, marketplace_id="A1PA6795UKMFR9", product_type_version="V2", new_product_types=[]
        ),
    ]
    refreshed = refresh(str(config), changes)
    assert {(r["marketplace_id"], r["product_type"]) for r in refreshed} == {
        (US, "HEADPHONES"),
        (US, "LUGGAGE"),
        (US, "SHIRT"),
    }
    assert all(r["error"] is None and r["checksum"] for r in refreshed)
    cache = tmp_path / "var" / "product_types" / US
    assert sorted(p.name for p in cache.glob("*.json")) == ["HEADPHONES.json", "LUGGAGE.json", "SHIRT.json"]
    assert not (tmp_path / "var" / "product_types" / CA).exists()  # not named by the notification
