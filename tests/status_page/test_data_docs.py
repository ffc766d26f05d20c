"""A run's Data Docs through the status page, inside Airflow's real api-server app: served with the
libraries they load, behind the page's login, never a file outside a run's ``data_docs`` folder, and
linked from the run in the Runs section.

The var folder holds a real site, built by the validation step from a few sample rows, for
``scheduled__1`` of ``A1SELLER`` in the US (the warehouse's catalog run, see ``warehouse_data``),
smaller ones for the other branches, and what else a run leaves beside them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pandas as pd  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from demo.sample_catalog import BAD_ROWS, read_catalog_csv
from listings_pipeline.catalog.mapping import load_mappings
from listings_pipeline.catalog.validation import load_policy, validate_frame
from listings_pipeline.status_page.data_docs import CONTENT_SECURITY_POLICY, MEDIA_TYPES
from tests.pipeline.catalog_paths import MAPPINGS_DIR, POLICY, SAMPLE_CSV
from tests.status_page.conftest import token_for
from tests.status_page.warehouse_data import CATALOG_DAG, DE, EU_SELLER, OFFERS_DAG, SELLER, UK, US

pytestmark = pytest.mark.airflow

DOCS = "/listing-status/data-docs/"
SITE = f"scheduled__1/{SELLER}/{US}/"
SECRET = "not for the page"


class _Loads(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        if wanted and found.get(wanted) and "icon" not in str(found.get("rel")):
            self.loads.append(str(found[wanted]))


def loads_of(page: str) -> list[str]:
    parser = _Loads()
    parser.feed(page)
    return parser.loads


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("status-docs") / "var"
    runs = var / "runs"
    catalog = read_catalog_csv(SAMPLE_CSV)
    bad = next(b for b in BAD_ROWS if b.stage == "validate")
    rows = pd.concat([catalog[catalog["sku"] == bad.sku], catalog.head(4)])
    site = runs / SITE / "data_docs"
    validate_frame(rows, load_mappings(MAPPINGS_DIR), load_policy(POLICY), data_docs_dir=site)
    for branch in (
        f"scheduled__1/{SELLER}/{DE}",
        f"scheduled__1/{EU_SELLER}/{UK}",
        f"scheduled__0/{SELLER}/{US}",
    ):
        (runs / branch / "data_docs").mkdir(parents=True)
        (runs / branch / "data_docs" / "index.html").write_text(f"<p>{branch}</p>")
    # an offers run: another DAG, whose run id could be a catalog run's too
    (runs / f"scheduled__o1/{SELLER}/{US}/data_docs").mkdir(parents=True)
    (runs / f"scheduled__o1/{SELLER}/{US}/data_docs/index.html").write_text("<p>not a catalog run</p>")
    # what a run leaves beside its Data Docs, and what is not a run's at all
    (runs / SITE / "messages.jsonl").write_text(SECRET)
    (var / "secret.html").write_text(SECRET)
    (site / "notes.txt").write_text(SECRET)
    (site / ".hidden.html").write_text(SECRET)
    (site / "leak.html").symlink_to(var / "secret.html")
    outside = var.parent / "outside" / "data_docs"
    outside.mkdir(parents=True)
    (outside / "index.html").write_text(SECRET)
    (runs / f"scheduled__9/{SELLER}/{US}").mkdir(parents=True)
    (runs / f"scheduled__9/{SELLER}/{US}/data_docs").symlink_to(outside, target_is_directory=True)
    return var


@pytest.fixture
def client(api_server_app: FastAPI, status_app: FastAPI, var_dir: Path) -> Iterator[TestClient]:
    status_app.state.var_dir = var_dir
    with TestClient(api_server_app, base_url="http://localhost:8080", follow_redirects=False) as c:
        yield c
    if hasattr(status_app.state, "var_dir"):
        del status_app.state.var_dir


def viewer() -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for('viewer')}"}


def test_a_run_s_data_docs_are_served_with_everything_they_load(client: TestClient, var_dir: Path) -> None:
    index_url = f"http://localhost:8080{DOCS}{SITE}index.html"
    answer = client.get(index_url, headers=viewer())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "catalog_SHIRT" in answer.text and "bootstrapTable" in answer.text
    # a validation page four folders down, and everything the two pages load, through the same URLs
    validation = next((var_dir / "runs" / SITE / "data_docs" / "validations").rglob("*.html"))
    page_url = index_url.replace(
        "index.html", validation.relative_to(var_dir / "runs" / SITE / "data_docs").as_posix()
    )
    page = client.get(page_url, headers=viewer())
    assert page.status_code == 200 and "fa-times" in page.text  # the failure it shows
    fetched = set()
    for url, text in ((index_url, answer.text), (page_url, page.text)):
        loads = loads_of(text)
        assert len(loads) >= 12, loads
        for address in loads:
            assert not re.match(r"(https?:)?//", address), address
            target = urljoin(url, address)
            got = client.get(target, headers=viewer())
            assert got.status_code == 200, target
            assert got.headers["content-type"] == MEDIA_TYPES[Path(urlsplit(target).path).suffix]
            fetched.add(urlsplit(target).path)
    assert any(p.endswith("/static/vendor/jquery-3.7.1/dist/jquery.min.js") for p in fetched)
    # the icon font, as Font Awesome's stylesheet names it
    font = urljoin(
        f"{DOCS}{SITE}static/vendor/fontawesome-free-6.6.0/css/all.min.css", "../webfonts/fa-solid-900.woff2"
    )
    got = client.get(font, headers=viewer())
    assert got.status_code == 200 and got.headers["content-type"] == "font/woff2"
    # the folder's own address is its index
    assert client.get(f"{DOCS}{SITE}", headers=viewer()).text == answer.text


def test_strangers_are_sent_to_the_login_page(client: TestClient) -> None:
    for path in (
        "index.html",
        "static/vendor/jquery-3.7.1/dist/jquery.min.js",
        "static/images/logo-long.png",
    ):
        answer = client.get(f"{DOCS}{SITE}{path}")
        assert answer.status_code == 303, path
        location = urlsplit(answer.headers["location"])
        assert location.path == "/auth/login"
        assert parse_qs(location.query)["next"] == [f"http://localhost:8080{DOCS}{SITE}{path}"]
        client.cookies.set("_token", "expired-or-forged")
        assert client.get(f"{DOCS}{SITE}{path}").status_code == 303
        client.cookies.clear()
    # the same path with a token is there: the refusal was about the stranger
    assert client.get(f"{DOCS}{SITE}index.html", headers=viewer()).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"{SITE}%2e%2e/messages.jsonl",  # a run's other files
        f"{SITE}..%2Fmessages.jsonl",
        f"{SITE}%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.html",  # above the runs folder
        f"{SITE}static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.html",
        f"{SITE}%2F{'x'}%2F..%2Fetc%2Fpasswd",
        f"{SITE}%2Fetc%2Fpasswd",  # an absolute path
        f"{SITE}leak.html",  # a link out of the site
        f"{SITE}.hidden.html",
        f"{SITE}notes.txt",  # not a type a site holds
        f"%2e%2e/{SELLER}/{US}/index.html",  # a name that is no folder name
        f"scheduled__1/%2e%2e/{US}/index.html",
        f"scheduled__1/{SELLER}/%2e%2e/secret.html",
        f"scheduled__9/{SELLER}/{US}/index.html",  # a site folder that is a link out of the runs folder
        f"scheduled__7/{SELLER}/{US}/index.html",  # no such run
    ],
)
def test_nothing_outside_a_run_s_data_docs_is_served(client: TestClient, path: str) -> None:
    answer = client.get(DOCS + path, headers=viewer())
    assert answer.status_code in (404, 422), (path, answer.status_code)
    assert SECRET not in answer.text
    assert answer.headers.get("content-type", "").startswith("application/json")


def _runs_table(html: str, dag_id: str) -> str:
    start = html.index(f'data-dag-id="{dag_id}"')
    return html[start : html.index("</table>", start)]


def _docs_links(html: str, dag_id: str, run_id: str) -> list[str]:
    table = _runs_table(html, dag_id)
    start = table.index(f'<tr data-run-id="{run_id}">')
    row = table[start : table.index("</tr>", start)]
    return re.findall(r'class="data-docs-link"[^>]*href="([^"]+)"', row)


def test_the_runs_section_links_each_catalog_run_s_data_docs(client: TestClient) -> None:
    client.cookies.set("_token", token_for("viewer"))
    html = client.get("/listing-status/").text
    assert _docs_links(html, CATALOG_DAG, "scheduled__1") == [
        f"{DOCS}scheduled__1/{SELLER}/{DE}/index.html",
        f"{DOCS}scheduled__1/{SELLER}/{US}/index.html",
        f"{DOCS}scheduled__1/{EU_SELLER}/{UK}/index.html",
    ]
    assert _docs_links(html, CATALOG_DAG, "scheduled__0") == [f"{DOCS}scheduled__0/{SELLER}/{US}/index.html"]
    assert 'target="_blank" rel="noopener"' in _runs_table(html, CATALOG_DAG)
    assert "data-docs-link" not in _runs_table(html, OFFERS_DAG)  # its folder is not a catalog run's
    # the page's filter narrows them
    narrowed = client.get("/listing-status/", params={"seller_id": SELLER, "marketplace_id": US}).text
    assert _docs_links(narrowed, CATALOG_DAG, "scheduled__1") == [
        f"{DOCS}scheduled__1/{SELLER}/{US}/index.html"
    ]
    # every link is served
    for link in _docs_links(html, CATALOG_DAG, "scheduled__1"):
        assert client.get(link).status_code == 200, link


def test_without_a_pipeline_config_the_page_links_no_data_docs(
    client: TestClient, status_app: FastAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    del status_app.state.var_dir
    monkeypatch.setenv("SPAPI_PIPELINE_CONFIG", str(tmp_path / "missing.yaml"))
    client.cookies.set("_token", token_for("viewer"))
    page = client.get("/listing-status/")
    assert page.status_code == 200 and "data-docs-link" not in page.text
    assert client.get(f"{DOCS}{SITE}index.html").status_code == 404
