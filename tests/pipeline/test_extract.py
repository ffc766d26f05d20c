"""Step 1 of the bulk path: catalog source -> run-scoped Parquet snapshot (listings_pipeline.catalog.extract).

Files (CSV, gzip CSV, Parquet, globs), SQL through an Airflow connection on the real PostgreSQL and on a
SQLite file, and S3 through a fake S3Hook that serves local files (moto is not installed). Snapshots are
read back with pyarrow, which is a hard requirement of the extract step: without it these tests skip
locally and fail under CI.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import inspect
import json
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from listings_pipeline.catalog.extract import (
    CatalogScope,
    CatalogSource,
    ExtractError,
    FileSource,
    S3Source,
    Snapshot,
    SqlSource,
    extract_snapshot,
    snapshot_path,
)
from tests.conftest import REPO

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
SELLER = "A1SELLER"
SECRET = "hunter2-Very-Secret"


def rows_of(snapshot: Snapshot) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    table = pq.read_table(snapshot.path)
    assert table.column_names == snapshot.columns
    assert table.num_rows == snapshot.row_count
    return list(table.to_pylist())


def by_sku(snapshot: Snapshot) -> dict[str, dict[str, Any]]:
    return {row["sku"]: row for row in rows_of(snapshot)}


def write_csv(path: Path, text: str, *, gz: bool = False) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def extract(source: Any, out: Path, *, all_marketplaces: bool = True, **kw: Any) -> Snapshot:
    """extract_snapshot for SELLER and US; most catalogs here have no marketplace_id column, so by
    default the scope lets each row serve every marketplace (test_extract_scope.py covers scoping)."""
    kw.setdefault("seller_id", SELLER)
    kw.setdefault("marketplace_id", US)
    kw.setdefault("run_id", "manual__2026-01-01T00:00:00+00:00")
    if "scope" not in kw:
        kw["scope"] = scope_for(kw["seller_id"], kw["marketplace_id"], all_marketplaces=all_marketplaces)
    return extract_snapshot(source, out, **kw)


def scope_for(
    seller_id: str = SELLER,
    marketplace_id: str = US,
    served: dict[str, set[str]] | None = None,
    *,
    claims: bool = True,
    all_marketplaces: bool = False,
) -> CatalogScope:
    return CatalogScope(
        seller_id=seller_id,
        marketplace_id=marketplace_id,
        served={k: frozenset(v) for k, v in (served or {seller_id: {marketplace_id}}).items()},
        claims_defects=claims,
        all_marketplaces=all_marketplaces,
    )


CATALOG = (
    "sku,upc,size,color,title,quantity\n"
    "SKU-1,0123456789012,NA,red,Shirt one,3\n"
    "SKU-2,0000000000017,N/A,,Shirt two,\n"
    "SKU-3,,null,blue,NULL,0\n"
)


# --------------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------------


class TestCatalogSource:
    def test_strings(self, tmp_path: Path) -> None:
        assert CatalogSource.parse("/data/catalog/*.csv") == FileSource(path="/data/catalog/*.csv")
        assert CatalogSource.parse("file:///data/my%20catalog.csv").path == "/data/my catalog.csv"
        assert CatalogSource.parse("catalog/a.csv", base_dir=tmp_path).path == str(tmp_path / "catalog/a.csv")
        s3 = CatalogSource.parse("s3://bucket/exports/*.parquet")
        assert isinstance(s3, S3Source)
        assert (s3.bucket, s3.key, s3.aws_conn_id) == ("bucket", "exports/*.parquet", "aws_default")

    def test_mappings(self, tmp_path: Path) -> None:
        sql = CatalogSource.parse({"kind": "sql", "conn_id": "catalog_db", "query": "select 1"})
        assert isinstance(sql, SqlSource) and sql.conn_id == "catalog_db"
        assert isinstance(CatalogSource.parse({"conn_id": "c", "query": "select 1"}), SqlSource)
        s3 = CatalogSource.parse(
            {"kind": "s3", "uri": "s3://b/k.csv", "aws_conn_id": "aws_catalog", "format": "csv"}
        )
        assert isinstance(s3, S3Source) and s3.aws_conn_id == "aws_catalog" and s3.format == "csv"
        local = CatalogSource.parse(
            {"path": "x.txt", "format": "CSV.GZ", "delimiter": ";"}, base_dir=tmp_path
        )
        assert local == FileSource(path=str(tmp_path / "x.txt"), format="csv", delimiter=";")
        assert isinstance(CatalogSource.parse({"path": "s3://b/k.parquet"}), S3Source)
        assert CatalogSource.parse(sql) is sql

    @pytest.mark.parametrize(
        ("value", "needle"),
        [
            ("ftp://host/catalog.csv", "unsupported catalog URI scheme"),
            ("s3://bucket-only", "expected s3://bucket/key"),
            ({"kind": "sql", "conn_id": "c"}, "query"),
            (
                {"kind": "sql", "conn_id": "c", "query": "q", "parameters": {"seller_id": "x"}},
                "set by the pipeline",
            ),
            ({"kind": "file", "path": "/x.csv", "format": "xlsx"}, "format"),
            ({"kind": "file", "path": "/x.csv", "password": "p"}, "password"),
            ({"format": "csv"}, "needs a 'kind'"),
        ],
    )
    def test_invalid(self, value: Any, needle: str) -> None:
        with pytest.raises(ValueError) as info:
            CatalogSource.parse(value)
        assert needle in str(info.value)

    def test_frozen_and_json(self) -> None:
        src = CatalogSource.parse(
            {"kind": "sql", "conn_id": "c", "query": "select :seller_id", "parameters": {"n": 1}}
        )
        with pytest.raises(ValidationError):
            src.conn_id = "other"
        assert CatalogSource.parse(src.model_dump()) == src


def test_snapshot_path_is_run_scoped_and_safe(tmp_path: Path) -> None:
    path = snapshot_path(tmp_path, "scheduled__2026-01-01T00:00:00+00:00", "A1SELLER", US)
    assert path.name == "catalog.parquet" and path.parent.parent.name == "A1SELLER" and path.parent.name == US
    assert ":" not in str(path.relative_to(tmp_path)) and "+" not in str(path.relative_to(tmp_path))
    # unsafe characters never escape out_dir, and ids that differ only in them do not collide
    evil = snapshot_path(tmp_path, "../../etc", "/abs", "..")
    assert evil.resolve().is_relative_to(tmp_path.resolve())
    assert len(evil.relative_to(tmp_path).parts) == 4
    assert snapshot_path(tmp_path, "a:b", "s", "m") != snapshot_path(tmp_path, "a_b", "s", "m")
    with pytest.raises(ValueError):
        snapshot_path(tmp_path, "", "s", "m")


def test_importing_the_module_stays_light() -> None:
    """DAG files import the pipeline package at parse time: no pyarrow, pandas, SQLAlchemy or Airflow."""
    code = (
        "import sys, listings_pipeline.catalog.extract; "
        "print([m for m in ('pyarrow', 'pandas', 'sqlalchemy', 'airflow', 'numpy') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO, timeout=60
    )
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("pq")
class TestFiles:
    def test_csv_values_stay_text(self, tmp_path: Path) -> None:
        src = write_csv(tmp_path / "catalog.csv", CATALOG)
        snap = extract(src, tmp_path / "out")
        rows = by_sku(snap)
        assert list(rows) == ["SKU-1", "SKU-2", "SKU-3"]
        assert rows["SKU-1"]["upc"] == "0123456789012"  # leading zero kept
        assert rows["SKU-2"]["upc"] == "0000000000017"
        assert [rows[s]["size"] for s in rows] == ["NA", "N/A", "null"]  # not NaN / None
        assert rows["SKU-3"]["title"] == "NULL"
        assert rows["SKU-2"]["color"] is None and rows["SKU-2"]["quantity"] is None  # empty cell -> null
        assert rows["SKU-3"]["upc"] is None
        assert rows["SKU-3"]["quantity"] == "0"
        assert {r["_source_file"] for r in rows.values()} == {str(src)}
        assert [r["_source_row"] for r in rows.values()] == [2, 3, 4]
        assert snap.columns == [
            "sku",
            "upc",
            "size",
            "color",
            "title",
            "quantity",
            "_source_file",
            "_source_row",
        ]
        assert (snap.row_count, snap.rows_read, snap.source_files) == (3, 3, [str(src)])
        assert Path(snap.path) == snapshot_path(tmp_path / "out", snap.run_id, SELLER, US)

    def test_gzip_csv_same_rows(self, tmp_path: Path) -> None:
        plain = extract(write_csv(tmp_path / "c.csv", CATALOG), tmp_path / "a")
        gz = extract(write_csv(tmp_path / "c.csv.gz", CATALOG, gz=True), tmp_path / "b")
        strip = [{k: v for k, v in r.items() if k != "_source_file"} for r in rows_of(plain)]
        assert [{k: v for k, v in r.items() if k != "_source_file"} for r in rows_of(gz)] == strip
        # gzip is recognised by its content too, with an explicit format for an unknown extension
        odd = write_csv(tmp_path / "export.dat", CATALOG, gz=True)
        with pytest.raises(ExtractError, match="cannot tell the format"):
            extract(odd, tmp_path / "c")
        assert extract({"path": str(odd), "format": "csv"}, tmp_path / "c").row_count == 3

    def test_bom_semicolons_and_tsv(self, tmp_path: Path) -> None:
        bom = tmp_path / "excel.csv"
        bom.write_bytes("\ufeffsku;title\nS1;Caf\u00e9\n".encode())
        assert (
            by_sku(extract({"path": str(bom), "delimiter": ";"}, tmp_path / "a"))["S1"]["title"]
            == "Caf\u00e9"
        )
        tsv = write_csv(tmp_path / "c.tsv", "sku\ttitle\nS1\tA, with comma\n")
        assert by_sku(extract(tsv, tmp_path / "b"))["S1"]["title"] == "A, with comma"

    def test_parquet_typed_values_become_text(self, tmp_path: Path, pq: Any) -> None:
        import datetime as dt

        import pyarrow as pa

        table = pa.table(
            {
                "sku": ["P1", "P2", "P3"],
                "upc": ["0012345678905", None, ""],
                "price": [19.99, 5.0, None],
                "quantity": pa.array([3, None, 0], type=pa.int64()),
                "active": [True, False, None],
                "launched": [dt.date(2026, 5, 1), None, None],
                "size": pa.array(["NA", "M", "NA"]).dictionary_encode(),
            }
        )
        pq.write_table(table, tmp_path / "catalog.parquet", row_group_size=2)
        snap = extract(tmp_path / "catalog.parquet", tmp_path / "out", chunk_rows=2)
        rows = by_sku(snap)
        assert rows["P1"] | {"_source_file": None} == {
            "sku": "P1",
            "upc": "0012345678905",
            "price": "19.99",
            "quantity": "3",
            "active": "true",
            "launched": "2026-05-01",
            "size": "NA",
            "_source_file": None,
            "_source_row": 1,
        }
        assert rows["P2"]["upc"] is None and rows["P3"]["upc"] is None  # null and "" alike
        assert (rows["P2"]["active"], rows["P3"]["price"], rows["P3"]["quantity"]) == ("false", None, "0")
        assert [r["_source_row"] for r in rows.values()] == [1, 2, 3]
        assert rows["P3"]["_source_file"] == str(tmp_path / "catalog.parquet")
        assert str(pq.read_schema(snap.path).field("quantity").type) == "string"

    def test_glob_over_several_files_traces_rows(self, tmp_path: Path, pq: Any) -> None:
        import pyarrow as pa

        folder = tmp_path / "catalog"
        folder.mkdir()
        a = write_csv(folder / "a.csv", "sku,title\nA-1,first\nA-2,second\n")
        # the known row: a quoted field over two lines and a blank line come before it
        b = write_csv(
            folder / "b.csv",
            'sku,title,color\nB-1,"two\nlines",red\n\nB-KNOWN,known,blue\n,,\nB-3,third,\n',
        )
        c = write_csv(folder / "c.csv.gz", "title,sku\nzipped,C-1\n", gz=True)
        pq.write_table(pa.table({"sku": ["D-1"], "size": ["XL"]}), folder / "d.parquet")
        (folder / "notes.md").write_text("not a catalog")
        snap = extract(str(folder / "*.csv*"), tmp_path / "out")
        assert snap.source_files == [str(a), str(b), str(c)]
        rows = by_sku(snap)
        assert list(rows) == ["A-1", "A-2", "B-1", "B-KNOWN", "B-3", "C-1"]
        assert rows["B-KNOWN"]["_source_file"] == str(b)
        assert rows["B-KNOWN"]["_source_row"] == 5
        assert rows["B-1"]["title"] == "two\nlines" and rows["B-1"]["_source_row"] == 2
        assert rows["B-3"]["_source_row"] == 7  # the ",," line (6) is skipped but counted
        assert (rows["C-1"]["_source_file"], rows["C-1"]["_source_row"], rows["C-1"]["title"]) == (
            str(c),
            2,
            "zipped",
        )
        # the union of the headers, in order of first appearance; absent columns are null
        assert snap.columns == ["sku", "title", "color", "_source_file", "_source_row"]
        assert rows["A-1"]["color"] is None
        # CSV and Parquet in one glob, recursive
        mixed = extract(str(tmp_path / "**" / "[bd].*"), tmp_path / "out2")
        assert mixed.source_files == [str(b), str(folder / "d.parquet")]
        assert by_sku(mixed)["D-1"] | {"_source_file": None} == {
            "sku": "D-1",
            "title": None,
            "color": None,
            "size": "XL",
            "_source_file": None,
            "_source_row": 1,
        }

    def test_filters_seller_and_marketplace(self, tmp_path: Path) -> None:
        src = write_csv(
            tmp_path / "all.csv",
            "sku,seller_id,marketplace_id\n"
            f"S-US,{SELLER},{US}\n"
            f"S-CA,{SELLER},{CA}\n"
            f"S-NONE,{SELLER},\n"
            f"OTHER-US,OTHER,{US}\n"
            f"ANY-US,, {US} \n"
            f"S-US2, {SELLER} , {US} \n",
        )
        served = {SELLER: {US, CA}, "OTHER": {US}, "NOBODY": {"A1F83G8C2ARO7P"}}
        us = extract(src, tmp_path / "out", scope=scope_for(SELLER, US, served))
        assert list(by_sku(us)) == ["S-US", "S-US2"]  # surrounding spaces do not matter
        # an empty seller or marketplace cell means nobody, never everybody
        assert (us.row_count, us.rows_read, us.skipped_rows, us.defect_rows) == (2, 6, 2, 2)
        ca = extract(
            src, tmp_path / "out", marketplace_id=CA, scope=scope_for(SELLER, CA, served, claims=False)
        )
        assert list(by_sku(ca)) == ["S-CA"] and [r["_source_row"] for r in rows_of(ca)] == [3]
        other = extract(
            src, tmp_path / "out", seller_id="OTHER", scope=scope_for("OTHER", US, served, claims=False)
        )
        assert list(by_sku(other)) == ["OTHER-US"]
        nobody = extract(
            src,
            tmp_path / "out",
            seller_id="NOBODY",
            marketplace_id="A1F83G8C2ARO7P",
            scope=scope_for("NOBODY", "A1F83G8C2ARO7P", served, claims=False),
        )
        assert nobody.row_count == 0 and rows_of(nobody) == []
        for snap in (us, ca, other, nobody):
            assert snap.rows_read == snap.row_count + snap.skipped_rows + snap.defect_rows == 6

    def test_without_marketplace_column_only_when_the_config_says_so(self, tmp_path: Path) -> None:
        src = write_csv(tmp_path / "c.csv", CATALOG)
        us, ca = (
            extract(src, tmp_path / "o", marketplace_id=US),
            extract(src, tmp_path / "o", marketplace_id=CA),
        )
        assert us.row_count == ca.row_count == 3 and us.path != ca.path and us.clean
        with pytest.raises(ExtractError) as info:
            extract(src, tmp_path / "p", all_marketplaces=False)
        assert str(src) in str(info.value) and "no 'marketplace_id' column" in str(info.value)
        assert "catalog_all_marketplaces: true" in str(info.value)
        assert [p for p in (tmp_path / "p").rglob("*") if p.is_file()] == []

    def test_columns_projection(self, tmp_path: Path) -> None:
        snap = extract(
            write_csv(tmp_path / "c.csv", CATALOG), tmp_path / "o", columns=["title", "upc", "brand"]
        )
        assert snap.columns == ["sku", "title", "upc", "brand", "_source_file", "_source_row"]
        assert snap.missing_columns == ["brand"]
        assert by_sku(snap)["SKU-1"]["brand"] is None and by_sku(snap)["SKU-1"]["upc"] == "0123456789012"

    def test_relative_path_and_file_uri(self, tmp_path: Path) -> None:
        write_csv(tmp_path / "rel.csv", CATALOG)
        assert extract("rel.csv", tmp_path / "o", base_dir=tmp_path).source_files == [
            str(tmp_path / "rel.csv")
        ]
        assert extract((tmp_path / "rel.csv").as_uri(), tmp_path / "p").row_count == 3

    def test_short_rows_padded_trailing_empty_fields_ignored(self, tmp_path: Path) -> None:
        rows = by_sku(extract(write_csv(tmp_path / "c.csv", "sku,a,b\nS1,x\nS2,x,y,,\n"), tmp_path / "o"))
        assert (rows["S1"]["a"], rows["S1"]["b"], rows["S2"]["b"]) == ("x", None, "y")

    def test_snapshot_is_json_for_xcom(self, tmp_path: Path) -> None:
        snap = extract(write_csv(tmp_path / "c.csv", CATALOG), tmp_path / "o")
        assert Snapshot.model_validate(json.loads(json.dumps(snap.model_dump(mode="json")))) == snap


# --------------------------------------------------------------------------------------------------
# Output: hash, atomic write
# --------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("pq")
class TestOutput:
    def test_hash_is_of_the_bytes_and_deterministic(self, tmp_path: Path) -> None:
        src = write_csv(tmp_path / "c.csv", CATALOG)
        first = extract(src, tmp_path / "one", chunk_rows=2)
        second = extract(src, tmp_path / "two", chunk_rows=2)
        assert first.sha256 == hashlib.sha256(Path(first.path).read_bytes()).hexdigest()
        assert first.size_bytes == Path(first.path).stat().st_size
        assert first.sha256 == second.sha256
        assert Path(first.path).read_bytes() == Path(second.path).read_bytes()
        write_csv(src, CATALOG.replace("Shirt two", "Shirt 2"))
        assert extract(src, tmp_path / "three", chunk_rows=2).sha256 != first.sha256

    def test_no_partial_file_when_the_source_fails_midway(self, tmp_path: Path) -> None:
        folder = tmp_path / "in"
        folder.mkdir()
        write_csv(folder / "a.csv", "sku,title\n" + "".join(f"A-{i},t\n" for i in range(50)))
        bad = folder / "b.csv.gz"
        # a gzip stream cut short: the header and the first thousands of rows read fine, the end does not
        # (a bad *record* is set aside instead: test_extract_records.py)
        body = "sku,title\n" + "".join(
            f"B-{i},{hashlib.sha256(str(i).encode()).hexdigest()}\n" for i in range(4000)
        )
        whole = gzip.compress(body.encode(), mtime=0)
        bad.write_bytes(whole[: len(whole) * 3 // 4])
        out = tmp_path / "out"
        good = extract(str(folder / "a.csv"), out)  # an earlier attempt of the same run left a snapshot
        before = {p.name: p.read_bytes() for p in Path(good.path).parent.iterdir()}
        assert sorted(before) == ["catalog.parquet", "rejected.jsonl", "seller_skus.txt"]
        with pytest.raises(ExtractError) as info:
            extract(str(folder / "*.csv*"), out, chunk_rows=10)  # row groups were written before it failed
        assert str(bad) in str(info.value) and "cannot read the csv file" in str(info.value)
        assert {p.name: p.read_bytes() for p in Path(good.path).parent.iterdir()} == before
        # and with no earlier snapshot, nothing at all
        with pytest.raises(ExtractError):
            extract(str(folder / "*.csv*"), tmp_path / "fresh", chunk_rows=10)
        assert [p for p in (tmp_path / "fresh").rglob("*") if p.is_file()] == []


# --------------------------------------------------------------------------------------------------
# Errors that name the source and the reason
# --------------------------------------------------------------------------------------------------


class TestErrors:
    def test_glob_matches_nothing(self, tmp_path: Path) -> None:
        pattern = str(tmp_path / "nothing" / "*.csv")
        with pytest.raises(ExtractError) as info:
            extract(pattern, tmp_path / "o")
        assert info.value.source == pattern and "matched no files" in str(info.value)

    def test_missing_file_and_directory(self, tmp_path: Path) -> None:
        with pytest.raises(ExtractError, match=r"missing\.csv: file does not exist"):
            extract(tmp_path / "missing.csv", tmp_path / "o")
        with pytest.raises(ExtractError, match="is a directory"):
            extract(tmp_path, tmp_path / "o")

    def test_no_sku_column(self, tmp_path: Path) -> None:
        write_csv(tmp_path / "a.csv", CATALOG)
        bad = write_csv(tmp_path / "b.csv", "SKU_CODE,title\nX,y\n")
        with pytest.raises(ExtractError) as info:
            extract(str(tmp_path / "*.csv"), tmp_path / "o")
        assert info.value.source == str(bad)
        assert "no 'sku' column (columns: SKU_CODE, title)" in str(info.value)
        with pytest.raises(ExtractError, match="no 'sku' column"):
            extract(write_csv(tmp_path / "empty.txt", ""), tmp_path / "o")

    def test_unreadable_files(self, tmp_path: Path) -> None:
        broken = tmp_path / "broken.csv.gz"
        broken.write_bytes(b"\x1f\x8b\x08\x00" + b"not deflate data" * 4)
        with pytest.raises(ExtractError) as info:
            extract(broken, tmp_path / "o")
        assert str(broken) in str(info.value) and "cannot read the csv file" in str(info.value)
        dupes = write_csv(tmp_path / "dupes.csv", "sku,title,title\n")
        with pytest.raises(ExtractError, match=r"duplicate column name\(s\) \['title'\]"):
            extract(dupes, tmp_path / "o")
        unknown = write_csv(tmp_path / "catalog.json", "{}")
        with pytest.raises(ExtractError, match=r"catalog\.json: cannot tell the format"):
            extract(unknown, tmp_path / "o")

    @pytest.mark.usefixtures("pq")
    def test_not_a_parquet_file(self, tmp_path: Path) -> None:
        fake = write_csv(tmp_path / "catalog.parquet", CATALOG)
        with pytest.raises(ExtractError) as info:
            extract(fake, tmp_path / "o")
        assert str(fake) in str(info.value) and "cannot read the parquet file" in str(info.value)

    def test_bad_source_value(self, tmp_path: Path) -> None:
        with pytest.raises(ExtractError, match="unsupported catalog URI scheme"):
            extract("ftp://user:pw@host/x.csv", tmp_path / "o")
        with pytest.raises(ExtractError) as info:
            extract("ftp://user:pw@host/x.csv", tmp_path / "o")
        assert ":pw@" not in str(info.value)


# --------------------------------------------------------------------------------------------------
# SQL through an Airflow connection
# --------------------------------------------------------------------------------------------------

PG_QUERY = (
    "select sku, upc, size, price, quantity, marketplace_id from {table} "
    "where seller_id = %(seller_id)s and quantity >= :min_qty order by sku"
)


@pytest.fixture
def pg_catalog(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A small catalog table on the real PostgreSQL, reachable as Airflow connection ``catalog_db``."""
    import sqlalchemy as sa

    table = f"catalog_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"create table {table} (sku text, upc text, size text, price numeric(10, 2), "
                "quantity int, seller_id text, marketplace_id text)"
            )
        )
        conn.execute(
            sa.text(f"insert into {table} values (:sku, :upc, :size, :price, :qty, :seller, :mkt)"),
            [
                {
                    "sku": "P-1",
                    "upc": "0123456789012",
                    "size": "NA",
                    "price": 19.99,
                    "qty": 3,
                    "seller": SELLER,
                    "mkt": US,
                },
                {
                    "sku": "P-2",
                    "upc": "",
                    "size": "N/A",
                    "price": None,
                    "qty": 0,
                    "seller": SELLER,
                    "mkt": US,
                },
                {"sku": "P-3", "upc": "1", "size": "S", "price": 1, "qty": 1, "seller": SELLER, "mkt": CA},
                {"sku": "P-4", "upc": "2", "size": "M", "price": 2, "qty": 9, "seller": "OTHER", "mkt": US},
            ],
        )
    # trust auth ignores the password, so it can be a real-looking secret that must never surface
    airflow_uri = sa.make_url(postgres_url).set(drivername="postgresql", password=SECRET)
    monkeypatch.setenv("AIRFLOW_CONN_CATALOG_DB", airflow_uri.render_as_string(hide_password=False))
    try:
        yield table
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop table if exists {table}"))
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.airflow
@pytest.mark.usefixtures("pq")
class TestSqlPostgres:
    def test_query_with_bound_seller(self, tmp_path: Path, pg_catalog: str) -> None:
        source = {
            "kind": "sql",
            "conn_id": "catalog_db",
            "query": PG_QUERY.format(table=pg_catalog),
            "parameters": {"min_qty": 0},
        }
        snap = extract(source, tmp_path / "o", scope=scope_for(SELLER, US, {SELLER: {US, CA}}))
        rows = by_sku(snap)
        assert list(rows) == ["P-1", "P-2"]  # P-3 is CA, P-4 another seller's
        assert (snap.skipped_rows, snap.defect_rows, snap.clean) == (1, 0, True)
        assert rows["P-1"] | {"_source_row": 0} == {
            "sku": "P-1",
            "upc": "0123456789012",
            "size": "NA",
            "price": "19.99",
            "quantity": "3",
            "marketplace_id": US,
            "_source_file": "sql:catalog_db",
            "_source_row": 0,
        }
        assert (rows["P-2"]["upc"], rows["P-2"]["size"], rows["P-2"]["price"]) == (None, "N/A", None)
        assert [r["_source_row"] for r in rows.values()] == [1, 2]
        assert (snap.rows_read, snap.source_files, snap.source) == (
            3,
            ["sql:catalog_db"],
            "sql query on connection 'catalog_db'",
        )
        assert SECRET not in snap.model_dump_json()

    def test_values_are_bound_never_formatted(self, tmp_path: Path, pg_catalog: str) -> None:
        source = {
            "kind": "sql",
            "conn_id": "catalog_db",
            "query": PG_QUERY.format(table=pg_catalog),
            "parameters": {"min_qty": 0},
        }
        snap = extract(source, tmp_path / "o", seller_id="x' or '1'='1")
        assert snap.row_count == 0 and snap.rows_read == 0

    def test_parameter_not_set(self, tmp_path: Path, pg_catalog: str) -> None:
        source = {"kind": "sql", "conn_id": "catalog_db", "query": PG_QUERY.format(table=pg_catalog)}
        with pytest.raises(ExtractError, match=r"uses parameter\(s\) \['min_qty'\], which are not set"):
            extract(source, tmp_path / "o")

    def test_errors_name_the_connection_and_never_the_password(
        self, tmp_path: Path, pg_catalog: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        bad_query = {"kind": "sql", "conn_id": "catalog_db", "query": "select sku from no_such_table"}
        with pytest.raises(ExtractError) as info:
            extract(bad_query, tmp_path / "o")
        assert "connection 'catalog_db'" in str(info.value) and "no_such_table" in str(info.value)
        assert info.value.__cause__ is None and info.value.__suppress_context__

        # nothing listens on port 1: the driver's own error, with a password that needs quoting
        tricky = "p@ss/w:rd#" + SECRET
        import sqlalchemy as sa

        down = sa.URL.create(
            "postgresql", username="postgres", password=tricky, host="127.0.0.1", port=1, database="x"
        )
        monkeypatch.setenv("AIRFLOW_CONN_DOWN_DB", down.render_as_string(hide_password=False))
        with pytest.raises(ExtractError) as info:
            extract({"kind": "sql", "conn_id": "down_db", "query": "select 1 as sku"}, tmp_path / "o")
        assert "connection 'down_db'" in str(info.value) and "OperationalError" in str(info.value)
        self._assert_clean(str(info.value), tricky)

        # an error text that quotes the full URI (as some drivers and SQLAlchemy parse errors do)
        def leaky_create_engine(url: Any, **kw: Any) -> Any:
            raise ValueError(f"cannot use {url.render_as_string(hide_password=False)} (password {tricky})")

        monkeypatch.setattr(sa, "create_engine", leaky_create_engine)
        with pytest.raises(ExtractError) as info:
            extract({"kind": "sql", "conn_id": "down_db", "query": "select 1 as sku"}, tmp_path / "o")
        assert "cannot open connection 'down_db'" in str(info.value) and "ValueError" in str(info.value)
        self._assert_clean(str(info.value), tricky)

    @staticmethod
    def _assert_clean(message: str, password: str) -> None:
        from urllib.parse import quote, quote_plus

        for form in (password, quote(password, safe=""), quote_plus(password), SECRET):
            assert form not in message, message


@pytest.mark.airflow
@pytest.mark.usefixtures("pq")
class TestSqlSqlite:
    def test_sqlite_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        db = tmp_path / "catalog.db"
        with sqlite3.connect(db) as conn:
            conn.execute("create table catalog (sku text, upc text, price real, seller_id text, note text)")
            conn.executemany(
                "insert into catalog values (?, ?, ?, ?, ?)",
                [
                    ("L-1", "0042", 9.5, SELLER, "100% cotton"),
                    ("L-2", "", None, SELLER, ""),
                    ("L-3", "7", 1.0, "X", ""),
                ],
            )
        conn.close()
        monkeypatch.setenv("AIRFLOW_CONN_CATALOG_DB", f"sqlite:///{db}")
        query = "select * from catalog where seller_id = %(seller_id)s and note like '%' order by sku"
        snap = extract({"kind": "sql", "conn_id": "catalog_db", "query": query}, tmp_path / "o", chunk_rows=1)
        rows = by_sku(snap)
        assert list(rows) == ["L-1", "L-2"]
        assert (rows["L-1"]["upc"], rows["L-1"]["price"], rows["L-1"]["note"]) == (
            "0042",
            "9.5",
            "100% cotton",
        )
        assert (rows["L-2"]["upc"], rows["L-2"]["price"]) == (None, None)
        assert [r["_source_row"] for r in rows.values()] == [1, 2]


@pytest.mark.airflow
def test_sql_connection_that_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_DB", raising=False)
    with pytest.raises(ExtractError) as info:
        extract({"kind": "sql", "conn_id": "no_such_db", "query": "select 1 as sku"}, tmp_path / "o")
    assert str(info.value) == (
        "catalog source sql query on connection 'no_such_db': Airflow connection 'no_such_db' does not exist"
    )


# --------------------------------------------------------------------------------------------------
# S3, through a fake S3Hook that serves a local folder (moto is not installed)
# --------------------------------------------------------------------------------------------------


class FakeS3Hook:
    """The two S3Hook methods the extract calls, over ``root/<bucket>/<key>``."""

    root: Path
    conn_ids: list[str | None]
    fail_with: Exception | None = None

    def __init__(self, aws_conn_id: str | None = "aws_default", **kwargs: Any) -> None:
        type(self).conn_ids.append(aws_conn_id)

    def list_keys(
        self, bucket_name: str | None = None, prefix: str | None = None, **kwargs: Any
    ) -> list[str]:
        if self.fail_with is not None:
            raise self.fail_with
        base = self.root / str(bucket_name)
        keys = (p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix or ""))

    def download_file(
        self,
        key: str,
        bucket_name: str | None = None,
        local_path: str | None = None,
        preserve_file_name: bool = False,
        use_autogenerated_subdir: bool = True,
    ) -> str:
        assert preserve_file_name and not use_autogenerated_subdir and local_path
        source = self.root / str(bucket_name) / key
        if not source.is_file():
            raise FileNotFoundError(f"The source file in Bucket {bucket_name} with path {key} does not exist")
        target = Path(local_path) / key.rsplit("/", 1)[-1]
        assert not target.exists()
        shutil.copyfile(source, target)
        return str(target)


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type[FakeS3Hook]:
    from airflow.providers.amazon.aws.hooks import s3 as s3_module

    # the fake must keep to the real hook's signatures
    for name in ("list_keys", "download_file"):
        real = list(inspect.signature(getattr(s3_module.S3Hook, name)).parameters)
        fake = [p for p in inspect.signature(getattr(FakeS3Hook, name)).parameters if p != "kwargs"]
        assert fake == [p for p in real if p in fake], name
    fake_cls = type("S3Hook", (FakeS3Hook,), {"root": tmp_path / "s3", "conn_ids": [], "fail_with": None})
    monkeypatch.setattr(s3_module, "S3Hook", fake_cls)
    bucket = tmp_path / "s3" / "catalog-bucket"
    (bucket / "exports" / "2026").mkdir(parents=True)
    write_csv(bucket / "exports" / "2026" / "a.csv", "sku,title\nS3-A,alpha\n")
    write_csv(
        bucket / "exports" / "2026" / "b.csv.gz",
        "sku,title,marketplace_id\nS3-B,beta,\nS3-C,gamma,X\n",
        gz=True,
    )
    write_csv(bucket / "exports" / "2026" / "readme.txt", "sku\nNOT-ME\n")
    (bucket / "other").mkdir()
    write_csv(bucket / "other" / "a.csv", "sku\nNOT-ME-EITHER\n")
    return fake_cls


