"""The page inside Airflow's real api-server app: loaded as a plugin, behind Airflow's authentication,
and creating real ``dead_letter_replay`` runs in the metadata DB."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from listings_pipeline.status_page.feed_resubmission import feed_resubmission
from listings_pipeline.to_amazon import replay
from listings_pipeline.to_amazon.resubmit import NARROW_PARAM, RESUBMIT_TASK_ID
from tests.status_page.conftest import (
    CATALOG_RUN_STATES,
    FEED_SYNC_DAG,
    REPLAY_DAG,
    USERS,
    set_replay_paused,
    set_run_state,
    token_for,
)
from tests.status_page.warehouse_data import (
    CATALOG_DAG,
    DE,
    EU_SELLER,
    FORMULA,
    HOTFIX,
    HOTFIX_DAG,
    OFFERS_DAG,
    PREVIEW_CODE,
    SELLER,
    UK,
    US,
    Facts,
)

pytestmark = pytest.mark.airflow

PAGE = "/listing-status/"
CSRF = {"X-Requested-With": "listing-status"}


@pytest.fixture
def client(api_server_app: FastAPI, status_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(api_server_app, base_url="http://localhost:8080", follow_redirects=False) as c:
        yield c


@pytest.fixture
def facts(sqlite_filled: tuple[Engine, Facts]) -> Facts:
    return sqlite_filled[1]


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user)}"}


def replay_runs() -> dict[str, dict[str, Any]]:
    """run_id -> what Airflow's metadata DB holds about that run of dead_letter_replay."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return {
            run.run_id: {
                "state": str(run.state),
                "run_type": str(run.run_type),
                "triggered_by": run.triggered_by.value if run.triggered_by else None,
                "triggering_user_name": run.triggering_user_name,
                "conf": run.conf,
                "note": run.note,
            }
            for run in session.scalars(select(DagRun).where(DagRun.dag_id == REPLAY_DAG))
        }


# --- the plugin is there ----------------------------------------------------------------------------------


