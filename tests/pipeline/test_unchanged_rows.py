"""Incremental runs skip the rows whose source is unchanged since Amazon accepted them (issue #13).

Runs the bulk path's own steps (extract -> validate -> map -> settle -> plan -> build) on the sample
catalog's amazon.com rows against a live sandbox, marks what was sent as accepted, then runs again:
- unchanged (once the schema cache is warm, see below): every accepted row is skipped, nothing is sent, nothing is deleted, and the rows add up;
- one price changed, one SKU exported twice: the changed row is the one message sent, the duplicate's
  two rows are both validated and quarantined, the rest skipped;
- a mapping file edited, or the schema cache filled: nothing is skipped (the recipe is part of the
  key);
- a payload changed outside the catalog (a hotfix) clears the listing's source key, so its row is
  checked again.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from demo.sample_catalog import COLUMNS, US, generate_rows
from listings_pipeline.catalog import chunks, steps
from listings_pipeline.planning.plan import plan
from listings_pipeline.to_amazon import bulk
from listings_pipeline.to_amazon.settle import settle
from listings_pipeline.warehouse import db, lifecycle
from listings_pipeline.warehouse.models import Listing, ListingStatus
from listings_pipeline.warehouse.records import ensure_seller
from sandbox.testing import serve
from spapi.auth import clear_process_cache
from tests.fixtures.sandbox import SELLER, connection_json, sandbox_settings

REPO = Path(__file__).resolve().parents[2]


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.catalog = tmp / "catalog.csv"
        self.mappings = tmp / "mappings"
        shutil.copytree(REPO / "include" / "catalog_mappings", self.mappings)
        self.url = db.sqlite_url(tmp / "warehouse.db")
        db.upgrade(self.url)
        self.engine = db.make_engine(self.url)
        with db.session_scope(self.engine) as session:
            ensure_seller(session, SELLER, region="na", spapi_conn_id="spapi_unchanged")
        raw = yaml.safe_load((REPO / "include" / "pipeline.yaml").read_text())
        include = REPO / "include"
        raw.update(
            var_dir=str(tmp / "var"),
            mappings_dir=str(self.mappings),
            product_types_dir=str(include / "product_types"),
            content_policy=str(include / "content_policy.yaml"),
            per_sku_threshold=0,
            delete_removed=True,
            sellers=[
                {
                    "seller_id": SELLER,
                    "spapi_conn_id": "spapi_unchanged",
                    "region": "na",
                    "marketplaces": [US],
                    "catalog": str(self.catalog),
                }
            ],
        )
        self.config = tmp / "pipeline.yaml"
        self.config.write_text(yaml.safe_dump(raw))
        self.rows = [r for r in generate_rows() if r["marketplace_id"] == US]
        self.runs = 0

    def write(self, rows: list[dict[str, str]]) -> None:
        with self.catalog.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            writer.writerows([row[c] for c in COLUMNS] for row in rows)

    def run(self) -> tuple[dict[str, Any], list[str]]:
        """One run of the steps; returns the planned branch and the SKUs in its documents."""
        self.runs += 1
        branch: Any = {
            "seller_id": SELLER,
            "marketplace_id": US,
            "spapi_conn_id": "spapi_unchanged",
            "region": "na",
            "config_path": str(self.config),
            "claims_defects": True,
            "confirm_deletes": False,
        }
        branch = steps.extract(branch, f"manual__unchanged-{self.runs}")
        branch = plan(settle(chunks.validate_and_map(branch)))
        sent = []
        for document in bulk.build(branch):
            body = json.loads(Path(document["document_path"]).read_bytes())
            sent += [m["sku"] for m in body["messages"]]
        return branch, sent

    def accept_all_sent(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(Listing)
                .where(Listing.status == ListingStatus.SUBMITTED.value)
                .values(status=ListingStatus.ACCEPTED.value, accepted_hash=Listing.payload_hash)
            )


def _adds_up(branch: dict[str, Any]) -> None:
    counts = branch["plan_counts"]
    assert branch["extracted"] == (
        branch["quarantined"]
        + branch["planned"]
        - counts["deleted"]
        + counts["unchanged"]
        + counts["skipped"]
    ), branch


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    tmp = tmp_path_factory.mktemp("unchanged")
    clear_process_cache()
    with pytest.MonkeyPatch.context() as mp, serve(sandbox_settings(tmp)) as sandbox_url:
        mp.setenv("AIRFLOW_CONN_SPAPI_UNCHANGED", connection_json(sandbox_url))
        mp.setenv("SPAPI_WAREHOUSE_URL", db.sqlite_url(tmp / "warehouse.db"))
        mp.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
        yield Harness(tmp)
    clear_process_cache()


def test_incremental_runs_check_only_what_changed(harness: Harness) -> None:
    harness.write(harness.rows)
    first, sent = harness.run()
    _adds_up(first)
    assert first.get("unchanged_rows") == 0 and sent, "an empty warehouse has nothing to skip"
    harness.accept_all_sent()
    # The first run fetched the product type schemas into the cache: a new recipe, so this run
    # checks every row again (and sends nothing, the payloads being the same)
    warm, sent_warm = harness.run()
    _adds_up(warm)
    assert warm["unchanged_rows"] == 0 and sent_warm == []

    again, sent_again = harness.run()
    _adds_up(again)
    assert again["unchanged_rows"] == len(sent), "every accepted row skips validation and mapping"
    assert again["messages"] == 0 and sent_again == []
    assert again["plan_counts"]["deleted"] == 0 and again["deletes_withheld"] == {}
    assert again["plan_counts"]["unchanged"] == len(sent)

    # one price changed, one accepted SKU exported twice
    rows = [dict(r) for r in harness.rows]
    changed = next(r for r in rows if r["sku"] in sent)
    changed["price"] = f"{float(changed['price']) + 1:.2f}"
    twice = next(r for r in rows if r["sku"] in sent and r["sku"] != changed["sku"])
    rows.append(dict(twice))
    harness.write(rows)
    third, sent_third = harness.run()
    _adds_up(third)
    assert sent_third == [changed["sku"]]
    assert third["unchanged_rows"] == len(sent) - 2
    with harness.engine.connect() as connection:
        quarantined = connection.execute(
            sa.text("SELECT count(*) FROM quarantine WHERE run_id = :run AND sku = :sku"),
            {"run": third["run_id"], "sku": twice["sku"]},
        ).scalar_one()
    assert quarantined >= 2, "both rows of a duplicated SKU are judged, even if one was accepted"


def test_a_changed_recipe_or_payload_checks_rows_again(harness: Harness) -> None:
    harness.write(harness.rows)
    harness.run()
    harness.accept_all_sent()
    harness.run()
    settled, _ = harness.run()
    assert settled["unchanged_rows"] > 0

    # a payload from outside the catalog (a hotfix) clears the listing's source key
    with db.session_scope(harness.engine) as session:
        listing = session.scalars(sa.select(Listing).where(Listing.status == "accepted").limit(1)).one()
        sku = listing.sku
        lifecycle.transition(
            session, SELLER, US, sku, ListingStatus.READY, cause="hotfix", payload_hash="f" * 64
        )
        session.flush()
        assert session.get(Listing, listing.id).source_hash is None  # type: ignore[union-attr]
    after_hotfix, _ = harness.run()
    assert after_hotfix["unchanged_rows"] == settled["unchanged_rows"] - 1

    # an edited mapping is a new recipe: every row is checked again
    mapping = next(harness.mappings.glob("*.yaml"))
    mapping.write_text(mapping.read_text() + "\n# edited\n")
    edited, _ = harness.run()
    assert edited["unchanged_rows"] == 0
    assert edited["messages"] > 0


def test_the_mask_skips_a_row_only_when_its_sku_is_single_named_and_its_key_is_the_accepted_one() -> None:
    """Worked out by hand: A matches; B's key differs; C was never accepted; D is on two rows (both
    are checked, one of them even matching); the empty SKU matches an accepted empty SKU."""
    import pandas as pd
    import pyarrow as pa

    from listings_pipeline.catalog.unchanged import unchanged_rows

    string = pd.ArrowDtype(pa.string())
    skus = pd.Series(["A", "B", "C", "D", "D", ""], dtype=string)
    keys = pd.Series(["ka", "kb-new", "kc", "kd", "kd2", "ke"], dtype=string)
    accepted = pa.table({"sku": ["A", "B", "D", ""], "key": ["ka", "kb", "kd", "ke"]})
    assert unchanged_rows(skus, keys, accepted).tolist() == [True, False, False, False, False, False]
    empty = pa.table({"sku": pa.array([], pa.string()), "key": pa.array([], pa.string())})
    assert unchanged_rows(skus, keys, empty).tolist() == [False] * 6


@pytest.mark.parametrize("rows_per_array", [1, 3, 1_000_000])
def test_row_keys_are_the_recipe_and_each_hash_in_hex(rows_per_array: int) -> None:
    """The keys built from NumPy bytes are exactly ``f"{recipe}{hash:016x}"``, at the extremes of
    64 bits and across the arrays they are cut into; none for no rows."""
    import numpy as np

    from listings_pipeline.catalog.unchanged import _hex_keys

    recipe = "0123456789abcdef0123456789abcdef"
    hashes = np.array([0, 1, 2**64 - 1, 0x0123456789ABCDEF, 2**63, 255], dtype=np.uint64)
    keys = _hex_keys(recipe, hashes, rows_per_array=rows_per_array)
    assert keys.to_pylist() == [f"{recipe}{int(h):016x}" for h in hashes]
    assert _hex_keys(recipe, hashes[:0]).to_pylist() == []
