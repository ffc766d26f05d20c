"""Every SP-API call a task makes, written to ``api_calls`` in one bulk insert.

A client's ``on_call`` hook appends here; the task flushes once at the end (and on failure or
deferral), so recording costs one round trip per task, not one per call.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy import insert

from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import ApiCall
from listings_pipeline.warehouse.records import api_call_row

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from spapi.client import CallRecord

log = logging.getLogger(__name__)


def branch_trace(run_id: str | None, seller_id: str, marketplace_id: str) -> str:
    """The trace id of one run's SP-API calls for one seller and marketplace.

    Set with :func:`spapi.client.trace`, it is on every log line of those calls and in ``api_calls``,
    which is how a run summary finds its branch's throttles and latencies.
    """
    return f"{run_id}|{seller_id}|{marketplace_id}"


class ApiCallLog:
    """Collects :class:`~spapi.client.CallRecord`s (thread-safe) and writes them on :meth:`flush`."""

    def __init__(self, engine: Engine, run_id: str | None = None) -> None:
        self.engine = engine
        self.run_id = run_id
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()

    def __call__(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def flush(self) -> int:
        with self._lock:
            records, self._records = self._records, []
        if not records:
            return 0
        try:
            with session_scope(self.engine) as session:
                session.execute(insert(ApiCall), [api_call_row(r, self.run_id) for r in records])
        except Exception:
            # Losing call statistics must not fail a publish that Amazon already accepted.
            log.exception("could not write %d api_calls rows", len(records))
            with self._lock:
                self._records[:0] = records
            return 0
        return len(records)
