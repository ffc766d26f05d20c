"""The listing status page: a FastAPI app that Airflow's api-server mounts at ``/listing-status``.

Airflow mounts a plugin's FastAPI app as it is, with no authentication of its own; so every route
here depends on Airflow's: :func:`airflow.api_fastapi.core_api.security.get_user` reads the UI's JWT
cookie (``_token``) or a ``Bearer`` header and asks the configured auth manager. The HTML page sends
a visitor without a valid token to Airflow's login page; the JSON API answers 401 / 403. Triggering a
replay also needs the right to create runs of ``dead_letter_replay`` (``requires_access_dag``, as
Airflow's own trigger endpoint), and, because the cookie is sent with any request to this host, a
custom header and a same-origin check (CSRF). A run's Great Expectations Data Docs are served from
the configured ``var_dir`` behind the same login as the page (:mod:`.data_docs` says which files),
and linked from the run in the Runs section.

Reads go to the warehouse (:func:`listings_pipeline.warehouse.db.make_engine`: the
``warehouse_default`` connection, ``$SPAPI_WAREHOUSE_URL`` or ``var/warehouse.db``), writes only to
Airflow's metadata database (the new DAG run). Every section, and every JSON route, takes the same
``seller_id`` and ``marketplace_id`` filter (:class:`~listings_pipeline.status_page.scope.Scope`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import jinja2
from airflow.api_fastapi.app import API_ROOT_PATH, get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import (
    GetUserDep,
    bearer_scheme,
    get_user,
    requires_access_dag,
    requires_authenticated,
)
from airflow.configuration import conf
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from listings_pipeline.config import load_config
from listings_pipeline.status_page import (
    chart,
    csv_export,
    data_docs,
    drift,
    feed_resubmission,
    quarantine,
    queries,
    replay_runs,
    runs,
    seller_performance,
    trigger,
)
from listings_pipeline.status_page.quarantine import QuarantineFilter
from listings_pipeline.status_page.schemas import (
    ApiHour,
    DagRuns,
    DeadLetterRow,
    DriftSection,
    FeedDay,
    FeedProgress,
    IssueGroup,
    Overview,
    PerformanceSection,
    QuarantinePage,
    SkuHistory,
    StatusCounts,
    TimelineEntry,
)
from listings_pipeline.status_page.scope import MARKETPLACE_ID, Scope
from listings_pipeline.warehouse.db import make_engine
from listings_pipeline.warehouse.models import ListingStatus

CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "listing-status"
STATIC_FILES = {"status.css": "text/css; charset=utf-8", "status.js": "text/javascript; charset=utf-8"}

_PACKAGE = resources.files("listings_pipeline.status_page")
_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("listings_pipeline.status_page", "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_engine_lock = threading.Lock()
log = logging.getLogger(__name__)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 90:
        return f"{value:.0f} s"
    if value < 5400:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def _path_part(value: str) -> str:
    """One segment of a URL path: a run id's ``:`` and ``+`` escaped too (as ``encodeURIComponent``)."""
    return quote(value, safe="")


def airflow_run_url(dag_id: str, run_id: str) -> str:
    """The run's page in the Airflow UI: the one spelling of every link the page makes to a run
    (the Runs section, a SKU's history), so they cannot drift apart."""
    return f"{API_ROOT_PATH.rstrip('/')}/dags/{_path_part(dag_id)}/runs/{_path_part(run_id)}"


_templates.filters["when"] = _when
_templates.filters["seconds"] = _seconds
_templates.globals["run_url"] = airflow_run_url


# --- dependencies ----------------------------------------------------------------------------------------


class _LoginRequired(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


async def page_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> BaseUser:
    """Airflow's :func:`get_user`, but a person without a valid token is sent to the login page."""
    try:
        return await get_user(request, None, bearer)
    except HTTPException as err:
        if err.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
            raise _LoginRequired(get_auth_manager().get_url_login(next_url=str(request.url))) from err
        raise


PageUserDep = Annotated[BaseUser, Depends(page_user)]


def warehouse_engine(request: Request) -> Engine:
    """The warehouse engine, made on first use and kept on the app (tests put theirs there)."""
    state = request.app.state
    engine: Engine | None = getattr(state, "engine", None)
    if engine is None:
        with _engine_lock:
            engine = getattr(state, "engine", None)
            if engine is None:
                engine = make_engine(read_only=True)  # the page never writes to the warehouse
                state.engine = engine
    return engine


def warehouse_session(engine: Annotated[Engine, Depends(warehouse_engine)]) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(warehouse_session)]