def test_airflow_lists_the_plugin_with_its_nav_entry(client: TestClient) -> None:
    answer = client.get("/api/v2/plugins", headers=bearer("viewer"))
    assert answer.status_code == 200, answer.text
    plugin = next(p for p in answer.json()["plugins"] if p["name"] == "listing_status")
    assert plugin["fastapi_apps"] == [
        {
            "app": "listings_pipeline.status_page.plugin.LazyApp",
            "url_prefix": "/listing-status",
            "name": "Listing status",
        }
    ]
    (view,) = plugin["external_views"]
    assert view == {
        "name": "Listing status",
        "href": "/listing-status/",
        "destination": "nav",
        "category": "browse",
        "url_route": "listing-status",
        "icon": None,
        "icon_dark_mode": None,
        "nav_top_level": False,
    }
    assert "spapi-listings" in plugin["source"]


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    """Every Airflow process loads plugins (each task too): the page's app is imported on its first request."""
    code = (
        "import sys; import listings_pipeline.status_page.plugin as p; "
        "heavy = [m for m in ('listings_pipeline.status_page.app', 'airflow.api_fastapi.core_api.security', "
        "'fastapi') if m in sys.modules]; "
        "assert not heavy, heavy; print(p.ListingStatusPlugin.fastapi_apps[0]['app'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "LazyApp('listings_pipeline.status_page.app:app')"


# --- authentication ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "api/overview",
        "api/status",
        "api/feeds",
        "api/issues",
        "api/dead-letters",
        "api/api-calls/hourly",
        "api/feeds/daily",
        "api/skus?q=BAG",
        "api/skus/BAG-01",
        "api/replay-dag",
        "api/runs",
        "api/quarantine",
        "api/quarantine.csv",
        "api/drift",
        "api/drift.csv",
        "api/seller-performance",
        "static/status.js",
        "static/status.css",
    ],
)
def test_every_route_needs_a_token(client: TestClient, path: str) -> None:
    assert client.get(PAGE + path).status_code == 401
    assert client.get(PAGE + path, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403
    client.cookies.set("_token", "not-a-jwt")
    assert client.get(PAGE + path).status_code == 403
    client.cookies.clear()
    assert client.get(PAGE + path, headers=bearer("viewer")).status_code == 200


def test_the_page_sends_strangers_to_the_login_page(client: TestClient) -> None:
    answer = client.get(PAGE + "?sku=BAG-01")
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == ["http://localhost:8080/listing-status/?sku=BAG-01"]
    client.cookies.set("_token", "expired-or-forged")
    assert client.get(PAGE).status_code == 303
    # the login page itself is Airflow's
    assert client.get("/auth/login").status_code == 200


def test_replay_without_a_token_is_refused_and_creates_nothing(client: TestClient, facts: Facts) -> None:
    before = replay_runs()
    answer = client.post(
        PAGE + "api/dead-letters/replay", json={"dead_letter_ids": [facts.letters["BAG-01"]]}, headers=CSRF
    )
    assert answer.status_code == 401
    assert replay_runs().keys() == before.keys()


def test_no_docs_or_openapi_of_our_own(client: TestClient) -> None:
    for path in ("docs", "redoc", "openapi.json"):
        assert client.get(PAGE + path, headers=bearer("operator")).status_code == 404


def test_a_real_login_gives_a_token_the_page_accepts(client: TestClient) -> None:
    name, (_, password) = "operator", USERS["operator"]
    login = client.post("/auth/token", json={"username": name, "password": password})
    assert login.status_code == 201, login.text
    client.cookies.set("_token", login.json()["access_token"])
    page = client.get(PAGE)
    assert page.status_code == 200 and 'id="user-name">operator<' in page.text
    assert client.post("/auth/token", json={"username": name, "password": "wrong"}).status_code == 401


# --- what the page and the API show -----------------------------------------------------------------------


def test_the_page_has_every_section(client: TestClient) -> None:
    client.cookies.set("_token", token_for("viewer"))
    page = client.get(PAGE)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for element in (
        'id="status-table"',
        'id="feeds-table"',
        'id="issues"',
        'id="dead-letters-table"',
        'id="api-chart"',
        'id="feed-chart"',
        'id="page-filter"',
        'id="runs"',
        'id="quarantine-table"',
        'id="drift-table"',
        'id="health-table"',
        'id="health-chart"',
    ):
        assert element in html, element
    assert "Acme Outdoor" in html and "F-PROG" in html and "90220" in html and "BAG-02" in html
    assert 'src="/listing-status/static/status.js"' in html and 'data-api="/listing-status/api"' in html
    # a viewer may read but not replay
    assert "You may read this page but not trigger" in html and 'class="replay" data-id=' in html
    assert html.count("disabled") >= 4


def test_the_page_shows_a_sku_history(client: TestClient) -> None:
    client.cookies.set("_token", token_for("operator"))
    html = client.get(PAGE, params={"sku": "BAG-01"}).text
    assert 'id="sku-timeline"' in html and "feed F-DONE message 8: invalid" in html
    assert "invalid \u2192 dead_lettered" in html and "&#39;brand&#39; is required but not supplied." in html
    missing = client.get(PAGE, params={"sku": "bag"}).text
    assert 'id="sku-not-found"' in missing and "BAG-01" in missing and "BAG-02" in missing


def test_a_sku_history_says_who_changed_what_in_which_run(client: TestClient) -> None:
    import re

    client.cookies.set("_token", token_for("viewer"))
    html = client.get(PAGE, params={"sku": "HP-01"}).text
    history = html[html.index('<section id="sku-history"') : html.index('<section id="status"')]
    # the hotfix's accepted move: the values it changed, its user, its run linked as the Runs section links
    # runs (the run id's ":" and "+" escaped)
    lines = re.findall(r'<tr class="kind-lifecycle">.*?</tr>', history, re.S)
    accepted = lines[0]  # newest first
    assert "submitted \u2192 accepted" in accepted and "cause listings_api:sub-hp-01" in accepted
    assert (
        '<code>our_price</code> <span class="old">19.99</span> &rarr; <span class="new">17.99</span>'
        in accepted
    )
    assert '<code>quantity</code> <span class="old">12</span> &rarr; <span class="new">5</span>' in accepted
    run_link = f'<a class="run-link" target="_top" href="/dags/{HOTFIX_DAG}/runs/{quote(HOTFIX["run_id"], safe="")}">'
    assert "%3A00%2B00%3A00" in run_link
    assert f'by <strong class="actor">alice</strong> in <code>{HOTFIX_DAG}</code> run {run_link}' in accepted
    # the preview is labelled so, apart from the listing's issues; the listing is in sync, without errors
    (preview,) = re.findall(r'<tr class="kind-preview">.*?</tr>', history, re.S)
    assert f"validation preview: ERROR {PREVIEW_CODE} from listings_api" in preview
    assert '<td class="in-sync">yes</td>' in history and '<td class="with-errors ">no</td>' in history
    # the Issues section leaves the preview out
    assert (
        PREVIEW_CODE
        not in html[html.index('<section id="issues"') : html.index('<section id="dead-letters"')]
    )
    assert PREVIEW_CODE not in {g["code"] for g in client.get(PAGE + "api/issues").json()}

    answer = client.get(PAGE + "api/skus/HP-01").json()
    line = next(e for e in answer["timeline"] if e["kind"] == "lifecycle")
    assert (line["actor"], line["run"], line["changes"][0]) == (
        "alice",
        {"dag_id": HOTFIX_DAG, "run_id": HOTFIX["run_id"]},
        {"field": "our_price", "old": "19.99", "new": "17.99"},
    )
    assert [i["code"] for i in answer["issues"]] == ["18027"]
    assert [i["code"] for i in answer["preview_issues"]] == [PREVIEW_CODE]


def test_the_json_api(client: TestClient, facts: Facts) -> None:
    headers = bearer("viewer")
    overview = client.get(PAGE + "api/overview", headers=headers).json()
    assert [f["feed_id"] for f in overview["feeds"]] == ["F-QUEUE", "F-PROG", "F-FATAL", "F-DONE"]
    assert {d["sku"] for d in overview["dead_letters"]} == {"BAG-01", "BAG-02", "EU-02"}
    history = client.get(PAGE + "api/skus/BAG-02", headers=headers).json()
    assert history["api_calls"][0]["request_id"] == "req-bag-02"
    # newest first: the hotfix's second failure, after its listing was dead-lettered
    assert [(e["kind"], e["title"].split(": ")[-1]) for e in history["timeline"][:2]] == [
        ("dead_letter", "failed again"),
        ("lifecycle", "invalid \u2192 dead_lettered"),
    ]
    assert client.get(PAGE + "api/skus/NOPE", headers=headers).status_code == 404
    assert client.get(PAGE + "api/skus", params={"q": "eu-"}, headers=headers).json() == ["EU-01", "EU-02"]
    hours = client.get(PAGE + "api/api-calls/hourly", params={"hours": 6}, headers=headers).json()
    calls = [h["calls"] for h in hours]  # up to the current hour (which may have turned since the data)
    assert calls[-4:] == [10, 10, 4, 0] or calls[-5:] == [10, 10, 4, 0, 0], calls
    assert client.get(PAGE + "api/feeds", params={"limit": 0}, headers=headers).status_code == 422
    state = client.get(PAGE + "api/replay-dag", headers=headers).json()
    assert (state["dag_id"], state["known"], state["can_trigger"]) == (REPLAY_DAG, True, False)
    assert client.get(PAGE + "api/replay-dag", headers=bearer("operator")).json()["can_trigger"] is True


# --- runs, quarantine and the page-wide filter ---------------------------------------------------------------


def _run_ids(html: str) -> list[str]:
    """The runs the Runs section lists, DAG after DAG, in order."""
    import re

    return re.findall(r'<tr data-run-id="([^"]+)"', html)


def _quarantine_ids(html: str) -> list[int]:
    import re

    return [int(i) for i in re.findall(r'<tr data-quarantine-id="(\d+)"', html)]


def test_the_runs_section_links_each_run_to_airflow_with_its_state(client: TestClient) -> None:
    client.cookies.set("_token", token_for("viewer"))
    html = client.get(PAGE).text
    assert html.index('id="runs-catalog_feed_sync"') < html.index('id="runs-offers_inventory_sync"')
    assert _run_ids(html) == ["scheduled__1", "scheduled__0", "scheduled__o2", "scheduled__o1"]
    for run_id in CATALOG_RUN_STATES:
        assert f'href="/dags/{CATALOG_DAG}/runs/{run_id}"' in html
    assert '<span class="badge run-state run-failed">failed</span>' in html  # scheduled__1 needed attention
    assert html.count("not in Airflow</span>") == 2  # the offers runs: no such DAG run in Airflow
    assert "1 newly quarantined" in html and "2 newly invalid" in html and "2 newly dead-lettered" in html
    assert 'href="/listing-status/?run_id=scheduled__1#quarantine"' in html  # its quarantined rows

    answer = client.get(PAGE + "api/runs", params={"per_dag": 1})
    assert answer.status_code == 200
    assert [(b["dag_id"], [(r["run_id"], r["airflow_state"]) for r in b["runs"]]) for b in answer.json()] == [
        (CATALOG_DAG, [("scheduled__1", "failed")]),
        (OFFERS_DAG, [("scheduled__o2", None)]),
    ]
    # a run id with characters a path must escape (":" and "+", as scheduled run ids have) is escaped
    from listings_pipeline.status_page.app import _path_part

    assert (
        _path_part("scheduled__2026-03-01T00:00:00+00:00") == "scheduled__2026-03-01T00%3A00%3A00%2B00%3A00"
    )


def test_the_quarantine_section_filters_and_pages(client: TestClient) -> None:
    client.cookies.set("_token", token_for("viewer"))
    html = client.get(PAGE).text
    assert len(_quarantine_ids(html)) == 7
    everything = client.get(PAGE + "api/quarantine").json()
    assert everything["total"] == 7 and len(everything["rules"]) == 6
    ids = [q["id"] for q in everything["rows"]]
    page = client.get(PAGE, params={"rule": "content_policy.formula_prefixes"}).text
    assert (
        'id="quarantine-table"' in page
        and "2 rows" in page
        and "failing <code>content_policy.formula_prefixes</code>" in page
    )
    assert _quarantine_ids(page) == [ids[2], ids[6]]
    assert '<option value="content_policy.formula_prefixes" selected>' in page
    # a page of 50 holds them all; the API pages by page_size
    second = client.get(PAGE + "api/quarantine", params={"run_id": "scheduled__1", "page": 2}).json()
    assert (second["total"], second["rows"], second["first"]) == (4, [], 0)
    assert client.get(PAGE + "api/quarantine", params={"page": 0}).status_code == 422


def test_the_filter_applies_to_every_section(client: TestClient, facts: Facts) -> None:
    client.cookies.set("_token", token_for("viewer"))
    eu = client.get(PAGE, params={"seller_id": EU_SELLER}).text
    assert 'id="filter-note"' in eu and f'<option value="{EU_SELLER}" selected>' in eu
    assert "Acme Europe" in eu and "EU-02" in eu
    # the US seller's rows are in no section: its feeds, dead letters, issues, runs and quarantine
    for theirs in (
        "F-DONE",
        "BAG-01",
        "90220",
        "4000006",
        "scheduled__0",
        "TT-02-L-RED",
        "No quarantined rows",
    ):
        assert (theirs in eu) == (theirs == "No quarantined rows"), theirs
    assert _run_ids(eu) == ["scheduled__1"]
    assert "No SP-API calls recorded" in eu  # the chart too
    de = client.get(PAGE, params={"marketplace_id": DE}).text
    assert f'<option value="{DE}" selected>' in de and "F-DONE" not in de and "No feed results" in de
    everything = client.get(PAGE).text
    assert 'id="filter-note"' not in everything and "F-DONE" in everything

    headers = bearer("viewer")
    for path, count in (("api/feeds", 0), ("api/dead-letters", 1), ("api/status", 1), ("api/issues", 1)):
        assert (
            len(client.get(PAGE + path, params={"seller_id": EU_SELLER}, headers=headers).json()) == count
        ), path
    assert [f["feed_id"] for f in client.get(PAGE + "api/feeds", params={"marketplace_id": US}).json()] == [
        "F-QUEUE", "F-PROG", "F-FATAL", "F-DONE",
    ]  # fmt: skip
    overview = client.get(PAGE + "api/overview", params={"marketplace_id": UK}).json()
    assert overview["scope"] == {"seller_id": None, "marketplace_id": UK}
    assert [d["sku"] for d in overview["dead_letters"]] == ["EU-02"] and overview["quarantine"]["total"] == 0
    assert (
        client.get(PAGE + "api/skus/TT-01-M-BLK", params={"marketplace_id": DE}).json()["listings"][0][
            "marketplace_id"
        ]
        == DE
    )
    # "all" is the empty value; anything but a marketplace id is refused
    assert client.get(PAGE, params={"seller_id": "", "marketplace_id": ""}).status_code == 200
    for bad in ('US"', "%25", "us"):
        assert client.get(PAGE + f"api/status?marketplace_id={bad}").status_code == 422, bad


def test_the_quarantine_csv_has_every_matching_row_safe_for_a_spreadsheet(client: TestClient) -> None:
    import csv
    import io

    client.cookies.set("_token", token_for("viewer"))
    answer = client.get(PAGE + "api/quarantine.csv", params={"seller_id": SELLER, "marketplace_id": US})
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == f'attachment; filename="quarantine-{SELLER}-{US}.csv"'
    assert answer.content.startswith("\ufeff".encode())
    header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    got = [dict(zip(header, row, strict=True)) for row in rows]
    assert [(r["sku"], r["rule"], r["run_id"]) for r in got] == [
        ("HP-05", "offers.price", "scheduled__o2"),
        ("", "expect_column_values_to_not_be_null", "scheduled__1"),
        ("SH-02", "content_policy.formula_prefixes", "scheduled__1"),
        ("TT-02-L-RED", "content_policy.no_html", "scheduled__1"),
        ("TT-02-L-RED", "expect_column_values_to_be_between", "scheduled__1"),
        ("HP-03", "specs.number", "scheduled__0"),
        ("SH-02", "content_policy.formula_prefixes", "scheduled__0"),
    ]
    assert got[2]["value"] == "'" + FORMULA and got[0]["value"] == "'-1"  # no cell starts a formula
    assert not [cell for r in got for cell in r.values() if cell[:1] in ("=", "+", "-", "@")]
    assert got[2]["source_line"] == "7" and got[2]["column_name"] == "item_name"

    narrowed = client.get(
        PAGE + "api/quarantine.csv",
        params={"rule": "content_policy.formula_prefixes", "run_id": "scheduled__0"},
    )
    assert narrowed.headers["content-disposition"].endswith(
        'quarantine-content_policy.formula_prefixes-scheduled__0.csv"'
    )
    assert len(narrowed.content.decode("utf-8-sig").splitlines()) == 2
    assert client.get(PAGE + "api/quarantine.csv", params={"seller_id": EU_SELLER}).text.count("\n") == 1
    # the page links to the download with its filter
    page = client.get(PAGE, params={"seller_id": SELLER, "rule": "specs.number", "page": 1}).text
    assert f'href="/listing-status/api/quarantine.csv?seller_id={SELLER}&amp;rule=specs.number"' in page


# --- the replay button ------------------------------------------------------------------------------------


def test_replay_creates_a_queued_run_with_the_dags_own_params(
    client: TestClient, facts: Facts, sqlite_filled: tuple[Engine, Facts]
) -> None:
    set_replay_paused(True)
    client.cookies.set("_token", token_for("operator"))
    answer = client.post(
        PAGE + "api/dead-letters/replay",
        json={"dead_letter_ids": [facts.letters["BAG-01"], facts.letters["EU-02"]], "note": "brand approved"},
        headers={**CSRF, "Origin": "http://localhost:8080", "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["dag_id"], body["is_paused"], body["skipped"]) == (REPLAY_DAG, True, {})
    assert [r["seller_id"] for r in body["runs"]] == [SELLER, EU_SELLER]

    runs = replay_runs()
    for answered in body["runs"]:
        run = runs[answered["run_id"]]
        assert (run["state"], run["run_type"], run["triggered_by"], run["triggering_user_name"]) == (
            "queued",
            "manual",
            "ui",
            "operator",
        )
        assert run["conf"] == answered["conf"]
        assert "picked on the listing status page by operator" in (run["note"] or "")
        # the banner's link to the run, spelt as every other run link of the page
        assert answered["url"] == f"/dags/{REPLAY_DAG}/runs/{quote(answered['run_id'], safe='')}"
    us = runs[body["runs"][0]["run_id"]]["conf"]
    assert us == {
        "seller_id": SELLER,
        "skus": "BAG-01",
        "codes": "90220",
        "states": ["open"],
        "action": "replay",
        "dry_run": False,
        "note": "replayed from the listing status page by operator: brand approved",
        "limit": 5000,
    }
    # the conf is a valid form of the deployed DAG, and selects the letter the operator picked
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session

    with create_session() as airflow_session:
        dag = DBDagBag().get_latest_version_of_dag(REPLAY_DAG, session=airflow_session)
        assert dag is not None
        dag.params.deep_merge(us).validate()
        with pytest.raises(ValueError):  # and the check is real: a list is not the form's multiline text
            dag.params.deep_merge({**us, "skus": ["BAG-01"]}).validate()
    with Session(sqlite_filled[0]) as session:
        assert [x.id for x in replay.select_letters(session, replay.parse_request(us))] == [
            facts.letters["BAG-01"]
        ]


def test_replay_of_an_unpaused_dag_says_nothing_about_pausing(client: TestClient, facts: Facts) -> None:
    set_replay_paused(False)
    try:
        client.cookies.set("_token", token_for("operator"))
        page = client.get(PAGE).text
        assert 'id="replay-dag-paused"' not in page
        answer = client.post(
            PAGE + "api/dead-letters/replay",
            json={"dead_letter_ids": [facts.letters["BAG-02"]]},
            headers=CSRF,
        )
        assert answer.status_code == 201 and answer.json()["is_paused"] is False
    finally:
        set_replay_paused(True)
    assert 'id="replay-dag-paused"' in client.get(PAGE).text


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing header"),
        ({"X-Requested-With": "XMLHttpRequest"}, "missing header"),
        ({**CSRF, "Origin": "https://evil.example"}, "cross-origin"),
        ({**CSRF, "Sec-Fetch-Site": "cross-site"}, "cross-site"),
    ],
)
def test_replay_refuses_what_another_site_could_send(
    client: TestClient, facts: Facts, headers: dict[str, str], reason: str
) -> None:
    before = replay_runs()
    client.cookies.set("_token", token_for("operator"))
    answer = client.post(
        PAGE + "api/dead-letters/replay", json={"dead_letter_ids": [facts.letters["BAG-01"]]}, headers=headers
    )
    assert answer.status_code == 403 and reason in answer.json()["detail"]
    assert replay_runs().keys() == before.keys()


def test_replay_needs_the_right_to_trigger_the_dag(client: TestClient, facts: Facts) -> None:
    before = replay_runs()
    answer = client.post(
        PAGE + "api/dead-letters/replay",
        json={"dead_letter_ids": [facts.letters["BAG-01"]]},
        headers={**CSRF, **bearer("viewer")},
    )
    assert answer.status_code == 403 and answer.json()["detail"] == "Forbidden"
    assert replay_runs().keys() == before.keys()


def test_replay_of_letters_that_are_not_open(client: TestClient, facts: Facts) -> None:
    headers = {**CSRF, **bearer("operator")}
    answer = client.post(
        PAGE + "api/dead-letters/replay",
        json={"dead_letter_ids": [facts.letters["OLD-SKU"], 10**9]},
        headers=headers,
    )
    assert answer.status_code == 409
    assert (
        "is resolved, not open" in answer.json()["detail"]
        and "no such dead letter" in answer.json()["detail"]
    )
    assert (
        client.post(
            PAGE + "api/dead-letters/replay", json={"dead_letter_ids": []}, headers=headers
        ).status_code
        == 422
    )
    assert (
        client.post(PAGE + "api/dead-letters/replay", json={"ids": [1]}, headers=headers).status_code == 422
    )


# --- what the Replay dialog says, and the run it follows ----------------------------------------------------


def feed_note(html: str) -> str:
    """The dialog's sentence about feed letters, as text."""
    import re

    found = re.search(r'<p id="replay-feed-note"[^>]*>(.*?)</p>', html, re.S)
    assert found, "no feed note in the dialog"
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


def _deployed_without_resubmission(monkeypatch: pytest.MonkeyPatch) -> None:
    """The DAGs as an older deployment has them: no narrowed sync started by the replay."""
    from airflow.models.dagbag import DBDagBag

    real = DBDagBag.get_latest_version_of_dag

    def unwired(self: Any, dag_id: str, **kwargs: Any) -> Any:
        dag = real(self, dag_id, **kwargs)
        if dag_id == REPLAY_DAG:
            return SimpleNamespace(
                task_ids=[t for t in dag.task_ids if t != RESUBMIT_TASK_ID], params=dag.params
            )
        params = {k: v for k, v in dict(dag.params).items() if k != NARROW_PARAM}
        return SimpleNamespace(task_ids=dag.task_ids, params=params)

    monkeypatch.setattr(DBDagBag, "get_latest_version_of_dag", unwired)


def test_the_dialog_says_when_a_feed_letter_is_really_sent(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the replay cannot start a sync itself (an older deployment), a feed letter waits for a
    catalog_feed_sync run, and the dialog says which one, from the DAG as deployed (paused, or
    scheduled for when)."""
    _deployed_without_resubmission(monkeypatch)
    assert not feed_resubmission(REPLAY_DAG).started_by_replay
    client.cookies.set("_token", token_for("operator"))
    html = client.get(PAGE).text
    assert 'data-path="feed"' in html and 'data-path="listings_api"' in html
    assert 'id="replay-api-note"' in html and "the replay run sends the stored change to Amazon again" in html
    paused = feed_note(html)
    assert paused.startswith("Feed letters: the replay sends nothing to Amazon itself"), paused
    assert "catalog_feed_sync is paused: nothing is sent until someone unpauses or triggers it" in paused
    assert "The letter stays replayed until Amazon answers" in paused
    assert "changes are sent to Amazon again" not in html  # what the dialog used to say of every letter

    set_replay_paused(False, FEED_SYNC_DAG)
    try:
        scheduled = feed_note(client.get(PAGE).text)
    finally:
        set_replay_paused(True, FEED_SYNC_DAG)
    next_run = feed_resubmission(REPLAY_DAG).next_run_after
    assert next_run is not None
    assert (
        f"the next catalog_feed_sync run sends it, scheduled for {next_run:%Y-%m-%d %H:%M} UTC." in scheduled
    )


def test_the_dialog_says_so_when_the_replay_starts_the_sync_itself(client: TestClient) -> None:
    """Both shipped DAGs carry their half of ``to_amazon.resubmit``: the replay starts a narrowed sync."""
    assert feed_resubmission(REPLAY_DAG).started_by_replay
    client.cookies.set("_token", token_for("operator"))
    note = feed_note(client.get(PAGE).text)
    assert (
        "it puts the listing back to ready, and a catalog_feed_sync run it starts for those SKUs only "
        "sends it, once catalog_feed_sync is unpaused."
    ) in note, note


def test_the_banner_follows_the_run_it_triggered(client: TestClient, facts: Facts) -> None:
    client.cookies.set("_token", token_for("operator"))
    letter = facts.letters["BAG-02"]
    answer = client.post(PAGE + "api/dead-letters/replay", json={"dead_letter_ids": [letter]}, headers=CSRF)
    assert answer.status_code == 201, answer.text
    [run] = answer.json()["runs"]
    url = PAGE + f"api/replay-runs/{quote(run['run_id'], safe='')}"

    status = client.get(url, params={"letter_id": run["matching_ids"]}).json()
    assert (status["dag_id"], status["run_id"], status["state"], status["finished"]) == (
        REPLAY_DAG,
        run["run_id"],
        "queued",
        False,
    )
    assert [(x["id"], x["state"], x["attempts"]) for x in status["letters"]] == [(letter, "open", 2)]
    for state, finished in (("running", False), ("failed", True), ("success", True)):
        set_run_state(run["run_id"], state)
        status = client.get(url, params={"letter_id": letter}, headers=bearer("viewer")).json()
        assert (status["state"], status["finished"]) == (state, finished)

    assert client.get(url).json()["letters"] == []  # no letter asked for, none read
    assert client.get(PAGE + "api/replay-runs/manual__nope").status_code == 404
    client.cookies.clear()
    assert client.get(url).status_code == 401
