"""The Runs section's reads: each DAG's latest runs from ``run_summaries``, and what is new in each.

``run_summaries`` has one row per run, seller and marketplace (written by ``summarise`` in
``catalog_feed_sync`` and ``offers_inventory_sync``); a run here is those rows added up, within the
page's scope. *New in a run* is about listings, per seller and marketplace the run covered:

- **quarantined**: SKUs with a quarantine row from this run and none from the DAG's previous run
  for that seller and marketplace (its latest ``run_summaries`` row before this one). A SKU that
  stays bad run after run is new only once; one fixed and broken again is new again; on the first
  run every SKU is new. Rows without a SKU are counted in the run's figures, not here.
- **invalid** and **dead_lettered**: listings this run moved to ``invalid`` (Amazon rejected the
  change) or ``dead_lettered``, from the run's ``listing_events``. A move is new by nature: the
  listing was elsewhere before. A letter that fails again leaves its listing where it was, so it is
  not new.

Two DAGs' runs may share an id (``scheduled__<midnight>`` of the daily catalog sync and of the
hourly offers sync). An event names its DAG (``listing_events.dag_id``, where its writer knew it),
so moves are told apart; so does a quarantine row (``quarantine.dag_id``, from migration 0006 on),
so a run sees only its own DAG's rows, as ``run_summaries.quarantined_skus`` counts them. Rows
written before either named its DAG belong to every DAG's run of their id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import and_, exists, func, literal, or_, select, tuple_, union_all
from sqlalchemy.orm import Session, aliased

from listings_pipeline.status_page.schemas import DagRuns, NewInRun, RunRow, RunSku
from listings_pipeline.status_page.scope import EVERYWHERE, Scope
from listings_pipeline.warehouse.models import Listing, ListingEvent, ListingStatus, Quarantine, RunSummary

RUNS_PER_DAG = 10
NEW_SKUS_SHOWN = 5
#: The ``run_summaries`` counts a run's rows add up to, in the order the page shows them.
COUNTS = (
    "extracted",
    "quarantined",
    "quarantined_skus",
    "planned",
    "deleted",
    "unchanged",
    "skipped",
    "submitted",
    "accepted",
    "invalid",
    "warnings",
    "dead_lettered",
    "throttled_calls",
)
MOVES = (ListingStatus.INVALID.value, ListingStatus.DEAD_LETTERED.value)


def recent_runs(
    session: Session,
    scope: Scope = EVERYWHERE,
    *,
    per_dag: int = RUNS_PER_DAG,
    shown: int = NEW_SKUS_SHOWN,
) -> list[DagRuns]:
    """Each DAG's ``per_dag`` latest runs in ``scope``, newest first, DAGs by id; each run's new
    listings, at most ``shown`` SKUs of each kind (and how many in all)."""
    rs = RunSummary
    summed = (
        select(
            rs.dag_id,
            rs.run_id,
            func.min(rs.started_at).label("started_at"),
            func.max(rs.ended_at).label("ended_at"),
            func.count().label("branches"),
            *(func.sum(getattr(rs, name)).label(name) for name in COUNTS),
        )
        .where(*scope.on(rs.seller_id, rs.marketplace_id))
        .group_by(rs.dag_id, rs.run_id)
        .subquery()
    )
    latest = func.row_number().over(
        partition_by=summed.c.dag_id, order_by=(summed.c.started_at.desc(), summed.c.run_id.desc())
    )
    ranked = select(summed, latest.label("rank")).subquery()
    rows = session.execute(
        select(ranked).where(ranked.c.rank <= per_dag).order_by(ranked.c.dag_id, ranked.c.rank)
    ).all()
    new = _new_in_runs(session, scope, [(r.dag_id, r.run_id) for r in rows], shown) if rows else {}
    by_dag: dict[str, list[RunRow]] = defaultdict(list)
    for r in rows:
        by_dag[r.dag_id].append(
            RunRow.model_validate(
                {
                    "dag_id": r.dag_id,
                    "run_id": r.run_id,
                    "started_at": r.started_at,
                    "ended_at": r.ended_at,
                    "branches": r.branches,
                    # PostgreSQL's SUM of an integer is NUMERIC (a Decimal)
                    **{name: int(getattr(r, name) or 0) for name in COUNTS},
                    "new": new.get((r.dag_id, r.run_id), []),
                }
            )
        )
    return [DagRuns(dag_id=dag_id, runs=dag_runs) for dag_id, dag_runs in by_dag.items()]


def _new_in_runs(
    session: Session, scope: Scope, runs: Sequence[tuple[str, str]], shown: int
) -> dict[tuple[str, str], list[NewInRun]]:
    """(dag id, run id) -> the run's new listings by kind, in one query for all the runs."""
    rs, earlier = RunSummary, aliased(RunSummary)
    previous_run = (
        select(earlier.run_id)
        .where(
            earlier.dag_id == rs.dag_id,
            earlier.seller_id == rs.seller_id,
            earlier.marketplace_id == rs.marketplace_id,
            or_(
                earlier.started_at < rs.started_at,
                and_(earlier.started_at == rs.started_at, earlier.id < rs.id),
            ),
        )
        .order_by(earlier.started_at.desc(), earlier.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    branches = (
        select(rs.dag_id, rs.run_id, rs.seller_id, rs.marketplace_id, previous_run.label("previous_run_id"))
        .where(tuple_(rs.dag_id, rs.run_id).in_(list(runs)), *scope.on(rs.seller_id, rs.marketplace_id))
        .cte("branches")
    )
    b = branches.c
    q, before = Quarantine, aliased(Quarantine)
    quarantined = (
        select(b.dag_id, b.run_id, literal("quarantined").label("kind"), q.seller_id, q.marketplace_id, q.sku)
        .join(
            q,
            and_(
                q.run_id == b.run_id,
                or_(q.dag_id == b.dag_id, q.dag_id.is_(None)),  # NULL: written before rows named it
                q.seller_id == b.seller_id,
                q.marketplace_id == b.marketplace_id,
                q.sku.is_not(None),
            ),
        )
        .where(
            ~exists().where(
                before.run_id == b.previous_run_id,
                or_(before.dag_id == b.dag_id, before.dag_id.is_(None)),
                before.seller_id == q.seller_id,
                before.marketplace_id == q.marketplace_id,
                before.sku == q.sku,
            )
        )
        .distinct()
    )
    e, listing = ListingEvent, Listing
    moved = (
        select(
            b.dag_id,
            b.run_id,
            e.to_status.label("kind"),
            listing.seller_id,
            listing.marketplace_id,
            listing.sku,
        )
        .join(
            e,
            and_(
                e.run_id == b.run_id,
                or_(e.dag_id == b.dag_id, e.dag_id.is_(None)),  # NULL: written before events named it
                e.to_status.in_(MOVES),
            ),
        )
        .join(
            listing,
            and_(
                listing.id == e.listing_id,
                listing.seller_id == b.seller_id,
                listing.marketplace_id == b.marketplace_id,
            ),
        )
        .distinct()
    )
    found = union_all(quarantined, moved).subquery()
    f = found.c
    kind = (f.dag_id, f.run_id, f.kind)
    ranked = select(
        found,
        func.row_number()
        .over(partition_by=kind, order_by=(f.sku, f.seller_id, f.marketplace_id))
        .label("rn"),
        func.count().over(partition_by=kind).label("n"),
    ).subquery()
    listed: dict[tuple[str, str, str], tuple[int, list[RunSku]]] = {}
    for row in session.execute(select(ranked).where(ranked.c.rn <= shown).order_by(ranked.c.rn)):
        _, skus = listed.setdefault((row.dag_id, row.run_id, row.kind), (int(row.n), []))
        skus.append(RunSku(seller_id=row.seller_id, marketplace_id=row.marketplace_id, sku=row.sku))
    return _by_run(listed)


def _by_run(
    listed: dict[tuple[str, str, str], tuple[int, list[RunSku]]],
) -> dict[tuple[str, str], list[NewInRun]]:
    order = ("quarantined", *MOVES)
    out: dict[tuple[str, str], list[NewInRun]] = defaultdict(list)
    for (dag_id, run_id, kind), (count, skus) in sorted(
        listed.items(), key=lambda item: order.index(item[0][2])
    ):
        out[(dag_id, run_id)].append(NewInRun.model_validate({"kind": kind, "count": count, "skus": skus}))
    return out
