"""Marketplace and seller scoping in the extract step (listings_pipeline.catalog.extract.CatalogScope).

An empty, unknown, mistyped or unserved seller / marketplace cell must never mean "everyone": the row
reaches no snapshot and is recorded once, by the claiming branch, with its line, SKU, column and reason.
Every test checks the accounting: rows_read == row_count + skipped_rows + defect_rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from listings_pipeline.catalog.extract import (
    CatalogScope,
    ExtractError,
    RejectedRecord,
    Snapshot,
    extract_snapshot,
)

pytestmark = pytest.mark.usefixtures("pq")

US, CA, DE, UK = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", "A1F83G8C2ARO7P"
SELLER, OTHER = "A1SELLER", "A2OTHER"
SERVED = {SELLER: {US, CA}, OTHER: {DE}}
HEADER = "sku,seller_id,marketplace_id,title\n"
# good rows around the bad one (which goes on line 4): two for SELLER in US, one in CA, one of OTHER
BEFORE = f"G-1,{SELLER},{US},first\nG-CA,{SELLER},{CA},canadian\n"
AFTER = f"G-2,{SELLER},{US},second\nO-DE,{OTHER},{DE},german\nG-3,{SELLER},{US},third\n"


def scope_for(
    seller: str = SELLER,
    market: str = US,
    served: dict[str, set[str]] | None = None,
    *,
    claims: bool = True,
    all_marketplaces: bool = False,
) -> CatalogScope:
    return CatalogScope(
        seller_id=seller,
        marketplace_id=market,
        served={k: frozenset(v) for k, v in (served if served is not None else SERVED).items()},
        claims_defects=claims,
        all_marketplaces=all_marketplaces,
    )


def extract(source: Path | str, out: Path, scope: CatalogScope | None = None, **kw: Any) -> Snapshot:
    scope = scope or scope_for()
    snap = extract_snapshot(
        source,
        out,
        seller_id=scope.seller_id,
        marketplace_id=scope.marketplace_id,
        run_id="manual__2026-01-01T00:00:00+00:00",
        scope=scope,
        **kw,
    )
    assert snap.rows_read == snap.row_count + snap.skipped_rows + snap.defect_rows
    assert snap.clean == (snap.defect_rows == 0)
    assert snap.rejected_rows == (snap.defect_rows if scope.claims_defects else 0)
    return snap


def skus_of(snap: Snapshot) -> list[str]:
    import pyarrow.parquet as pq

    return [str(r["sku"]) for r in pq.read_table(snap.path).to_pylist()]


def rejected_of(snap: Snapshot) -> list[RejectedRecord]:
    if snap.rejected_path is None:
        return []
    lines = Path(snap.rejected_path).read_text(encoding="utf-8").splitlines()
    return [RejectedRecord.model_validate_json(line) for line in lines]


def seller_skus(snap: Snapshot) -> list[str]:
    text = Path(snap.seller_skus_path).read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n")
    return text.splitlines()


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


# --------------------------------------------------------------------------------------------------
# One defect row among good ones
# --------------------------------------------------------------------------------------------------

DEFECTS = [
    pytest.param(
        f"BAD-1,{SELLER},,x",
        "extract.marketplace_missing",
        "marketplace_id",
        "",
        ["empty", "a row must name its marketplace", "never means every marketplace"],
        id="empty-marketplace",
    ),
    pytest.param(
        f"BAD-1,{SELLER},   ,x",
        "extract.marketplace_missing",
        "marketplace_id",
        "   ",
        ["empty", "a row must name its marketplace"],
        id="blank-marketplace",
    ),
    pytest.param(
        f"BAD-1,{SELLER},atvpdkikx0der,x",
        "extract.marketplace_unknown",
        "marketplace_id",
        "atvpdkikx0der",
        [
            "'atvpdkikx0der' is not an Amazon marketplace id",
            "did you mean 'ATVPDKIKX0DER' (US)",
            "case-sensitive",
        ],
        id="lower-case-marketplace",
    ),
    pytest.param(
        f"BAD-1,{SELLER},ATVPDKIKX0DES,x",
        "extract.marketplace_unknown",
        "marketplace_id",
        "ATVPDKIKX0DES",
        ["'ATVPDKIKX0DES' is not an Amazon marketplace id", "did you mean 'ATVPDKIKX0DER' (US)?"],
        id="one-letter-off-marketplace",
    ),
    pytest.param(
        f"BAD-1,{SELLER},A2EUQ1WTGCTBG,x",
        "extract.marketplace_unknown",
        "marketplace_id",
        "A2EUQ1WTGCTBG",
        ["did you mean 'A2EUQ1WTGCTBG2' (CA)?"],
        id="truncated-marketplace",
    ),
    pytest.param(
        f"BAD-1,{SELLER},USA,x",
        "extract.marketplace_unknown",
        "marketplace_id",
        "USA",
        ["'USA' is not an Amazon marketplace id"],
        id="country-instead-of-marketplace",
    ),
    pytest.param(
        f"BAD-1,{SELLER},{UK},x",
        "extract.marketplace_not_served",
        "marketplace_id",
        UK,
        [f"marketplace '{UK}' (UK) is not configured for seller {SELLER}", f"'{US}' (US)"],
        id="marketplace-of-no-configured-seller",
    ),
    pytest.param(
        f"BAD-1,{SELLER},{DE},x",
        "extract.marketplace_not_served",
        "marketplace_id",
        DE,
        [f"marketplace '{DE}' (DE) is not configured for seller {SELLER}"],
        id="marketplace-of-another-seller",
    ),
    pytest.param(
        f"BAD-1,,{US},x",
        "extract.seller_id_missing",
        "seller_id",
        "",
        ["empty; a row must name its seller", "never means every seller", f"{SELLER}, {OTHER}"],
        id="empty-seller",
    ),
    pytest.param(
        f"BAD-1,A9NOBODY,{US},x",
        "extract.seller_unknown",
        "seller_id",
        "A9NOBODY",
        ["'A9NOBODY' is not a seller configured for this catalog", f"configured: {SELLER}, {OTHER}"],
        id="unknown-seller",
    ),
    pytest.param(
        f"BAD-1,a1seller,{US},x",
        "extract.seller_unknown",
        "seller_id",
        "a1seller",
        [f"did you mean '{SELLER}'?"],
        id="lower-case-seller",
    ),
]


@pytest.mark.parametrize(("row", "rule", "column", "value", "fragments"), DEFECTS)
def test_defect_row_is_rejected_with_line_sku_column_and_reason(
    tmp_path: Path, row: str, rule: str, column: str, value: str, fragments: list[str]
) -> None:
    src = write(tmp_path / "c.csv", HEADER + BEFORE + row + "\n" + AFTER)
    snap = extract(src, tmp_path / "out")
    assert skus_of(snap) == ["G-1", "G-2", "G-3"]  # every good row of the branch is kept
    assert (snap.rows_read, snap.row_count, snap.skipped_rows, snap.defect_rows) == (6, 3, 2, 1)
    assert not snap.clean
    [rejected] = rejected_of(snap)
    assert rejected.model_dump(exclude={"reason"}) == {
        "source_file": str(src),
        "source_line": 4,
        "sku": "BAD-1",
        "column_name": column,
        "value": value,
        "rule": rule,
    }
    assert rejected.reason.startswith(f"line 4, SKU 'BAD-1', column '{column}': ")
    for fragment in fragments:
        assert fragment in rejected.reason
    # the row may be this seller's: its SKU is protected from deletion
    assert "BAD-1" in seller_skus(snap)


def test_row_without_sku_says_so(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", HEADER + BEFORE + f",{SELLER},,x\n" + AFTER)
    [rejected] = rejected_of(extract(src, tmp_path / "out"))
    assert rejected.sku is None
    assert rejected.reason.startswith("line 4, row without SKU, column 'marketplace_id': empty")


def test_defect_of_another_sellers_row_is_recorded_but_its_sku_is_not_ours(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", HEADER + BEFORE + f"THEIRS,{OTHER},,x\n" + AFTER)
    snap = extract(src, tmp_path / "out")
    [rejected] = rejected_of(snap)
    assert (rejected.sku, rejected.rule, rejected.source_line) == ("THEIRS", "extract.marketplace_missing", 4)
    assert "THEIRS" not in seller_skus(snap)


def test_long_value_is_truncated(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", HEADER + f"BAD-1,{SELLER},{'X' * 500},x\n")
    [rejected] = rejected_of(extract(src, tmp_path / "out"))
    assert rejected.value is not None and rejected.value.startswith("XXX")
    assert 200 <= len(rejected.value) <= 210 and rejected.value.endswith("...")


# --------------------------------------------------------------------------------------------------
# Rows of other branches, and clean catalogs
# --------------------------------------------------------------------------------------------------


def test_other_branches_rows_are_skipped_silently(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", HEADER + BEFORE + f" G-4 , {SELLER} , {US} ,spaces\n" + AFTER)
    snap = extract(src, tmp_path / "out")
    assert skus_of(snap) == ["G-1", " G-4 ", "G-2", "G-3"]  # cells are kept as written
    assert (snap.rows_read, snap.row_count, snap.skipped_rows, snap.defect_rows) == (6, 4, 2, 0)
    assert snap.clean and rejected_of(snap) == []
    assert Path(str(snap.rejected_path)).read_text() == ""  # the claimer writes a file, even empty
    # the seller's SKUs from every marketplace (stripped); OTHER's row is not the seller's
    assert seller_skus(snap) == ["G-1", "G-2", "G-3", "G-4", "G-CA"]


def test_each_branch_keeps_only_its_own_rows(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", HEADER + BEFORE + AFTER)
    ca = extract(src, tmp_path / "out", scope_for(SELLER, CA, claims=False))
    de = extract(src, tmp_path / "out", scope_for(OTHER, DE, claims=False))
    assert (skus_of(ca), skus_of(de)) == (["G-CA"], ["O-DE"])
    assert (ca.skipped_rows, de.skipped_rows) == (4, 4)
    assert seller_skus(de) == ["O-DE"]


def test_default_scope_is_the_branch_alone(tmp_path: Path) -> None:
    """Without a scope the catalog is this branch's only: another marketplace's row is a defect."""
    src = write(tmp_path / "c.csv", HEADER + f"G-1,{SELLER},{US},x\nG-CA,{SELLER},{CA},y\n")
    snap = extract_snapshot(src, tmp_path / "out", seller_id=SELLER, marketplace_id=US, run_id="r")
    assert skus_of(snap) == ["G-1"] and snap.defect_rows == 1
    [rejected] = rejected_of(snap)
    assert rejected.rule == "extract.marketplace_not_served" and rejected.source_line == 3
    assert rejected.reason == (
        f"line 3, SKU 'G-CA', column 'marketplace_id': marketplace '{CA}' (CA) is not configured "
        f"for seller {SELLER} (configured: '{US}' (US))"
    )


# --------------------------------------------------------------------------------------------------
# The same file for several branches: each defect recorded once
# --------------------------------------------------------------------------------------------------

SHARED = (
    HEADER
    + BEFORE
    + f"E-1,{SELLER},,empty\n"
    + f"E-2,,{DE},no seller\n"
    + AFTER
    + f"E-3,{OTHER},de,lower case\n"
    + f"O-DE2,{OTHER},{DE},german two\n"
)


def test_one_claimer_records_each_defect_once(tmp_path: Path) -> None:
    src = write(tmp_path / "shared.csv", SHARED)
    branches = [
        scope_for(SELLER, US, claims=True),
        scope_for(SELLER, CA, claims=False),
        scope_for(OTHER, DE, claims=False),
    ]
    snaps = [extract(src, tmp_path / "out", scope) for scope in branches]
    claimer, *others = snaps
    assert [r.sku for r in rejected_of(claimer)] == ["E-1", "E-2", "E-3"]
    assert [r.source_line for r in rejected_of(claimer)] == [4, 5, 9]
    for snap in others:
        assert (snap.rejected_path, snap.rejected_rows) == (None, 0)
        assert not (Path(snap.path).parent / "rejected.jsonl").exists()
    # every branch sees the same file the same way
    assert {(s.rows_read, s.defect_rows, s.clean) for s in snaps} == {(9, 3, False)}
    # and the branches partition the rows: each readable row is kept by exactly one of them
    kept = [sku for snap in snaps for sku in skus_of(snap)]
    assert sorted(kept) == ["G-1", "G-2", "G-3", "G-CA", "O-DE", "O-DE2"]
    assert sum(s.row_count for s in snaps) + claimer.defect_rows == claimer.rows_read


def test_a_branch_that_no_longer_claims_leaves_no_stale_rejected_file(tmp_path: Path) -> None:
    src = write(tmp_path / "shared.csv", SHARED)
    first = extract(src, tmp_path / "out", scope_for(SELLER, CA, claims=True))
    assert first.rejected_rows == 3 and Path(str(first.rejected_path)).exists()
    again = extract(src, tmp_path / "out", scope_for(SELLER, CA, claims=False))
    assert again.rejected_path is None and not Path(str(first.rejected_path)).exists()


# --------------------------------------------------------------------------------------------------
# Catalogs without a seller_id or marketplace_id column
# --------------------------------------------------------------------------------------------------


def test_without_seller_column_a_row_belongs_to_whoever_serves_its_marketplace(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.csv",
        f"sku,marketplace_id\nM-US,{US}\nM-CA,{CA}\nM-DE,{DE}\nM-UK,{UK}\n",
    )
    us = extract(src, tmp_path / "out", scope_for(SELLER, US))
    de = extract(src, tmp_path / "out", scope_for(OTHER, DE, claims=False))
    assert (skus_of(us), skus_of(de)) == (["M-US"], ["M-DE"])
    assert (us.skipped_rows, us.defect_rows, de.defect_rows) == (2, 1, 1)
    [rejected] = rejected_of(us)
    assert rejected.reason.startswith(
        f"line 5, SKU 'M-UK', column 'marketplace_id': marketplace '{UK}' (UK) is not configured "
        "for any seller that reads this catalog"
    )
    # DE's row is OTHER's, not SELLER's: its SKU is not SELLER's to protect
    assert seller_skus(us) == ["M-CA", "M-UK", "M-US"]


def test_no_marketplace_column_is_refused_unless_the_config_says_so(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", f"sku,seller_id,title\nA-1,{SELLER},x\nA-2,{OTHER},y\nA-3,,z\n")
    with pytest.raises(ExtractError) as info:
        extract(src, tmp_path / "out", scope_for(SELLER, US))
    message = str(info.value)
    assert info.value.source == str(src)
    assert "the catalog has no 'marketplace_id' column" in message
    assert f"catalog_all_marketplaces: true in seller {SELLER}'s config" in message
    assert f"all of its marketplaces ({CA}, {US})" in message
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_no_marketplace_column_with_all_marketplaces_serves_each_marketplace(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", f"sku,seller_id,title\nA-1,{SELLER},x\nA-2,{OTHER},y\nA-3,,z\n")
    us = extract(src, tmp_path / "out", scope_for(SELLER, US, all_marketplaces=True))
    ca = extract(src, tmp_path / "out", scope_for(SELLER, CA, claims=False, all_marketplaces=True))
    assert skus_of(us) == skus_of(ca) == ["A-1"]
    # the seller column still decides whose row it is, and an empty one is still a defect
    assert (us.skipped_rows, us.defect_rows, ca.defect_rows) == (1, 1, 1)
    [rejected] = rejected_of(us)
    assert (rejected.rule, rejected.source_line) == ("extract.seller_id_missing", 4)


def test_a_glob_is_scoped_file_by_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder / "a.csv", HEADER + BEFORE)
    write(folder / "b.csv", "sku,title\nB-1,no marketplace column\n")
    with pytest.raises(ExtractError) as info:
        extract(str(folder / "*.csv"), tmp_path / "out")
    assert info.value.source == str(folder / "b.csv")  # checked before a single row is written
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []
    write(folder / "b.csv", f"sku,marketplace_id\nB-1,{US}\nB-2,\n")
    snap = extract(str(folder / "*.csv"), tmp_path / "out")
    assert skus_of(snap) == ["G-1", "B-1"]
    assert [(Path(r.source_file).name, r.source_line) for r in rejected_of(snap)] == [("b.csv", 3)]
    assert (snap.rows_read, snap.skipped_rows, snap.defect_rows) == (4, 1, 1)


# --------------------------------------------------------------------------------------------------
# Typed sources, the scope model, the snapshot's new fields
# --------------------------------------------------------------------------------------------------


def test_parquet_null_and_mistyped_marketplace_name_the_row(tmp_path: Path, pq: Any) -> None:
    import pyarrow as pa

    table = pa.table(
        {
            "sku": ["P-1", "P-2", "P-3", "P-4"],
            "marketplace_id": [US, None, "ATVPDKIKX0DE", CA],
            "quantity": [1, 2, 3, 4],
        }
    )
    pq.write_table(table, tmp_path / "c.parquet")
    snap = extract(tmp_path / "c.parquet", tmp_path / "out", scope_for(SELLER, US, {SELLER: {US, CA}}))
    assert skus_of(snap) == ["P-1"] and (snap.skipped_rows, snap.defect_rows) == (1, 2)
    reasons = [r.reason for r in rejected_of(snap)]
    assert reasons[0] == "row 2, SKU 'P-2', column 'marketplace_id': " + (
        "empty; a row must name its marketplace (an empty cell never means every marketplace)"
    )
    assert reasons[1].startswith("row 3, SKU 'P-3', column 'marketplace_id': 'ATVPDKIKX0DE' is not")
    assert "did you mean 'ATVPDKIKX0DER' (US)?" in reasons[1]


def test_scope_must_include_its_branch_and_match_the_call(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="served must include the branch itself"):
        scope_for(SELLER, DE)
    scope = scope_for(SELLER, US)
    with pytest.raises(ValidationError):
        scope.claims_defects = False  # type: ignore[misc]
    src = write(tmp_path / "c.csv", HEADER + BEFORE)
    with pytest.raises(ValueError, match="scope is for seller"):
        extract_snapshot(src, tmp_path / "o", seller_id=SELLER, marketplace_id=CA, run_id="r", scope=scope)


def test_seller_skus_are_distinct_sorted_and_stripped(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.csv",
        HEADER
        + f"b-2,{SELLER},{US},x\n"
        + f"  A-1 ,{SELLER},{CA},x\n"
        + f"A-1,{SELLER},{US},again\n"
        + f",{SELLER},{US},no sku\n"
        + f'"TWO\nLINES",{SELLER},{US},not an Amazon SKU\n'
        + f"Z-9,{OTHER},{DE},theirs\n"
        + f"C-3,{SELLER},,defect\n",
    )
    snap = extract(src, tmp_path / "out", chunk_rows=2)
    assert seller_skus(snap) == ["A-1", "C-3", "b-2"]  # code point order: upper case first


def test_snapshot_round_trips_through_json(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", SHARED)
    snap = extract(src, tmp_path / "out")
    data = json.loads(json.dumps(snap.model_dump(mode="json")))
    assert Snapshot.model_validate(data) == snap
    assert (data["clean"], data["defect_rows"], data["rejected_rows"]) == (False, 3, 3)
    assert data["seller_skus_path"].endswith("seller_skus.txt")
    assert data["rejected_path"].endswith("rejected.jsonl")
