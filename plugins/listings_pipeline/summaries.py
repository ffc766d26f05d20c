"""``run_summaries``: one row per DAG run, seller and marketplace, for every path that sends changes.

The figures come from the steps' own counts (each branch's rows must add up), plus what the warehouse
alone knows: the throttles and latency of the branch's calls (``api_calls``, by trace id) and the
distinct SKUs it quarantined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select

from listings_pipeline.branch import Branch
from listings_pipeline.call_log import branch_trace
from listings_pipeline.config import PipelineConfig
from listings_pipeline.warehouse.db import make_engine, session_scope, warehouse_url
from listings_pipeline.warehouse.models import ApiCall, Quarantine, RunSummary


def tally(results: Iterable[Mapping[str, Any]], seller_id: str, marketplace_id: str) -> dict[str, int]:
    """What one branch's feeds or per-SKU batches did (their results carry seller, marketplace and
    counts), summed into the ``run_summaries`` columns they fill."""
    mine = [
        r for r in results if (r.get("seller_id"), r.get("marketplace_id")) == (seller_id, marketplace_id)
    ]
    counts = {"submitted": sum(int(r.get("messages", 0)) for r in mine)}
    for name in ("accepted", "invalid", "warnings", "dead_lettered", "retry"):
        counts[name] = sum(int(r.get(name, 0)) for r in mine)
    return counts


def store_summaries(
    config: PipelineConfig,
    run_id: str,
    dag_id: str,
    rows: Sequence[tuple[Branch, dict[str, int]] | tuple[Branch, dict[str, int], dict[str, Any]]],
    started_at: datetime | None = None,
) -> dict[str, Any]:
    """Write one ``run_summaries`` row per (branch, counts[, reason columns]), adding each branch's
    throttles and latency from ``api_calls`` (by its trace id) and the distinct SKUs it quarantined
    (from ``quarantine``); return the run's totals (the Asset event's ``extra``)."""
    totals: dict[str, int] = {}
    for _branch, counts, *_ in rows:
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    engine = make_engine(warehouse_url(config.warehouse_conn_id))
    try:
        with session_scope(engine) as session:
            for branch, counts, *extra in rows:
                reasons = extra[0] if extra else {}
                counts["quarantined_skus"] = (
                    session.scalar(
                        select(func.count(func.distinct(Quarantine.sku))).where(
                            Quarantine.run_id == run_id,
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
                    .where(
                        ApiCall.trace_id
                        == branch_trace(run_id, branch["seller_id"], branch["marketplace_id"])
                    )
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
                        status="success",
                        latency=latency or None,
                        **reasons,
                        **{k: v for k, v in counts.items() if hasattr(RunSummary, k)},
                    )
                )
    finally:
        engine.dispose()
    return {"run_id": run_id, **totals, "branches": len(rows)}
