"""A branch cut into chunks that other processes check gives what one chunk in one process gives.

``catalog_feed_sync`` validates and maps a branch as mapped tasks (``catalog.chunks``), so Celery
workers on several machines share it. That is only safe if the cut changes nothing: the same
messages file byte for byte, the same quarantine rows in the same order, the same listing states.
The sample catalog's US rows (bad ones included: a duplicate SKU whose twin sits in another chunk,
rows the suites reject, rows the product-type schema rejects) go through once as one chunk in this
process, and once cut into chunks of 7 rows checked by two worker processes.
"""

from __future__ import annotations

import csv
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from demo.sample_catalog import BAD_ROWS, COLUMNS, US, generate_rows
from listings_pipeline.catalog import chunks, steps
from listings_pipeline.config import load_config
from listings_pipeline.run_files import BranchPaths
from listings_pipeline.warehouse import db
from listings_pipeline.warehouse.records import ensure_seller
from sandbox.testing import serve
from spapi.auth import clear_process_cache
from tests.fixtures.sandbox import SELLER, connection_json, sandbox_settings

REPO = Path(__file__).resolve().parents[2]
RUN_ID = "manual__chunks"


@pytest.fixture(scope="module")
def sandbox_connection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("chunks")
    clear_process_cache()
    with pytest.MonkeyPatch.context() as mp, serve(sandbox_settings(tmp)) as sandbox_url:
        mp.setenv("AIRFLOW_CONN_SPAPI_CHUNKS", connection_json(sandbox_url))
        mp.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
        catalog = tmp / "catalog.csv"
        with catalog.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            writer.writerows(
                [row[c] for c in COLUMNS] for row in generate_rows() if row["marketplace_id"] == US
            )
        yield catalog
    clear_process_cache()


def _config(tmp: Path, catalog: Path, chunk_rows: int) -> Path:
    raw = yaml.safe_load((REPO / "include" / "pipeline.yaml").read_text())
    include = REPO / "include"
    raw.update(
        var_dir=str(tmp / "var"),
        mappings_dir=str(include / "catalog_mappings"),
        product_types_dir=str(include / "product_types"),
        content_policy=str(include / "content_policy.yaml"),
        chunk_rows=chunk_rows,
        sellers=[
            {
                "seller_id": SELLER,
                "spapi_conn_id": "spapi_chunks",
                "region": "na",
                "marketplaces": [US],
                "catalog": str(catalog),
            }
        ],
    )
    config = tmp / "pipeline.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config


def _branch(config: Path) -> Any:
    return {
        "seller_id": SELLER,
        "marketplace_id": US,
        "spapi_conn_id": "spapi_chunks",
        "region": "na",
        "config_path": str(config),
        "claims_defects": True,
        "confirm_deletes": False,
    }


