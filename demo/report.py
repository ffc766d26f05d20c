"""The demo's closing summary: what the run did, read back from the warehouse, and where to look next.

The figures come from ``run_summaries`` (written by the run's last task), not from the API server,
so the summary shows what an analyst would find in the warehouse.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import func, make_url, select

from demo.airflow_api import RunProgress
from demo.environment import ADMIN_USER, CELERY_WORKERS, DemoLayout
from listings_pipeline.config import load_config
from listings_pipeline.outcome import MARK
from listings_pipeline.run_files import BranchPaths
from listings_pipeline.warehouse.db import make_engine, session_scope
from listings_pipeline.warehouse.models import (
    AccountHealth,
    DeadLetter,
    DriftState,
    Inventory,
    ListingDrift,
    RunSummary,
)

COLUMNS = ("extracted", "quarantined", "planned", "submitted", "accepted", "invalid", "dead_lettered")


@dataclass(frozen=True)
class BranchFigures:
    seller_id: str
    marketplace_id: str
    figures: dict[str, int]


@dataclass(frozen=True)
class RunFigures:
    branches: list[BranchFigures]
    open_dead_letters: int

    def total(self, name: str) -> int:
        return sum(b.figures[name] for b in self.branches)


def read_figures(layout: DemoLayout, dag_id: str, run_id: str) -> RunFigures:
    engine = make_engine(layout.warehouse_url, read_only=True)
    try:
        with session_scope(engine) as session:
            rows = session.scalars(
                select(RunSummary)
                .where(RunSummary.dag_id == dag_id, RunSummary.run_id == run_id)
                .order_by(RunSummary.seller_id, RunSummary.marketplace_id)
            ).all()
            branches = [
                BranchFigures(r.seller_id, r.marketplace_id, {c: int(getattr(r, c)) for c in COLUMNS})
                for r in rows
            ]
            letters = session.scalar(
                select(func.count()).select_from(DeadLetter).where(DeadLetter.state == "open")
            )
    finally:
        engine.dispose()
    return RunFigures(branches=branches, open_dead_letters=int(letters or 0))


@dataclass(frozen=True)
class AmazonFigures:
    """What the runs that read from Amazon left in the warehouse: FBA SKUs in ``inventory`` per
    Amazon channel, open ``listing_drift`` rows per kind, and each seller's and marketplace's latest
    account status in ``account_health``."""

    fba_skus: dict[str, int]
    open_drift: dict[str, int]
    account_status: dict[tuple[str, str], str | None]


def read_amazon_figures(layout: DemoLayout) -> AmazonFigures:
    engine = make_engine(layout.warehouse_url, read_only=True)
    try:
        with session_scope(engine) as session:
            fba = session.execute(
                select(Inventory.fulfillment_channel_code, func.count())
                .where(Inventory.fulfillment_channel_code.like("AMAZON%"), Inventory.read_at.is_not(None))
                .group_by(Inventory.fulfillment_channel_code)
            ).all()
            drift = session.execute(
                select(ListingDrift.kind, func.count())
                .where(ListingDrift.state == DriftState.OPEN.value)
                .group_by(ListingDrift.kind)
            ).all()
            health = session.execute(
                select(
                    AccountHealth.seller_id, AccountHealth.marketplace_id, AccountHealth.account_status
                ).order_by(AccountHealth.report_date)
            ).all()
    finally:
        engine.dispose()
    return AmazonFigures(
        fba_skus={channel: int(n) for channel, n in fba},
        open_drift={kind: int(n) for kind, n in drift},
        # the latest report date last: each seller's and marketplace's status as it is now
        account_status={(seller, marketplace): status for seller, marketplace, status in health},
    )


def outcome_line(note: str | None) -> str:
    """The first line of the outcome the run_notes listener put in the run's note (below the note
    the run was triggered with), or what stands in for it."""
    if not note or MARK not in note:
        return "no outcome note"
    return note[note.index(MARK) :].splitlines()[0]


def run_state(progress: RunProgress) -> str:
    """``success``; ``failed at outcome`` (red on purpose, everything recorded); ``failed`` at what."""
    if progress.needs_attention:
        return "failed at outcome"
    if progress.state == "failed" and progress.failed_tasks:
        return "failed at " + ", ".join(progress.failed_tasks)
    return progress.state


def amazon_block(runs: dict[str, RunProgress], figures: AmazonFigures) -> str:
    """The summary's lines for the runs that read from Amazon: one per run, then the figures."""
    width = max((len(dag_id) for dag_id in runs), default=0)
    lines = [f"  {dag_id.ljust(width)}  {run_state(p)}: {outcome_line(p.note)}" for dag_id, p in runs.items()]
    fba = ", ".join(f"{c} {n}" for c, n in sorted(figures.fba_skus.items())) or "none"
    drift = ", ".join(f"{k} {n}" for k, n in sorted(figures.open_drift.items())) or "none"
    health = (
        ", ".join(f"{s}/{m} {st or '?'}" for (s, m), st in sorted(figures.account_status.items())) or "none"
    )
    lines.append(f"  FBA SKUs read into inventory: {fba}; open drift: {drift}; account health: {health}")
    return "\n".join(lines)


