"""A session's bulk writes run on a thread of their own while the caller prepares the next batch.

Why: plan and build move a million listings a batch at a time, and the two halves of each batch
wait on each other. The database's half (SQLite's inserts and page writes, PostgreSQL's COPY) runs
outside the GIL, so on a second core it can go on while this thread reads messages, serialises them
and writes the run's files. The batches still go through one at a time and in the order given, in
the caller's session and transaction: the same rows, ids and events as written one after the other.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.pool import SingletonThreadPool


class WriteBehind:
    """At most one write in flight: :meth:`submit` waits for the one before, so memory holds two
    batches, and a write that failed raises in the caller at the next :meth:`submit` or at the end
    of the ``with`` block, which always waits for the write in flight (the transaction is not rolled
    back under it). An in-memory SQLite database has a connection per thread: its writes run in the
    caller's thread, as before."""

    def __init__(self, session: Session) -> None:
        self._session = session
        bind = session.get_bind()
        pool = bind.engine.pool
        self._pool = None if isinstance(pool, SingletonThreadPool) else ThreadPoolExecutor(1, "write-behind")
        self._pending: Future[Any] | None = None

    def __enter__(self) -> WriteBehind:
        # the transaction's connection, taken here: the worker thread uses the session's own
        self._session.connection()
        return self

    def submit(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``write(*args, **kwargs)`` once the write before it is done."""
        self.wait()
        if self._pool is None:
            write(*args, **kwargs)
            return
        self._pending = self._pool.submit(write, *args, **kwargs)

    def wait(self) -> None:
        """Wait for the write in flight; its exception, if any, is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.wait()
            elif self._pending is not None:  # the caller failed: let the write finish, keep its error
                self._pending.exception()
                self._pending = None
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
