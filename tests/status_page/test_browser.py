"""The page in a real browser: headless Chromium (Debian's chromium and chromium-driver) via Selenium,
against Airflow's api-server app served by uvicorn on a free port.

It logs in through Airflow's own login form at 1280 x 900 (no section may need horizontal scrolling),
reads every section, follows a run to its page in the Airflow UI, narrows the page to one seller and
the quarantine to one rule, downloads the quarantine CSV, replays a dead letter (the dialog
says what happens to a feed letter; a real queued ``dead_letter_replay`` run appears in the metadata DB,
and the banner follows it to the end and says what became of the letter), searches a SKU, opens the page through the
Airflow UI's navigation (the iframe at ``/plugin/listing-status``), and checks the screenshots it
saves under the test's tmp dir: not blank, the chart drawn in its colours, the runs' states in theirs.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from listings_pipeline.status_page import chart
from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.models import DeadLetter
from tests.conftest import service_missing
from tests.status_page.conftest import USERS, set_replay_paused, set_run_state
from tests.status_page.test_app import replay_runs
from tests.status_page.warehouse_data import (
    CATALOG_DAG,
    EU_SELLER,
    FORMULA,
    HOTFIX,
    HOTFIX_DAG,
    PREVIEW_CODE,
    SELLER,
    US,
    Facts,
)

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_S = 30
VIEWPORT = (1280, 900)

# Elements wider than their box: the document itself, or a table inside its scroll container.
OVERFLOWING = """
const root = document.documentElement;
const wide = [...document.querySelectorAll("section, .scroll, table, figure")]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.id || e.className);
return {page: root.scrollWidth - root.clientWidth, width: window.innerWidth, wide: wide};
"""
# The CSV behind a download link, fetched as the browser would download it (with its cookie).
FETCH_TEXT = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {credentials: "same-origin"})
    .then(r => r.text().then(t => done({status: r.status, type: r.headers.get("content-type"), text: t})))
    .catch(e => done({status: 0, text: String(e)}));
"""


# True once the page has loaded, its fonts are in, no finite animation or transition is running
# and no menu item is left showing.
SETTLED = """
return document.readyState === "complete"
    && document.fonts.status === "loaded"
    && document.getAnimations().every(
        a => a.playState !== "running" || a.effect === null || a.effect.getComputedTiming().endTime === Infinity)
    && [...document.querySelectorAll("[role=menuitem]")].every(
        e => !e.checkVisibility({opacityProperty: true, visibilityProperty: true}));
"""


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _count_near(image: Any, colour: str, tolerance: int = 24) -> int:
    """Pixels within ``tolerance`` of ``colour`` on each channel (anti-aliased edges are not exact)."""
    r0, g0, b0 = _rgb(colour)
    return sum(
        n
        for n, (r, g, b) in image.convert("RGB").getcolors(maxcolors=1 << 24) or []
        if abs(r - r0) <= tolerance and abs(g - g0) <= tolerance and abs(b - b0) <= tolerance
    )


