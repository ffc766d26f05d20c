"""The status page shows the Notifications section: the last day's counts and the poison messages,
through Airflow's real api-server app and a filled SQLite warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from listings_pipeline.from_amazon.notifications import take_in
from listings_pipeline.warehouse import db
from tests.status_page.conftest import token_for
from tests.warehouse.test_notification_intake import T0, accepted, message, status

if TYPE_CHECKING:
    from fastapi import FastAPI


@pytest.mark.airflow
def test_the_page_shows_notifications_and_poison(
    api_server_app: FastAPI, sqlite_template: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from listings_pipeline.status_page.app import app
    from listings_pipeline.warehouse.records import ensure_seller

    path = tmp_path / "warehouse.db"
    shutil.copyfile(sqlite_template, path)
    engine = db.make_engine(db.sqlite_url(path))
    with db.session_scope(engine) as session:
        ensure_seller(session, "A1SELLER", name="Test seller", region="na", spapi_conn_id="spapi_test")
    accepted(engine, "BAG-1")
    poison = message("<not a notification>")
    take_in(engine, [message(status("BAG-1", ["BUYABLE", "DISCOVERABLE"], T0)), poison], "run-1")
    app.state.engine = engine
    try:
        with TestClient(api_server_app, base_url="http://localhost:8080") as client:
            client.cookies.set("_token", token_for("viewer"))
            html = client.get("/listing-status/").text
            overview = client.get("/listing-status/api/overview").json()
    finally:
        del app.state.engine
        engine.dispose()
    assert 'href="#notifications"' in html and 'id="notification-counts"' in html
    assert 'data-type="LISTINGS_ITEM_STATUS_CHANGE" data-outcome="applied"' in html
    assert "1 poison message(s)" in html and f'data-message-id="{poison["message_id"]}"' in html
    assert "&lt;not" not in html  # the body is never shown, only why it could not be read
    assert overview["notifications"]["poison_total"] == 1 and overview["notifications"]["received"] == 1
