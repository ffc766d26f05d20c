"""The S3 branch of the extract step (listings_pipeline.catalog.extract) through the REAL Amazon provider S3Hook.

moto's ``mock_aws`` stands in for S3; everything between ``extract_snapshot`` and botocore is the
production code path: the Airflow connection ``aws_default`` (from ``AIRFLOW_CONN_AWS_DEFAULT``), the
provider's ``S3Hook.list_keys`` and ``S3Hook.download_file``, and boto3's credential chain (fake keys
from the environment). tests/pipeline/test_extract.py covers the same branch with a fake hook, for the
cases moto cannot produce (AccessDenied) and for the hook's call signature.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from listings_pipeline.catalog.extract import (
    CatalogScope,
    CatalogSource,
    ExtractError,
    RejectedRecord,
    Snapshot,
    extract_snapshot,
)
from tests.conftest import service_missing

pytestmark = [pytest.mark.airflow]

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
SELLER = "A1SELLER"
RUN_ID = "manual__2026-01-01T00:00:00+00:00"
BUCKET = "catalog-bucket"
PREFIX = "exports/2026"

A_CSV = "sku,title\nA-1,alpha\nA-2,beta\n"
# the known row B-KNOWN starts on line 5: a quoted field over two lines and a blank line come before it;
# B-CA is for another marketplace; B-ALL's empty marketplace_id means no marketplace: a rejected row
B_CSV = (
    "sku,title,marketplace_id\n"
    f'B-1,"two\nlines",{US}\n'
    "\n"
    f"B-KNOWN,known,{US}\n"
    f"B-CA,canadian,{CA}\n"
    "B-ALL,everywhere,\n"
)


@pytest.fixture(scope="module")
def pa() -> Any:
    """pyarrow, the extract step's Parquet engine: to read snapshots back."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        service_missing("pyarrow is not installed: it is the extract step's Parquet engine")
    return pyarrow


def rows_of(snapshot: Snapshot) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    table = pq.read_table(snapshot.path)
    assert table.column_names == snapshot.columns
    assert table.num_rows == snapshot.row_count
    return list(table.to_pylist())


def by_sku(snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    return {row["sku"]: row for row in rows_of(snapshot)}


def uri(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


def extract(source: str, out: Path, **kw: Any) -> Snapshot:
    """The seller sells in US and CA; a.csv has no marketplace_id column, so its rows serve both."""
    kw.setdefault("seller_id", SELLER)
    kw.setdefault("marketplace_id", US)
    kw.setdefault("run_id", RUN_ID)
    kw.setdefault(
        "scope",
        CatalogScope(
            seller_id=kw["seller_id"],
            marketplace_id=kw["marketplace_id"],
            served={SELLER: frozenset({US, CA})},
            claims_defects=True,
            all_marketplaces=True,
        ),
    )
    return extract_snapshot(CatalogSource.parse(source), out, **kw)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, pa: Any) -> Iterator[Any]:
    """A moto S3 with ``catalog-bucket`` holding two CSVs, a Parquet file and keys the glob must skip.

    Yields the boto3 S3 client (same mock, same fake credentials as the hook uses).
    """
    import boto3
    import pandas as pd
    from moto import mock_aws

    # nothing from the developer's or CI's own AWS setup may leak in (a profile, a custom endpoint)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws", "extra": {"region_name": "us-east-1"}})
    )
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/a.csv", Body=A_CSV.encode())
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/b.csv", Body=B_CSV.encode())
        parquet = io.BytesIO()
        pd.DataFrame(
            {
                "sku": ["PQ-1", "PQ-2", "PQ-CA"],
                "upc": ["0012345678905", "0000000000017", "1"],
                "quantity": [3, 0, 7],
                "marketplace_id": [US, US, CA],
            }
        ).to_parquet(parquet, engine="pyarrow", index=False)
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/c.parquet", Body=parquet.getvalue())
        # not *.csv, though under the prefix and starting like one
        client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/notes.csv.txt", Body=b"sku\nNOT-ME\n")
        # a .csv outside the prefix
        client.put_object(Bucket=BUCKET, Key="exports/2025/old.csv", Body=b"sku\nNOT-ME-EITHER\n")
        yield client


