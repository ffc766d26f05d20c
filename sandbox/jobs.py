"""What feeds and reports share: jobs Amazon queues, processes in the background, lists and ends with
a document behind a presigned URL.

* :class:`Periodic`: a background pass (``run_once`` in a worker thread every
  ``processor_interval`` seconds), for the feed and report processors and the notifier;
* :func:`advance`: the two steps of a processor's pass;
* :func:`own_row`: a seller's own feed or report, or 404; :func:`with_times`: its rendering's end;
* :func:`list_filters` and :func:`list_page`: getFeeds' and getReports' filters and nextToken pages;
* :func:`document_answer`: getFeedDocument's and getReportDocument's answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from fastapi import Request

from .core import ApiError, Call, Sandbox
from .documents import presign
from .listings import csv_param, iso
from .published import PROCESSING_STATUSES

Row = dict[str, Any]


class Periodic:
    """Runs :meth:`run_once` every ``processor_interval`` seconds in a worker thread, from
    :meth:`start` until :meth:`stop`; a pass that fails is logged and the next one runs anyway."""

    #: the asyncio task's name, and what the log calls a failed pass
    task_name: ClassVar[str]
    failure: ClassVar[str]
    log: ClassVar[logging.Logger]

    sandbox: Sandbox
    _task: asyncio.Task[None] | None = None

    def run_once(self, now: float | None = None) -> int:
        raise NotImplementedError

    async def _loop(self) -> None:
        interval = self.sandbox.settings.processor_interval
        while True:
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                self.log.exception(self.failure)
            await asyncio.sleep(interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def with_times(out: dict[str, Any], row: Row, document_key: str, document_column: str) -> dict[str, Any]:
    """``out`` (a rendered feed or report) with what its row knows of its processing: the start and
    end times once there are any, and its document's id once it has one."""
    if row["started"]:
        out["processingStartTime"] = iso(row["started"])
    if row["ended"]:
        out["processingEndTime"] = iso(row["ended"])
    if row[document_column]:
        out[document_key] = row[document_column]
    return out


def advance(
    sandbox: Sandbox,
    table: str,
    now: float,
    latencies: tuple[float, float],
    start: Callable[[Row], int],
    finish: Callable[[Row], int],
) -> int:
    """One pass over ``table`` (``feeds`` or ``reports``): ``start`` each job queued for longer than
    the first latency, ``finish`` each one IN_PROGRESS for longer than the second. The jobs due to
    finish are picked before queued ones start, so one pass is one step. Returns the sum of what
    ``start`` and ``finish`` return: how many jobs changed state."""
    queue_seconds, processing_seconds = latencies
    store = sandbox.store
    due = store.all(
        f"SELECT * FROM {table} WHERE status='IN_PROGRESS' AND started<=? ORDER BY seq",
        (now - processing_seconds,),
    )
    changed = 0
    for row in store.all(
        f"SELECT * FROM {table} WHERE status='IN_QUEUE' AND created<=? ORDER BY seq", (now - queue_seconds,)
    ):
        changed += start(row)
    for row in due:
        changed += finish(row)
    return changed


def own_row(sandbox: Sandbox, call: Call, table: str, id_column: str, job_id: str, label: str) -> Row:
    """The calling seller's row of ``table`` whose ``id_column`` is ``job_id``; 404 ``"<label>
    <job_id> not found."`` when there is none (another seller's included)."""
    row = sandbox.store.one(
        f"SELECT * FROM {table} WHERE {id_column}=? AND seller_id=?", (job_id, call.seller_id)
    )
    if row is None:
        raise ApiError.not_found(f"{label} {job_id} not found.")
    return row


