"""``run_summaries``: one row per DAG run, seller and marketplace, for every path that sends changes.

The figures come from the steps' own counts (each branch's rows must add up), plus what the warehouse
alone knows: the throttles and latency of the branch's calls (``api_calls``, by trace id) and the
distinct SKUs it quarantined; and whether the branch needs attention (``status``), by the rule
the run's ``outcome`` task fails the run by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeAlias, TypedDict

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from listings_pipeline.branch import Branch, SentCounts
from listings_pipeline.call_log import branch_trace
from listings_pipeline.config import PipelineConfig
from listings_pipeline.outcome import needs_attention, of_catalog
from listings_pipeline.run_totals import RunTotals
from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url
from listings_pipeline.warehouse.models import ApiCall, Quarantine, RunStatus, RunSummary


class SummaryReasons(TypedDict, total=False):
    """The JSON columns of a ``run_summaries`` row that say why (the bulk path's plan only)."""

    skipped_reasons: dict[str, int] | None
    withheld_reasons: dict[str, int] | None


#: One branch's row: its counts per column, and (the bulk path) why rows were skipped or withheld.
SummaryRow: TypeAlias = tuple[Branch, dict[str, int]] | tuple[Branch, dict[str, int], SummaryReasons]


def tally(results: Iterable[SentCounts], seller_id: str, marketplace_id: str) -> dict[str, int]:
    """What one branch's feeds or per-SKU batches did (their results carry seller, marketplace and
    counts), summed into the ``run_summaries`` columns they fill."""
    mine = [
        r for r in results if (r.get("seller_id"), r.get("marketplace_id")) == (seller_id, marketplace_id)
    ]
    return {
        "submitted": sum(r["messages"] for r in mine),
        "accepted": sum(r.get("accepted", 0) for r in mine),
        "invalid": sum(r.get("invalid", 0) for r in mine),
        "warnings": sum(r.get("warnings", 0) for r in mine),
        "dead_lettered": sum(r.get("dead_lettered", 0) for r in mine),
        "retry": sum(r.get("retry", 0) for r in mine),
    }


def branch_status(counts: Mapping[str, int]) -> RunStatus:
    """What the run's ``outcome`` task makes of one branch's figures, by its own rule: the run fails
    there when any branch needs attention, so the rows say which did (and a run's rows, whether it
    did), where an analyst reads them."""
    figures: RunTotals = dict(counts)
    return RunStatus.NEEDS_ATTENTION if needs_attention(of_catalog(figures)) else RunStatus.SUCCESS


def store_summaries(
    config: PipelineConfig,
    run_id: str,
    dag_id: str,
    rows: Sequence[SummaryRow],
    started_at: datetime | None = None,
) -> RunTotals:
    """Write the run's ``run_summaries`` rows (:func:`record_summaries`) in the configured warehouse."""
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        with session_scope(engine) as session:
            return record_summaries(session, run_id, dag_id, rows, started_at)
    finally:
        engine.dispose()


def record_summaries(
    session: Session,
    run_id: str,
    dag_id: str,
    rows: Sequence[SummaryRow],
    started_at: datetime | None = None,
) -> RunTotals:
    """Write one ``run_summaries`` row per (branch, counts[, reason columns]), adding each branch's
    throttles and latency from ``api_calls`` (by its trace id), the distinct SKUs it quarantined
    (from ``quarantine``: this DAG's rows of the run, or rows that name no DAG, written before they
    did) and its :func:`branch_status`; return the run's totals (the Asset event's ``extra``)."""
    totals: dict[str, int] = {}
    for _branch, counts, *_ in rows:
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    for branch, counts, *extra in rows:
        reasons: SummaryReasons = extra[0] if extra else {}
        counts["quarantined_skus"] = (
            session.scalar(
                select(func.count(func.distinct(Quarantine.sku))).where(
                    Quarantine.run_id == run_id,
                    or_(Quarantine.dag_id == dag_id, Quarantine.dag_id.is_(None)),
                    Quarantine.seller_id == branch["seller_id"],
                    Quarantine.marketplace_id == branch["marketplace_id"],
                )
            )
            or 0
        )
        totals["quarantined_skus"] = totals.get("quarantined_skus", 0) + counts["quarantined_skus"]
        calls = session.execute(
            select(
                ApiCall.operation,
                func.count(),
                func.sum(case((ApiCall.throttled, 1), else_=0)),
                func.avg(ApiCall.latency_ms),
                func.max(ApiCall.latency_ms),
            )
            .where(ApiCall.trace_id == branch_trace(run_id, branch["seller_id"], branch["marketplace_id"]))
            .group_by(ApiCall.operation)
        ).all()
        counts["throttled_calls"] = sum(int(c[2] or 0) for c in calls)
        totals["throttled_calls"] = totals.get("throttled_calls", 0) + counts["throttled_calls"]
        latency = {
            op: {"calls": n, "avg_ms": round(float(avg or 0), 1), "max_ms": round(float(top or 0), 1)}
            for op, n, _, avg, top in calls
        }
        session.add(
            RunSummary(
                run_id=run_id,
                dag_id=dag_id,
                seller_id=branch["seller_id"],
                marketplace_id=branch["marketplace_id"],
                started_at=started_at or datetime.now(UTC),
                ended_at=datetime.now(UTC),
                status=branch_status(counts).value,
                latency=latency or None,
                **reasons,
                **{k: v for k, v in counts.items() if hasattr(RunSummary, k)},
            )
        )
    session.flush()
    return {"run_id": run_id, **totals, "branches": len(rows)}
