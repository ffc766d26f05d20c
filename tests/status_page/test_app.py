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
    FEED_SYNC_DAG,
    REPLAY_DAG,
    USERS,
    set_replay_paused,
    set_run_state,
    token_for,
)
from tests.status_page.warehouse_data import EU_SELLER, SELLER, Facts

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
        'id="sku-search"',
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