def list_filters(
    request: Request,
    now: float,
    *,
    types: str,
    most: tuple[int, int],
    page_size: tuple[int, int, int],
    retention: float,
    parse_time: Callable[[str, str | None], float | None],
) -> dict[str, Any]:
    """getFeeds' or getReports' filters, refused with 400 where the model's parameter definitions
    refuse them. The result is what the nextToken carries, so its keys stay as they are.

    :param types: ``feedTypes`` or ``reportTypes``, the required filter.
    :param most: how many ``types`` and ``marketplaceIds`` a call may give.
    :param page_size: the smallest, largest and default ``pageSize``.
    :param retention: how far back ``createdSince`` may go, in seconds (and its default).
    :param parse_time: reads ``createdSince`` and ``createdUntil`` (``None`` when absent).
    """
    params = request.query_params
    type_values = csv_param(request, types)
    if not type_values:
        raise ApiError.invalid(f"Invalid input: {types} is required unless nextToken is given.", types)
    marketplaces = csv_param(request, "marketplaceIds")
    statuses = csv_param(request, "processingStatuses")
    for name, values, limit in ((types, type_values, most[0]), ("marketplaceIds", marketplaces, most[1])):
        if len(values) > limit:
            raise ApiError.invalid(
                f"Invalid input: {name} accepts at most {limit} values.", f"{len(values)} {name} were given."
            )
    unknown = [s for s in statuses if s not in PROCESSING_STATUSES]
    if unknown:
        raise ApiError.invalid(
            f"Invalid input: unknown processingStatuses {', '.join(unknown)}.",
            f"processingStatuses must be among {', '.join(PROCESSING_STATUSES)}.",
        )
    smallest, largest, default = page_size
    try:
        size = int(params.get("pageSize", str(default)))
    except ValueError:
        raise ApiError.invalid("Invalid input: pageSize must be an integer.", "pageSize") from None
    if not smallest <= size <= largest:
        raise ApiError.invalid(
            f"Invalid input: pageSize must be between {smallest} and {largest}.", "pageSize"
        )
    since = parse_time("createdSince", params.get("createdSince"))
    until = parse_time("createdUntil", params.get("createdUntil"))
    if since is not None and since < now - retention:
        raise ApiError.invalid(
            "Invalid input: createdSince cannot be more than 90 days in the past.", "createdSince"
        )
    return {
        types: type_values,
        "marketplaceIds": marketplaces,
        "processingStatuses": statuses,
        "since": since if since is not None else now - retention,
        "until": until if until is not None else now,
        "pageSize": size,
        "offset": 0,
    }


def list_page(
    sandbox: Sandbox,
    call: Call,
    filters: dict[str, Any],
    *,
    table: str,
    types: str,
    type_column: str,
    key: str,
    render: Callable[[Row], dict[str, Any]],
) -> dict[str, Any]:
    """The page of the seller's jobs that ``filters`` (from :func:`list_filters` or a nextToken)
    select, newest first, as ``{key: [...], "nextToken": ...}``; the token is the filters with the
    next page's offset."""
    rows = sandbox.store.all(
        f"SELECT * FROM {table} WHERE seller_id=? AND created>=? AND created<=? ORDER BY created DESC, seq DESC",
        (call.seller_id, filters["since"], filters["until"]),
    )
    selected = [
        r
        for r in rows
        if r[type_column] in filters[types]
        and (not filters["processingStatuses"] or r["status"] in filters["processingStatuses"])
        and (
            not filters["marketplaceIds"]
            or set(json.loads(r["marketplaces"])) & set(filters["marketplaceIds"])
        )
    ]
    offset, size = int(filters["offset"]), int(filters["pageSize"])
    out: dict[str, Any] = {key: [render(r) for r in selected[offset : offset + size]]}
    if offset + size < len(selected):
        following = {**filters, "offset": offset + size}
        out["nextToken"] = base64.urlsafe_b64encode(json.dumps(following).encode()).decode()
    return out


def document_answer(
    sandbox: Sandbox,
    request: Request,
    call: Call,
    document_id: str,
    *,
    key: str,
    kind: str | None,
    label: str,
) -> dict[str, Any]:
    """getFeedDocument's or getReportDocument's answer: the document's presigned URL, and
    ``compressionAlgorithm`` for a GZIP one (whose download is served with ``Content-Encoding:
    gzip`` when ``enableContentEncodingUrlHeader=true``).

    :param key: ``feedDocumentId`` or ``reportDocumentId``.
    :param kind: the only kind of document this operation serves, or ``None`` for any of the seller's.
    :param label: what a 404 calls the document.
    """
    raw = request.query_params.get("enableContentEncodingUrlHeader")
    if raw not in (None, "true", "false"):
        raise ApiError.invalid("enableContentEncodingUrlHeader must be true or false.")
    query = "SELECT * FROM documents WHERE document_id=? AND seller_id=?"
    doc = sandbox.store.one(
        query if kind is None else query + " AND kind=?",
        (document_id, call.seller_id) if kind is None else (document_id, call.seller_id, kind),
    )
    if doc is None:
        raise ApiError.not_found(f"{label} {document_id} not found.")
    gzipped = doc["compression"] == "GZIP"
    encoding = "gzip" if gzipped and raw == "true" else ""
    out: dict[str, Any] = {
        key: document_id,
        "url": presign(sandbox, sandbox.base_url(request), "GET", document_id, encoding=encoding),
    }
    if gzipped:
        out["compressionAlgorithm"] = "GZIP"
    return out
