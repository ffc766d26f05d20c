"""Data Docs that render with no network: every page and stylesheet of a site GX builds loads only
files the site holds, and those are the pinned libraries GX asks for.

The site is built once from a few sample rows (one of them bad, so the pages show a failure) by the
validation step itself, which makes it offline as it builds it.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd  # type: ignore[import-untyped]
import pytest

from demo.sample_catalog import BAD_ROWS, read_catalog_csv
from listings_pipeline.catalog.data_docs.offline import (
    ASSETS,
    GX_WEB_ASSETS,
    LOGOS,
    SITE_VENDOR,
    VENDOR,
    make_offline,
    remote_loads,
    rewrite,
)
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.validation import ContentPolicy, validate_frame

from .catalog_paths import SAMPLE_CSV

_GX = importlib.util.find_spec("great_expectations")
assert _GX is not None and _GX.origin is not None
GX_TEMPLATES = Path(_GX.origin).parent / "render" / "view" / "templates"


class _Loads(HTMLParser):
    """What a page loads by itself: scripts, stylesheets and icons, images, frames (not links to follow)."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src"}.get(tag)
        if wanted and found.get(wanted):
            self.loads.append(str(found[wanted]))


def loads_of(page: str) -> list[str]:
    parser = _Loads()
    parser.feed(page)
    return parser.loads


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    mappings: dict[str, ProductTypeMapping],
    policy: ContentPolicy,
    gx_context: Any,
) -> Path:
    catalog = read_catalog_csv(SAMPLE_CSV)
    bad = next(b for b in BAD_ROWS if b.stage == "validate")
    rows = pd.concat([catalog[catalog["sku"] == bad.sku], catalog.head(6)])
    docs = tmp_path_factory.mktemp("offline") / "data_docs"
    outcome = validate_frame(rows, mappings, policy, data_docs_dir=docs, context=gx_context)
    assert outcome.failing_rows >= 1 and outcome.data_docs_index == docs / "index.html"
    return docs


def pages_and_styles(site: Path) -> list[Path]:
    vendor = site / SITE_VENDOR
    return [p for p in sorted([*site.rglob("*.html"), *site.rglob("*.css")]) if not p.is_relative_to(vendor)]


def test_every_page_loads_only_files_the_site_holds(site: Path) -> None:
    pages = [p for p in pages_and_styles(site) if p.suffix == ".html"]
    assert {"index.html", "expectations", "validations"} <= {p.relative_to(site).parts[0] for p in pages}
    vendored = set()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        loads = loads_of(text)
        assert loads, page
        for address in loads:
            parts = urlsplit(address)
            assert not parts.scheme and not parts.netloc, f"{page.relative_to(site)} loads {address}"
            target = (page.parent / parts.path).resolve()
            # GX's own favicon address on a validation page is one folder short (GX's bug, harmless)
            if target.name != "favicon.ico":
                assert target.is_file(), f"{page.relative_to(site)}: {address} is not in the site"
            if target.is_relative_to((site / SITE_VENDOR).resolve()):
                vendored.add(target.relative_to((site / SITE_VENDOR).resolve()).as_posix())
        assert not re.search(r"""url\(\s*["']?(https?:)?//""", text), page
        assert "cdn" not in " ".join(loads), page
    # every library GX asks for is loaded from the site, on every page
    assert vendored == {v for v in ASSETS.values() if v is not None}


def test_stylesheets_load_nothing_from_another_host(site: Path) -> None:
    for sheet in [p for p in pages_and_styles(site) if p.suffix == ".css"]:
        assert remote_loads(sheet.read_text(encoding="utf-8")) == [], sheet
    # Font Awesome's solid font, the one the pages' icons use, is where its stylesheet looks
    font_css = site / SITE_VENDOR / "fontawesome-free-6.6.0" / "css" / "all.min.css"
    assert "url(../webfonts/fa-solid-900.woff2)" in font_css.read_text(encoding="utf-8")
    assert (font_css.parent.parent / "webfonts" / "fa-solid-900.woff2").is_file()


def test_the_index_still_holds_its_table_and_the_pages_their_failures(site: Path) -> None:
    """The rewrite touches GX's tags only: the index's data and a failure shown on a page stay."""
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "catalog_SHIRT" in index and "bootstrapTable" in index
    assert "vega" not in index  # no page of ours draws a chart: the three chart libraries are dropped
    failed = [p for p in site.rglob("validations/**/*.html") if "fa-times" in p.read_text(encoding="utf-8")]
    assert failed


