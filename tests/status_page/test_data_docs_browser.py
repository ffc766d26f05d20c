"""A run's Data Docs in a real browser (headless Chromium, as ``test_browser``), through the status
page: the index GX draws in the browser shows its table, the icons their font, and nothing is
loaded from another host (the pages' content policy would refuse it, as an offline machine would).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from tests.status_page.conftest import token_for
from tests.status_page.test_browser import WAIT_S, _assert_not_blank
from tests.status_page.test_browser import browser_tools as browser_tools  # fixtures
from tests.status_page.test_browser import driver as driver
from tests.status_page.test_browser import server as server
from tests.status_page.test_data_docs import DOCS, SITE
from tests.status_page.test_data_docs import var_dir as var_dir

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

# What the page loaded from where, and whether the solid icon font is in use.
LOADED = """
return {
  hosts: [...new Set(performance.getEntriesByType("resource").map(e => new URL(e.name).host))],
  iconFont: [...document.fonts].some(
    f => f.family.includes("Font Awesome 6 Free") && f.weight === "900" && f.status === "loaded"),
  iconWidth: document.querySelector("i.fa-times, i.fa-check-circle").getBoundingClientRect().width,
};
"""


@pytest.fixture
def docs_server(server: str, status_app: FastAPI, var_dir: Path) -> Iterator[str]:
    status_app.state.var_dir = var_dir
    yield server
    del status_app.state.var_dir


def test_the_data_docs_index_renders_with_nothing_from_another_host(
    docs_server: str, driver: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    driver.get(f"{docs_server}/auth/login")  # a page of the host, to set its cookie on
    driver.add_cookie({"name": "_token", "value": token_for("viewer"), "path": "/"})
    driver.get(f"{docs_server}{DOCS}{SITE}index.html")

    # bootstrap-table drew the index's rows from the page's data: one per validation
    row = wait.until(ec.visibility_of_element_located((By.XPATH, "//table//tbody/tr[contains(., 'SHIRT')]")))
    assert row.find_element(By.LINK_TEXT, "catalog_SHIRT").is_displayed()
    wait.until(lambda d: d.execute_script("return document.fonts.status") == "loaded")
    loaded = driver.execute_script(LOADED)
    assert loaded["hosts"] == [urlsplit(docs_server).netloc], loaded
    assert loaded["iconFont"] and loaded["iconWidth"] > 5, loaded
    shot = tmp_path / "data-docs-index.png"
    driver.save_screenshot(str(shot))
    _assert_not_blank(shot)
