"""Where a run keeps its files, and the JSON-lines and hash helpers every path shares.

Each branch (seller x marketplace) of each run writes under
``<var_dir>/runs/<run_id>/<seller>/<marketplace>/``: the snapshot, the validated rows, the messages,
the planned changes, the feed documents and reports, the Data Docs. Tasks hand each other paths, not
data, so XCom stays small and a failed task can be looked at on disk.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from listings_pipeline.config import PipelineConfig
from listings_pipeline.json_types import JsonObject


def safe_part(value: str) -> str:
    """A single path component (the one rule for every run-scoped folder: the snapshot and the other
    files of a branch must land in the same folder for any run id): ``[A-Za-z0-9._-]`` only, never hidden or ``..``.

    A value that had to change gets a short hash of the original, so two run ids that differ only in
    unsafe characters (``:`` vs ``_``) still get different folders.
    """
    if not value:
        raise ValueError("an empty seller, marketplace or run id cannot name a folder")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", value).lstrip(".")
    if safe != value or not safe:
        safe = f"{safe[:80]}-{hashlib.sha256(value.encode()).hexdigest()[:8]}".lstrip("-")
    return safe


@dataclass(frozen=True)
class BranchPaths:
    """Where one seller x marketplace branch of one run keeps its files."""

    root: Path

    @classmethod
    def of(cls, config: PipelineConfig, run_id: str, seller_id: str, marketplace_id: str) -> BranchPaths:
        return cls(
            config.var_dir / "runs" / safe_part(run_id) / safe_part(seller_id) / safe_part(marketplace_id)
        )

    @property
    def snapshots(self) -> Path:
        return self.root.parents[2]

    @property
    def good_rows(self) -> Path:
        return self.root / "validated.parquet"

    @property
    def source_keys(self) -> Path:
        """Each row's SKU, source key and whether it was checked (``catalog.unchanged``), for plan."""
        return self.root / "source_keys.parquet"

    @property
    def messages(self) -> Path:
        return self.root / "messages.jsonl"

    @property
    def message_hashes(self) -> Path:
        """``[sku, payload hash]`` of each line of ``messages.jsonl``, in order (:func:`write_messages`)."""
        return self.root / "message_hashes.jsonl"

    @property
    def held(self) -> Path:
        """SKUs an older feed may still change: not sent in this run (see ``bulk.settle``)."""
        return self.root / "held.txt"

    @property
    def planned(self) -> Path:
        return self.root / "planned.jsonl"

    @property
    def documents(self) -> Path:
        return self.root / "documents"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def data_docs(self) -> Path:
        return self.root / "data_docs"


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any] | orjson.Fragment]) -> int:
    """Write rows as JSON lines atomically (a fragment, already JSON, as it is); returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    with tmp.open("wb") as handle:
        for row in rows:
            handle.write(orjson.dumps(row, option=orjson.OPT_SORT_KEYS))
            handle.write(b"\n")
            count += 1
    tmp.replace(path)
    return count


def write_messages(path: Path, hashes: Path, messages: Iterable[Mapping[str, Any]]) -> int:
    """Catalog messages as JSON lines, and beside them each one's :class:`MessageKey`.

    Why: plan decides what to send from the SKU and the hash alone, and parsing every message again
    to get them cost as much as the rest of its first pass; with the product type too, it copies the
    lines it sends without parsing them at all. A line is the canonical form the hash is taken of,
    so the hash costs no second serialisation. Both files are replaced together.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, tmp_hashes = path.with_name(f".{path.name}.tmp"), hashes.with_name(f".{hashes.name}.tmp")
    count = 0
    with tmp.open("wb") as handle, tmp_hashes.open("wb") as index:
        for message in messages:
            if "messageId" in message:  # the hash leaves it out; a line holding one is not the hashed form
                raise ValueError("catalog messages are written without a messageId")
            line = orjson.dumps(message, option=orjson.OPT_SORT_KEYS)
            handle.write(line + b"\n")
            key = [message["sku"], hashlib.sha256(line).hexdigest(), message.get("productType")]
            index.write(orjson.dumps(key) + b"\n")
            count += 1
    tmp_hashes.replace(hashes)
    tmp.replace(path)
    return count


class MessageKey(NamedTuple):
    """What plan needs to know of a catalog message without parsing it."""

    sku: str
    digest: str  # its payload_hash
    product_type: str | None  # None also for a line written by an older map step: parse the line


def read_message_hashes(paths: BranchPaths) -> Iterator[MessageKey]:
    """Each catalog message's :class:`MessageKey`, in order; from ``messages.jsonl`` itself for a
    run whose map step wrote no hashes (an older version)."""
    if not paths.message_hashes.exists():
        for message in read_jsonl(paths.messages):
            yield MessageKey(str(message["sku"]), payload_hash(message), message.get("productType"))
        return
    with paths.message_hashes.open("rb") as handle:
        for line in handle:
            sku, digest, *rest = orjson.loads(line)
            yield MessageKey(sku, digest, rest[0] if rest else None)


def read_lines_at(path: Path, places: Container[int]) -> Iterator[tuple[int, bytes]]:
    """The lines of ``path`` whose place (0-based, as :func:`read_jsonl` numbers them) is in
    ``places``, as written (without the newline): a line copied on needs no parse and no
    re-serialisation (``orjson.Fragment``)."""
    with path.open("rb") as handle:
        # a blank line is only whitespace: isspace() stops at the first other byte, strip() copies
        # the line (a few KB, a million times)
        for place, line in enumerate(line for line in handle if not line.isspace()):
            if place in places:
                yield place, line.rstrip(b"\r\n")


def read_jsonl(path: Path) -> Iterator[JsonObject]:
    with path.open("rb") as handle:
        for line in handle:
            if not line.isspace():  # as in read_lines_at
                row: JsonObject = orjson.loads(line)
                yield row


def payload_hash(message: Mapping[str, Any]) -> str:
    """The canonical hash of what a message asks Amazon to hold (messageId excluded)."""
    body = {k: v for k, v in message.items() if k != "messageId"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def read_lines(path: Path) -> set[str]:
    """A run file of one SKU per line; empty when the file is not there."""
    try:
        with path.open(encoding="utf-8") as handle:
            return {line.rstrip("\n") for line in handle if line.strip()}
    except FileNotFoundError:
        return set()