def pipeline_var_dir(request: Request) -> Path | None:
    """The pipeline config's ``var_dir``, where runs leave their Data Docs: read once and kept on
    the app (tests put theirs there). None while the api-server has no valid pipeline config
    (``SPAPI_PIPELINE_CONFIG``): the page then links no Data Docs."""
    state = request.app.state
    var_dir: Path | None = getattr(state, "var_dir", None)
    if var_dir is None:
        try:
            var_dir = load_config().var_dir
        except (OSError, ValueError) as err:
            if getattr(state, "var_dir_problem", None) != str(err):  # once, not on every page view
                log.warning("no Data Docs on the listing status page: %s", err)
                state.var_dir_problem = str(err)
            return None
        state.var_dir = var_dir
    return var_dir


VarDirDep = Annotated[Path | None, Depends(pipeline_var_dir)]
EngineDep = Annotated[Engine, Depends(warehouse_engine)]


def page_scope(
    seller_id: Annotated[str | None, Query(max_length=64)] = None,
    marketplace_id: Annotated[str | None, Query(pattern=f"^(?:{MARKETPLACE_ID})?$")] = None,
) -> Scope:
    """The seller and marketplace filter of every route; empty (the page's "all") is no filter."""
    return Scope(seller_id=seller_id or None, marketplace_id=marketplace_id or None)


ScopeDep = Annotated[Scope, Depends(page_scope)]