def _warehouse_lines(layout: DemoLayout) -> list[str]:
    if layout.services is None:
        return [
            f"  Warehouse        {layout.warehouse}",
            f"                   sqlite3 {layout.warehouse} 'select * from v_listing_status limit 10'",
        ]
    url = make_url(layout.warehouse_url)
    return [
        f"  Warehouse        PostgreSQL database {url.database} on {url.host}:{url.port or 5432}",
        f"                   psql -h {url.host} -p {url.port or 5432} -U {url.username} {url.database}",
    ]


def figures_table(figures: RunFigures) -> str:
    header = ("seller", "marketplace", *COLUMNS)
    rows = [(b.seller_id, b.marketplace_id, *(str(b.figures[c]) for c in COLUMNS)) for b in figures.branches]
    rows.append(("total", "", *(str(figures.total(c)) for c in COLUMNS)))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows]
    ]
    return "\n".join(lines)


def headline(figures: RunFigures) -> str:
    return (
        f"published {figures.total('accepted')}, invalid {figures.total('invalid')}, "
        f"quarantined {figures.total('quarantined')}, dead-lettered {figures.total('dead_lettered')} "
        f"(open dead letters: {figures.open_dead_letters})"
    )


def chunk_workers(progress: RunProgress, task_id: str = "check_chunk") -> str:
    """Which worker ran how many of the run's chunks, and how many branches were shared by several."""
    names = {hostname: name for name, hostname in CELERY_WORKERS.items()}
    per_host: Counter[str] = Counter()
    branch_hosts: defaultdict[str, set[str]] = defaultdict(set)
    for task, map_index, hostname in progress.ran_on:
        if task == task_id:
            per_host[hostname] += 1
            branch_hosts[map_index.rsplit(" ", 1)[0]].add(hostname)
    if not per_host:
        return f"no {task_id} task instance recorded a host"
    hosts = ", ".join(
        f"{names.get(h, h)} (host {h}) {n}"
        for h, n in sorted(per_host.items(), key=lambda i: names.get(i[0], i[0]))
    )
    shared = sum(1 for h in branch_hosts.values() if len(h) > 1)
    return (
        f"{task_id}: {per_host.total()} chunks on {len(per_host)} worker(s): {hosts}; {shared} of "
        f"{len(branch_hosts)} branches ran on more than one (each task instance's Hostname in the UI)"
    )


def where_to_look(layout: DemoLayout, run_id: str, figures: RunFigures) -> str:
    config = load_config(layout.pipeline_config)
    docs = [
        BranchPaths.of(config, run_id, b.seller_id, b.marketplace_id).data_docs / "index.html"
        for b in figures.branches
    ]
    lines = [
        f"  Airflow UI       {layout.airflow_url}   (login {ADMIN_USER} / {layout.admin_password()})",
        f"  Listing status   {layout.airflow_url}/listing-status/   (in the UI's navigation, same login)",
        *_warehouse_lines(layout),
        f"  Catalog          {layout.catalog}   (edit it, then trigger catalog_feed_sync again)",
        f"  Sandbox          {layout.sandbox_url}/_sandbox/state",
        f"  Logs             {layout.logs}",
    ]
    lines += [f"  Data Docs        {index}" for index in docs if index.exists()]
    return "\n".join(lines)
