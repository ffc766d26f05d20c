"""Record-level resilience of the CSV extract (listings_pipeline.catalog.extract): one bad record is set aside,
the rest of the catalog is read.

Extra fields, stray and unclosed quotes, bytes the encoding rejects and oversized fields each cost the
record they are in (a rejected record naming the line, SKU, column and what is wrong), never the file,
and never the good rows after them. Header problems still fail the whole file.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

import listings_pipeline.catalog.extract as extract_module
from listings_pipeline.catalog.extract import (
    CatalogScope,
    ExtractError,
    RejectedRecord,
    Snapshot,
    extract_snapshot,
)

pytestmark = pytest.mark.usefixtures("pq")

US, CA = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"
SELLER = "A1SELLER"
HEADER = "sku,marketplace_id,title\n"


def extract(
    source: Path | str | dict[str, Any],
    out: Path,
    *,
    marketplace: str = US,
    claims: bool = True,
    **kw: Any,
) -> Snapshot:
    scope = CatalogScope(
        seller_id=SELLER,
        marketplace_id=marketplace,
        served={SELLER: frozenset({US, CA})},
        claims_defects=claims,
    )
    snap = extract_snapshot(
        source, out, seller_id=SELLER, marketplace_id=marketplace, run_id="r", scope=scope, **kw
    )
    assert snap.rows_read == snap.row_count + snap.skipped_rows + snap.defect_rows
    assert snap.clean == (snap.defect_rows == 0)
    return snap


def kept(snap: Snapshot) -> list[tuple[str, int]]:
    """(sku, _source_row) of the snapshot's rows."""
    import pyarrow.parquet as pq

    return [(str(r["sku"]), int(r["_source_row"])) for r in pq.read_table(snap.path).to_pylist()]


def rejected_of(snap: Snapshot) -> list[RejectedRecord]:
    if snap.rejected_path is None:
        return []
    lines = Path(snap.rejected_path).read_text(encoding="utf-8").splitlines()
    return [RejectedRecord.model_validate_json(line) for line in lines]


def write(path: Path, data: str | bytes, *, gz: bool = False) -> Path:
    raw = data.encode() if isinstance(data, str) else data
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return path


def one_rejected(snap: Snapshot) -> RejectedRecord:
    records = rejected_of(snap)
    assert len(records) == 1, [r.reason for r in records]
    assert snap.defect_rows == snap.rejected_rows == 1 and not snap.clean
    return records[0]


# --------------------------------------------------------------------------------------------------
# Extra fields
# --------------------------------------------------------------------------------------------------


def test_extra_field_rejects_only_its_record(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.csv",
        HEADER + f"G-1,{US},first\nX-1,{US},a title, with a comma\nG-2,{US},second\n",
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("G-2", 4)]
    record = one_rejected(snap)
    assert record.model_dump(exclude={"reason"}) == {
        "source_file": str(src),
        "source_line": 3,
        "sku": "X-1",
        "column_name": None,
        "value": " with a comma",
        "rule": "extract.extra_fields",
    }
    assert record.reason == (
        "line 3, SKU 'X-1', field 4, past the header's 3 columns: 4 fields where the header has 3: "
        "extra value(s) ' with a comma' (an unquoted ',' inside a value, or a shifted row)"
    )


def test_extra_field_after_empty_ones_names_its_position(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", HEADER + f"G-1,{US},ok,,\nX-2,{US},t,,late\n")
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2)]  # empty trailing fields are still fine
    record = one_rejected(snap)
    assert record.reason.startswith("line 3, SKU 'X-2', field 5, past the header's 3 columns: 5 fields")
    assert "'late'" in record.reason


# --------------------------------------------------------------------------------------------------
# Quotes
# --------------------------------------------------------------------------------------------------


def test_stray_quote_never_closed_costs_one_line(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.csv",
        HEADER + f'G-1,{US},first\nQ-1,{US},"stray quote\nG-2,{US},second\n\nG-3,{US},third\n',
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("G-2", 4), ("G-3", 6)]  # the rows it swallowed are read again
    record = one_rejected(snap)
    assert (record.source_line, record.sku, record.column_name, record.rule) == (
        3,
        "Q-1",
        "title",
        "extract.malformed_record",
    )
    assert record.value == '"stray quote'
    assert record.reason == (
        "line 3, SKU 'Q-1', column 'title': a quoted field opened here is never closed: it runs to "
        "the end of the file; lines 4-6 are read again as records of their own"
    )
    assert snap.rows_read == 4


