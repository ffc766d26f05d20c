"""Step 1 of the bulk path: extract a seller's catalog into a run-scoped Parquet snapshot.

A catalog source is one of::

    file   /data/catalog/*.csv, file:///data/catalog.parquet, catalog/shirts.csv.gz (relative to a base dir)
    s3     s3://bucket/prefix/*.parquet, read through the Amazon provider's S3Hook (aws_conn_id)
    sql    {"kind": "sql", "conn_id": "catalog_db",
            "query": "select * from catalog where seller_id = :seller_id"}, through an Airflow connection

:func:`extract_snapshot` reads it in chunks (a 1M-row CSV never sits in memory whole), keeps the rows of
one seller and marketplace, and writes ``<out_dir>/<run_id>/<seller_id>/<marketplace_id>/catalog.parquet``
atomically. What it keeps:

- every value as **text**, exactly as the source has it ("NA", "N/A", "null" and "0012345678905" stay
  as written); only an empty cell becomes null. Typed sources (Parquet, SQL) are rendered with ``str()``
  (booleans as ``true``/``false``). Validation, not extraction, decides what a value means.
- where each row came from: ``_source_file`` (path, ``s3://`` URI or ``sql:<conn_id>``) and
  ``_source_row`` (for CSV the 1-based line on which the record starts, header = line 1; for Parquet
  and SQL the 1-based row number), so a quarantined row can be traced back.

Scoping (:class:`CatalogScope`). One catalog may be shared by several sellers and marketplaces, and every
branch reads all of it, so an empty or mistyped ``seller_id`` / ``marketplace_id`` cell must never mean
"everyone": such a row is a *defect*, not written to any snapshot, and recorded exactly once (by the one
branch that ``claims_defects``) in ``rejected.jsonl`` next to the snapshot, with its line, SKU, column,
value and reason. Only a catalog without a ``marketplace_id`` column at all may serve every marketplace,
and only when the seller's config says so (``all_marketplaces``).

Record-level resilience (CSV). A record with extra non-empty fields, a stray or unclosed quote, bytes
that are not valid in the declared encoding, or an oversized field is set aside as a rejected record
and reading goes on, because one bad line must not block a seller's whole catalog. A quoted field may
span lines, but at most :data:`MAX_RECORD_LINES`; a record that breaks the quoting rules (a closing
quote followed by text, a quote left open at the end of the file, too many lines, or a multi-line
record whose field count does not match the header) is malformed: its first line is rejected and the
lines after it are read again as records of their own, so a stray quote costs one row, not the rows
it swallowed. A swallow that closes cleanly on a quote followed by a delimiter *and* leaves exactly
the header's field count cannot be told from a real multi-line value; every other swallow is caught.
Any rejected or defect row makes the snapshot not ``clean``, which is what stops downstream deletes.
Header problems (no ``sku`` column, duplicate names, a broken header line) still fail the whole file.

Errors are :class:`ExtractError`: they name the source and the reason, and never a password (connection
URIs are redacted). Heavy libraries (pyarrow, SQLAlchemy, the Amazon provider) are imported inside the
functions, so DAG files can import this module at parse time.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import fnmatch
import glob
import gzip
import hashlib
import heapq
import logging
import os
import re
import tempfile
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Annotated, Any, Literal, NamedTuple
from urllib.parse import quote, quote_plus, unquote, urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from listings_pipeline.run_files import safe_part
from spapi.regions import MARKETPLACES

__all__ = [
    "FIELD_SIZE_LIMIT",
    "MAX_RECORD_LINES",
    "RECORD_SIZE_LIMIT",
    "CatalogScope",
    "CatalogSource",
    "ExtractError",
    "FileSource",
    "RejectRule",
    "RejectedRecord",
    "S3Source",
    "Snapshot",
    "SqlSource",
    "extract_snapshot",
    "snapshot_path",
]

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "catalog.parquet"
REJECTED_NAME = "rejected.jsonl"
SELLER_SKUS_NAME = "seller_skus.txt"
SOURCE_FILE_COLUMN = "_source_file"
SOURCE_ROW_COLUMN = "_source_row"
SKU_COLUMN = "sku"
SELLER_COLUMN = "seller_id"
MARKETPLACE_COLUMN = "marketplace_id"

#: A quoted CSV field may span at most this many physical lines; a record that needs more is malformed.
#: Generous for a description with line breaks, small enough that a stray quote costs little re-reading.
MAX_RECORD_LINES = 100
#: A field longer than this (in characters) is rejected as oversized, naming its column.
FIELD_SIZE_LIMIT = 1 << 20
#: A whole CSV record longer than this is rejected without being parsed: it bounds memory per record.
RECORD_SIZE_LIMIT = 8 << 20
#: How much of a rejected value ``rejected.jsonl`` keeps.
VALUE_PREVIEW = 200

Format = Literal["csv", "parquet"]
Cell = str | None
RejectRule = Literal[
    "extract.seller_id_missing",
    "extract.seller_unknown",
    "extract.marketplace_missing",
    "extract.marketplace_unknown",
    "extract.marketplace_not_served",
    "extract.extra_fields",
    "extract.malformed_record",
    "extract.encoding",
    "extract.oversized_field",
]

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_GLOB_MAGIC = re.compile(r"[*?\[]")
# ``%(name)s`` (psycopg's pyformat) is accepted and turned into SQLAlchemy's portable ``:name``.
_PYFORMAT_PARAM = re.compile(r"%\((\w+)\)s")
# scheme://user:password@host -> scheme://user:***@host
_URI_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^@\s]*@")
# Airflow conn types whose SQLAlchemy dialect differs from the conn type name.
_SQLALCHEMY_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}
# libpq options an Airflow postgres connection may carry in its extra.
_POSTGRES_EXTRA_KEYS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "application_name",
    "connect_timeout",
    "options",
    "target_session_attrs",
)


class ExtractError(RuntimeError):
    """A catalog could not be extracted. ``str()`` names the source and the reason, never a secret."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"catalog source {source}: {reason}")


# --------------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------------


class CatalogSource(BaseModel):
    """Where a seller's catalog comes from: :class:`FileSource`, :class:`S3Source` or :class:`SqlSource`.

    Build one with :meth:`parse` from what the pipeline config holds (a string or a mapping).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def parse(
        cls,
        value: CatalogSource | str | os.PathLike[str] | Mapping[str, Any],
        *,
        base_dir: str | Path | None = None,
    ) -> FileSource | S3Source | SqlSource:
        """Parse a URI, path or mapping; a relative local path is resolved against ``base_dir`` (default: cwd).

        Strings: ``s3://bucket/key-or-glob``, ``file:///abs/path``, or a plain (glob) path. Mappings have a
        ``kind`` (``file`` with ``path``, ``s3`` with ``uri``, ``sql`` with ``conn_id`` and ``query``); without
        one, ``query`` means sql and ``path``/``uri`` are read like a string.
        """
        if isinstance(value, FileSource | S3Source | SqlSource):
            return value
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        if isinstance(value, str | os.PathLike):
            data: dict[str, Any] = _location_fields(os.fspath(value), base)
        elif isinstance(value, Mapping):
            data = dict(value)
            if "kind" not in data:
                if "query" in data:
                    data["kind"] = "sql"
                else:
                    loc = data.pop("path", None) or data.pop("uri", None)
                    if not isinstance(loc, str):
                        raise ValueError(
                            "catalog source mapping needs a 'kind', a 'path' or 'uri', or a 'query'"
                        )
                    data.update(_location_fields(loc, base))
            elif data["kind"] == "file" and isinstance(data.get("path"), str):
                data.update(_location_fields(data["path"], base))
                if data["kind"] != "file":
                    raise ValueError(f"catalog source of kind 'file' has a non-file path {data['path']!r}")
        else:
            raise TypeError(f"a catalog source is a string or a mapping, not {type(value).__name__}")
        try:
            return _source_adapter().validate_python(data)
        except ValidationError as err:
            raise ValueError(_redact(f"invalid catalog source: {_validation_summary(err)}", ())) from None

    def describe(self) -> str:
        """A short, secret-free name for logs, errors and the snapshot."""
        raise NotImplementedError


class _FileOptions(CatalogSource):
    format: Format | None = Field(default=None, description="csv or parquet; default: from the extension")
    delimiter: str | None = Field(
        default=None, min_length=1, max_length=1, description="CSV; default , (tab for .tsv)"
    )
    encoding: str = Field(default="utf-8-sig", description="CSV text encoding; utf-8-sig also reads a BOM")

    @field_validator("format", mode="before")
    @classmethod
    def _format_alias(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.lower().lstrip(".")
            return {"csv.gz": "csv", "tsv": "csv", "tsv.gz": "csv", "pq": "parquet"}.get(value, value)
        return value


class FileSource(_FileOptions):
    """A local file or glob (``**`` recurses); ``path`` is absolute once parsed."""

    kind: Literal["file"] = "file"
    path: str = Field(min_length=1)

    def describe(self) -> str:
        return self.path


class S3Source(_FileOptions):
    """An S3 object or glob (``s3://bucket/prefix/*.csv``; ``*`` also matches ``/``), through S3Hook."""

    kind: Literal["s3"] = "s3"
    uri: str
    aws_conn_id: str | None = "aws_default"

    @field_validator("uri")
    @classmethod
    def _s3_uri(cls, value: str) -> str:
        bucket, _, key = value.removeprefix("s3://").partition("/")
        if not value.startswith("s3://") or not bucket or not key:
            raise ValueError(f"expected s3://bucket/key, got {_redact(value, ())!r}")
        return value

    @property
    def bucket(self) -> str:
        return self.uri.removeprefix("s3://").partition("/")[0]

    @property
    def key(self) -> str:
        """The key or key glob (split by hand: ``?`` and ``#`` are glob and key characters, not URL parts)."""
        return self.uri.removeprefix("s3://").partition("/")[2]

    def describe(self) -> str:
        return self.uri


class SqlSource(CatalogSource):
    """A query through an Airflow connection.

    The query binds ``:seller_id``, ``:marketplace_id`` and ``:run_id`` (``%(seller_id)s`` also works),
    plus ``parameters``; values are always bound by the driver, never formatted into the SQL.
    """

    kind: Literal["sql"] = "sql"
    conn_id: str = Field(min_length=1)
    query: str = Field(min_length=1)
    parameters: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _not_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(set(value) & {"seller_id", "marketplace_id", "run_id"})
        if reserved:
            raise ValueError(f"parameters {reserved} are set by the pipeline")
        return value

    def describe(self) -> str:
        return f"sql query on connection {self.conn_id!r}"


AnySource = Annotated[FileSource | S3Source | SqlSource, Field(discriminator="kind")]

_ADAPTER: TypeAdapter[FileSource | S3Source | SqlSource] | None = None


def _source_adapter() -> TypeAdapter[FileSource | S3Source | SqlSource]:
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(AnySource)
    return _ADAPTER


def _location_fields(location: str, base: Path) -> dict[str, Any]:
    if location.startswith("s3://"):
        return {"kind": "s3", "uri": location}
    if location.startswith("file://"):
        parsed = urlparse(location)
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"file URI {_redact(location, ())!r} names a remote host")
        return {"kind": "file", "path": unquote(parsed.path)}
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", location):
        raise ValueError(
            f"unsupported catalog URI scheme in {_redact(location, ())!r}: use a path, file://, s3:// or kind: sql"
        )
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = base / path
    return {"kind": "file", "path": os.path.normpath(path)}