@pytest.mark.airflow
@pytest.mark.usefixtures("pq")
class TestS3:
    def test_glob_downloads_and_traces(self, tmp_path: Path, s3: type[FakeS3Hook]) -> None:
        uri = "s3://catalog-bucket/exports/2026/*.csv*"
        snap = extract({"kind": "s3", "uri": uri, "aws_conn_id": "aws_catalog"}, tmp_path / "o")
        assert s3.conn_ids == ["aws_catalog"]
        assert snap.source == uri
        assert snap.source_files == [
            "s3://catalog-bucket/exports/2026/a.csv",
            "s3://catalog-bucket/exports/2026/b.csv.gz",
        ]
        rows = by_sku(snap)
        # S3-B has an empty marketplace, S3-C the unknown marketplace X: neither is anyone's
        assert list(rows) == ["S3-A"] and (snap.rows_read, snap.defect_rows, snap.clean) == (3, 2, False)
        rejected = [json.loads(line) for line in Path(str(snap.rejected_path)).read_text().splitlines()]
        assert [(r["source_file"], r["source_line"], r["sku"], r["rule"]) for r in rejected] == [
            (snap.source_files[1], 2, "S3-B", "extract.marketplace_missing"),
            (snap.source_files[1], 3, "S3-C", "extract.marketplace_unknown"),
        ]
        # downloads are gone; only the snapshot and its two sidecars are left
        assert sorted(p.name for p in Path(snap.path).parent.iterdir()) == [
            "catalog.parquet",
            "rejected.jsonl",
            "seller_skus.txt",
        ]

    def test_single_object_and_parquet(self, tmp_path: Path, s3: type[FakeS3Hook], pq: Any) -> None:
        import pyarrow as pa

        pq.write_table(
            pa.table({"sku": ["PQ-1"], "n": [1]}), s3.root / "catalog-bucket" / "exports" / "c.parquet"
        )
        snap = extract("s3://catalog-bucket/exports/c.parquet", tmp_path / "o")
        assert s3.conn_ids == ["aws_default"]
        assert rows_of(snap) == [
            {
                "sku": "PQ-1",
                "n": "1",
                "_source_file": "s3://catalog-bucket/exports/c.parquet",
                "_source_row": 1,
            }
        ]

    def test_errors(self, tmp_path: Path, s3: type[FakeS3Hook]) -> None:
        with pytest.raises(
            ExtractError, match=r"s3://catalog-bucket/nope/\*\.csv: the glob matched no S3 objects"
        ):
            extract("s3://catalog-bucket/nope/*.csv", tmp_path / "o")
        with pytest.raises(
            ExtractError, match=r"s3://catalog-bucket/missing\.csv: cannot read from S3: FileNotFoundError"
        ):
            extract("s3://catalog-bucket/missing.csv", tmp_path / "o")
        s3.fail_with = RuntimeError(
            "An error occurred (AccessDenied) when calling the ListObjectsV2 operation"
        )
        with pytest.raises(
            ExtractError, match=r"s3://catalog-bucket/exports/\*\.csv: cannot read from S3: .*AccessDenied"
        ):
            extract("s3://catalog-bucket/exports/*.csv", tmp_path / "o")
        assert [p for p in (tmp_path / "o").rglob("*") if p.is_file()] == []