def test_stray_quote_closed_by_a_later_quoted_field(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.csv",
        HEADER
        + f"G-1,{US},first\n"
        + f'Q-1,{US},"stray\n'
        + f"G-2,{US},second\n"
        + f'G-3,{US},"Shirt, red"\n'
        + f"G-4,{US},fourth\n",
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("G-2", 4), ("G-3", 5), ("G-4", 6)]
    record = one_rejected(snap)
    assert record.reason.startswith(
        "line 3, SKU 'Q-1', column 'title': a quoted field opened here is closed on line 5 by a quote "
        "that text follows"
    )
    assert "a stray quote swallowed the lines after it; lines 4-5 are read again" in record.reason


def test_stray_quote_that_closes_cleanly_is_caught_by_the_field_count(tmp_path: Path) -> None:
    """The swallow ends on a literal inch mark at the end of a line, which csv accepts; the record it
    makes is a field short, and a multi-line record must have the header's width."""
    src = write(
        tmp_path / "c.csv",
        "sku,marketplace_id,title,size\n"
        + f'Q-1,{US},"stray title,M\n'
        + f"G-2,{US},second,L\n"
        + f'G-3,{US},Monitor,27"\n'
        + f"G-4,{US},fourth,S\n",
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-2", 3), ("G-3", 4), ("G-4", 5)]
    record = one_rejected(snap)
    assert record.reason == (
        "line 2, SKU 'Q-1', column 'title': a quoted field opened here runs to line 4, and the record has "
        "3 fields where the header has 4: a stray quote swallowed the lines after it; lines 3-4 are read "
        "again as records of their own"
    )
    import pyarrow.parquet as pq

    assert pq.read_table(snap.path).to_pylist()[1]["size"] == '27"'  # a quote inside a value is text


def test_stray_quote_that_closes_at_its_own_column_is_caught_by_the_lines_it_holds(tmp_path: Path) -> None:
    """Closed by a quote followed by a delimiter at the very column it opened in, the swallow has the
    header's width; the swallowed line, a record with a real marketplace id, gives it away."""
    src = write(
        tmp_path / "c.csv",
        "sku,marketplace_id,title,size\n"
        + f'Q-1,{US},"stray title,M\n'
        + f"G-2,{US},second,L\n"
        + f'G-3,{US},Monitor 27",XL\n'
        + f"G-4,{US},fourth,S\n",
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-2", 3), ("G-3", 4), ("G-4", 5)]
    assert one_rejected(snap).reason == (
        "line 2, SKU 'Q-1', column 'title': a quoted field opened here runs to line 4 and holds line 3, "
        "which is a record of its own: a stray quote swallowed the lines after it; lines 3-4 are read "
        "again as records of their own"
    )


def test_a_two_line_swallow_is_caught_by_its_closing_line(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.csv",
        "sku,marketplace_id,title,size\n" + f'Q-1,{US},"stray,M\nG-2,{US},Monitor 27",XL\nG-3,{US},third,S\n',
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-2", 3), ("G-3", 4)]
    assert "runs to line 3 and holds line 3, which is a record of its own" in one_rejected(snap).reason


def test_a_value_with_line_breaks_and_commas_is_not_taken_for_a_swallow(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.csv",
        "sku,marketplace_id,title,size\n"
        + f'M-1,{US},"Soft, light, warm\nWash cold, dry flat, iron low\nMade in {US}",M\n'
        + f"G-1,{US},first,S\n",
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("M-1", 2), ("G-1", 5)] and snap.clean
    # a value over lines in the first column ends on a line as wide as the header: still a value
    first = write(
        tmp_path / "d.csv", f'title,sku,marketplace_id\n"Soft\nand warm",M-2,{US}\nPlain,G-2,{US}\n'
    )
    snap = extract(first, tmp_path / "o")
    assert kept(snap) == [("M-2", 2), ("G-2", 4)] and snap.clean


def test_unclosed_quote_at_the_end_of_the_file(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", HEADER + f'G-1,{US},first\nG-2,{US},second\nQ-9,{US},"unclosed')
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("G-2", 3)]
    record = one_rejected(snap)
    assert record.reason == (
        "line 4, SKU 'Q-9', column 'title': a quoted field opened here is never closed: it runs to the "
        "end of the file"
    )


def test_a_quoted_field_may_span_lines_up_to_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract_module, "MAX_RECORD_LINES", 5)
    five = "\n".join(f"part {i}" for i in range(5))
    src = write(
        tmp_path / "c.csv",
        HEADER
        + f'M-1,{US},"{five}"\n'
        + f'Q-1,{US},"stray\n'
        + "".join(f"G-{i},{US},row {i}\n" for i in range(1, 9)),
    )
    snap = extract(src, tmp_path / "o")
    # M-1 (lines 2-6) is one record; Q-1 (line 7) runs past 5 lines and is cut off there
    assert kept(snap) == [("M-1", 2)] + [(f"G-{i}", 7 + i) for i in range(1, 9)]
    record = one_rejected(snap)
    assert record.reason == (
        "line 7, SKU 'Q-1', column 'title': a quoted field opened here is still open after 5 lines "
        "(a stray quote, or a value with too many line breaks); lines 8-11 are read again as records "
        "of their own"
    )


def test_unescaped_quote_inside_a_quoted_value(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.csv",
        HEADER + f'G-1,{US},first\nQ-1,{US},"Shirt "Classic" fit"\nG-2,{US},"Shirt ""Classic"" fit"\n',
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("G-2", 4)]
    record = one_rejected(snap)
    assert (record.column_name, record.value) == ("title", '"Shirt "Classic" fit"')
    assert record.reason.startswith("line 3, SKU 'Q-1', column 'title': a quote ends the quoted value")
    assert 'a quote inside a quoted value must be doubled ("")' in record.reason
    import pyarrow.parquet as pq

    assert pq.read_table(snap.path).to_pylist()[1]["title"] == 'Shirt "Classic" fit'


def test_multi_line_values_and_literal_quotes_are_kept(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.csv",
        HEADER + f'M-1,{US},"line one\r\nline two"\r\nG-1,{US},Monitor 27" wide\r\nG-2,{US},"a, b"\r\n',
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("M-1", 2), ("G-1", 4), ("G-2", 5)] and snap.clean
    import pyarrow.parquet as pq

    titles = [r["title"] for r in pq.read_table(snap.path).to_pylist()]
    assert titles == ["line one\r\nline two", 'Monitor 27" wide', "a, b"]


def test_stray_quote_in_a_tsv_with_crlf(tmp_path: Path) -> None:
    src = write(
        tmp_path / "c.tsv",
        f'sku\tmarketplace_id\ttitle\r\nG-1\t{US}\tfirst\r\nQ-1\t{US}\t"stray\r\nG-2\t{US}\tsecond\r\n',
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("G-2", 4)]
    assert one_rejected(snap).reason.startswith("line 3, SKU 'Q-1', column 'title': a quoted field")


# --------------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------------

LATIN1 = (
    (HEADER + f"G-1,{US},first\n").encode()
    + f"B-1,{US},caf\u00e9 cr\u00e8me\n".encode("latin-1")
    + (f"G-2,{US},second\n").encode()
)


def test_invalid_utf8_names_the_line_not_a_byte_offset(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", LATIN1)
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("G-2", 4)]
    record = one_rejected(snap)
    assert record.model_dump(exclude={"reason"}) == {
        "source_file": str(src),
        "source_line": 3,
        "sku": "B-1",
        "column_name": "title",
        "value": "caf\\xe9 cr\\xe8me",
        "rule": "extract.encoding",
    }
    assert record.reason == (
        "line 3, SKU 'B-1', column 'title': byte(s) b'\\xe9\\xe8' are not valid utf-8-sig text (if the "
        "file is in another encoding, set the catalog source's encoding, e.g. cp1252)"
    )
    assert "position" not in record.reason and "offset" not in record.reason


@pytest.mark.parametrize("compressed", [False, True])
def test_a_bad_byte_far_into_the_file_is_found_on_its_line(tmp_path: Path, compressed: bool) -> None:
    """Lines are searched for bad bytes only once the decoder has met one: one deep in a large file
    (decoded blocks after the first, in a plain and a gzipped file) is still found, on its line, and
    so is one in a second file read after a clean one."""
    good = "".join(f"G-{i},{US},title {i}\n" for i in range(5000))
    data = (HEADER + good).encode() + f"B-1,{US},x\xfe y\n".encode("latin-1") + f"G-end,{US},z\n".encode()
    clean = write(tmp_path / "clean.csv", (HEADER + good).encode())
    assert extract(clean, tmp_path / "o1").clean
    name = "c.csv.gz" if compressed else "c.csv"
    snap = extract(write(tmp_path / name, data, gz=compressed), tmp_path / "o2")
    record = one_rejected(snap)
    assert (record.source_line, record.sku, record.rule) == (5002, "B-1", "extract.encoding")
    assert kept(snap)[-1] == ("G-end", 5003) and len(kept(snap)) == 5001


def test_the_declared_encoding_reads_the_same_bytes(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", LATIN1)
    snap = extract({"path": str(src), "encoding": "cp1252"}, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("B-1", 3), ("G-2", 4)] and snap.clean


def test_invalid_byte_inside_a_multi_line_value_names_its_line(tmp_path: Path) -> None:
    data = (HEADER + f'B-2,{US},"first line\n').encode() + b'second \xff line"\n' + f"G-1,{US},ok\n".encode()
    snap = extract(write(tmp_path / "c.csv", data), tmp_path / "o")
    assert kept(snap) == [("G-1", 4)]
    record = one_rejected(snap)
    assert record.source_line == 2 and record.value == "first line\nsecond \\xff line"
    assert record.reason.startswith("line 2, SKU 'B-2', column 'title': byte(s) b'\\xff' on line 3 are not")


def test_invalid_byte_in_the_header_fails_the_file(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", b"sku,marketplace_id,t\xefitle\n" + f"G-1,{US},x\n".encode())
    with pytest.raises(ExtractError) as info:
        extract(src, tmp_path / "o")
    assert str(info.value) == (
        f"catalog source {src}: line 1: the header cannot be read: byte(s) b'\\xef' are not valid "
        "utf-8-sig text (if the file is in another encoding, set the catalog source's encoding, e.g. cp1252)"
    )


def test_unclosed_quote_in_the_header_fails_the_file(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", f'sku,"marketplace_id,title\nG-1,{US},x\n')
    with pytest.raises(ExtractError, match="line 1: the header cannot be read: a quoted field opened here"):
        extract(src, tmp_path / "o")
    assert [p for p in (tmp_path / "o").rglob("*") if p.is_file()] == []


# --------------------------------------------------------------------------------------------------
# Size
# --------------------------------------------------------------------------------------------------


def test_oversized_field_names_the_column_and_the_size(tmp_path: Path) -> None:
    big = "x" * (extract_module.FIELD_SIZE_LIMIT + 1)
    src = write(tmp_path / "c.csv", HEADER + f"G-1,{US},first\nBIG-1,{US},{big}\nG-2,{US},second\n")
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("G-2", 4)]
    record = one_rejected(snap)
    assert (record.rule, record.column_name, record.sku) == ("extract.oversized_field", "title", "BIG-1")
    assert record.reason == (
        "line 3, SKU 'BIG-1', column 'title': 1,048,577 characters, over the limit of 1,048,576 for one field"
    )
    assert record.value is not None and len(record.value) < 210  # the value is only previewed


def test_oversized_record_is_skipped_without_being_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract_module, "RECORD_SIZE_LIMIT", 4096)
    monkeypatch.setattr(extract_module, "FIELD_SIZE_LIMIT", 1024)
    huge = "y" * 10_000
    src = write(
        tmp_path / "c.csv",
        HEADER
        + f"G-1,{US},first\n"
        + f"BIG-1,{US},{huge}\n"  # one physical line over the record limit
        + f'BIG-2,{US},"{huge[:3000]}\n{huge[:3000]}"\n'  # a quoted value over two lines
        + f"G-2,{US},{'z' * 1000}\n",  # under the field limit
    )
    snap = extract(src, tmp_path / "o")
    assert kept(snap) == [("G-1", 2), ("G-2", 6)]
    first, second = rejected_of(snap)
    assert first.reason == (
        "line 3, SKU 'BIG-1', column 'title': the record runs to 10,021 characters, over the limit of "
        "4,096 for a record (1,024 for one field); the field in this column is where it ran over"
    )
    assert second.source_line == 4 and second.sku == "BIG-2" and second.column_name == "title"
    assert second.rule == "extract.oversized_field"


# --------------------------------------------------------------------------------------------------
# Gzip, branches, accounting
# --------------------------------------------------------------------------------------------------

MIXED = (
    HEADER
    + f"G-1,{US},first\n"  # 2
    + f"X-1,{US},a,b\n"  # 3 extra field
    + f'Q-1,{US},"stray\n'  # 4 stray quote
    + f"G-2,{US},second\n"  # 5
    + f"C-1,{CA},canadian\n"  # 6 another branch's
    + "E-1,,empty marketplace\n"  # 7 defect
    + f"G-3,{US},third\n"  # 8
    + f"E-2,{US.lower()},lower\n"  # 9 defect
    + f'Q-2,{US},"Bad "quote" here"\n'  # 10 unescaped quote
    + f"G-4,{US},fourth\n"  # 11
)
MIXED_REJECTED = [
    (3, "X-1", "extract.extra_fields"),
    (4, "Q-1", "extract.malformed_record"),
    (7, "E-1", "extract.marketplace_missing"),
    (9, "E-2", "extract.marketplace_unknown"),
    (10, "Q-2", "extract.malformed_record"),
]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("chunk_rows", [1, 3, 100])
def test_every_kind_of_bad_record_together(tmp_path: Path, gz: bool, chunk_rows: int) -> None:
    src = write(tmp_path / ("c.csv.gz" if gz else "c.csv"), MIXED, gz=gz)
    snap = extract(src, tmp_path / "o", chunk_rows=chunk_rows)
    assert kept(snap) == [("G-1", 2), ("G-2", 5), ("G-3", 8), ("G-4", 11)]
    assert [(r.source_line, r.sku, r.rule) for r in rejected_of(snap)] == MIXED_REJECTED
    assert (snap.rows_read, snap.row_count, snap.skipped_rows, snap.defect_rows) == (10, 4, 1, 5)
    for record in rejected_of(snap):
        assert record.source_file == str(src)
        assert record.reason.startswith(f"line {record.source_line}, SKU '{record.sku}', ")
    # the SKUs of records that could not be read may still be the seller's: they are protected
    assert Path(snap.seller_skus_path).read_text().split() == [
        "C-1",
        "E-1",
        "E-2",
        "G-1",
        "G-2",
        "G-3",
        "G-4",
        "Q-1",
        "Q-2",
        "X-1",
    ]


def test_bad_records_are_recorded_by_the_claiming_branch_only(tmp_path: Path) -> None:
    src = write(tmp_path / "c.csv", MIXED)
    us = extract(src, tmp_path / "o", marketplace=US, claims=True)
    ca = extract(src, tmp_path / "o", marketplace=CA, claims=False)
    assert kept(ca) == [("C-1", 6)]
    assert (ca.rejected_path, ca.rejected_rows) == (None, 0)
    assert [(r.source_line, r.rule) for r in rejected_of(us)] == [
        (line, rule) for line, _, rule in MIXED_REJECTED
    ]
    # both read the same file the same way: neither may delete anything after this run
    assert (
        (us.rows_read, us.defect_rows, us.clean) == (ca.rows_read, ca.defect_rows, ca.clean) == (10, 5, False)
    )
    assert us.row_count + ca.row_count + us.defect_rows == us.rows_read


@pytest.mark.parametrize("run_size", [2, 1000])
def test_seller_skus_leave_out_what_cannot_be_written_one_a_line(tmp_path: Path, run_size: int) -> None:
    """The spool checks its SKUs all at once and looks at each only when one of them is unwritable:
    spilled runs (``run_size`` 2) and the last, in-memory one alike keep every other SKU."""
    spool = extract_module._SkuSpool(tmp_path / "spool", run_size=run_size)
    spool.update(["B", "a\nb", "A"])
    spool.update(["C", "line\u2028sep", "bad\udcff"])
    spool.update(["D"])
    out = tmp_path / "skus.txt"
    with extract_module._AtomicTextFile(out) as text:
        spool.write_to(text)
        text.seal()
        text.install()
    assert out.read_text(encoding="utf-8").split("\n") == ["A", "B", "C", "D", ""]