def _validation_summary(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'source'}: {e['msg']}" for e in err.errors())


# --------------------------------------------------------------------------------------------------
# Scope and rejected records
# --------------------------------------------------------------------------------------------------


class CatalogScope(BaseModel):
    """Which rows of a possibly shared catalog belong to the branch being extracted.

    Every branch reads the whole source, so each must reach the same verdict on every row: this
    branch's, another configured branch's (skipped), or a defect that belongs to no branch. That needs
    the whole configuration (``served``), not only this run's branches: a row of a seller left out of a
    manual run is still someone's row, not a defect.

    :param seller_id: the branch's seller.
    :param marketplace_id: the branch's marketplace.
    :param served: every configured seller that reads this same catalog source -> its marketplaces.
    :param claims_defects: exactly one branch per catalog source is chosen by the caller to write the
        rows that belong to no branch to its ``rejected.jsonl``, so each is recorded once, not once per
        branch; the others skip them (and still count them, so ``clean`` is the same everywhere).
    :param all_marketplaces: the seller's config says its catalog has *no* ``marketplace_id`` column and
        every row serves each of its marketplaces. Without it such a catalog is refused: guessing
        "all" is how a US row got published to Canada and Germany.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seller_id: str = Field(min_length=1)
    marketplace_id: str = Field(min_length=1)
    served: dict[str, frozenset[str]]
    claims_defects: bool
    all_marketplaces: bool = False

    @model_validator(mode="after")
    def _branch_is_served(self) -> CatalogScope:
        # a branch outside ``served`` would classify its own rows as defects and reject them all
        if self.marketplace_id not in self.served.get(self.seller_id, frozenset()):
            raise ValueError(
                f"served must include the branch itself: seller {self.seller_id!r} "
                f"with marketplace {self.marketplace_id!r}"
            )
        return self


class RejectedRecord(BaseModel):
    """One line of ``rejected.jsonl``: a source row that reached no snapshot, and why.

    :param source_file: as ``_source_file`` names it (path, ``s3://`` URI or ``sql:<conn_id>``).
    :param source_line: for CSV the 1-based line on which the record starts; for Parquet and SQL the
        1-based row number.
    :param sku: the stripped ``sku`` cell when the record could be read that far, else None; invalid
        bytes and NUL appear as ``\\xNN`` escapes.
    :param column_name: the column at fault, None when the fault lies outside the header's columns.
    :param value: the offending value, at most :data:`VALUE_PREVIEW` characters; invalid bytes and
        NUL appear as ``\\xNN`` escapes.
    :param reason: for a person: the line, the SKU (or "row without SKU"), the column and what is wrong.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_file: str
    source_line: int
    sku: str | None
    column_name: str | None
    value: str | None
    rule: RejectRule
    reason: str


# --------------------------------------------------------------------------------------------------
# The snapshot
# --------------------------------------------------------------------------------------------------


class Snapshot(BaseModel):
    """What :func:`extract_snapshot` wrote; JSON-serialisable (``model_dump(mode="json")``) for XCom.

    Every row read is accounted for, per extraction and for the whole source::

        rows_read == row_count + skipped_rows + defect_rows

    and every branch that reads the same source computes the same ``skipped_rows + row_count`` sum,
    ``defect_rows`` and ``clean``; only the claiming branch has ``rejected_rows == defect_rows``.

    :param path: the Parquet file.
    :param row_count: rows kept (for this seller and marketplace).
    :param rows_read: data records read from the source (not blank lines, not the header).
    :param skipped_rows: rows that belong to another configured seller or marketplace.
    :param defect_rows: rows that belong to no branch (empty, unknown or unserved seller / marketplace)
        plus records that could not be read (malformed, bad bytes, extra fields, oversized field).
    :param rejected_rows: the defect rows this branch wrote to ``rejected_path`` (0 unless it claims).
    :param rejected_path: ``rejected.jsonl`` (one :class:`RejectedRecord` per line) when this branch
        claims defects, else None.
    :param clean: the whole source was read with no defect row at all. Downstream, a SKU may only be
        deleted when this is true: an unreadable or misfiled row must never look like a removed SKU.
    :param seller_skus_path: every distinct stripped SKU of any row of this seller (any marketplace,
        including defect rows whose SKU could be read), sorted by code point, one per ``\\n``-ended
        line; SKUs with a line break or undecodable bytes are left out (no Amazon SKU has them). A SKU
        listed here that is not in this branch's snapshot has moved, not gone.
    :param source: the source, as :meth:`CatalogSource.describe` names it (no secrets).
    :param source_files: the files read (paths or ``s3://`` URIs), or ``sql:<conn_id>``.
    :param sha256: of the Parquet file's bytes; the same input gives the same hash.
    :param columns: the snapshot's columns in order, ending with ``_source_file`` and ``_source_row``.
    :param missing_columns: requested ``columns`` that no source file has (written as all-null).
    """

    model_config = ConfigDict(frozen=True)

    path: str
    seller_id: str
    marketplace_id: str
    run_id: str
    source: str
    source_files: list[str]
    row_count: int
    rows_read: int
    skipped_rows: int = 0
    defect_rows: int = 0
    rejected_rows: int = 0
    rejected_path: str | None = None
    clean: bool
    seller_skus_path: str
    sha256: str
    size_bytes: int
    columns: list[str]
    missing_columns: list[str] = Field(default_factory=list)


def snapshot_path(out_dir: str | Path, run_id: str, seller_id: str, marketplace_id: str) -> Path:
    """``<out_dir>/<run_id>/<seller_id>/<marketplace_id>/catalog.parquet`` with each part made path-safe."""
    return (
        Path(out_dir) / safe_part(run_id) / safe_part(seller_id) / safe_part(marketplace_id) / SNAPSHOT_NAME
    )


# --------------------------------------------------------------------------------------------------
# extract_snapshot
# --------------------------------------------------------------------------------------------------


def extract_snapshot(
    source: CatalogSource | str | os.PathLike[str] | Mapping[str, Any],
    out_dir: str | Path,
    *,
    seller_id: str,
    marketplace_id: str,
    run_id: str,
    columns: Sequence[str] | None = None,
    chunk_rows: int = 20_000,
    base_dir: str | Path | None = None,
    scope: CatalogScope | None = None,
) -> Snapshot:
    """Read ``source`` in chunks and write the rows of one seller and marketplace to a Parquet snapshot.

    Next to it go ``seller_skus.txt`` and, when the branch claims defects, ``rejected.jsonl`` (see
    :class:`Snapshot`); all three are replaced together at the end, so a failed extract leaves an
    earlier attempt's files as they were.

    :param columns: keep only these columns (``sku`` always), in this order; a requested column that the
        source lacks is written as all-null and listed in ``Snapshot.missing_columns``. Default: all
        columns of all files, in order of first appearance.
    :param chunk_rows: rows read, held and written at a time (a Parquet row group); bounds memory:
        20,000 rows of the sample catalog's width cost about 200 MiB.
    :param base_dir: for a relative local path in ``source``.
    :param scope: who else reads this catalog and whether this branch records the defects; by default
        the catalog is this branch's alone and it claims them.
    :raises ExtractError: nothing matched, a file cannot be read or has no ``sku`` column (or no
        ``marketplace_id`` column without ``scope.all_marketplaces``), the connection does not exist or
        the query fails. No new file is left behind then.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    scope = _branch_scope(scope, seller_id, marketplace_id)
    try:
        src = CatalogSource.parse(source, base_dir=base_dir)
    except (ValueError, TypeError) as err:
        raise ExtractError(_describe_raw(source), _redact(str(err), ())) from None
    target = snapshot_path(out_dir, run_id, seller_id, marketplace_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    ctx = _Context(seller_id=seller_id, marketplace_id=marketplace_id, run_id=run_id, chunk_rows=chunk_rows)
    snapshot = _extract(src, scope, target, ctx, columns)
    _log_outcome(snapshot)
    return snapshot


def _branch_scope(scope: CatalogScope | None, seller_id: str, marketplace_id: str) -> CatalogScope:
    """The scope to sort rows by. Without one the catalog is this branch's alone, so the branch must
    record its defects itself; a scope for another branch would file this branch's rows wrongly."""
    if scope is None:
        return CatalogScope(
            seller_id=seller_id,
            marketplace_id=marketplace_id,
            served={seller_id: frozenset({marketplace_id})},
            claims_defects=True,
        )
    if (scope.seller_id, scope.marketplace_id) != (seller_id, marketplace_id):
        raise ValueError(
            f"scope is for seller {scope.seller_id!r}, marketplace {scope.marketplace_id!r}, "
            f"not {seller_id!r}, {marketplace_id!r}"
        )
    return scope


def _extract(
    src: FileSource | S3Source | SqlSource,
    scope: CatalogScope,
    target: Path,
    ctx: _Context,
    columns: Sequence[str] | None,
) -> Snapshot:
    """Every header is read and every file's scoping checked before a row is written, so a source that
    cannot be extracted fails before any work; the files are only replaced once all rows are in."""
    with ExitStack() as stack:
        # scratch space (S3 downloads, SKU runs) sits next to the snapshot: same disk, not a RAM-backed /tmp
        scratch = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix=".extract-", dir=target.parent))
        )
        inputs = _open_inputs(src, ctx, stack, scratch)
        headers = [inp.header() for inp in inputs]
        scopers = [_Scoper(scope, inp.columns, inp.label) for inp in inputs]
        out_columns, missing = _output_columns(headers, columns)
        if missing:
            log.warning("catalog %s has no column(s) %s; they are written as null", src.describe(), missing)
        out = _Outputs.open(stack, target, out_columns, claims_defects=scope.claims_defects, ctx=ctx)
        skus = _SkuSpool(scratch / "skus", run_size=max(ctx.chunk_rows, 50_000))
        for inp, scoper in zip(inputs, scopers, strict=True):
            _copy_rows(inp, scoper, out, skus, ctx)
        sha256, size = out.install_together(stack, skus)
    return Snapshot(
        path=str(target),
        seller_id=ctx.seller_id,
        marketplace_id=ctx.marketplace_id,
        run_id=ctx.run_id,
        source=src.describe(),
        source_files=[inp.label for inp in inputs],
        row_count=out.writer.rows_written,
        rows_read=ctx.rows_read,
        skipped_rows=sum(s.skipped for s in scopers),
        defect_rows=ctx.defect_rows,
        rejected_rows=ctx.defect_rows if out.rejected is not None else 0,
        rejected_path=str(out.rejected_target) if out.rejected is not None else None,
        clean=ctx.defect_rows == 0,
        seller_skus_path=str(out.skus_target),
        sha256=sha256,
        size_bytes=size,
        columns=[*out_columns, SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN],
        missing_columns=missing,
    )