def _run(tmp: Path, catalog: Path, chunk_rows: int, workers: int, mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """One branch through extract, split, check_chunk (in ``workers`` other processes, or here) and
    join, in a warehouse and var folder of its own; returns what a byte-for-byte comparison needs."""
    url = db.sqlite_url(tmp / "warehouse.db")
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        ensure_seller(session, SELLER, region="na", spapi_conn_id="spapi_chunks")
    config = _config(tmp, catalog, chunk_rows)
    mp.setenv("SPAPI_WAREHOUSE_URL", url)
    branch = steps.extract(_branch(config), RUN_ID)
    cut = chunks.split(branch)
    if workers:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = list(pool.map(chunks.check_chunk, cut))
    else:
        done = [chunks.check_chunk(chunk) for chunk in cut]
    joined = chunks.join(cut)
    paths = BranchPaths.of(load_config(config), RUN_ID, SELLER, US)
    with engine.connect() as connection:
        quarantine = connection.execute(
            sa.text(
                "select sku, product_type, column_name, value, rule, reason, source_file, source_line"
                " from quarantine order by id"
            )
        ).all()
        issues = connection.execute(
            sa.text("select sku, code, severity, message, attribute_names from listing_issues order by id")
        ).all()
        listings = connection.execute(sa.text("select sku, status from listings order by sku")).all()
    engine.dispose()
    return {
        "chunks": len(cut),
        "done": done,
        "messages": paths.messages.read_bytes(),
        "hashes": paths.message_hashes.read_bytes(),
        # the source file differs by folder only: compare its name
        "quarantine": [(*row[:6], Path(row[6]).name if row[6] else None, row[7]) for row in quarantine],
        "issues": [tuple(row) for row in issues],
        "listings": [tuple(row) for row in listings],
        "branch": {k: joined[k] for k in ("messages", "quarantined", "rule_counts", "catalog_rows")},
    }


def test_chunks_checked_by_other_processes_give_what_one_chunk_gives(
    sandbox_connection: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _run(tmp_path / "whole", sandbox_connection, 10**6, 0, monkeypatch)
    cut = _run(tmp_path / "cut", sandbox_connection, 7, 2, monkeypatch)

    assert whole["chunks"] == 1
    assert cut["chunks"] == -(-whole["branch"]["catalog_rows"] // 7) > 5
    assert sum(d["rows"] for d in cut["done"]) == whole["branch"]["catalog_rows"]
    # the catalog has what the cut could get wrong
    bad = {b.sku for b in BAD_ROWS if b.marketplace_id == US and b.stage != "amazon"}
    stages = {b.stage for b in BAD_ROWS if b.marketplace_id == US}
    assert {"validate", "schema"} <= stages
    assert bad <= {row[0] for row in whole["quarantine"]} | {None}
    assert any(row[4] == "expect_compound_columns_to_be_unique" for row in whole["quarantine"])
    assert whole["messages"].count(b"\n") == whole["branch"]["messages"] > 50

    for key in ("messages", "hashes", "quarantine", "issues", "listings", "branch"):
        assert cut[key] == whole[key], key


def test_a_chunk_that_never_finished_stops_the_join(
    sandbox_connection: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its rows would otherwise go missing from the branch without a word."""
    url = db.sqlite_url(tmp_path / "warehouse.db")
    db.upgrade(url)
    config = _config(tmp_path, sandbox_connection, 40)
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", url)
    cut = chunks.split(steps.extract(_branch(config), RUN_ID))
    assert len(cut) > 1
    for chunk in cut[1:]:
        chunks.check_chunk(chunk)
    with pytest.raises(RuntimeError, match="chunk 0 of"):
        chunks.join(cut)
    with pytest.raises(RuntimeError, match="rows would go missing"):
        chunks.join(cut[1:])


def test_chunks_hold_up_to_chunk_rows_rows_to_check_and_cover_the_catalog() -> None:
    import numpy as np

    every = np.ones(10, dtype=bool)
    assert chunks._chunk_starts(every, 4) == [0, 4, 8], "a run that checks every row: chunks of 4 rows"
    checked = np.zeros(20, dtype=bool)
    checked[[3, 4, 11, 12, 13, 19]] = True
    # the unchanged rows between go with the chunk before: each chunk starts at its first checked row
    assert chunks._chunk_starts(checked, 2) == [0, 11, 13]
    assert chunks._chunk_starts(checked, 6) == [0], "six rows to check of twenty: one chunk"
    assert chunks._chunk_starts(np.zeros(5, dtype=bool), 2) == [0], "nothing to check: still one chunk"
    assert chunks._chunk_starts(np.zeros(0, dtype=bool), 2) == [0]


def test_concatenated_parts_link_one_and_copy_several(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The join's messages file: one chunk's file is linked (the chunk keeps its own, for a join
    run again), several are copied one after the other, and where the file system cannot link or
    copy in the kernel, a plain copy gives the same bytes."""
    import os

    parts = []
    for i, body in enumerate([b'{"a":1}\n' * 3000, b"", b'{"b":2}\n' * 70_000]):
        parts.append(tmp_path / f"part{i}.jsonl")
        parts[-1].write_bytes(body)
    whole = b"".join(p.read_bytes() for p in parts)
    target = tmp_path / "messages.jsonl"
    target.write_bytes(b"an earlier attempt\n")
    chunks._concatenate(parts[:1], target)
    assert target.read_bytes() == parts[0].read_bytes()
    assert target.stat().st_ino == parts[0].stat().st_ino and parts[0].exists()
    chunks._concatenate(parts, target)
    assert target.read_bytes() == whole
    assert target.stat().st_ino != parts[0].stat().st_ino

    def refused(*args: Any) -> Any:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refused)
    monkeypatch.setattr(os, "copy_file_range", refused)
    chunks._concatenate(parts[:1], target)
    assert target.read_bytes() == parts[0].read_bytes()
    chunks._concatenate(parts, target)
    assert target.read_bytes() == whole
    assert not list(tmp_path.glob(".*.tmp"))