def quarantine_filter(
    rule: Annotated[str | None, Query(max_length=255)] = None,
    run_id: Annotated[str | None, Query(max_length=250)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> QuarantineFilter:
    """The Quarantine section's own filter, beyond the page-wide one."""
    return QuarantineFilter(rule=rule or None, run_id=run_id or None, page=page)


QuarantineFilterDep = Annotated[QuarantineFilter, Depends(quarantine_filter)]


def same_origin_write(request: Request) -> None:
    """Refuse a write a foreign page could have made with the visitor's cookie (CSRF).

    A cross-site form cannot set a custom header, and a cross-site ``fetch`` that sets one needs a
    CORS preflight that Airflow does not grant; ``Origin`` and ``Sec-Fetch-Site``, when the browser
    sends them, must say the request comes from this host.
    """
    if request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing header {CSRF_HEADER}: {CSRF_VALUE}")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"cross-site request refused ({site})")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc not in _own_hosts(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-origin request refused")


def _own_hosts(request: Request) -> set[str]:
    """This server's ``host[:port]``: as the request names it, and as ``[api] base_url`` does (a proxy
    in front of the api-server may rewrite ``Host``)."""
    hosts = {request.headers.get("host", "")}
    base_url = conf.get("api", "base_url", fallback="") or ""
    if netloc := urlsplit(base_url).netloc:
        hosts.add(netloc)
    return hosts - {""}


def _with_airflow_states(blocks: list[DagRuns]) -> list[DagRuns]:
    """The runs with their Airflow state (``run_summaries`` says ``success`` of every run)."""
    states = trigger.run_states((r.dag_id, r.run_id) for block in blocks for r in block.runs)
    return [
        block.model_copy(
            update={
                "runs": [
                    r.model_copy(update={"airflow_state": states.get((r.dag_id, r.run_id))})
                    for r in block.runs
                ]
            }
        )
        for block in blocks
    ]


def _overview(session: Session, scope: Scope, wanted: QuarantineFilter | None = None) -> Overview:
    found = queries.overview(session, scope, quarantine_filter=wanted)
    return found.model_copy(update={"runs": _with_airflow_states(found.runs)})


def _link(base: str, current: Mapping[str, str | int | None]) -> Callable[..., str]:
    """A template helper: the page's URL with the current query string changed by keyword (``None``
    drops a parameter), and an optional ``#anchor``, so that every link keeps the page's filter."""

    def link(anchor: str = "", **changes: str | int | None) -> str:
        params = {k: v for k, v in {**current, **changes}.items() if v is not None and v != ""}
        query = urlencode(params)
        return base + (f"?{query}" if query else "") + (f"#{anchor}" if anchor else "")

    return link


def _can_replay(user: BaseUser) -> bool:
    return get_auth_manager().is_authorized_dag(
        method="POST",
        access_entity=DagAccessEntity.RUN,
        details=DagDetails(id=replay_runs.REPLAY_DAG_ID),
        user=user,
    )


# --- the app ---------------------------------------------------------------------------------------------

app = FastAPI(
    title="Listing status",
    # Airflow serves its own API docs; these routes are for the page (and scripts that copy it).
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


@app.exception_handler(_LoginRequired)
async def _to_login(request: Request, exc: _LoginRequired) -> Response:
    return RedirectResponse(exc.url, status_code=status.HTTP_303_SEE_OTHER)


@app.get("/", response_class=HTMLResponse, name="page")
def page(
    request: Request,
    user: PageUserDep,
    session: SessionDep,
    scope: ScopeDep,
    wanted: QuarantineFilterDep,
    var_dir: VarDirDep,
    sku: Annotated[str | None, Query(max_length=255)] = None,
) -> HTMLResponse:
    """The page: every section rendered on the server, for the seller and marketplace picked; a small
    script only drives the replay button. ``rule``, ``run_id`` and ``page`` narrow the Quarantine."""
    overview = _overview(session, scope, wanted)
    history: SkuHistory | None = None
    timeline: list[TimelineEntry] = []
    suggestions: list[str] = []
    sku = (sku or "").strip() or None
    if sku:
        history = queries.sku_history(session, sku, scope)
        timeline = history.timeline()
        if not history.found:
            suggestions = queries.find_skus(session, sku)
    root_path = str(request.scope.get("root_path", "")).rstrip("/")
    current = {
        "seller_id": scope.seller_id,
        "marketplace_id": scope.marketplace_id,
        "sku": sku,
        "rule": wanted.rule,
        "run_id": wanted.run_id,
        "page": wanted.page if wanted.page > 1 else None,
    }
    options = queries.filter_options(session)
    runs_shown = ((r.dag_id, r.run_id) for block in overview.runs for r in block.runs)
    html = _templates.get_template("status.html").render(
        overview=overview,
        options=options,
        countries={m.marketplace_id: m.country_code for m in options.marketplaces},
        scope=scope,
        link=_link(f"{root_path}/", current),
        export_query=urlencode(
            {k: v for k, v in current.items() if k not in ("sku", "page") and v is not None}
        ),
        statuses=[s.value for s in ListingStatus],
        api_chart=chart.api_chart(overview.api_hours),
        feed_chart=chart.feed_chart(overview.feed_days),
        health_chart=chart.health_chart(overview.performance.health_days if overview.performance else []),
        sales_chart=chart.sales_chart(overview.performance.sales_days if overview.performance else []),
        sku=sku,
        run_limit=runs.RUNS_PER_DAG,
        docs_sites=data_docs.runs_sites(var_dir, runs_shown, scope) if var_dir else {},
        docs_path=f"{root_path}/data-docs",
        history=history,
        timeline=timeline,
        suggestions=suggestions,
        replay_dag=trigger.dag_state(replay_runs.REPLAY_DAG_ID),
        feed_resubmission=feed_resubmission.feed_resubmission(replay_runs.REPLAY_DAG_ID),
        can_replay=_can_replay(user),
        user_name=user.get_name(),
        page_path=f"{root_path}/",
        api_path=f"{root_path}/api",
        static_path=f"{root_path}/static",
        csrf_header=CSRF_HEADER,
        csrf_value=CSRF_VALUE,
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@app.get("/static/{name}", dependencies=[Depends(requires_authenticated())])
def static(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    return Response((_PACKAGE / "static" / name).read_bytes(), media_type=media_type)


@app.get("/data-docs/{run}/{seller}/{marketplace}/{path:path}", dependencies=[Depends(page_user)])
def data_docs_file(run: str, seller: str, marketplace: str, path: str, var_dir: VarDirDep) -> FileResponse:
    """A file of a run's Data Docs (``data_docs.site_file`` decides which may be served), with a
    content policy that lets it load nothing from another host."""
    found = data_docs.site_file(var_dir, run, seller, marketplace, path) if var_dir else None
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such Data Docs file")
    return FileResponse(
        found,
        media_type=data_docs.media_type(found),
        headers={
            "Content-Security-Policy": data_docs.CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-cache",
        },
    )


# --- JSON ------------------------------------------------------------------------------------------------

api = APIRouter(prefix="/api", dependencies=[Depends(requires_authenticated())])


@api.get("/overview")
def get_overview(session: SessionDep, scope: ScopeDep) -> Overview:
    return _overview(session, scope)


@api.get("/status")
def get_status(session: SessionDep, scope: ScopeDep) -> list[StatusCounts]:
    return queries.status_counts(session, scope)


@api.get("/feeds")
def get_feeds(
    session: SessionDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = queries.FEED_LIMIT,
) -> list[FeedProgress]:
    return queries.recent_feeds(session, scope, limit=limit)


@api.get("/issues")
def get_issues(
    session: SessionDep,
    scope: ScopeDep,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = queries.ISSUE_GROUP_LIMIT,
) -> list[IssueGroup]:
    return queries.issue_groups(
        session,
        scope,
        since=since if since is not None else datetime.now(UTC) - queries.ISSUE_WINDOW,
        limit=limit,
    )


@api.get("/dead-letters")
def get_dead_letters(
    session: SessionDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = queries.DEAD_LETTER_LIMIT,
) -> list[DeadLetterRow]:
    return queries.open_dead_letters(session, scope, limit=limit)


@api.get("/api-calls/hourly")
def get_api_hours(
    session: SessionDep, scope: ScopeDep, hours: Annotated[int, Query(ge=1, le=24 * 31)] = queries.CHART_HOURS
) -> list[ApiHour]:
    return queries.api_call_series(session, scope, hours=hours)


@api.get("/feeds/daily")
def get_feed_days(
    session: SessionDep, scope: ScopeDep, days: Annotated[int, Query(ge=1, le=366)] = queries.CHART_DAYS
) -> list[FeedDay]:
    return queries.feed_series(session, scope, days=days)


@api.get("/runs")
def get_runs(
    session: SessionDep,
    scope: ScopeDep,
    per_dag: Annotated[int, Query(ge=1, le=200)] = runs.RUNS_PER_DAG,
) -> list[DagRuns]:
    """Each DAG's latest runs, with what is new in each and the Airflow run's state."""
    return _with_airflow_states(runs.recent_runs(session, scope, per_dag=per_dag))


@api.get("/quarantine")
def get_quarantine(session: SessionDep, scope: ScopeDep, wanted: QuarantineFilterDep) -> QuarantinePage:
    return quarantine.quarantine_page(session, scope, wanted)


def _export_name(scope: Scope, wanted: QuarantineFilter) -> str:
    parts = ["quarantine", scope.seller_id, scope.marketplace_id, wanted.rule, wanted.run_id]
    return "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", p) for p in parts if p) + ".csv"


@api.get("/quarantine.csv")
def export_quarantine(engine: EngineDep, scope: ScopeDep, wanted: QuarantineFilterDep) -> StreamingResponse:
    """Every row the Quarantine section matches (all its pages), as a CSV for a spreadsheet.

    The rows are read while the response streams, in a session of the generator's own: the
    request's session is closed by then.
    """

    def content() -> Iterator[str]:
        with Session(engine) as session:
            yield from csv_export.quarantine_csv(quarantine.quarantine_rows(session, scope, wanted))

    return StreamingResponse(
        content(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{_export_name(scope, wanted)}"',
            "Cache-Control": "no-store",
        },
    )


@api.get("/drift")
def get_drift(session: SessionDep, scope: ScopeDep) -> DriftSection:
    return drift.drift_section(session, scope)


@api.get("/seller-performance")
def get_seller_performance(session: SessionDep, scope: ScopeDep) -> PerformanceSection:
    return seller_performance.performance_section(session, scope, now=datetime.now(UTC))


@api.get("/drift.csv")
def export_drift(engine: EngineDep, scope: ScopeDep) -> StreamingResponse:
    """Every open drift row in the page's filter (the section shows the newest), as a CSV."""

    def content() -> Iterator[str]:
        with Session(engine) as session:
            yield from csv_export.drift_csv(drift.drift_rows(session, scope))

    parts = ["drift", scope.seller_id, scope.marketplace_id]
    name = "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", p) for p in parts if p) + ".csv"
    return StreamingResponse(
        content(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@api.get("/skus")
def search_skus(session: SessionDep, q: Annotated[str, Query(min_length=1, max_length=255)]) -> list[str]:
    return queries.find_skus(session, q)


@api.get("/skus/{sku}")
def get_sku(session: SessionDep, scope: ScopeDep, sku: str) -> dict[str, Any]:
    history = queries.sku_history(session, sku, scope)
    if not history.found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"nothing about SKU {sku!r} in the warehouse")
    return {
        **history.model_dump(mode="json"),
        "timeline": [e.model_dump(mode="json") for e in history.timeline()],
    }


@api.get("/replay-dag")
def get_replay_dag(user: GetUserDep) -> dict[str, Any]:
    state = trigger.dag_state(replay_runs.REPLAY_DAG_ID)
    return {
        "dag_id": state.dag_id,
        "known": state.known,
        "is_paused": state.is_paused,
        "problem": state.problem,
        "can_trigger": _can_replay(user),
    }


@api.post(
    "/dead-letters/replay",
    status_code=status.HTTP_201_CREATED,
    dependencies=[
        Depends(same_origin_write),
        Depends(
            requires_access_dag(
                method="POST", access_entity=DagAccessEntity.RUN, param_dag_id=replay_runs.REPLAY_DAG_ID
            )
        ),
    ],
)
def replay(selection: replay_runs.ReplaySelection, user: GetUserDep, session: SessionDep) -> dict[str, Any]:
    """Trigger ``dead_letter_replay`` for the selected open letters: one run per seller."""
    plan = replay_runs.plan(session, selection, user_name=user.get_name())
    if not plan.runs:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "none of the selected dead letters is open: "
            + "; ".join(f"{letter_id} {why}" for letter_id, why in plan.skipped.items()),
        )
    runs = []
    for planned in plan.runs:
        note = f"{len(planned.selected_ids)} dead letter(s) picked on the listing status page by {user.get_name()}"
        try:
            run = trigger.trigger(
                replay_runs.REPLAY_DAG_ID, planned.conf, user_name=user.get_name(), note=note
            )
        except trigger.TriggerRefused as err:
            raise HTTPException(err.status_code, err.detail) from err
        runs.append(
            {
                "run_id": run.run_id,
                "url": airflow_run_url(replay_runs.REPLAY_DAG_ID, run.run_id),
                "state": run.state,
                **planned.model_dump(),
            }
        )
    paused = trigger.dag_state(replay_runs.REPLAY_DAG_ID).is_paused
    return {
        "dag_id": replay_runs.REPLAY_DAG_ID,
        "is_paused": paused,
        "runs": runs,
        "skipped": {str(k): v for k, v in plan.skipped.items()},
    }


@api.get(
    "/replay-runs/{run_id}",
    dependencies=[
        Depends(
            requires_access_dag(
                method="GET", access_entity=DagAccessEntity.RUN, param_dag_id=replay_runs.REPLAY_DAG_ID
            )
        )
    ],
)
def get_replay_run(
    run_id: str,
    session: SessionDep,
    letter_id: Annotated[list[int] | None, Query(max_length=replay_runs.MAX_SELECTION)] = None,
) -> replay_runs.ReplayRunStatus:
    """A ``dead_letter_replay`` run's state and the given letters' states now: the page polls it
    after a replay, so its banner follows the run from ``queued`` to ``success`` or ``failed``."""
    run = trigger.find_run(replay_runs.REPLAY_DAG_ID, run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {replay_runs.REPLAY_DAG_ID} run {run_id!r}")
    return replay_runs.run_status(session, run.run_id, run.state, letter_id or [])


app.include_router(api)