def _open_inputs(
    src: FileSource | S3Source | SqlSource, ctx: _Context, stack: ExitStack, scratch: Path
) -> list[_Input]:
    """One input per file the source names (a query is one input); S3 objects are downloaded into
    ``scratch`` first, and a query's connection stays open on ``stack`` until the extract ends."""
    if isinstance(src, SqlSource):
        return [stack.enter_context(_SqlInput(src, ctx))]
    if isinstance(src, S3Source):
        (scratch / "s3").mkdir()
        return [_FileInput(f, src, ctx.chunk_rows) for f in _resolve_files(src, scratch / "s3")]
    return [_FileInput(f, src, ctx.chunk_rows) for f in _local_files(src)]


@dataclass
class _Outputs:
    """The snapshot and its sidecars, written to temporary names and replaced together, so that
    downstream never pairs a snapshot with another attempt's SKU list or rejected records."""

    writer: _AtomicParquetWriter
    rejected: _AtomicTextFile | None  # only the branch that claims defects records them
    rejected_target: Path
    skus_target: Path

    @classmethod
    def open(
        cls, stack: ExitStack, target: Path, columns: list[str], *, claims_defects: bool, ctx: _Context
    ) -> _Outputs:
        rejected_target = target.with_name(REJECTED_NAME)
        rejected = stack.enter_context(_AtomicTextFile(rejected_target)) if claims_defects else None
        writer = stack.enter_context(_AtomicParquetWriter(target, columns, flush_rows=ctx.chunk_rows))
        return cls(writer, rejected, rejected_target, target.with_name(SELLER_SKUS_NAME))

    def install_together(self, stack: ExitStack, skus: _SkuSpool) -> tuple[str, int]:
        """Seal everything before installing anything, and install the snapshot last: it is what
        downstream looks for, so its sidecars must already be there. Returns the snapshot's
        (sha256, size in bytes)."""
        sha256, size = self.writer.seal()
        skus_file = stack.enter_context(_AtomicTextFile(self.skus_target))
        skus.write_to(skus_file)
        skus_file.seal()
        if self.rejected is not None:
            self.rejected.seal()
        skus_file.install()
        if self.rejected is not None:
            self.rejected.install()
        else:  # an earlier attempt's file would be taken for this one's
            self.rejected_target.unlink(missing_ok=True)
        self.writer.install()
        return sha256, size


def _copy_rows(inp: _Input, scoper: _Scoper, out: _Outputs, skus: _SkuSpool, ctx: _Context) -> None:
    """Chunk by chunk, so a million-row source never sits in memory; the rejected records of a chunk
    are written in line order, whether csv set them aside or the scope did."""
    for chunk in inp.chunks():
        ctx.rows_read += len(chunk.rows) + len(chunk.bad)
        kept_nos, kept, defects = scoper.apply(chunk, skus)
        out.writer.add(inp.label, inp.columns, kept_nos, kept)
        bad = sorted([*chunk.bad, *defects], key=lambda b: b.line) if chunk.bad else defects
        ctx.defect_rows += len(bad)
        if out.rejected is not None:
            for record in bad:
                out.rejected.write_line(record.rejected(inp.label, inp.unit).model_dump_json())


def _log_outcome(snapshot: Snapshot) -> None:
    """One line per extract for the run's log, plus warnings for what a person should look at: a
    source that is not clean (no SKU of it is deleted) or that has nothing for this branch."""
    log.info(
        "catalog %s -> %s: %d of %d rows for seller %s, marketplace %s (%d for other branches, %d defect "
        "rows%s), from %d file(s)",
        snapshot.source,
        snapshot.path,
        snapshot.row_count,
        snapshot.rows_read,
        snapshot.seller_id,
        snapshot.marketplace_id,
        snapshot.skipped_rows,
        snapshot.defect_rows,
        f" recorded in {snapshot.rejected_path}"
        if snapshot.rejected_path is not None
        else ", recorded by the claiming branch",
        len(snapshot.source_files),
    )
    if snapshot.defect_rows:
        log.warning(
            "catalog %s is not clean: %d row(s) reached no branch; no SKU of it may be deleted this run",
            snapshot.source,
            snapshot.defect_rows,
        )
    if snapshot.row_count == 0:
        log.warning(
            "catalog %s has no rows for seller %s, marketplace %s",
            snapshot.source,
            snapshot.seller_id,
            snapshot.marketplace_id,
        )


def _describe_raw(source: object) -> str:
    if isinstance(source, CatalogSource):
        return source.describe()
    if isinstance(source, Mapping):
        if source.get("conn_id"):
            return f"sql query on connection {source['conn_id']!r}"
        return _redact(str(source.get("path") or source.get("uri") or "<mapping>"), ())
    return _redact(str(source), ())