# --------------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("pq")
def test_large_csv_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    """200k rows go through in chunks: Python's peak stays far below what the whole file would take
    (over 70 MiB as Python objects), and the output is complete."""
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sku", "title", "marketplace_id"])
        writer.writerows((f"SKU-{i:07d}", f"Product {i}", US if i % 4 else CA) for i in range(200_000))
    tracemalloc.start()
    try:
        snap = extract(
            path, tmp_path / "o", chunk_rows=10_000, scope=scope_for(SELLER, US, {SELLER: {US, CA}})
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (snap.row_count, snap.skipped_rows, snap.rows_read, snap.clean) == (150_000, 50_000, 200_000, True)
    # every SKU of the seller, the CA rows' too, sorted, in bounded memory as well
    skus = Path(snap.seller_skus_path).read_text().split("\n")
    assert len(skus) == 200_001 and skus[-1] == "" and skus[:-1] == sorted(skus[:-1])
    # chunked: about 6 MiB; the whole file as Python objects: over 70 MiB
    assert peak < 24 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    import pyarrow.parquet as pq

    last = pq.read_table(snap.path).slice(snap.row_count - 1).to_pylist()[0]
    assert last == {
        "sku": "SKU-0199999",
        "title": "Product 199999",
        "marketplace_id": US,
        "_source_file": str(path),
        "_source_row": 200_001,
    }
