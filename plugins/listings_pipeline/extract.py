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

Filtering: when the source has a ``seller_id`` column only that seller's rows are kept, and likewise for
``marketplace_id``; a row whose cell is empty applies to every seller / marketplace, and a source without
the column applies as a whole. Lines that are entirely empty in a CSV are skipped.

Errors are :class:`ExtractError`: they name the source and the reason, and never a password (connection
URIs are redacted). Heavy libraries (pyarrow, SQLAlchemy, the Amazon provider) are imported inside the
functions, so DAG files can import this module at parse time.
"""

from __future__ import annotations

import csv
import fnmatch
import glob
import gzip
import hashlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from itertools import compress
from pathlib import Path
from typing import IO, Annotated, Any, Literal
from urllib.parse import quote, quote_plus, unquote, urlparse

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

__all__ = [
    "CatalogSource",
    "ExtractError",
    "FileSource",
    "S3Source",
    "Snapshot",
    "SqlSource",
    "extract_snapshot",
    "snapshot_path",
]

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "catalog.parquet"
SOURCE_FILE_COLUMN = "_source_file"
SOURCE_ROW_COLUMN = "_source_row"
SKU_COLUMN = "sku"
SELLER_COLUMN = "seller_id"
MARKETPLACE_COLUMN = "marketplace_id"

Format = Literal["csv", "parquet"]
Cell = str | None

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
# The snapshot
# --------------------------------------------------------------------------------------------------


class Snapshot(BaseModel):
    """What :func:`extract_snapshot` wrote; JSON-serialisable (``model_dump(mode="json")``) for XCom.

    :param path: the Parquet file.
    :param row_count: rows kept (for this seller and marketplace).
    :param rows_read: rows read from the source before filtering.
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
    sha256: str
    size_bytes: int
    columns: list[str]
    missing_columns: list[str] = Field(default_factory=list)


def snapshot_path(out_dir: str | Path, run_id: str, seller_id: str, marketplace_id: str) -> Path:
    """``<out_dir>/<run_id>/<seller_id>/<marketplace_id>/catalog.parquet`` with each part made path-safe."""
    return (
        Path(out_dir)
        / _safe_part(run_id)
        / _safe_part(seller_id)
        / _safe_part(marketplace_id)
        / SNAPSHOT_NAME
    )


def _safe_part(value: str) -> str:
    """A single path component: ``[A-Za-z0-9._-]`` only, never hidden or ``..``.

    A value that had to change gets a short hash of the original, so two run ids that differ only in
    unsafe characters (``:`` vs ``_``) still get different folders.
    """
    if not value:
        raise ValueError("an empty seller, marketplace or run id cannot name a folder")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", value).lstrip(".")
    if safe != value or not safe:
        safe = f"{safe[:80]}-{hashlib.sha256(value.encode()).hexdigest()[:8]}".lstrip("-")
    return safe


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
    chunk_rows: int = 100_000,
    base_dir: str | Path | None = None,
) -> Snapshot:
    """Read ``source`` in chunks and write the rows of one seller and marketplace to a Parquet snapshot.

    :param columns: keep only these columns (``sku`` always), in this order; a requested column that the
        source lacks is written as all-null and listed in ``Snapshot.missing_columns``. Default: all
        columns of all files, in order of first appearance.
    :param chunk_rows: rows read, held and written at a time; bounds memory.
    :param base_dir: for a relative local path in ``source``.
    :raises ExtractError: nothing matched, a file cannot be read or has no ``sku`` column, the
        connection does not exist or the query fails. No snapshot file is left behind then.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    try:
        src = CatalogSource.parse(source, base_dir=base_dir)
    except (ValueError, TypeError) as err:
        raise ExtractError(_describe_raw(source), _redact(str(err), ())) from None
    target = snapshot_path(out_dir, run_id, seller_id, marketplace_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    ctx = _Context(seller_id=seller_id, marketplace_id=marketplace_id, run_id=run_id, chunk_rows=chunk_rows)

    with ExitStack() as stack:
        inputs: list[_Input]
        if isinstance(src, SqlSource):
            inputs = [stack.enter_context(_SqlInput(src, ctx))]
        elif isinstance(src, S3Source):
            # downloads sit next to the snapshot (same disk, not a RAM-backed /tmp) and go at the end
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix=".extract-", dir=target.parent))
            inputs = [_FileInput(f, src, chunk_rows) for f in _resolve_files(src, Path(scratch))]
        else:
            inputs = [_FileInput(f, src, chunk_rows) for f in _local_files(src)]
        headers = [inp.header() for inp in inputs]
        out_columns, missing = _output_columns(headers, columns)
        if missing:
            log.warning("catalog %s has no column(s) %s; they are written as null", src.describe(), missing)

        with _AtomicParquetWriter(target, out_columns, flush_rows=chunk_rows) as writer:
            for inp in inputs:
                for line_nos, rows in inp.chunks():
                    ctx.rows_read += len(rows)
                    kept_nos, kept = _filter_rows(inp.columns, line_nos, rows, ctx)
                    writer.add(inp.label, inp.columns, kept_nos, kept)
            sha256, size = writer.commit()
        labels = [inp.label for inp in inputs]

    snapshot = Snapshot(
        path=str(target),
        seller_id=seller_id,
        marketplace_id=marketplace_id,
        run_id=run_id,
        source=src.describe(),
        source_files=labels,
        row_count=writer.rows_written,
        rows_read=ctx.rows_read,
        sha256=sha256,
        size_bytes=size,
        columns=[*out_columns, SOURCE_FILE_COLUMN, SOURCE_ROW_COLUMN],
        missing_columns=missing,
    )
    log.info(
        "catalog %s -> %s: %d of %d rows for seller %s, marketplace %s, from %d file(s)",
        snapshot.source,
        target,
        snapshot.row_count,
        snapshot.rows_read,
        seller_id,
        marketplace_id,
        len(labels),
    )
    if snapshot.row_count == 0:
        log.warning(
            "catalog %s has no rows for seller %s, marketplace %s", snapshot.source, seller_id, marketplace_id
        )
    return snapshot


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


def _filter_rows(
    header: Sequence[str], line_nos: list[int], rows: list[list[Cell]], ctx: _Context
) -> tuple[list[int], list[list[Cell]]]:
    checks = [
        (header.index(name), want)
        for name, want in ((SELLER_COLUMN, ctx.seller_id), (MARKETPLACE_COLUMN, ctx.marketplace_id))
        if name in header
    ]
    if not checks:
        return line_nos, rows
    # a cell keeps the row when it is empty or equals the wanted id (surrounding spaces ignored);
    # written out for one or two checks, and as a mask of bools, because this runs once per row
    (i, w), (j, x) = checks[0], checks[-1]
    mask = [
        (not (v := r[i]) or v == w or v.strip() in ("", w))
        and (not (u := r[j]) or u == x or u.strip() in ("", x))
        for r in rows
    ]
    if all(mask):
        return line_nos, rows
    return list(compress(line_nos, mask)), list(compress(rows, mask))


# --------------------------------------------------------------------------------------------------
# Inputs: each has a label (its _source_file), a header, and chunks of (line numbers, rows)
# --------------------------------------------------------------------------------------------------


class _Input:
    label: str
    columns: list[str]

    def header(self) -> list[str]:
        raise NotImplementedError

    def chunks(self) -> Iterator[tuple[list[int], list[list[Cell]]]]:
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
        self.columns = []

    def header(self) -> list[str]:
        try:
            if self.format == "parquet":
                names = _arrow()[1].read_schema(self.file.path).names
            else:
                with self._open_csv() as fh:
                    first = next((row for row in csv.reader(fh, delimiter=self._delimiter()) if row), None)
                names = first or []
        except ExtractError:
            raise
        except Exception as err:
            raise ExtractError(self.label, f"cannot read the {self.format} file: {_reason(err)}") from None
        self.columns = _check_header(names, self.label)
        return self.columns

    def chunks(self) -> Iterator[tuple[list[int], list[list[Cell]]]]:
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
        with open(self.file.path, "rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
        if gzipped:
            return gzip.open(self.file.path, "rt", encoding=self.src.encoding, newline="")
        return open(self.file.path, encoding=self.src.encoding, newline="")

    def _csv_chunks(self) -> Iterator[tuple[list[int], list[list[Cell]]]]:
        width = len(self.columns)
        with self._open_csv() as fh:
            reader = csv.reader(fh, delimiter=self._delimiter())
            header_seen = False
            nos: list[int] = []
            rows: list[list[Cell]] = []
            before = 0  # physical lines consumed before the current record
            try:
                for record in reader:
                    # the record ends on line_num and starts right after the previous one; computed
                    # this way because every new int is an allocation, and this runs once per row
                    start = reader.line_num
                    if start - before != 1:  # a quoted field spanned lines
                        start, before = before + 1, start
                    else:
                        before = start
                    if not header_seen:
                        header_seen = bool(record)
                        continue
                    if not record or (not record[0] and not any(record)):
                        continue  # a blank line, or only delimiters
                    if len(record) != width:
                        record = self._fit(record, width, start)
                    nos.append(start)
                    rows.append(record)  # type: ignore[arg-type]  # list[str] is fine as list[str | None]
                    if len(rows) >= self.chunk_rows:
                        yield nos, rows
                        nos, rows = [], []
            except csv.Error as err:
                raise ExtractError(self.label, f"line {before + 1}: {err}") from None
            except UnicodeDecodeError as err:
                raise ExtractError(
                    self.label, f"near line {before + 1}: not {self.src.encoding} text ({err.reason})"
                ) from None
            if rows:
                yield nos, rows

    def _fit(self, record: list[str], width: int, line: int) -> list[str]:
        """Pad a short record; a long one is an error unless the extra fields are empty (trailing commas)."""
        if len(record) < width:
            return record + [""] * (width - len(record))
        if any(record[width:]):
            raise ExtractError(self.label, f"line {line}: {len(record)} fields, but the header has {width}")
        return record[:width]

    def _parquet_chunks(self) -> Iterator[tuple[list[int], list[list[Cell]]]]:
        pq = _arrow()[1]
        next_row = 1
        with pq.ParquetFile(str(self.file.path)) as parquet:
            # columns come in the file's order, which header() read and checked
            for batch in parquet.iter_batches(batch_size=self.chunk_rows):
                cols = [_arrow_to_text(batch.column(i)) for i in range(batch.num_columns)]
                n = batch.num_rows
                rows = [list(r) for r in zip(*cols, strict=True)]
                yield list(range(next_row, next_row + n)), rows
                next_row += n


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

    def chunks(self) -> Iterator[tuple[list[int], list[list[Cell]]]]:
        next_row = 1
        try:
            for part in self._result.partitions(self.ctx.chunk_rows):
                rows = [[_to_text(v) for v in row] for row in part]
                yield list(range(next_row, next_row + len(rows))), rows
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
    target, and renames it over the target on :meth:`commit`. On an error the temporary file goes.

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
        if self._writer is not None:  # not committed: an error, or commit() was not called
            try:
                self._writer.close()
            finally:
                self._writer = None
                self._tmp.unlink(missing_ok=True)

    def add(self, label: str, header: Sequence[str], line_nos: list[int], rows: list[list[Cell]]) -> None:
        if not rows:
            return
        pa = _arrow()[0]
        n = len(rows)
        by_name = dict(zip(header, zip(*rows, strict=True), strict=True))
        arrays = [
            pa.array([v or None for v in by_name[c]], type=pa.string())  # "" -> null
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

    def commit(self) -> tuple[str, int]:
        """Close, hash and move into place; returns (sha256, size in bytes)."""
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
            os.replace(self._tmp, self.target)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        return digest.hexdigest(), size


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