@dataclass
class _Context:
    seller_id: str
    marketplace_id: str
    run_id: str
    chunk_rows: int
    rows_read: int = 0
    defect_rows: int = 0


def _output_columns(
    headers: Sequence[Sequence[str]], requested: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    seen: dict[str, None] = {}
    for header in headers:
        seen.update(dict.fromkeys(header))
    if requested is None:
        return list(seen), []
    wanted = list(dict.fromkeys([SKU_COLUMN, *requested]))
    reserved = [c for c in wanted if c in (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN)]
    if reserved:
        raise ValueError(f"columns {reserved} are added by the extract; do not request them")
    return wanted, [c for c in wanted if c not in seen]


# --------------------------------------------------------------------------------------------------
# Scoping rows, setting records aside
# --------------------------------------------------------------------------------------------------

# undecodable bytes, as errors="surrogateescape" turns them into text
_BAD_BYTES = re.compile("[\udc80-\udcff]")
# what no SKU can hold: a line break (seller_skus.txt is one SKU a line) or an undecodable byte
_NOT_A_SKU = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029\ud800-\udfff]")


class _DecodeErrors:
    """How many undecodable byte runs any CSV read so far met: ``surrogateescape`` that also counts.

    Only a line decoded after the count moved can hold a surrogate, so a reader searches its lines
    for them only from then on (a search per line was a twentieth of a million-row extract). The
    count is shared by every file read in the process: another file's bad bytes only make a reader
    search more, never less."""

    seen = 0

    @classmethod
    def escape(cls, err: UnicodeError) -> tuple[str | bytes, int]:
        cls.seen += 1
        return codecs.lookup_error("surrogateescape")(err)


_ESCAPE_BAD_BYTES = "listings-pipeline-surrogateescape"
codecs.register_error(_ESCAPE_BAD_BYTES, _DecodeErrors.escape)


@dataclass
class _BadRecord:
    """A source record that reached no snapshot; the claiming branch writes it as a RejectedRecord."""

    line: int
    rule: RejectRule
    column: str | None  # RejectedRecord.column_name
    where: str  # the place as the reason names it: "column 'title'", "field 5, past the header's 4 columns"
    value: str | None
    sku: str | None
    seller: str | None  # the seller cell when it could be read: whose SKU this may be
    detail: str

    def rejected(self, label: str, unit: str) -> RejectedRecord:
        who = f"SKU {self.sku!r}" if self.sku else "row without SKU"
        return RejectedRecord(
            source_file=label,
            source_line=self.line,
            sku=_printable(self.sku) if self.sku else None,
            column_name=self.column,
            value=_preview(self.value),
            rule=self.rule,
            reason=_printable(f"{unit} {self.line}, {who}, {self.where}: {self.detail}"),
        )


@dataclass
class _Chunk:
    """Rows read at a time: the readable ones with their line numbers, and those set aside."""

    line_nos: list[int] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    bad: list[_BadRecord] = field(default_factory=list)


def _printable(text: str) -> str:
    """Undecodable bytes as ``\\xNN`` escapes: JSON (and a person) cannot take lone surrogates; and
    NUL as ``\\x00``: PostgreSQL refuses it in text, and one such cell would fail the insert of every
    rejected record of the file, and with it the branch."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if _BAD_BYTES.search(text) is None:
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _preview(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > VALUE_PREVIEW:
        value = value[:VALUE_PREVIEW] + "..."
    return _printable(value)


def _resembles(value: str, candidates: Mapping[str, str]) -> str:
    """``; did you mean ...`` for the candidate (id -> how to show it) closest to a mistyped id, or ''."""
    by_upper = {c.upper(): c for c in candidates}
    wanted = value.upper()
    if wanted in by_upper:
        return f"; did you mean {candidates[by_upper[wanted]]}? (ids are case-sensitive)"
    close = difflib.get_close_matches(wanted, list(by_upper), n=1, cutoff=0.75)
    return f"; did you mean {candidates[by_upper[close[0]]]}?" if close else ""


def _marketplace_name(marketplace_id: str) -> str:
    country = MARKETPLACES.get(marketplace_id)
    return f"{marketplace_id!r} ({country[0]})" if country else repr(marketplace_id)


_KEEP, _SKIP, _DEFECT = 0, 1, 2


class _Verdict(NamedTuple):
    """What a (seller cell, marketplace cell) pair means for the branch; many rows share one."""

    action: int  # _KEEP, _SKIP or _DEFECT
    ours: bool  # the row is, or may be, this seller's: its SKU goes to seller_skus
    rule: RejectRule | None = None
    column: str | None = None
    detail: str = ""


class _Scoper:
    """Sorts one input's rows into this branch's, other branches' and defects (:class:`CatalogScope`).

    The verdict depends only on the two cells and the scope, so it is computed once per distinct pair.
    """

    _CACHE_LIMIT = 10_000  # distinct pairs; only a file full of garbage ids gets near it

    def __init__(self, scope: CatalogScope, header: Sequence[str], label: str) -> None:
        self.scope = scope
        self.sku_at = header.index(SKU_COLUMN)
        self.seller_at = header.index(SELLER_COLUMN) if SELLER_COLUMN in header else -1
        self.market_at = header.index(MARKETPLACE_COLUMN) if MARKETPLACE_COLUMN in header else -1
        self.skipped = 0
        self._cache: dict[tuple[Cell, Cell], _Verdict] = {}
        if self.market_at < 0 and not scope.all_marketplaces:
            own = ", ".join(sorted(scope.served[scope.seller_id]))
            raise ExtractError(
                label,
                f"the catalog has no '{MARKETPLACE_COLUMN}' column, so no row says which marketplace it is "
                f"for; add the column, or set catalog_all_marketplaces: true in seller {scope.seller_id}'s "
                f"config to let each row serve all of its marketplaces ({own})",
            )

    def apply(self, chunk: _Chunk, skus: _SkuSpool) -> tuple[list[int], list[list[Cell]], list[_BadRecord]]:
        """This branch's rows of the chunk, and its defect rows; counts the rest as skipped."""
        mine = {bad.sku for bad in chunk.bad if bad.sku and self.may_be_ours(bad.seller)}
        i, j, k = self.seller_at, self.market_at, self.sku_at
        kept_nos: list[int] = []
        kept: list[list[Cell]] = []
        defects: list[_BadRecord] = []
        cache = self._cache
        for no, row in zip(chunk.line_nos, chunk.rows, strict=True):
            key = (row[i] if i >= 0 else None, row[j] if j >= 0 else None)
            verdict = cache.get(key)
            if verdict is None:
                if len(cache) >= self._CACHE_LIMIT:
                    cache.clear()
                verdict = cache[key] = self._judge(*key)
            sku = row[k]
            if sku:
                sku = sku.strip()
            if verdict.ours and sku:
                mine.add(sku)
            if verdict.action == _KEEP:
                kept_nos.append(no)
                kept.append(row)
            elif verdict.action == _SKIP:
                self.skipped += 1
            else:
                assert verdict.rule is not None and verdict.column is not None
                defects.append(
                    _BadRecord(
                        line=no,
                        rule=verdict.rule,
                        column=verdict.column,
                        where=f"column {verdict.column!r}",
                        value=key[0] if verdict.column == SELLER_COLUMN else key[1],
                        sku=sku or None,
                        seller=key[0],
                        detail=verdict.detail,
                    )
                )
        skus.update(mine)
        return kept_nos, kept, defects

    def may_be_ours(self, seller_cell: Cell) -> bool:
        """Whether a record whose seller cell reads so could be this seller's (unreadable: it could)."""
        if self.seller_at < 0 or seller_cell is None:
            return True
        seller = seller_cell.strip()
        return seller == self.scope.seller_id or seller not in self.scope.served

    def _judge(self, seller_cell: Cell, market_cell: Cell) -> _Verdict:
        scope = self.scope
        configured = ", ".join(sorted(scope.served))
        if self.seller_at >= 0:
            seller = (seller_cell or "").strip()
            if not seller:
                return _Verdict(
                    _DEFECT,
                    True,
                    "extract.seller_id_missing",
                    SELLER_COLUMN,
                    "empty; a row must name its seller (an empty cell never means every seller; "
                    f"this catalog is read for {configured})",
                )
            if seller not in scope.served:
                hint = _resembles(seller, {s: repr(s) for s in scope.served})
                return _Verdict(
                    _DEFECT,
                    True,
                    "extract.seller_unknown",
                    SELLER_COLUMN,
                    f"{seller!r} is not a seller configured for this catalog (configured: {configured}){hint}",
                )
            sellers = [seller]
        else:
            sellers = list(scope.served)
        if self.market_at < 0:  # scope.all_marketplaces: every row serves each of the seller's marketplaces
            ours = scope.seller_id in sellers
            return _Verdict(_KEEP if ours else _SKIP, ours)
        # a defect of a row that names another seller is still recorded, but its SKU is not ours
        ours = self.seller_at < 0 or sellers == [scope.seller_id]
        market = (market_cell or "").strip()
        if not market:
            return _Verdict(
                _DEFECT,
                ours,
                "extract.marketplace_missing",
                MARKETPLACE_COLUMN,
                "empty; a row must name its marketplace (an empty cell never means every marketplace)",
            )
        if market not in MARKETPLACES:
            hint = _resembles(market, {m: _marketplace_name(m) for m in MARKETPLACES})
            return _Verdict(
                _DEFECT,
                ours,
                "extract.marketplace_unknown",
                MARKETPLACE_COLUMN,
                f"{market!r} is not an Amazon marketplace id{hint}",
            )
        serving = [s for s in sellers if market in scope.served[s]]
        if not serving:
            if self.seller_at >= 0:
                whom = f"seller {sellers[0]}"
                offered = ", ".join(_marketplace_name(m) for m in sorted(scope.served[sellers[0]]))
            else:
                whom = "any seller that reads this catalog"
                offered = ", ".join(_marketplace_name(m) for m in sorted(set().union(*scope.served.values())))
            return _Verdict(
                _DEFECT,
                ours,
                "extract.marketplace_not_served",
                MARKETPLACE_COLUMN,
                f"marketplace {_marketplace_name(market)} is not configured for {whom} "
                f"(configured: {offered})",
            )
        mine = scope.seller_id in serving
        if mine and market == scope.marketplace_id:
            return _Verdict(_KEEP, True)
        return _Verdict(_SKIP, mine)


class _SkuSpool:
    """Distinct SKUs in bounded memory: sorted runs spill to ``scratch`` and are merged at the end.

    A million-row catalog has a million SKUs; held in one set they would dwarf the chunked read.
    """

    _MAX_RUNS = 64  # merged into one when reached, so the final merge never opens too many files

    def __init__(self, scratch: Path, *, run_size: int) -> None:
        self.scratch = scratch
        self.run_size = run_size
        self._pending: set[str] = set()
        self._runs: list[Path] = []

    def update(self, skus: Iterable[str]) -> None:
        self._pending.update(skus)
        if len(self._pending) >= self.run_size:
            self._spill()

    def _spill(self) -> None:
        self.scratch.mkdir(exist_ok=True)
        path = self.scratch / f"run-{uuid.uuid4().hex}"
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.writelines(sku + "\n" for sku in _writable(sorted(self._pending)))
        self._pending = set()
        self._runs.append(path)
        if len(self._runs) >= self._MAX_RUNS:
            merged = self.scratch / f"run-{uuid.uuid4().hex}"
            with open(merged, "w", encoding="utf-8", newline="\n") as fh:
                fh.writelines(sku + "\n" for sku in self._merged([]))
            for run in self._runs:
                run.unlink()
            self._runs = [merged]

    def _merged(self, last: list[str]) -> Iterator[str]:
        with ExitStack() as stack:
            streams: list[Iterable[str]] = [
                (line[:-1] for line in stack.enter_context(open(p, encoding="utf-8", newline="\n")))
                for p in self._runs
            ]
            previous = None
            for sku in heapq.merge(*streams, last):
                if sku != previous:
                    yield sku
                    previous = sku

    def write_to(self, out: _AtomicTextFile) -> None:
        last = _writable(sorted(self._pending))
        out.write_lines(self._merged(last))


def _writable(skus: list[str]) -> list[str]:
    """The SKUs that can be written one a line: searched all at once first, since one of them
    only rarely holds a line break or a bad byte."""
    if _NOT_A_SKU.search("".join(skus)) is None:
        return skus
    return [sku for sku in skus if _NOT_A_SKU.search(sku) is None]


# --------------------------------------------------------------------------------------------------
# Inputs: each has a label (its _source_file), a header, and chunks of rows
# --------------------------------------------------------------------------------------------------


class _Input:
    label: str
    columns: list[str]
    unit: str = "row"  # how a reason names a record's place: a CSV "line", a Parquet or SQL "row"

    def header(self) -> list[str]:
        raise NotImplementedError

    def chunks(self) -> Iterator[_Chunk]:
        raise NotImplementedError


def _check_header(names: Sequence[str], label: str) -> list[str]:
    header = [name.strip() for name in names]
    header = [name or f"_unnamed_{i}" for i, name in enumerate(header, start=1)]
    dupes = sorted({n for n in header if header.count(n) > 1})
    if dupes:
        raise ExtractError(label, f"duplicate column name(s) {dupes}")
    reserved = [n for n in header if n in (SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN)]
    if reserved:
        raise ExtractError(label, f"column name(s) {reserved} are reserved for the extract")
    if SKU_COLUMN not in header:
        shown = ", ".join(header[:20]) + (", ..." if len(header) > 20 else "")
        raise ExtractError(label, f"no '{SKU_COLUMN}' column (columns: {shown or 'none'})")
    return header


@dataclass
class _LocalFile:
    path: Path  # where it is readable now
    label: str  # what _source_file says: the local path or the s3:// URI


def _local_files(src: FileSource) -> list[_LocalFile]:
    pattern = src.path
    if _GLOB_MAGIC.search(pattern):
        matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            raise ExtractError(src.describe(), "the glob matched no files")
        return [_LocalFile(Path(p), p) for p in matches]
    path = Path(pattern)
    if path.is_dir():
        raise ExtractError(src.describe(), "is a directory; use a glob such as <dir>/*.csv")
    if not path.exists():
        raise ExtractError(src.describe(), "file does not exist")
    return [_LocalFile(path, pattern)]


def _resolve_files(src: S3Source, scratch: Path) -> list[_LocalFile]:
    """List the S3 keys the URI matches and download them into ``scratch``."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, key = src.bucket, src.key
    try:
        hook = S3Hook(aws_conn_id=src.aws_conn_id)
        magic = _GLOB_MAGIC.search(key)
        if magic:
            prefix = key[: magic.start()]
            listed = hook.list_keys(bucket_name=bucket, prefix=prefix) or []
            keys = sorted(k for k in listed if not k.endswith("/") and fnmatch.fnmatchcase(k, key))
            if not keys:
                raise ExtractError(src.describe(), "the glob matched no S3 objects")
        else:
            keys = [key]
        files = []
        for i, k in enumerate(keys):
            folder = scratch / f"{i:05d}"
            folder.mkdir()
            local = hook.download_file(
                key=k,
                bucket_name=bucket,
                local_path=str(folder),
                preserve_file_name=True,
                use_autogenerated_subdir=False,
            )
            files.append(_LocalFile(Path(local), f"s3://{bucket}/{k}"))
    except ExtractError:
        raise
    except Exception as err:
        raise ExtractError(src.describe(), f"cannot read from S3: {_reason(err)}") from None
    return files


def _file_format(src: _FileOptions, name: str, label: str) -> Format:
    if src.format is not None:
        return src.format
    lower = name.lower()
    if lower.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(_CSV_SUFFIXES):
        return "csv"
    raise ExtractError(label, "cannot tell the format from the file name; set format: csv or parquet")


class _FileInput(_Input):
    def __init__(self, file: _LocalFile, src: _FileOptions, chunk_rows: int) -> None:
        self.file = file
        self.label = file.label
        self.src = src
        self.chunk_rows = chunk_rows
        self.format = _file_format(src, file.label.rsplit("/", 1)[-1], file.label)
        self.unit = "line" if self.format == "csv" else "row"
        self.columns = []

    def header(self) -> list[str]:
        try:
            if self.format == "parquet":
                names = _arrow()[1].read_schema(self.file.path).names
            else:
                first = next(self._csv_records(None, chunk_rows=1), None)
                if first is not None and first.bad:
                    raise ExtractError(
                        self.label,
                        f"line {first.bad[0].line}: the header cannot be read: {_printable(first.bad[0].detail)}",
                    )
                names = [str(v) for v in first.rows[0]] if first is not None else []
        except ExtractError:
            raise
        except Exception as err:
            raise ExtractError(self.label, f"cannot read the {self.format} file: {_reason(err)}") from None
        self.columns = _check_header(names, self.label)
        return self.columns

    def chunks(self) -> Iterator[_Chunk]:
        reader = self._parquet_chunks if self.format == "parquet" else self._csv_chunks
        try:
            yield from reader()
        except ExtractError:
            raise
        except Exception as err:
            raise ExtractError(self.label, f"cannot read the {self.format} file: {_reason(err)}") from None

    def _delimiter(self) -> str:
        if self.src.delimiter:
            return self.src.delimiter
        return "\t" if self.label.lower().endswith((".tsv", ".tsv.gz")) else ","

    def _open_csv(self) -> IO[str]:
        """The file as text; a byte the encoding rejects becomes a lone surrogate instead of an error,
        so that only its record is rejected, and by line number rather than byte offset."""
        with open(self.file.path, "rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
        if gzipped:
            return gzip.open(
                self.file.path, "rt", encoding=self.src.encoding, errors=_ESCAPE_BAD_BYTES, newline=""
            )
        return open(self.file.path, encoding=self.src.encoding, errors=_ESCAPE_BAD_BYTES, newline="")

    def _csv_chunks(self) -> Iterator[_Chunk]:
        return self._csv_records(self.columns, chunk_rows=self.chunk_rows)

    def _csv_records(self, header: list[str] | None, *, chunk_rows: int) -> Iterator[_Chunk]:
        """The non-blank records in chunks: readable ones as rows, the others as _BadRecord.

        With ``header`` the first record (the header, which :meth:`header` read and checked) is left
        out and the others are fitted to its width: short ones padded, empty trailing fields dropped.
        Without, the first record is the header candidate.

        This loop runs once per record of a million-row file, so the usual record costs a few cheap
        tests here; whatever is unusual about one is looked at by the helpers only when a test fails.
        """
        _allow_csv_records()
        width = len(header) if header else 0
        header_pending = header is not None
        with self._open_csv() as fh:
            feed = _LineFeed(fh)
            reader = csv.reader(feed, delimiter=self._delimiter(), strict=True)
            chunk = _Chunk()
            nos, rows, bad = chunk.line_nos, chunk.rows, chunk.bad
            while True:
                if len(rows) + len(bad) >= chunk_rows:
                    yield chunk
                    chunk = _Chunk()
                    nos, rows, bad = chunk.line_nos, chunk.rows, chunk.bad
                start = feed.first_no = feed.next_no
                feed.lines = []
                feed.size = 0
                if feed.flagged:
                    feed.clear_flags()
                record: list[str] | None
                try:
                    record = next(reader)
                except StopIteration:
                    if not feed.lines:
                        break
                    record = None
                except csv.Error as err:
                    record = None
                    feed.error, feed.flagged = str(err), True
                # the structure first: a malformed record's later lines are read again, whatever they hold
                if feed.flagged or len(feed.lines) > 1:
                    broken = self._broken_structure(feed, record, header, width)
                    if broken is not None:
                        bad.append(broken)
                        continue
                assert record is not None  # a record csv could not finish is always broken
                if not record or (not record[0] and not any(record)):
                    continue  # a blank line, or only delimiters
                if feed.bad_bytes_line is not None:
                    bad.append(self._bad_bytes(feed, record, header))
                    continue
                if header_pending:
                    header_pending = False
                    continue
                if width and len(record) != width:
                    misfit = self._fit_to_width(start, record, header or [])
                    if misfit is not None:
                        bad.append(misfit)
                        continue
                if feed.size > FIELD_SIZE_LIMIT and header:
                    big = self._oversized_field(start, record, header)
                    if big is not None:
                        bad.append(big)
                        continue
                nos.append(start)
                rows.append(record)  # type: ignore[arg-type]  # list[str] is fine as list[str | None]
        if rows or bad:
            yield chunk

    # -- the records that cannot be read ---------------------------------------------------------------

    def _broken_structure(
        self, feed: _LineFeed, record: list[str] | None, header: list[str] | None, width: int
    ) -> _BadRecord | None:
        """A record cut off for its size, or one whose quoting went wrong (then its lines after the
        first are pushed back to be read again, so a stray quote costs one row, not the rows it
        swallowed); None for a sound record, which only a flag or a second line brought here."""
        if feed.cut == "size":
            return self._oversized_record(feed, header)
        if record is None or (
            len(feed.lines) > 1
            and width
            and (len(record) < width or any(record[width:]) or self._swallowed(feed, header))
        ):
            malformed = self._malformed(feed, record, header)
            feed.resync()
            return malformed
        return None

    def _fit_to_width(self, line: int, record: list[str], header: list[str]) -> _BadRecord | None:
        """Pad a short record and drop empty trailing fields in place, since spreadsheets write both
        freely; a non-empty field past the header is a value in the wrong place, so it is rejected."""
        width = len(header)
        if len(record) < width:
            record += [""] * (width - len(record))
        elif any(record[width:]):
            return self._extra_fields(line, record, header)
        else:
            del record[width:]  # trailing delimiters
        return None

    def _oversized_field(self, line: int, record: list[str], header: list[str]) -> _BadRecord | None:
        """The record's first field over :data:`FIELD_SIZE_LIMIT`, if any: csv's own limit is raised
        to the record limit (see :func:`_allow_csv_records`), so the per-field limit is checked here."""
        big = next((i for i, v in enumerate(record) if len(v) > FIELD_SIZE_LIMIT), None)
        if big is None:
            return None
        return self._bad(
            line,
            "extract.oversized_field",
            record,
            header,
            big,
            record[big],
            f"{len(record[big]):,} characters, over the limit of {FIELD_SIZE_LIMIT:,} for one field",
        )

    def _bad(
        self,
        line: int,
        rule: RejectRule,
        fields: Sequence[str],
        header: Sequence[str] | None,
        at: int | None,
        value: str | None,
        detail: str,
        *,
        complete: int | None = None,
    ) -> _BadRecord:
        """A _BadRecord whose SKU and seller come from ``fields`` (only the first ``complete`` of them
        when the rest could not be read), and whose place is field ``at`` (0-based)."""
        header = header or []
        usable = len(fields) if complete is None else complete

        def cell(name: str) -> str | None:
            if name in header and header.index(name) < usable:
                return fields[header.index(name)].strip() or None
            return None

        if at is None:
            column, where = None, "the whole record"
        elif at < len(header):
            column, where = header[at], f"column {header[at]!r}"
        elif header:
            column, where = None, f"field {at + 1}, past the header's {len(header)} columns"
        else:
            column, where = None, f"field {at + 1}"
        return _BadRecord(
            line=line,
            rule=rule,
            column=column,
            where=where,
            value=value,
            sku=cell(SKU_COLUMN),
            seller=cell(SELLER_COLUMN),
            detail=detail,
        )

    def _swallowed(self, feed: _LineFeed, header: list[str] | None) -> int | None:
        """The first line inside a multi-line value that is a record of its own, if one is.

        A stray quote that happens to close on a quote followed by a delimiter, at the column where it
        opened, leaves a record of the right width that has swallowed the lines between: csv cannot
        tell, but such a line parses alone to the header's width with a real marketplace id where the
        header has ``marketplace_id``, which a line of a description practically never does. Only
        multi-line records come here, so this costs nothing on the usual one-line record.
        """
        if not header or MARKETPLACE_COLUMN not in header:
            return None
        width, at = len(header), header.index(MARKETPLACE_COLUMN)
        delimiter = self._delimiter()
        # The closing line too, when the value opened past the first column: a real value's closing
        # line then holds fewer fields than the header, while a two-line swallow has no other line and
        # its closing line parses alone as the record it was. A value in the first column ends on a
        # line of full width either way, so there only the lines in between can tell.
        opened_at = len(_scan_line(feed.lines[0], delimiter)[0]) - 1
        inner = feed.lines[1:] if opened_at > 0 else feed.lines[1:-1]
        for offset, line in enumerate(inner, start=1):
            fields, state, _ = _scan_line(line, delimiter)
            if (
                state == "ok"
                and len(fields) >= width
                and not any(fields[width:])
                and fields[at].strip() in MARKETPLACES
            ):
                return feed.first_no + offset
        return None

    def _malformed(self, feed: _LineFeed, record: list[str] | None, header: list[str] | None) -> _BadRecord:
        first_no, first, error = feed.first_no, feed.lines[0], feed.error
        last_no = first_no + len(feed.lines) - 1
        fields, state, tail = _scan_line(first, self._delimiter())
        at = len(fields) - 1
        if feed.cut == "lines":
            detail = (
                f"a quoted field opened here is still open after {MAX_RECORD_LINES} lines "
                "(a stray quote, or a value with too many line breaks)"
            )
        elif record is None and feed.hit_end:
            detail = "a quoted field opened here is never closed: it runs to the end of the file"
        elif record is None and len(feed.lines) == 1:
            detail = (
                f"a quote ends the quoted value before the field does ({error}); "
                'a quote inside a quoted value must be doubled ("")'
            )
        elif record is None:
            detail = (
                f"a quoted field opened here is closed on line {last_no} by a quote that text follows "
                f"({error}): a stray quote swallowed the lines after it"
            )
        elif len(record) != len(header or ()):
            detail = (
                f"a quoted field opened here runs to line {last_no}, and the record has {len(record)} "
                f"fields where the header has {len(header or ())}: a stray quote swallowed the lines after it"
            )
        else:
            detail = (
                f"a quoted field opened here runs to line {last_no} and holds line "
                f"{self._swallowed(feed, header)}, which is a record of its own: a stray quote swallowed "
                "the lines after it"
            )
        if len(feed.lines) > 1:
            detail += f"; lines {first_no + 1}-{last_no} are read again as records of their own"
        state_ok = state == "ok"
        return self._bad(
            first_no,
            "extract.malformed_record",
            fields,
            header,
            None if state_ok else at,
            first if state_ok else tail,
            detail,
            complete=len(fields) if state_ok else at,
        )

    def _oversized_record(self, feed: _LineFeed, header: list[str] | None) -> _BadRecord:
        text = "".join(feed.lines)
        fields, _, tail = _scan_line(text, self._delimiter())
        size = feed.overlong + sum(len(line) for line in feed.lines[:-1]) if feed.overlong else feed.size
        return self._bad(
            feed.first_no,
            "extract.oversized_field",
            fields,
            header,
            len(fields) - 1,
            tail,
            f"the record runs to {size:,} characters, over the limit of {RECORD_SIZE_LIMIT:,} for a "
            f"record ({FIELD_SIZE_LIMIT:,} for one field); the field in this column is where it ran over",
            complete=len(fields) - 1,
        )

    def _bad_bytes(self, feed: _LineFeed, record: list[str], header: list[str] | None) -> _BadRecord:
        at = next((i for i, v in enumerate(record) if _BAD_BYTES.search(v)), None)
        value = record[at] if at is not None else None
        found = "".join(_BAD_BYTES.findall(value or ""))[:8]
        shown = bytes(ord(c) - 0xDC00 for c in found)
        where = f" on line {feed.bad_bytes_line}" if feed.bad_bytes_line != feed.first_no else ""
        return self._bad(
            feed.first_no,
            "extract.encoding",
            record,
            header,
            at,
            value,
            f"byte(s) {shown!r}{where} are not valid {self.src.encoding} text (if the file is in another "
            "encoding, set the catalog source's encoding, e.g. cp1252)",
        )

    def _extra_fields(self, line: int, record: list[str], header: list[str]) -> _BadRecord:
        width = len(header)
        extra = record[width:]
        at = width + next(i for i, v in enumerate(extra) if v)
        shown = [v for v in extra if v][:3]
        return self._bad(
            line,
            "extract.extra_fields",
            record,
            header,
            at,
            self._delimiter().join(extra),
            f"{len(record)} fields where the header has {width}: extra value(s) "
            f"{', '.join(repr(v) for v in shown)} (an unquoted {self._delimiter()!r} inside a value, "
            "or a shifted row)",
        )

    def _parquet_chunks(self) -> Iterator[_Chunk]:
        pq = _arrow()[1]
        next_row = 1
        with pq.ParquetFile(str(self.file.path)) as parquet:
            # columns come in the file's order, which header() read and checked
            for batch in parquet.iter_batches(batch_size=self.chunk_rows):
                cols = [_arrow_to_text(batch.column(i)) for i in range(batch.num_columns)]
                n = batch.num_rows
                rows = [list(r) for r in zip(*cols, strict=True)]
                yield _Chunk(list(range(next_row, next_row + n)), rows)
                next_row += n


def _allow_csv_records() -> None:
    """Raise csv's per-field limit above :data:`RECORD_SIZE_LIMIT`. The limit is process-wide, so it is
    only ever raised: then no record this reader lets through trips it, and :data:`FIELD_SIZE_LIMIT`
    is checked by the reader instead, which can name the record and read on."""
    if csv.field_size_limit() <= RECORD_SIZE_LIMIT:
        csv.field_size_limit(RECORD_SIZE_LIMIT + 1)


class _LineFeed:
    """The physical lines of a CSV text stream, handed to :func:`csv.reader` one record at a time.

    csv.reader pulls lines until its record is complete and never reads ahead, so the lines pulled
    between two records are exactly one record's, and consecutive. That gives each record its first
    line; it lets a record be cut off by ending the iteration (the reader carries on afterwards) once it
    runs over :data:`MAX_RECORD_LINES` lines or :data:`RECORD_SIZE_LIMIT` characters; and it lets the
    lines after a malformed record's first line be pushed back and read again.

    The reader of the records resets ``lines``, ``size`` and ``first_no`` for each record, and the
    flags only when one was set (``flagged``): this runs once per line, so it does as little as it can.
    """

    def __init__(self, fh: IO[str]) -> None:
        self._readline = fh.readline
        self._pushback: deque[str] = deque()
        self._clean_while = _DecodeErrors.seen  # no line can hold a bad byte while the count is this
        self.next_no = 1  # the number of the next line handed out
        self.first_no = 1  # the current record's first line
        self.lines: list[str] = []  # the current record's lines
        self.size = 0  # their length
        self.clear_flags()

    def clear_flags(self) -> None:
        """Forget what was wrong with the last record (only called when something was: ``flagged``)."""
        self.flagged = False
        self.cut: Literal["lines", "size"] | None = None
        self.error = ""  # what csv.reader said about the record
        self.overlong = 0  # the full length of a physical line too long to hold, once skipped
        self.bad_bytes_line: int | None = None
        self.hit_end = False

    def resync(self) -> None:
        """Read the current record's lines after its first again, as records of their own."""
        self._pushback.extendleft(reversed(self.lines[1:]))
        self.next_no = self.first_no + 1

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.cut is not None or len(self.lines) >= MAX_RECORD_LINES:
            self.cut = self.cut or "lines"
            self.flagged = True
            raise StopIteration
        if self._pushback:
            text = self._pushback.popleft()
        else:
            text = self._readline(RECORD_SIZE_LIMIT + 1)
            if not text:
                self.hit_end = self.flagged = True
                raise StopIteration
            if len(text) > RECORD_SIZE_LIMIT and not text.endswith(("\n", "\r")):
                self.overlong = len(text) + self._skip_rest_of_line()
                self.flagged = True
        self.lines.append(text)
        self.size += len(text)
        if (
            _DecodeErrors.seen != self._clean_while
            and self.bad_bytes_line is None
            and _BAD_BYTES.search(text) is not None
        ):
            self.bad_bytes_line = self.next_no
            self.flagged = True
        self.next_no += 1
        if self.size > RECORD_SIZE_LIMIT:
            self.cut = "size"
            self.flagged = True
            raise StopIteration
        return text

    def _skip_rest_of_line(self) -> int:
        skipped = 0
        while True:
            part = self._readline(RECORD_SIZE_LIMIT)
            skipped += len(part)
            if not part or part.endswith(("\n", "\r")):
                return skipped