def _assert_not_blank(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        assert width > 300 and height > 300, rgb.size
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50, f"{path.name}: only {len(colours)} colours"
        white = sum(n for n, c in colours if min(c) >= 245)
        assert white / (width * height) < 0.97, f"{path.name} is almost all white"


@pytest.fixture(scope="module")
def browser_tools() -> tuple[str, str]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        service_missing(
            f"headless browser test needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
            "apt-get install chromium chromium-driver"
        )
    pytest.importorskip("selenium", reason="selenium is in requirements.txt")
    pytest.importorskip("PIL", reason="pillow is in requirements.txt")
    return str(CHROMIUM), str(CHROMEDRIVER)


@pytest.fixture
def server(api_server_app: FastAPI, status_app: FastAPI) -> Iterator[str]:
    """Airflow's api-server app on a free local port (uvicorn in a thread, as ``airflow api-server`` runs it)."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(api_server_app, host="127.0.0.1", port=port, log_config=None, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(WAIT_S)
    assert not thread.is_alive()


@pytest.fixture
def driver(browser_tools: tuple[str, str], tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_tools
    options = webdriver.ChromeOptions()
    # Passing both paths keeps Selenium Manager from looking for (and downloading) anything.
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    browser.set_page_load_timeout(WAIT_S)
    # the window holds more than the page (its frame and bars): grow it until the viewport is VIEWPORT
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    outer = browser.get_window_size()
    browser.set_window_size(outer["width"] + VIEWPORT[0] - inner[0], outer["height"] + VIEWPORT[1] - inner[1])
    yield browser
    browser.quit()
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def test_an_operator_uses_the_page(
    server: str, driver: Any, sqlite_filled: tuple[Engine, Facts], tmp_path: Path
) -> None:
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    facts = sqlite_filled[1]
    wait = WebDriverWait(driver, WAIT_S)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    set_replay_paused(True)

    # 1. a stranger is sent to Airflow's login form, and comes back after signing in
    driver.get(f"{server}/listing-status/")
    wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys("operator")
    assert "/auth/login" in driver.current_url
    driver.find_element(By.NAME, "password").send_keys(USERS["operator"][1], Keys.ENTER)
    wait.until(ec.visibility_of_element_located((By.ID, "status-table")))
    assert driver.current_url == f"{server}/listing-status/"
    assert "_token" in {c["name"] for c in driver.get_cookies()}

    # 2. every section is there and visible, and fits the width: nothing scrolls sideways
    assert driver.execute_script("return [window.innerWidth, window.innerHeight]") == list(VIEWPORT)
    fit = driver.execute_script(OVERFLOWING)
    assert fit["page"] <= 0 and fit["wide"] == [], fit
    for element_id in (
        "status-table",
        "runs",
        "quarantine-table",
        "api-chart",
        "feed-chart",
        "feeds-table",
        "issues",
        "dead-letters-table",
        "health-table",  # Seller performance: empty in this warehouse, drawn all the same
        "health-chart",
        "sales-chart",
    ):
        element = driver.find_element(By.ID, element_id)
        driver.execute_script("arguments[0].scrollIntoView()", element)
        assert element.is_displayed(), element_id
    status_rows = driver.find_elements(By.CSS_SELECTOR, "#status-table tbody tr")
    assert len(status_rows) == 3 and "Acme Outdoor" in status_rows[0].text
    assert [
        r.get_attribute("data-feed-id")
        for r in driver.find_elements(By.CSS_SELECTOR, "#feeds-table tbody tr")
    ] == [
        "F-QUEUE",
        "F-PROG",
        "F-FATAL",
        "F-DONE",
    ]
    assert [
        g.get_attribute("data-code") for g in driver.find_elements(By.CSS_SELECTOR, "details.issue-group")
    ] == [
        "4000006",
        "5665",
        "90220",
        "FATAL",
        "18027",
    ]
    assert driver.find_element(By.ID, "replay-dag-paused").is_displayed()
    # a letter that failed twice: one row, its last error, attempt 2
    twice = driver.find_element(By.CSS_SELECTOR, f'tr[data-letter-id="{facts.letters["BAG-02"]}"]')
    assert twice.find_element(By.CSS_SELECTOR, "td.attempts").text == "2"
    assert twice.find_element(By.CSS_SELECTOR, "td.reason").text == "4000006: rejected again"
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(shots / "page.png"))
    _assert_not_blank(shots / "page.png")

    # 3. the chart is drawn, in its colours
    api_chart = driver.find_element(By.ID, "api-chart")
    driver.execute_script("arguments[0].scrollIntoView()", api_chart)
    assert api_chart.size["width"] > 600 and api_chart.size["height"] > 300, api_chart.size
    api_chart.screenshot(str(shots / "api-chart.png"))
    driver.find_element(By.ID, "feed-chart").screenshot(str(shots / "feed-chart.png"))
    with Image.open(shots / "api-chart.png") as image:
        for name, colour in (
            ("success", chart.SUCCESS),
            ("throttle", chart.THROTTLE),
            ("latency", chart.LATENCY),
        ):
            assert _count_near(image, colour) >= 20, f"no {name} pixels ({colour}) in the chart"
    with Image.open(shots / "feed-chart.png") as image:
        assert _count_near(image, chart.SUCCESS) >= 200 and _count_near(image, chart.INVALID) >= 20
    # the time axes are dated
    axis_dates = {
        t.text for t in driver.find_elements(By.CSS_SELECTOR, "#api-chart text.date, #feed-chart text.date")
    }
    assert f"{facts.now:%Y-%m-%d}" in axis_dates and f"{facts.now:%Y}" in axis_dates, axis_dates

    # 3b. the runs: each DAG's latest first, Airflow's state, what is new, a link to the run in Airflow
    runs = driver.find_element(By.ID, "runs")
    driver.execute_script("arguments[0].scrollIntoView()", runs)
    assert [
        r.get_attribute("data-run-id")
        for r in runs.find_elements(By.CSS_SELECTOR, "table.runs-table tbody tr")
    ] == ["scheduled__1", "scheduled__0", "scheduled__o2", "scheduled__o1"]
    latest = runs.find_element(By.CSS_SELECTOR, 'tr[data-run-id="scheduled__1"]')
    assert latest.find_element(By.CSS_SELECTOR, ".run-state").text == "failed"
    new = latest.find_element(By.CSS_SELECTOR, "td.new").text
    assert "1 newly quarantined TT-02-L-RED" in new and "2 newly invalid BAG-01" in new, new
    assert "SH-02" not in new  # quarantined by the run before too: not new
    runs.screenshot(str(shots / "runs.png"))
    _assert_not_blank(shots / "runs.png")
    with Image.open(shots / "runs.png") as image:
        # the failed run's red badge, the successful one's green, the newly-quarantined red badges
        assert _count_near(image, "#fee2e2", 6) >= 300 and _count_near(image, "#dcfce7", 6) >= 150

    # 3c. the quarantine, narrowed to one rule, and its CSV
    table = driver.find_element(By.ID, "quarantine-table")
    assert len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) == 7
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, "quarantine-rule")).select_by_value("content_policy.formula_prefixes")
    driver.find_element(By.ID, "quarantine-apply").click()
    wait.until(ec.url_contains("rule=content_policy.formula_prefixes"))
    rows = driver.find_elements(By.CSS_SELECTOR, "#quarantine-table tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td.sku").text for r in rows] == ["SH-02", "SH-02"]
    assert rows[0].find_element(By.CSS_SELECTOR, "td.value").text == FORMULA
    assert rows[0].find_element(By.CSS_SELECTOR, "td.source").text == "acme-us.csv:7"
    assert driver.find_element(By.ID, "quarantine-range").text == "Rows 1\u20132 of 2"
    driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.ID, "quarantine"))
    driver.save_screenshot(str(shots / "quarantine.png"))
    _assert_not_blank(shots / "quarantine.png")
    download = driver.find_element(By.ID, "quarantine-csv").get_attribute("href")
    got = driver.execute_async_script(FETCH_TEXT, download)
    assert got["status"] == 200 and got["type"].startswith("text/csv"), got
    lines = got["text"].lstrip("\ufeff").splitlines()
    assert len(lines) == 3 and all(",\"'=HYPERLINK(" in line for line in lines[1:]), lines

    # 3d. one seller across the page
    driver.execute_script("window.scrollTo(0, 0)")
    Select(driver.find_element(By.ID, "filter-seller")).select_by_value(EU_SELLER)
    driver.find_element(By.ID, "apply-filter").click()
    wait.until(ec.visibility_of_element_located((By.ID, "filter-note")))
    assert f"seller_id={EU_SELLER}" in driver.current_url
    assert [
        r.text.split("\n")[0] for r in driver.find_elements(By.CSS_SELECTOR, "#status-table tbody tr")
    ] == ["Acme Europe"]
    assert [
        r.get_attribute("data-run-id")
        for r in driver.find_elements(By.CSS_SELECTOR, "table.runs-table tbody tr")
    ] == ["scheduled__1"]
    assert [
        r.get_attribute("data-sku")
        for r in driver.find_elements(By.CSS_SELECTOR, "#dead-letters-table tbody tr")
    ] == ["EU-02"]
    assert driver.find_elements(By.CSS_SELECTOR, "#feeds-table tbody td.empty")
    fit = driver.execute_script(OVERFLOWING)
    assert fit["page"] <= 0 and fit["wide"] == [], fit
    driver.save_screenshot(str(shots / "filtered.png"))
    _assert_not_blank(shots / "filtered.png")

    # 3e. a run's link opens it in the Airflow UI
    driver.get(f"{server}/listing-status/")
    link = wait.until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, 'tr[data-run-id="scheduled__1"] a.run-link'))
    )
    assert link.get_attribute("href") == f"{server}/dags/{CATALOG_DAG}/runs/scheduled__1"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()
    wait.until(ec.url_to_be(f"{server}/dags/{CATALOG_DAG}/runs/scheduled__1"))
    wait.until(
        lambda d: "scheduled__1" in d.find_element(By.TAG_NAME, "body").text, "the run page did not show"
    )
    driver.get(f"{server}/listing-status/")
    wait.until(ec.visibility_of_element_located((By.ID, "dead-letters-table")))

    # 4. replay one dead letter: confirm in the dialog, see which run it made
    before = replay_runs().keys()
    letter = facts.letters["BAG-01"]
    row = driver.find_element(By.CSS_SELECTOR, f'tr[data-letter-id="{letter}"]')
    button = row.find_element(By.CSS_SELECTOR, "button.replay")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    dialog = wait.until(ec.visibility_of_element_located((By.ID, "replay-dialog")))
    assert f"Replay dead letter {letter} (SKU BAG-01, seller {SELLER})?" in dialog.text
    # BAG-01 is a feed letter: the dialog says the replay sends nothing, and when the sync would
    feed_note = driver.find_element(By.ID, "replay-feed-note")
    assert feed_note.is_displayed() and not driver.find_element(By.ID, "replay-api-note").is_displayed()
    assert "the replay sends nothing to Amazon itself" in feed_note.text
    assert (
        # both shipped DAGs carry to_amazon.resubmit: the replay starts a narrowed sync, paused here
        "a catalog_feed_sync run it starts for those SKUs only sends it, once catalog_feed_sync is unpaused."
        in feed_note.text
    )
    driver.find_element(By.ID, "replay-note").send_keys("brand approval received")
    driver.find_element(By.ID, "replay-confirm").click()
    result = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#replay-result.ok")))
    assert (
        "Triggered dead_letter_replay run" in result.text
        and "it will replay 1 open dead letter(s)" in result.text
    )
    assert driver.find_element(By.ID, "replay-paused").is_displayed()
    run_id = result.find_element(By.CSS_SELECTOR, "a.run-link").text
    assert (
        result.find_element(By.CSS_SELECTOR, "a.run-link")
        .get_attribute("href")
        .endswith(f"/dags/dead_letter_replay/runs/{run_id.replace(':', '%3A').replace('+', '%2B')}")
    )
    assert "queued" in (row.get_attribute("class") or "") and not button.is_enabled()
    driver.save_screenshot(str(shots / "replayed.png"))
    _assert_not_blank(shots / "replayed.png")
    runs = replay_runs()
    assert set(runs) - set(before) == {run_id}
    assert runs[run_id]["state"] == "queued" and runs[run_id]["triggering_user_name"] == "operator"
    assert runs[run_id]["conf"]["skus"] == "BAG-01" and runs[run_id]["conf"]["dry_run"] is False
    assert runs[run_id]["conf"]["note"].endswith("by operator: brand approval received")

    # the banner follows the run: the scheduler starts it, the replay requeues the feed letter, it ends
    badge = result.find_element(By.CSS_SELECTOR, ".replay-run .run-state")
    assert badge.text == "queued"
    set_run_state(run_id, "running")
    wait.until(lambda _: badge.text == "running", "the banner did not follow the run to running")
    with session_scope(sqlite_filled[0]) as s:
        requeued = s.get_one(DeadLetter, letter)
        lifecycle.move_dead_letter(s, requeued, "replayed", actor=f"dead_letter_replay:{run_id}")
    set_run_state(run_id, "success")
    wait.until(lambda _: badge.text == "success", "the banner did not follow the run to success")
    outcome = wait.until(
        ec.visibility_of_element_located(
            (By.CSS_SELECTOR, f'ul.letter-outcomes li[data-letter-id="{letter}"]')
        )
    )
    assert outcome.get_attribute("data-state") == "replayed"
    assert outcome.text == (
        f"BAG-01 ({US}, letter {letter}): requeued (its listing is back to ready): a catalog_feed_sync "
        "run it starts for those SKUs only sends it, once catalog_feed_sync is unpaused."
    )
    assert not driver.find_elements(By.ID, "replay-paused")  # the run left the queue: no longer true
    assert "letter-replayed" in (row.get_attribute("class") or "")
    driver.save_screenshot(str(shots / "replay-done.png"))
    _assert_not_blank(shots / "replay-done.png")

    # 5. a SKU's history
    search = driver.find_element(By.ID, "sku-input")
    driver.execute_script("window.scrollTo(0, 0)")
    search.send_keys("BAG-02", Keys.ENTER)
    timeline = wait.until(ec.visibility_of_element_located((By.ID, "sku-timeline")))
    text = timeline.text
    for expected in (
        "patchListingsItem: HTTP 200",
        "ERROR 4000006 from listings_api",
        "submitted \u2192 invalid",
    ):
        assert expected in text, expected
    kinds = {e.text for e in timeline.find_elements(By.CSS_SELECTOR, ".badge.kind")}
    assert {"lifecycle", "api call", "issue", "dead letter"} <= kinds
    driver.save_screenshot(str(shots / "sku.png"))
    _assert_not_blank(shots / "sku.png")

    # 5b. a hotfix in a SKU's history: what it changed, who, its run linked; the preview set apart
    driver.execute_script("window.scrollTo(0, 0)")
    search = driver.find_element(By.ID, "sku-input")
    search.clear()
    search.send_keys("HP-01", Keys.ENTER)
    wait.until(ec.url_contains("sku=HP-01"))
    timeline = wait.until(ec.visibility_of_element_located((By.ID, "sku-timeline")))
    hotfix = timeline.find_elements(By.CSS_SELECTOR, "tr.kind-lifecycle")[0]
    assert "our_price 19.99 \u2192 17.99" in hotfix.text and "by alice" in hotfix.text, hotfix.text
    assert hotfix.find_element(By.CSS_SELECTOR, "a.run-link").get_attribute("href") == (
        f"{server}/dags/{HOTFIX_DAG}/runs/{quote(HOTFIX['run_id'], safe='')}"
    )
    preview = timeline.find_element(By.CSS_SELECTOR, "tr.kind-preview")
    assert f"validation preview: ERROR {PREVIEW_CODE}" in preview.text
    fit = driver.execute_script(OVERFLOWING)
    assert fit["page"] <= 0 and fit["wide"] == [], fit
    driver.execute_script("arguments[0].scrollIntoView()", timeline)
    driver.save_screenshot(str(shots / "sku-hotfix.png"))
    _assert_not_blank(shots / "sku-hotfix.png")
    with Image.open(shots / "sku-hotfix.png") as image:
        # the preview's row and badge in their own colours, the run link in the links' blue
        assert _count_near(image, "#f5f3ff", 3) >= 5000 and _count_near(image, "#ede9fe", 3) >= 100
        assert _count_near(image, "#2563eb", 40) >= 50

    # 6. inside the Airflow UI: Browse > Listing status shows our page in an iframe
    driver.get(f"{server}/")
    browse = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Browse']")))
    browse.click()
    entry = wait.until(
        ec.element_to_be_clickable((By.XPATH, "//*[@role='menuitem'][normalize-space(.)='Listing status']"))
    )
    entry.click()
    wait.until(ec.url_contains("/plugin/listing-status"))
    frame = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "iframe")))
    assert frame.get_attribute("src") == f"{server}/listing-status/"
    driver.switch_to.frame(frame)
    wait.until(ec.visibility_of_element_located((By.ID, "status-table")))
    driver.switch_to.default_content()
    # The screenshot should show the UI at rest: the menu closed and its fade-out over. Endless
    # animations (a spinner) never finish, so only finite ones are waited for.
    wait.until(lambda d: d.execute_script(SETTLED), "the Airflow UI did not settle")
    driver.save_screenshot(str(shots / "airflow-ui.png"))
    _assert_not_blank(shots / "airflow-ui.png")
    assert sorted(p.name for p in shots.iterdir()) == [
        "airflow-ui.png",
        "api-chart.png",
        "feed-chart.png",
        "filtered.png",
        "page.png",
        "quarantine.png",
        "replay-done.png",
        "replayed.png",
        "runs.png",
        "sku-hotfix.png",
        "sku.png",
    ]