@pytest.mark.usefixtures("s3")
class TestS3ThroughRealHook:
    def test_csv_glob_reads_both_files_and_traces_rows(self, tmp_path: Path) -> None:
        source = uri(f"{PREFIX}/*.csv")
        snap = extract(source, tmp_path / "out")
        assert snap.source == source
        assert snap.source_files == [uri(f"{PREFIX}/a.csv"), uri(f"{PREFIX}/b.csv")]
        rows = by_sku(snap)
        # both files, in key order; not notes.csv.txt, old.csv, the Parquet file, B-CA nor B-ALL
        assert list(rows) == ["A-1", "A-2", "B-1", "B-KNOWN"]
        assert {rows[s]["_source_file"] for s in ("A-1", "A-2")} == {uri(f"{PREFIX}/a.csv")}
        assert {rows[s]["_source_file"] for s in ("B-1", "B-KNOWN")} == {uri(f"{PREFIX}/b.csv")}
        assert (rows["A-1"]["_source_row"], rows["A-2"]["_source_row"]) == (2, 3)
        assert rows["B-1"]["_source_row"] == 2 and rows["B-1"]["title"] == "two\nlines"
        assert rows["B-KNOWN"]["_source_row"] == 5
        # B-ALL is traced to its S3 object and line (B-CA on line 6 is skipped, not renumbered)
        [rejected] = [
            RejectedRecord.model_validate_json(line)
            for line in Path(str(snap.rejected_path)).read_text().splitlines()
        ]
        assert (rejected.source_file, rejected.source_line, rejected.sku, rejected.rule) == (
            uri(f"{PREFIX}/b.csv"),
            7,
            "B-ALL",
            "extract.marketplace_missing",
        )
        assert snap.columns == ["sku", "title", "marketplace_id", "_source_file", "_source_row"]
        assert rows["A-1"]["marketplace_id"] is None  # a.csv has no such column: it applies as a whole
        assert (snap.row_count, snap.rows_read, snap.skipped_rows, snap.defect_rows) == (4, 6, 1, 1)
        # the downloads went with the scratch folder: only the snapshot and its sidecars are left
        assert sorted(p.name for p in Path(snap.path).parent.iterdir()) == [
            "catalog.parquet",
            "rejected.jsonl",
            "seller_skus.txt",
        ]

    def test_marketplace_filtering(self, tmp_path: Path) -> None:
        source = uri(f"{PREFIX}/*.csv")
        ca = extract(source, tmp_path / "out", marketplace_id=CA)
        assert list(by_sku(ca)) == ["A-1", "A-2", "B-CA"]
        assert by_sku(ca)["B-CA"]["_source_row"] == 6
        us = extract(source, tmp_path / "out", marketplace_id=US)
        assert "B-CA" not in by_sku(us) and us.path != ca.path

    def test_parquet_glob(self, tmp_path: Path) -> None:
        snap = extract(uri(f"{PREFIX}/*.parquet"), tmp_path / "out")
        assert snap.source_files == [uri(f"{PREFIX}/c.parquet")]
        assert rows_of(snap) == [
            {
                "sku": "PQ-1",
                "upc": "0012345678905",
                "quantity": "3",
                "marketplace_id": US,
                "_source_file": uri(f"{PREFIX}/c.parquet"),
                "_source_row": 1,
            },
            {
                "sku": "PQ-2",
                "upc": "0000000000017",
                "quantity": "0",
                "marketplace_id": US,
                "_source_file": uri(f"{PREFIX}/c.parquet"),
                "_source_row": 2,
            },
        ]
        assert snap.rows_read == 3

    def test_glob_matching_nothing(self, tmp_path: Path) -> None:
        source = uri(f"{PREFIX}/*.tsv")
        with pytest.raises(ExtractError) as info:
            extract(source, tmp_path / "out")
        assert info.value.source == source
        assert str(info.value) == f"catalog source {source}: the glob matched no S3 objects"
        assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []

    def test_missing_bucket(self, tmp_path: Path) -> None:
        source = "s3://no-such-bucket/exports/*.csv"
        with pytest.raises(ExtractError) as info:
            extract(source, tmp_path / "out")
        assert info.value.source == source
        assert str(info.value).startswith(f"catalog source {source}: cannot read from S3: NoSuchBucket")
        assert "does not exist" in str(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__
        assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []

    def test_missing_object(self, tmp_path: Path) -> None:
        source = uri(f"{PREFIX}/missing.csv")
        with pytest.raises(ExtractError) as info:
            extract(source, tmp_path / "out")
        assert info.value.source == source
        assert str(info.value).startswith(f"catalog source {source}: cannot read from S3: ")
        # S3Hook.download_file means to raise AirflowNotFoundException ("... does not exist") on a 404,
        # but compares the error code "404" with the int 404 (provider 9.39.0), so boto's ClientError
        # comes through; either way the reason says what is wrong
        assert "(404)" in info.value.reason or "does not exist" in info.value.reason
        assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []
