"""Build ``JSON_LISTINGS_FEED`` documents at scale, and read their processing reports fast.

Steps 5 (build) and 8 (parse) of docs/architecture.md, "The bulk path". No Airflow, no pandas: plain dicts and orjson
in the hot paths, so a million SKUs build in seconds with bounded memory.

Building (:func:`build_feed_documents`)
    Messages come in as an iterable of plain dicts in Amazon's camelCase (``sku``,
    ``operationType``, ``productType``, ``requirements``, ``attributes`` | ``patches``); the
    builder assigns ``messageId`` 1..N *per document*, serialises each message once, and streams
    header and messages to disk. A new document starts before either limit of :class:`FeedLimits`
    would be passed (25,000 messages; 10 MiB, Amazon's size guidance, counted exactly: header,
    commas and brackets included). Output is byte-for-byte deterministic: ``messageId`` first, then
    every other key sorted (``orjson.OPT_SORT_KEYS``, nested objects too), no whitespace. So a
    retried build yields the same :attr:`FeedDocument.sha256`, the ledger's idempotency key.

    With ``validate=True`` each message is checked against the ``operationType`` rules of
    ``listings-feed-schema-v2.json`` (the same rules as
    :class:`~spapi.models.feeds.ListingsFeedMessage`, without a pydantic model per row). An invalid
    message is never dropped silently: it raises :class:`InvalidFeedMessage` (a ``ValueError``
    naming the SKU, the field and the reason), or, given ``on_invalid``, is handed to that
    callback and left out of the documents. A message too large for a document on its own is
    handled the same way.

    The messageId -> SKU map that step 8 needs is written next to each document as a sidecar
    ``<name>.messages.json`` (``{"document", "sha256", "firstMessageId", "skus": [...]}``, the SKU of
    messageId ``firstMessageId + i`` at index ``i``), not returned in memory: a Python
    ``dict[int, str]`` costs about 150 MB per million SKUs (measured: 76 MB for the strings and list,
    74 MB more for the dict and its int keys), while the builder itself only ever holds one
    document's SKUs (<= 25,000). The parse step runs in another task anyway, so the map has to
    cross a process boundary; :func:`load_message_index` reads it back as a compact
    :class:`MessageIndex`.

Parsing (:func:`iter_report_issues`, :func:`summarise_report`)
    orjson and plain dicts (one :class:`IssueRow` per issue, no pydantic per issue); the top-level
    shape and every issue's fields are checked, and a report that is not a JSON_LISTINGS_FEED
    processing report (e.g. a FATAL feed's other format) raises :class:`ReportFormatError`. GZIP
    input (magic ``1f 8b``) is decompressed. Every issue ends up somewhere: on its message, in
    ``feed_issues`` (no messageId), or in ``unknown_message_issues`` (a messageId the document did
    not have), and the summary counts are checked against what the issues say.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypedDict

import orjson

from .models.common import to_wire
from .models.feeds import MAX_FEED_MESSAGES, ListingsFeedHeader, ProcessingReport
from .models.listings import PATCH_PATH_PATTERN

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DocumentSchemaError",
    "FeedDocument",
    "FeedLimits",
    "InvalidFeedMessage",
    "IssueRow",
    "MessageIndex",
    "MessageResult",
    "Mismatch",
    "ReportFormatError",
    "ReportOutcome",
    "ReportSummary",
    "SortedJson",
    "build_feed_documents",
    "format_problems",
    "header_bytes",
    "iter_report_issues",
    "load_message_index",
    "message_problems",
    "read_report",
    "summarise_report",
    "validate_document",
]

#: Amazon's guidance for a feed file: below 10 MiB (docs/spapi-facts.md §7.4).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_SORT = orjson.OPT_SORT_KEYS
_FLUSH_BYTES = 1 << 20  # write to disk (and hash) in ~1 MiB chunks
_SUFFIX = b"]}"

# --- limits and results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedLimits:
    """When to start a new document: before it would pass ``max_messages`` or ``max_bytes``.

    ``max_bytes`` is the exact size of the file (header, separators and brackets included).
    """

    max_messages: int = MAX_FEED_MESSAGES
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if isinstance(self.max_messages, bool) or not isinstance(self.max_messages, int):
            raise ValueError(f"max_messages must be an integer, got {self.max_messages!r}")
        if not 1 <= self.max_messages <= MAX_FEED_MESSAGES:
            raise ValueError(
                f"max_messages must be between 1 and {MAX_FEED_MESSAGES}, got {self.max_messages}"
            )
        if isinstance(self.max_bytes, bool) or not isinstance(self.max_bytes, int) or self.max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive integer, got {self.max_bytes!r}")


@dataclass(frozen=True)
class FeedDocument:
    """One written ``JSON_LISTINGS_FEED`` document.

    ``sha256`` is the hex digest of exactly the bytes in ``path`` (``size_bytes`` of them), the
    document hash of the ledger's idempotency key. messageIds run ``first_message_id`` ..
    ``last_message_id`` without gaps; ``index_path`` is the sidecar with their SKUs (see
    :meth:`message_index`).

    Not to be confused with :class:`spapi.models.feeds.FeedDocument`, Amazon's ``getFeedDocument``
    answer.
    """

    path: Path
    sha256: str
    size_bytes: int
    message_count: int
    first_message_id: int
    last_message_id: int
    index_path: Path

    def message_index(self) -> MessageIndex:
        """messageId -> SKU for this document, read from the sidecar."""
        return load_message_index(self.index_path, expected_sha256=self.sha256)


class InvalidFeedMessage(ValueError):
    """A message that cannot go into a feed; names its SKU, the field(s) and the reason(s).

    ``position`` is the 0-based position of the message in the input iterable.
    """

    def __init__(self, sku: object, problems: Sequence[tuple[str, str]], position: int) -> None:
        self.sku = sku
        self.problems = list(problems)
        self.position = position
        super().__init__(f"feed message #{position} (sku {sku!r}): {format_problems(self.problems)}")


def format_problems(problems: Iterable[tuple[str, str]]) -> str:
    return "; ".join(f"{name}: {reason}" for name, reason in problems)


# --- cheap per-message validation -------------------------------------------------------------------

_OPERATION_TYPES = ("UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE")
# operationType -> (required, forbidden): listings-feed-schema-v2.json ``oneOf``, the same table as
# spapi.models.feeds._OPERATION_RULES (a test keeps the two equal).
_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "UPDATE": (("productType", "attributes"), ("patches",)),
    "PARTIAL_UPDATE": (("productType", "attributes"), ("requirements", "patches")),
    "PATCH": (("productType", "patches"), ("requirements", "attributes")),
    "DELETE": ((), ("productType", "requirements", "attributes", "patches")),
}
_ALLOWED_KEYS = frozenset({"sku", "operationType", "productType", "requirements", "attributes", "patches"})
_REQUIREMENTS = frozenset({"LISTING", "LISTING_PRODUCT_ONLY", "LISTING_OFFER_ONLY"})
_PATCH_OPS = frozenset({"add", "replace", "merge", "delete"})
_PATCH_KEYS = frozenset({"op", "path", "value"})
_PATCH_PATH = re.compile(PATCH_PATH_PATTERN)


def _values_problem(values: object) -> str | None:
    """Attribute values (and patch ``value``) are always an array of objects."""
    if type(values) is not list:
        return f"must be an array of objects, got {type(values).__name__}"
    for item in values:
        if type(item) is not dict:
            return f"must be an array of objects, has a {type(item).__name__}"
    return None


def message_problems(message: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What is wrong with one feed message, as ``(field, reason)`` pairs (empty: valid).

    The rules of :class:`~spapi.models.feeds.ListingsFeedMessage` (``operationType`` requires and
    forbids fields; ``sku`` and ``productType`` non-empty; ``requirements`` and patch ``op`` from
    Amazon's enums; attribute values and patch values arrays of objects; patch paths top-level
    ``/attributes/<name>``; a ``value`` for every patch op but ``delete``; no unknown fields), at a
    few microseconds per message. ``messageId`` is refused: the builder assigns it. A field whose
    value is ``None`` counts as absent. The fields the operationType asks for and allows are checked
    here, inline, since this runs once per message of a million; the values have helpers of their own.
    """
    if not isinstance(message, Mapping):
        return [("message", f"must be an object, got {type(message).__name__}")]
    problems: list[tuple[str, str]] = []
    get = message.get
    sku = get("sku")
    if type(sku) is not str or not sku:
        problems.append(("sku", f"required, a non-empty string; got {sku!r}"))
    for key in message:
        if key not in _ALLOWED_KEYS:
            if key == "messageId":
                problems.append(("messageId", "is assigned by the builder; do not pass it"))
            else:
                problems.append((str(key), "unknown field"))
    op = get("operationType")
    rules = _RULES.get(op) if type(op) is str else None
    if rules is None:
        problems.append(("operationType", f"must be one of {', '.join(_OPERATION_TYPES)}; got {op!r}"))
    else:
        required, forbidden = rules
        for name in forbidden:
            if get(name) is not None:
                problems.append((name, f"not allowed with operationType {op}"))
        for name in required:
            if get(name) is None:
                problems.append((name, f"required with operationType {op}"))
    product_type = get("productType")
    if product_type is not None and (type(product_type) is not str or not product_type):
        problems.append(("productType", f"must be a non-empty string; got {product_type!r}"))
    requirements = get("requirements")
    if requirements is not None and (type(requirements) is not str or requirements not in _REQUIREMENTS):
        problems.append(
            ("requirements", f"must be one of {', '.join(sorted(_REQUIREMENTS))}; got {requirements!r}")
        )
    attributes = get("attributes")
    if attributes is not None:
        _attribute_problems(attributes, problems)
    patches = get("patches")
    if patches is not None:
        _patch_problems(patches, problems)
    return problems


def _attribute_problems(attributes: object, problems: list[tuple[str, str]]) -> None:
    """Every attribute's values must be an array of objects; checked inline for the usual valid
    attribute, and explained by :func:`_values_problem` only when it is not."""
    if type(attributes) is not dict or not attributes:
        problems.append(("attributes", "must be an object with at least one attribute"))
        return
    for name, values in attributes.items():
        if type(name) is str and type(values) is list:
            for item in values:
                if type(item) is not dict:
                    break
            else:
                continue
        if type(name) is not str:
            problems.append(("attributes", f"attribute names must be strings; got {name!r}"))
            continue
        reason = _values_problem(values)
        if reason is not None:
            problems.append((f"attributes.{name}", reason))


def _patch_problems(patches: object, problems: list[tuple[str, str]]) -> None:
    """Each patch on its own: Amazon applies a patch only to the top-level attribute its path names,
    and needs a value for every op but ``delete``."""
    if type(patches) is not list or not patches:
        problems.append(("patches", "must be an array with at least one patch operation"))
        return
    for i, patch in enumerate(patches):
        where = f"patches[{i}]"
        if type(patch) is not dict:
            problems.append((where, f"must be an object, got {type(patch).__name__}"))
            continue
        extra = [k for k in patch if k not in _PATCH_KEYS]
        if extra:
            problems.append((where, f"unknown field(s) {extra}"))
        patch_op = patch.get("op")
        if type(patch_op) is not str or patch_op not in _PATCH_OPS:
            problems.append((f"{where}.op", f"must be one of add, replace, merge, delete; got {patch_op!r}"))
        path = patch.get("path")
        if type(path) is not str or _PATCH_PATH.match(path) is None:
            problems.append(
                (f"{where}.path", f"must be a top-level attribute path /attributes/<name>; got {path!r}")
            )
        value = patch.get("value")
        if value is None:
            if patch_op != "delete":
                problems.append((f"{where}.value", f"required for op {patch_op!r}"))
        else:
            reason = _values_problem(value)
            if reason is not None:
                problems.append((f"{where}.value", reason))


# --- building ---------------------------------------------------------------------------------------


def header_bytes(
    seller_id: str,
    *,
    issue_locale: str | None = None,
    included_data: Sequence[str] | None = None,
) -> bytes:
    """The serialised feed header (sorted keys, no whitespace), validated by
    :class:`~spapi.models.feeds.ListingsFeedHeader`. ``included_data`` adds
    ``report: {includedData, apiVersion: "2021-08-01"}`` so the processing report carries ``items[]``.
    """
    if not isinstance(seller_id, str) or not seller_id.strip():
        raise ValueError(f"seller_id must be a non-empty string, got {seller_id!r}")
    if issue_locale is not None and (not isinstance(issue_locale, str) or not issue_locale.strip()):
        raise ValueError(f"issue_locale must be a non-empty string or None, got {issue_locale!r}")
    header: dict[str, Any] = {"sellerId": seller_id, "issueLocale": issue_locale}
    if included_data is not None:
        if isinstance(included_data, str):
            raise ValueError(f"included_data must be a list of strings, not one string: {included_data!r}")
        header["report"] = {"includedData": list(included_data)}
    return orjson.dumps(to_wire(ListingsFeedHeader.model_validate(header)), option=_SORT)


def _document_prefix(header: bytes) -> bytes:
    return b'{"header":' + header + b',"messages":['


class _DocumentWriter:
    """One document being written: a temporary file renamed into place when complete."""

    def __init__(self, path: Path, prefix: bytes) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        self.file = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self.hash = hashlib.sha256()
        self.chunks: list[bytes] = [prefix]
        self.buffered = len(prefix)
        self.size = len(prefix)
        self.skus: list[str] = []

    def add(self, head: bytes, tail: bytes, length: int, sku: str) -> None:
        """Append one message, ``head + tail`` (``length`` bytes, separator included)."""
        chunks = self.chunks
        chunks.append(head)
        chunks.append(tail)
        self.buffered += length
        self.size += length
        self.skus.append(sku)
        if self.buffered >= _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        data = b"".join(self.chunks)
        self.hash.update(data)
        self.file.write(data)
        self.chunks = []
        self.buffered = 0

    def close(self) -> FeedDocument:
        self.chunks.append(_SUFFIX)
        self.size += len(_SUFFIX)
        self._flush()
        self.file.close()
        os.replace(self.tmp, self.path)
        digest = self.hash.hexdigest()
        index_path = message_index_path(self.path)
        sidecar = {"document": self.path.name, "sha256": digest, "firstMessageId": 1, "skus": self.skus}
        tmp_index = index_path.with_name(index_path.name + ".tmp")
        tmp_index.write_bytes(orjson.dumps(sidecar))
        os.replace(tmp_index, index_path)
        return FeedDocument(
            path=self.path,
            sha256=digest,
            size_bytes=self.size,
            message_count=len(self.skus),
            first_message_id=1,
            last_message_id=len(self.skus),
            index_path=index_path,
        )

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


class SortedJson(NamedTuple):
    """One message as ``orjson.dumps(message, option=orjson.OPT_SORT_KEYS)`` wrote it (a line of
    ``messages.jsonl`` or ``planned.jsonl``, without its newline). A wrapper, not a ``bytes``
    subclass: ``orjson.loads`` takes only exact ``bytes``.

    Why: such a line already is the body the builder would write, so re-serialising it was a
    sixth of the build's time. The builder still parses it for every check; only the
    ``orjson.dumps`` is saved, and only where its answer is the line itself: no top-level ``null``
    (the builder leaves those fields out) and ``{...}`` with nothing around it. orjson's output
    reads back to the same value and serialises to the same bytes (shortest round-trip floats, its
    own escaping, sorted keys at every level), and the first :data:`_VERIFIED_LINES` lines of a
    build are compared with a fresh ``orjson.dumps`` anyway: should one differ (a line written some
    other way), every line of that build is serialised again, as for a plain mapping.
    """

    line: bytes


#: lines of a build whose :class:`SortedJson` claim is checked against a fresh ``orjson.dumps``
_VERIFIED_LINES = 256


def build_feed_documents(
    seller_id: str,
    messages: Iterable[Mapping[str, Any] | SortedJson],
    out_dir: Path,
    *,
    issue_locale: str | None = None,
    included_data: Sequence[str] | None = None,
    limits: FeedLimits = FeedLimits(),
    name_prefix: str = "feed",
    validate: bool = True,
    on_invalid: Callable[[Any, str], None] | None = None,
) -> list[FeedDocument]:
    """Stream ``messages`` into ``<out_dir>/<name_prefix>-00001.json``, ``-00002.json``, ...

    Each document holds at most ``limits.max_messages`` messages and ``limits.max_bytes`` bytes,
    with messageIds 1..n, and has a sidecar ``<name>.messages.json`` with the SKUs (see the module
    docstring). Only one document's SKUs are held in memory; messages are serialised once.
    Top-level fields whose value is ``None`` are left out (like :func:`~spapi.models.common.to_wire`).
    A message may come as a :class:`SortedJson` line: parsed and checked like a mapping, written
    without being serialised again (the documents are the same bytes either way).

    An invalid message (with ``validate=True``: :func:`message_problems`; always: a ``messageId``
    given by the caller, a missing SKU, a value orjson cannot serialise, a message too large for
    an empty document) raises :class:`InvalidFeedMessage`, or goes to ``on_invalid(message,
    reason)`` and is left out. When this function raises, every file it wrote is removed.

    ``on_invalid`` receives the message exactly as given (possibly not even a mapping; a
    :class:`SortedJson` line as what it parses to) and the reason text (``feed message #<position> (sku '<sku>'): <field>: <reason>; ...``).

    Returns the documents in order; an input with no (valid) messages gives ``[]`` (a feed needs at
    least one message). File names depend only on ``name_prefix`` and the document's position, so
    a retry into the same directory replaces the same files with the same bytes; files of an
    earlier, longer build are not removed, so give each build (run, seller, marketplace) its own
    directory or prefix.
    """
    if not isinstance(name_prefix, str) or not name_prefix or "/" in name_prefix or "\\" in name_prefix:
        raise ValueError(f"name_prefix must be a plain file name prefix, got {name_prefix!r}")
    if not isinstance(limits, FeedLimits):
        raise ValueError(f"limits must be a FeedLimits, got {type(limits).__name__}")
    prefix = _document_prefix(header_bytes(seller_id, issue_locale=issue_locale, included_data=included_data))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reject = _Reject(on_invalid)
    return _write_documents(
        _admitted(messages, validate, reject), out_dir, name_prefix, prefix, limits, reject
    )


@dataclass(frozen=True)
class _Reject:
    """One place that decides what an invalid message does: stop the build, or go to the caller's
    ``on_invalid`` and be left out."""

    on_invalid: Callable[[Any, str], None] | None

    def __call__(self, message: Any, sku: object, problems: list[tuple[str, str]], position: int) -> None:
        error = InvalidFeedMessage(sku, problems, position)
        if self.on_invalid is None:
            raise error
        self.on_invalid(message, str(error))


def _admitted(
    messages: Iterable[Mapping[str, Any] | SortedJson], validate: bool, reject: _Reject
) -> Iterator[tuple[int, Any, str, bytes]]:
    """``(position, message, sku, body)`` of each message that may go into a feed, serialised once
    (sorted keys, no ``None`` fields), or not at all when it came as its :class:`SortedJson` line.
    Without ``validate`` the builder still refuses what would corrupt a document or its message
    index: no SKU, a ``messageId``, a value JSON cannot hold."""
    dumps, loads = orjson.dumps, orjson.loads
    to_verify = _VERIFIED_LINES
    splice = True  # False once a SortedJson line was not what orjson.dumps writes
    for position, given in enumerate(messages):
        line: bytes | None = None
        if type(given) is SortedJson:
            line = given.line
            message: Any = loads(line)
        else:
            message = given
        if validate:
            problems = message_problems(message)
            if problems:
                reject(message, _sku_of(message), problems, position)
                continue
        elif not isinstance(message, Mapping):
            reject(message, None, [("message", f"must be an object, got {type(message).__name__}")], position)
            continue
        sku = message.get("sku")
        if type(sku) is not str or not sku:
            reject(message, sku, [("sku", f"required, a non-empty string; got {sku!r}")], position)
            continue
        if "messageId" in message:
            reject(message, sku, [("messageId", "is assigned by the builder; do not pass it")], position)
            continue
        payload: Any = message
        if type(payload) is not dict or None in payload.values():
            payload = {k: v for k, v in message.items() if v is not None}
        elif line is not None and splice and line[:1] == b"{" and line[-1:] == b"}":
            if not to_verify:
                yield position, message, sku, line
                continue
            to_verify -= 1
            body = dumps(payload, option=_SORT)
            if body != line:
                splice = False
            yield position, message, sku, body
            continue
        try:
            body = dumps(payload, option=_SORT)
        except TypeError as exc:  # orjson.JSONEncodeError
            reject(message, sku, [("message", f"cannot be serialised as JSON: {exc}")], position)
            continue
        yield position, message, sku, body


def _write_documents(
    admitted: Iterator[tuple[int, Any, str, bytes]],
    out_dir: Path,
    name_prefix: str,
    prefix: bytes,
    limits: FeedLimits,
    reject: _Reject,
) -> list[FeedDocument]:
    """Split the serialised messages into documents, starting a new one before either limit would be
    passed, and remove every file written when anything raises (a half build must not look like a
    whole one). The sizes are counted exactly, so no document is measured after it is written."""
    max_bytes, max_messages = limits.max_bytes, limits.max_messages
    budget_for_first = (
        max_bytes - len(prefix) - len(_SUFFIX)
    )  # the smallest document: prefix + one message + "]}"
    documents: list[FeedDocument] = []
    heads: list[bytes] = [b"", b',{"messageId":1,']  # heads[n]: grown as n grows, no bytes built per message
    first_head = heads[1][1:]
    writer: _DocumentWriter | None = None
    count = 0  # messages in the current document
    size = 0  # bytes of the current document so far, without the closing "]}"
    try:
        for position, message, sku, body in admitted:
            # A message is written as head + body[1:]: head is ',{"messageId":N,' (no comma for
            # the first message of a document), body the sorted message without its "{".
            if count:
                n = count + 1
                if n == len(heads):
                    heads.append(b',{"messageId":%d,' % n)
                head = heads[n]
                length = len(head) + len(body) - 1
                if count < max_messages and size + length + len(_SUFFIX) <= max_bytes:
                    assert writer is not None
                    writer.add(head, body[1:], length, sku)
                    count = n
                    size += length
                    continue
                assert writer is not None
                documents.append(writer.close())
                writer = None
                count = 0
            length = len(first_head) + len(body) - 1
            if length > budget_for_first:
                too_large = (
                    f"{length} bytes serialised: too large for a document of at most "
                    f"{max_bytes} bytes with a {len(prefix)}-byte header"
                )
                reject(message, sku, [("message", too_large)], position)
                continue
            writer = _DocumentWriter(out_dir / f"{name_prefix}-{len(documents) + 1:05d}.json", prefix)
            writer.add(first_head, body[1:], length, sku)
            count = 1
            size = len(prefix) + length
        if writer is not None:
            documents.append(writer.close())
            writer = None
    except BaseException:
        if writer is not None:
            writer.abort()
        for document in documents:
            document.path.unlink(missing_ok=True)
            document.index_path.unlink(missing_ok=True)
        raise
    return documents


def _sku_of(message: object) -> object:
    return message.get("sku") if isinstance(message, Mapping) else None


# --- message index (sidecar) ------------------------------------------------------------------------


class MessageIndex(Mapping[int, str]):
    """messageId -> SKU, backed by a list (``first_message_id + i`` -> ``skus[i]``).

    About 8 bytes per message on top of the SKU strings, against ~75 bytes for a ``dict[int, str]``.
    """

    __slots__ = ("_first", "_skus")

    def __init__(self, skus: Sequence[str], first_message_id: int = 1) -> None:
        self._skus = list(skus)
        self._first = first_message_id

    @property
    def first_message_id(self) -> int:
        return self._first

    @property
    def skus(self) -> list[str]:
        """The SKUs in messageId order (the index's own list: do not modify)."""
        return self._skus

    def __getitem__(self, message_id: int) -> str:
        if type(message_id) is not int:
            raise KeyError(message_id)
        i = message_id - self._first
        if i < 0 or i >= len(self._skus):
            raise KeyError(message_id)
        return self._skus[i]

    def __contains__(self, message_id: object) -> bool:
        return type(message_id) is int and 0 <= message_id - self._first < len(self._skus)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self._first, self._first + len(self._skus)))

    def __len__(self) -> int:
        return len(self._skus)

    def __repr__(self) -> str:
        return f"MessageIndex({len(self._skus)} messages from {self._first})"


def message_index_path(document_path: str | Path) -> Path:
    """Where the messageId -> SKU sidecar of a document built here lives (``<name>.messages.json``)."""
    path = Path(document_path)
    return path.with_name(path.name.removesuffix(".json") + ".messages.json")


def load_message_index(path: Path | str, *, expected_sha256: str | None = None) -> MessageIndex:
    """Read a ``<name>.messages.json`` sidecar written by :func:`build_feed_documents`.

    With ``expected_sha256``, refuse a sidecar that belongs to other document bytes.
    """
    data = orjson.loads(Path(path).read_bytes())
    if not isinstance(data, dict) or not isinstance(data.get("skus"), list):
        raise ValueError(f"{path} is not a feed message index (no 'skus' array)")
    if expected_sha256 is not None and data.get("sha256") != expected_sha256:
        raise ValueError(
            f"{path} belongs to a document with sha256 {data.get('sha256')!r}, not {expected_sha256!r}"
        )
    first = data.get("firstMessageId", 1)
    if type(first) is not int or first < 1:
        raise ValueError(f"{path}: firstMessageId must be a positive integer, got {first!r}")
    return MessageIndex(data["skus"], first)


# --- document validation (tests, diagnostics) -------------------------------------------------------


class DocumentSchemaError(ValueError):
    """A written document that does not validate; ``errors`` lists ``path: message`` strings."""

    def __init__(self, path: Path, errors: list[str], total: int) -> None:
        self.path = path
        self.errors = errors
        more = f" (and {total - len(errors)} more)" if total > len(errors) else ""
        super().__init__(f"{path}: {total} schema error(s){more}: " + "; ".join(errors))


def validate_document(
    path: Path | str,
    schema: Mapping[str, Any] | Path | str,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_errors: int = 20,
) -> int:
    """Validate a written document against Amazon's ``listings-feed-schema-v2.json`` (draft-07).

    ``schema`` is the schema itself or its path (nothing is read from outside the package at runtime). Also
    checks what the schema cannot say: messageIds unique, and the file no larger than
    ``max_bytes`` (``None``: no size check). Raises :class:`DocumentSchemaError`; returns the
    number of messages. Slow (jsonschema, ~0.1 ms per message): for tests and diagnostics, not for
    every build.
    """
    from jsonschema import Draft7Validator

    path = Path(path)
    schema_doc: Mapping[str, Any] = (
        schema if isinstance(schema, Mapping) else orjson.loads(Path(schema).read_bytes())
    )
    data = path.read_bytes()
    errors: list[str] = []
    total = 0

    def add(text: str) -> None:
        nonlocal total
        total += 1
        if len(errors) < max_errors:
            errors.append(text)

    if max_bytes is not None and len(data) > max_bytes:
        add(f"$: {len(data)} bytes, more than {max_bytes}")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DocumentSchemaError(path, [f"$: not JSON: {exc}"], 1) from exc
    for error in Draft7Validator(schema_doc).iter_errors(document):
        add(f"{error.json_path}: {error.message}")
    messages = document.get("messages") if isinstance(document, dict) else None
    count = len(messages) if isinstance(messages, list) else 0
    if isinstance(messages, list):
        seen: set[object] = set()
        for i, message in enumerate(messages):
            message_id = message.get("messageId") if isinstance(message, dict) else None
            if message_id in seen:
                add(f"$.messages[{i}].messageId: {message_id} is not unique in the feed")
            seen.add(message_id)
    if total:
        raise DocumentSchemaError(path, errors, total)
    return count


# --- processing report ------------------------------------------------------------------------------

Status = Literal["accepted", "invalid", "warning", "unprocessed"]
IssueScope = Literal["message", "feed", "unknown_message"]


class ReportFormatError(ValueError):
    """The bytes are not a JSON_LISTINGS_FEED processing report (v2)."""


class IssueRow(TypedDict):
    """One processing-report issue, flattened for loading.

    ``attribute_names`` is a list (the report's singular ``attributeName``, or empty), the same
    shape as the Listings Items API's ``attributeNames``. ``sku`` is the SKU the document had for
    the messageId when known, else the report's. ``scope``: ``message`` (a messageId of the
    document), ``feed`` (no messageId: about the whole document), ``unknown_message`` (a messageId
    the document does not have; kept and flagged, never dropped). :func:`iter_report_issues` (no
    document to compare with) gives ``message`` or ``feed``.
    """

    message_id: int | None
    sku: str | None
    code: str | None
    severity: str
    message: str
    attribute_names: list[str]
    scope: IssueScope


class MessageResult(TypedDict):
    """The outcome of one message of the document.

    ``status``: ``invalid`` (an ERROR issue), ``warning`` (WARNING issues, no ERROR),
    ``accepted`` (neither; INFO issues allowed), ``unprocessed`` (no ERROR of its own, but the
    report has a feed-level ERROR or says no message was processed, so acceptance is not known).
    ``issues`` is a list, or the shared empty tuple when the message has none (one object fewer
    per message; do not rely on appending to it).
    """

    message_id: int
    sku: str
    status: Status
    issues: Sequence[IssueRow]


class ReportSummary(TypedDict):
    errors: int
    warnings: int
    messages_processed: int
    messages_accepted: int
    messages_invalid: int
    item_summary: dict[str, int] | None


class Mismatch(TypedDict):
    """A disagreement between the report and the document or the report's own counts.

    ``field``: ``messagesInvalid``, ``messagesAccepted``, ``messagesProcessed``, ``errors``,
    ``warnings`` (``reported`` = Amazon's summary, ``counted`` = ours), or ``sku`` (an issue's SKU
    differs from the document's for its messageId; ``reported`` = the report's SKU, ``counted`` =
    the document's).
    """

    field: str
    message_id: int | None
    reported: object
    counted: object
    detail: str


@dataclass(frozen=True)
class ReportOutcome:
    """What a processing report says about every message of one document."""

    feed_id: str
    seller_id: str
    #: one per message of the document, in messageId order
    messages: list[MessageResult]
    #: issues without a messageId (about the whole document)
    feed_issues: list[IssueRow]
    #: issues naming a messageId that the document did not have
    unknown_message_issues: list[IssueRow]
    #: Amazon's summary, snake_case
    summary: ReportSummary
    #: our count of messages per status (every status present, 0 when none)
    counts: dict[str, int]
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """No count or SKU disagreement, and no issue on an unknown messageId."""
        return not self.mismatches and not self.unknown_message_issues

    def issue_rows(self) -> Iterator[IssueRow]:
        """Every issue once: message issues in messageId order, then feed-level, then unknown."""
        for result in self.messages:
            yield from result["issues"]
        yield from self.feed_issues
        yield from self.unknown_message_issues


def read_report(
    report: bytes | bytearray | memoryview | str | Mapping[str, Any] | ProcessingReport,
) -> dict[str, Any]:
    """The report as a plain dict (gunzipped when the bytes start with ``1f 8b``), with its
    top-level shape checked (``header.sellerId``/``feedId``/``version``, ``issues`` array,
    ``summary`` with its five counts); raises :class:`ReportFormatError`."""
    if isinstance(report, ProcessingReport):
        data: Any = report.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif isinstance(report, Mapping):
        data = dict(report)
    elif isinstance(report, bytes | bytearray | memoryview | str):
        raw = report
        if not isinstance(raw, str) and bytes(raw[:2]) == GZIP_MAGIC:
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError) as exc:
                raise ReportFormatError(f"processing report: bad GZIP data: {exc}") from exc
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ReportFormatError(f"processing report is not JSON: {exc}") from exc
    else:
        raise ReportFormatError(
            f"processing report must be bytes, a dict or a ProcessingReport, got {type(report).__name__}"
        )
    if not isinstance(data, dict):
        raise ReportFormatError(f"processing report must be a JSON object, got {type(data).__name__}")
    header = data.get("header")
    if not isinstance(header, dict):
        raise ReportFormatError(
            "processing report has no 'header' object (a FATAL feed's report in another format?)"
        )
    for name in ("sellerId", "version", "feedId"):
        if not isinstance(header.get(name), str):
            raise ReportFormatError(
                f"processing report header.{name} must be a string, got {header.get(name)!r}"
            )
    if not isinstance(data.get("issues"), list):
        raise ReportFormatError("processing report has no 'issues' array")
    summary = data.get("summary")
    if not isinstance(summary, dict):
        raise ReportFormatError("processing report has no 'summary' object")
    for name in ("errors", "warnings", "messagesProcessed", "messagesAccepted", "messagesInvalid"):
        value = summary.get(name)
        if type(value) is not int or value < 0:
            raise ReportFormatError(
                f"processing report summary.{name} must be a non-negative integer, got {value!r}"
            )
    return data


def _issue_rows(issues: list[Any]) -> Iterator[IssueRow]:
    for i, issue in enumerate(issues):
        if type(issue) is not dict:
            raise ReportFormatError(f"issues[{i}] must be an object, got {type(issue).__name__}")
        get = issue.get
        severity = get("severity")
        message = get("message")
        message_id = get("messageId")
        sku = get("sku")
        code = get("code")
        attribute = get("attributeName")
        if type(severity) is not str:
            raise ReportFormatError(f"issues[{i}].severity must be a string, got {severity!r}")
        if type(message) is not str:
            raise ReportFormatError(f"issues[{i}].message must be a string, got {message!r}")
        if message_id is not None and (type(message_id) is not int or message_id < 1):
            raise ReportFormatError(f"issues[{i}].messageId must be a positive integer, got {message_id!r}")
        if sku is not None and type(sku) is not str:
            raise ReportFormatError(f"issues[{i}].sku must be a string, got {sku!r}")
        if code is not None and type(code) is not str:
            raise ReportFormatError(f"issues[{i}].code must be a string, got {code!r}")
        if attribute is None:
            names: list[str] = []
        elif type(attribute) is str:
            names = [attribute]
        else:
            raise ReportFormatError(f"issues[{i}].attributeName must be a string, got {attribute!r}")
        yield {
            "message_id": message_id,
            "sku": sku,
            "code": code,
            "severity": severity,
            "message": message,
            "attribute_names": names,
            "scope": "feed" if message_id is None else "message",
        }


def iter_report_issues(
    report: bytes | bytearray | memoryview | str | Mapping[str, Any] | ProcessingReport,
) -> Iterator[IssueRow]:
    """Every issue of a processing report as an :class:`IssueRow`, in report order.

    ``scope`` is ``feed`` without a messageId, else ``message`` (there is no document here to tell
    unknown messageIds; :func:`summarise_report` does).
    """
    return _issue_rows(read_report(report)["issues"])


def summarise_report(
    data: bytes | bytearray | memoryview | str | Mapping[str, Any] | ProcessingReport,
    message_index: Mapping[int, str],
) -> ReportOutcome:
    """Per-message outcomes of one document from its processing report.

    ``message_index`` maps the document's messageIds to SKUs (:meth:`FeedDocument.message_index`).
    Every message of the index gets a :class:`MessageResult` (status rule on :class:`MessageResult`);
    every issue lands on its message, in ``feed_issues`` or in ``unknown_message_issues``. Amazon's
    summary is checked against our counts (``messagesInvalid`` vs messages with an ERROR,
    ``messagesAccepted`` vs accepted + warning, ``messagesProcessed`` vs the document's messages,
    ``errors``/``warnings`` vs issues of that severity) and every SKU an issue names against the
    document's; disagreements go to :attr:`ReportOutcome.mismatches`, for the caller to record.
    """
    report = read_report(data)
    summary = _summary(report["summary"])
    issues = _SortedIssues.of(_issue_rows(report["issues"]), message_index)
    # Without confirmation that messages were processed, "no issue" does not mean "accepted".
    unconfirmed = summary["messages_processed"] == 0 or any(
        i["severity"] == "ERROR" for i in issues.feed_issues
    )
    results, counts = _message_results(_index_pairs(message_index), issues.by_message, unconfirmed)
    mismatches = [
        *issues.mismatches,
        *_count_mismatches(summary, counts, issues, len(message_index), unconfirmed),
    ]
    return ReportOutcome(
        feed_id=report["header"]["feedId"],
        seller_id=report["header"]["sellerId"],
        messages=results,
        feed_issues=issues.feed_issues,
        unknown_message_issues=issues.unknown,
        summary=summary,
        counts=counts,
        mismatches=mismatches,
    )


def _summary(raw: dict[str, Any]) -> ReportSummary:
    item_summary = raw.get("itemSummary")
    return {
        "errors": raw["errors"],
        "warnings": raw["warnings"],
        "messages_processed": raw["messagesProcessed"],
        "messages_accepted": raw["messagesAccepted"],
        "messages_invalid": raw["messagesInvalid"],
        "item_summary": dict(item_summary) if isinstance(item_summary, dict) else None,
    }


def _index_pairs(message_index: Mapping[int, str]) -> Iterable[tuple[int, str]]:
    """(messageId, SKU) in messageId order; a MessageIndex is read straight from its list."""
    if isinstance(message_index, MessageIndex):
        first, skus = message_index.first_message_id, message_index.skus
        return zip(range(first, first + len(skus)), skus, strict=True)
    return sorted(message_index.items())


@dataclass
class _SortedIssues:
    """A report's issues put where they belong: on their message, about the whole feed, or on a
    messageId the document never had (kept, so that no issue is lost); with the severity counts and
    SKU disagreements that the summary is checked by."""

    by_message: dict[int, list[IssueRow]] = field(default_factory=dict)
    feed_issues: list[IssueRow] = field(default_factory=list)
    unknown: list[IssueRow] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    errors: int = 0
    warnings: int = 0

    @classmethod
    def of(cls, rows: Iterable[IssueRow], message_index: Mapping[int, str]) -> _SortedIssues:
        """One pass over the issues; a MessageIndex is looked up by list position, not a Mapping call
        per issue, since a report may have an issue for each of 25,000 messages."""
        if isinstance(message_index, MessageIndex):
            first, skus, lookup = message_index.first_message_id, message_index.skus, None
        else:
            first, skus, lookup = 0, [], dict(message_index)
        count_in_document = len(message_index)
        sorted_issues = cls()
        by_message = sorted_issues.by_message
        for row in rows:
            severity = row["severity"]
            if severity == "ERROR":
                sorted_issues.errors += 1
            elif severity == "WARNING":
                sorted_issues.warnings += 1
            message_id = row["message_id"]
            if message_id is None:
                sorted_issues.feed_issues.append(row)
                continue
            if lookup is None:
                i = message_id - first
                sku = skus[i] if 0 <= i < count_in_document else None
            else:
                sku = lookup.get(message_id)
            if sku is None:
                row["scope"] = "unknown_message"
                sorted_issues.unknown.append(row)
                continue
            reported_sku = row["sku"]
            if reported_sku is not None and reported_sku != sku:
                sorted_issues.mismatches.append(
                    {
                        "field": "sku",
                        "message_id": message_id,
                        "reported": reported_sku,
                        "counted": sku,
                        "detail": f"messageId {message_id}: the report names sku {reported_sku!r}, the document has {sku!r}",
                    }
                )
            row["sku"] = sku
            bucket = by_message.get(message_id)
            if bucket is None:
                by_message[message_id] = [row]
            else:
                bucket.append(row)
        return sorted_issues


def _message_results(
    pairs: Iterable[tuple[int, str]], by_message: Mapping[int, list[IssueRow]], unconfirmed: bool
) -> tuple[list[MessageResult], dict[str, int]]:
    """Every message's status by the rule on :class:`MessageResult`, and how many have each; a message
    without issues shares one empty tuple, since most of a million have none."""
    no_issue_status: Status = "unprocessed" if unconfirmed else "accepted"
    counts: dict[str, int] = {"accepted": 0, "invalid": 0, "warning": 0, "unprocessed": 0}
    results: list[MessageResult] = []
    append = results.append
    get_issues = by_message.get
    no_issues: tuple[IssueRow, ...] = ()
    issues: Sequence[IssueRow] | None
    for message_id, sku in pairs:
        issues = get_issues(message_id)
        status: Status = no_issue_status
        if issues is None:
            issues = no_issues
        else:
            has_warning = False
            for issue in issues:
                severity = issue["severity"]
                if severity == "ERROR":
                    status = "invalid"
                    break
                if severity == "WARNING":
                    has_warning = True
            else:
                if has_warning and not unconfirmed:
                    status = "warning"
        counts[status] += 1
        append({"message_id": message_id, "sku": sku, "status": status, "issues": issues})
    return results, counts


def _count_mismatches(
    summary: ReportSummary,
    counts: Mapping[str, int],
    issues: _SortedIssues,
    in_document: int,
    unconfirmed: bool,
) -> list[Mismatch]:
    """Where Amazon's summary and our count disagree. Accepted messages are only compared when the
    report confirms that messages were processed: otherwise none is known to be accepted."""
    compared = [
        ("messagesInvalid", summary["messages_invalid"], counts["invalid"], "message(s) have an ERROR issue")
    ]
    if not unconfirmed:
        accepted = counts["accepted"] + counts["warning"]
        compared.append(
            ("messagesAccepted", summary["messages_accepted"], accepted, "message(s) have no ERROR issue")
        )
    compared += [
        ("messagesProcessed", summary["messages_processed"], in_document, "message(s) are in the document"),
        ("errors", summary["errors"], issues.errors, "issue(s) have severity ERROR"),
        ("warnings", summary["warnings"], issues.warnings, "issue(s) have severity WARNING"),
    ]
    return [
        {
            "field": name,
            "message_id": None,
            "reported": reported,
            "counted": counted,
            "detail": f"summary.{name} is {reported}, but {counted} {what}",
        }
        for name, reported, counted, what in compared
        if reported != counted
    ]