def _scan_line(text: str, delimiter: str) -> tuple[list[str], Literal["ok", "open", "stray"], str]:
    """Split the start of a malformed record as csv would, to say where it went wrong.

    Returns the fields read; ``"open"`` when the last of them is a quoted field still open at the
    end of ``text``, ``"stray"`` when text follows its closing quote, else ``"ok"``; and the raw
    text from the start of the last field on. Only rejected records come here, so plain Python is fast
    enough.
    """
    line = text.rstrip("\r\n")
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        if line.startswith('"', i):
            j, parts = i + 1, []
            while True:
                k = line.find('"', j)
                if k < 0:
                    parts.append(line[j:])
                    fields.append("".join(parts))
                    return fields, "open", line[i:]
                if line.startswith('"', k + 1):  # "" is a quote inside the value
                    parts.append(line[j : k + 1])
                    j = k + 2
                    continue
                parts.append(line[j:k])
                fields.append("".join(parts))
                if k + 1 == n:
                    return fields, "ok", line[i:]
                if line[k + 1] != delimiter:
                    end = line.find(delimiter, k + 1)
                    return fields, "stray", line[i:] if end < 0 else line[i:end]
                i = k + 2
                break
        else:
            k = line.find(delimiter, i)
            if k < 0:
                fields.append(line[i:])
                return fields, "ok", line[i:]
            fields.append(line[i:k])
            i = k + 1


def _arrow_to_text(array: Any) -> list[Cell]:
    """One Arrow column as text cells: strings as they are ("" -> None), other types through ``str()``."""
    pa = _arrow()[0]
    kind = array.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    values = array.to_pylist()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return [v or None for v in values]
    return [_to_text(v) for v in values]