def test_no_page_of_ours_draws_a_chart(site: Path) -> None:
    """Why Vega is not vendored (vendor/README.md): if a suite starts drawing charts, vendor it."""
    for page in site.rglob("*.html"):
        assert "vegaEmbed" not in page.read_text(encoding="utf-8"), page


def test_a_second_pass_changes_nothing(site: Path) -> None:
    before = {p: p.read_bytes() for p in pages_and_styles(site)}
    again = make_offline(site)
    assert again.pages == 0 and again.remote == ()
    assert {p: p.read_bytes() for p in pages_and_styles(site)} == before


def test_gx_templates_ask_for_nothing_unknown() -> None:
    """A GX upgrade that loads another library (or another version) fails here, not offline."""
    addresses = set()
    for template in GX_TEMPLATES.glob("*.j2"):
        if template.name.startswith("markdown"):
            continue
        text = template.read_text(encoding="utf-8")
        addresses |= set(
            re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["'](https?://[^"']+)""", text)
        )
        addresses |= set(re.findall(r"""static_images_dir = ["'](https?://[^"']+)""", text))
    assert addresses, GX_TEMPLATES
    assert addresses - {GX_WEB_ASSETS} == set(ASSETS)
    styles = GX_TEMPLATES.parent / "static" / "styles" / "data_docs_default_styles.css"
    in_styles = set(re.findall(r"""url\(['"]?(https?://[^'")]+)""", styles.read_text(encoding="utf-8")))
    assert {a.removeprefix(GX_WEB_ASSETS) for a in in_styles} <= set(LOGOS)


def test_the_copies_are_the_files_gx_pins() -> None:
    """GX pins two of its scripts by hash (``integrity``): the vendored files are those bytes."""
    imports = (GX_TEMPLATES / "js_script_imports.j2").read_text(encoding="utf-8")
    pinned = re.findall(r'src="([^"]+)" integrity="sha384-([^"]+)"', imports)
    assert len(pinned) == 2
    for address, digest in pinned:
        vendored = ASSETS[address]
        assert vendored is not None
        data = (VENDOR / vendored).read_bytes()
        assert base64.b64encode(hashlib.sha384(data).digest()).decode() == digest, address


def test_the_copies_are_the_files_their_source_names() -> None:
    """Each vendored file is listed, with its sha256, in its package's SOURCE.md, beside a licence."""
    packages = [p for p in VENDOR.iterdir() if p.is_dir()]
    assert len(packages) == 7
    named = set()
    for package in packages:
        source = (package / "SOURCE.md").read_text(encoding="utf-8")
        assert "https://registry.npmjs.org/" in source, package.name
        assert any(package.glob("LICENSE*")), package.name
        for name, digest in re.findall(r"\| `([^`]+)` \| `([0-9a-f]{64})` \|", source):
            assert hashlib.sha256((package / name).read_bytes()).hexdigest() == digest, (
                f"{package.name}/{name}"
            )
            named.add(f"{package.name}/{name}")
    files = {
        p.relative_to(VENDOR).as_posix()
        for p in VENDOR.rglob("*")
        if p.is_file()
        and p.parent != VENDOR
        and p.name not in ("SOURCE.md",)
        and not p.name.startswith("LICENSE")
    }
    assert files == named
    assert {v for v in ASSETS.values() if v is not None} <= named


def test_only_gx_tags_are_rewritten() -> None:
    """A catalog value on a page is escaped by GX; one that names a CDN address stays as it is."""
    value = "&lt;script src=&quot;https://code.jquery.com/jquery-3.7.1.min.js&quot;&gt;&lt;/script&gt;"
    page = (
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>\n'
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" '
        'integrity="sha384-x" crossorigin="anonymous"></script>\n'
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n'
        f"<td>{value}</td>\n"
    )
    assert rewrite(page, "../") == (
        f'<script src="../{SITE_VENDOR}/jquery-3.7.1/dist/jquery.min.js"></script>\n'
        f'<script src="../{SITE_VENDOR}/popper.js-1.12.9/dist/umd/popper.min.js"></script>\n'
        f"<td>{value}</td>\n"
    )


def test_a_page_that_draws_a_chart_keeps_its_chart_libraries_and_is_reported(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n<script>vegaEmbed("#c", {});</script>\n'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1">\n'
        "<style>a { background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png') 0 0; }</style>\n",
        encoding="utf-8",
    )
    done = make_offline(tmp_path)
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>' in text
    assert '<img src="static/images/logo-long.png">' in text
    assert "background: none 0 0;" in text
    assert done.remote == ('index.html: <script src="https://cdn.jsdelivr.net/npm/vega@5',)
    assert (tmp_path / SITE_VENDOR / "jquery-3.7.1" / "LICENSE.txt").is_file()