def _to_text(value: object) -> Cell:
    """A typed value (from Parquet or SQL) as the text validation sees."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="backslashreplace") or None
    if isinstance(value, int | float | Decimal | date | datetime | time):
        return str(value)
    if isinstance(value, dict | list | tuple):
        import json

        return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)
    return str(value)


# --------------------------------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------------------------------


class _SqlInput(_Input):
    """Runs the query on enter; ``chunks`` streams the result (server-side cursor where the driver has one)."""

    def __init__(self, src: SqlSource, ctx: _Context) -> None:
        self.src = src
        self.ctx = ctx
        self.label = f"sql:{src.conn_id}"
        self.columns = []
        self._secrets: tuple[str, ...] = ()
        self._stack = ExitStack()
        self._result: Any = None

    def __enter__(self) -> _SqlInput:
        import sqlalchemy as sa

        engine = self._engine()
        self._stack.callback(engine.dispose)
        stmt = sa.text(_PYFORMAT_PARAM.sub(r":\1", self.src.query))
        available: dict[str, Any] = {
            **self.src.parameters,
            "seller_id": self.ctx.seller_id,
            "marketplace_id": self.ctx.marketplace_id,
            "run_id": self.ctx.run_id,
        }
        try:
            wanted = set(stmt.compile().params)
            unknown = sorted(wanted - set(available))
            if unknown:
                raise ExtractError(
                    self.src.describe(),
                    f"the query uses parameter(s) {unknown}, which are not set "
                    f"(available: {sorted(available)})",
                )
            conn = self._stack.enter_context(engine.connect())
            conn = conn.execution_options(stream_results=True, yield_per=self.ctx.chunk_rows)
            self._result = conn.execute(stmt, {k: v for k, v in available.items() if k in wanted})
            if not self._result.returns_rows:
                raise ExtractError(self.src.describe(), "the query returns no rows (is it a SELECT?)")
        except ExtractError:
            self._stack.close()
            raise
        except Exception as err:
            self._stack.close()
            raise ExtractError(self.src.describe(), f"the query failed: {self._reason(err)}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def header(self) -> list[str]:
        names = list(self._result.keys())  # not iter(result): that would consume rows
        self.columns = _check_header([str(k) for k in names], self.src.describe())
        return self.columns

    def chunks(self) -> Iterator[_Chunk]:
        next_row = 1
        try:
            for part in self._result.partitions(self.ctx.chunk_rows):
                rows = [[_to_text(v) for v in row] for row in part]
                yield _Chunk(list(range(next_row, next_row + len(rows))), rows)
                next_row += len(rows)
        except Exception as err:
            raise ExtractError(
                self.src.describe(), f"reading the result failed: {self._reason(err)}"
            ) from None

    def _reason(self, err: BaseException) -> str:
        return _reason(err, self._secrets)

    def _engine(self) -> Any:
        """An SQLAlchemy engine for the connection: the provider's DbApiHook where one is installed,
        else one built from the connection's fields (postgres via psycopg 3, sqlite, any SQLAlchemy URL)."""
        import sqlalchemy as sa
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
        from sqlalchemy.pool import NullPool

        name = self.src.describe()
        try:
            conn = BaseHook.get_connection(self.src.conn_id)
        except AirflowNotFoundException:
            raise ExtractError(name, f"Airflow connection {self.src.conn_id!r} does not exist") from None
        except Exception as err:
            raise ExtractError(
                name, f"cannot load Airflow connection {self.src.conn_id!r}: {_reason(err)}"
            ) from None
        password = conn.password or ""
        self._secrets = tuple(s for s in (password, quote(password, safe=""), quote_plus(password)) if s)

        try:
            from airflow.providers.common.sql.hooks.sql import DbApiHook

            hook = conn.get_hook()  # type: ignore[no-untyped-call]
            if isinstance(hook, DbApiHook):
                return hook.get_sqlalchemy_engine(engine_kwargs={"poolclass": NullPool})
        except Exception as err:  # no provider for this conn type, or no driver for its dialect
            log.debug(
                "no DbApiHook engine for %s (%s); building one from the connection", name, type(err).__name__
            )

        conn_type = (conn.conn_type or "").lower()
        try:
            if conn_type == "sqlite":
                db = conn.host or conn.schema
                if not db:
                    raise ExtractError(name, "the sqlite connection names no database file (host)")
                url = sa.URL.create("sqlite", database=db)
            elif conn_type in _SQLALCHEMY_DRIVERS:
                extra = conn.extra_dejson
                url = sa.URL.create(
                    _SQLALCHEMY_DRIVERS[conn_type],
                    username=conn.login or None,
                    password=conn.password or None,
                    host=conn.host or None,
                    port=conn.port or None,
                    database=conn.schema or None,
                    query={k: str(extra[k]) for k in _POSTGRES_EXTRA_KEYS if extra.get(k) is not None},
                )
            else:
                url = sa.make_url(conn.get_uri())
            return sa.create_engine(url, poolclass=NullPool)
        except ExtractError:
            raise
        except Exception as err:
            raise ExtractError(
                name, f"cannot open connection {self.src.conn_id!r} (type {conn_type!r}): {self._reason(err)}"
            ) from None


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


class _AtomicParquetWriter:
    """Writes all-string columns plus ``_source_file``/``_source_row`` to a temporary file next to the
    target, and renames it over the target on :meth:`install` (after :meth:`seal`). Without that, the
    temporary file goes.

    Rows are collected as Arrow record batches and written ``flush_rows`` at a time (one row group each).
    """

    def __init__(self, target: Path, columns: list[str], *, flush_rows: int) -> None:
        self.target = target
        self.columns = columns
        self.rows_written = 0
        self._flush_rows = flush_rows
        self._tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        self._writer: Any = None
        self._schema: Any = None
        self._pending: list[Any] = []
        self._pending_rows = 0
        self._installed = False

    def __enter__(self) -> _AtomicParquetWriter:
        pa, pq = _arrow()
        self._schema = pa.schema(
            [pa.field(c, pa.string()) for c in self.columns]
            + [
                pa.field(SOURCE_FILE_COLUMN, pa.string()),
                pa.field(SOURCE_ROW_COLUMN, pa.int64()),
            ]
        )
        self._writer = pq.ParquetWriter(
            str(self._tmp), self._schema, compression="zstd", use_dictionary=True, write_statistics=True
        )
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if self._writer is not None:  # not sealed: an error, or seal() was not called
                self._writer.close()
        finally:
            self._writer = None
            if not self._installed:
                self._tmp.unlink(missing_ok=True)

    def add(self, label: str, header: Sequence[str], line_nos: list[int], rows: list[list[Cell]]) -> None:
        if not rows:
            return
        pa = _arrow()[0]
        n = len(rows)
        by_name = dict(zip(header, zip(*rows, strict=True), strict=True))
        arrays = [
            _empty_as_null(pa.array(by_name[c], type=pa.string()))
            if c in by_name
            else pa.nulls(n, type=pa.string())
            for c in self.columns
        ]
        arrays.append(pa.array([label] * n, type=pa.string()))
        arrays.append(pa.array(line_nos, type=pa.int64()))
        self._pending.append(pa.RecordBatch.from_arrays(arrays, schema=self._schema))
        self._pending_rows += n
        if self._pending_rows >= self._flush_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        pa = _arrow()[0]
        table = pa.Table.from_batches(self._pending, schema=self._schema)
        self._writer.write_table(table, row_group_size=max(self._flush_rows, table.num_rows))
        self.rows_written += table.num_rows
        self._pending, self._pending_rows = [], 0

    def seal(self) -> tuple[str, int]:
        """Close, hash and sync the temporary file; returns (sha256, size in bytes)."""
        self._flush()
        writer, self._writer = self._writer, None
        try:
            writer.close()
            digest = hashlib.sha256()
            with open(self._tmp, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
                os.fsync(fh.fileno())
            size = self._tmp.stat().st_size
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        return digest.hexdigest(), size

    def install(self) -> None:
        """Move the sealed file over the target."""
        os.replace(self._tmp, self.target)
        self._installed = True


class _AtomicTextFile:
    """A UTF-8 text file written to a temporary name next to ``target`` and renamed over it on
    :meth:`install`, so a reader never sees half of it; without install the temporary file goes."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self._tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        self._fh: IO[str] | None = None
        self._installed = False

    def __enter__(self) -> _AtomicTextFile:
        self._fh = open(self._tmp, "w", encoding="utf-8", newline="\n")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
        if not self._installed:
            self._tmp.unlink(missing_ok=True)

    def write_line(self, text: str) -> None:
        assert self._fh is not None
        self._fh.write(text + "\n")

    def write_lines(self, lines: Iterable[str]) -> None:
        assert self._fh is not None
        self._fh.writelines(line + "\n" for line in lines)

    def seal(self) -> None:
        assert self._fh is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None

    def install(self) -> None:
        os.replace(self._tmp, self.target)
        self._installed = True


def _empty_as_null(array: Any) -> Any:
    """An empty cell becomes null (see the module docstring), in Arrow: a Python ``v or None`` per
    cell was a tenth of a million-row extract."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    empty = pc.equal(pc.binary_length(array), 0)
    if not pc.any(empty).as_py():
        return array
    return pc.if_else(empty, None, array)


def _arrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, imported on first use (never at DAG parse time)."""
    import pyarrow as pa  # type: ignore[import-not-found,import-untyped,unused-ignore]
    import pyarrow.parquet as pq  # type: ignore[import-not-found,import-untyped,unused-ignore]

    return pa, pq


# --------------------------------------------------------------------------------------------------
# Secret-free error text
# --------------------------------------------------------------------------------------------------


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _URI_PASSWORD.sub(r"\1***@", text)


def _reason(err: BaseException, secrets: Sequence[str] = ()) -> str:
    """``Type: message`` of an exception, first line only, without passwords."""
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = f"{type(err).__name__}: {message}" if message else type(err).__name__
    return _redact(text, secrets)[:500]
