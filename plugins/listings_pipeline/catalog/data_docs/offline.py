"""Great Expectations Data Docs that render with no network: every page loads vendored copies.

GX's page templates load their scripts, styles and fonts from public CDNs, and its logo from GX's
own bucket. Its index is drawn by bootstrap-table in the browser, so with no internet (or behind a
proxy that blocks those hosts, or under the status page's content policy) the index is blank. After
GX has built a site, :func:`make_offline` copies ``vendor/`` (each library with its licence and
source, see ``vendor/README.md``) into the site's ``static/vendor/`` and rewrites each page to load
them by a path relative to itself.

Why a copy in each site rather than one shared folder or a route of the status page: a site stays
one self-contained folder, as GX's own ``static/`` beside it already makes it, which renders the same
opened from disk, served by the status page or copied elsewhere, and deleting one run's docs
(:mod:`.retention`) cannot break another's. It costs about 1 MB a site.

Only GX's own tags are rewritten (found by the exact addresses its templates write), so a catalog
value shown on a page, which GX escapes, is never touched. Running it again on a site changes nothing.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

log = logging.getLogger(__name__)

VENDOR = Path(__file__).with_name("vendor")
#: Where a site keeps its copy of :data:`VENDOR`, from the site's root.
SITE_VENDOR = "static/vendor"

_BOOTSTRAP_TABLE = "bootstrap-table-1.19.1/dist/"
_FILTER_CONTROL_CSS = _BOOTSTRAP_TABLE + "extensions/filter-control/bootstrap-table-filter-control.min.css"

#: Every address GX 1.24.1's page templates load a script or stylesheet from -> the vendored file
#: that replaces it (relative to ``vendor/``), or None where no page of ours needs it: the tag is
#: dropped, unless the page calls ``vegaEmbed`` (then it is left, and reported).
ASSETS: Mapping[str, str | None] = MappingProxyType(
    {
        "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/dist/jquery.min.js",
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
            "popper.js-1.12.9/dist/umd/popper.min.js"
        ),
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
            "bootstrap-4.3.1/dist/css/bootstrap.min.css"
        ),
        "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
            "bootstrap-4.3.1/dist/js/bootstrap.min.js"
        ),
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
            _BOOTSTRAP_TABLE + "bootstrap-table.min.css"
        ),
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
            _BOOTSTRAP_TABLE + "bootstrap-table.min.js"
        ),
        "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
            _BOOTSTRAP_TABLE + "extensions/filter-control/bootstrap-table-filter-control.min.js"
        ),
        # 1.19.0's rules are 1.19.1's (vendor/bootstrap-table-1.19.1/SOURCE.md)
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
            _FILTER_CONTROL_CSS
        ),
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
            _FILTER_CONTROL_CSS
        ),
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
            "bootstrap-datepicker-1.9.0/dist/css/bootstrap-datepicker.min.css"
        ),
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
            "bootstrap-datepicker-1.9.0/dist/js/bootstrap-datepicker.min.js"
        ),
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
            "bootstrap-dark-1.1.0/dist/css/bootstrap-prefers-dark.min.css"
        ),
        "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
            "fontawesome-free-6.6.0/css/all.min.css"
        ),
        "https://cdn.jsdelivr.net/npm/vega@5": None,
        "https://cdn.jsdelivr.net/npm/vega-lite@5": None,
        "https://cdn.jsdelivr.net/npm/vega-embed@6": None,
    }
)

#: GX's logos come from its own bucket, with a cache-busting query. The site holds the light one
#: (``static/images/``); the dark theme's is nowhere on disk, so that one shows nothing.
GX_WEB_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
LOGOS: Mapping[str, str | None] = MappingProxyType(
    {"logo-long.png": "static/images/logo-long.png", "full_logo_dark.png": None}
)

_CHARTS = "vegaEmbed"
_SCRIPT = re.compile(r"""<script\b[^>]*?\bsrc=(["'])(?P<url>[^"']+)\1[^>]*>\s*</script>[ \t]*\n?""", re.I)
_LINK = re.compile(r"""<link\b[^>]*?\bhref=(["'])(?P<url>[^"']+)\1[^>]*>[ \t]*\n?""", re.I)
_IMG_SRC = re.compile(r"""(<img\b[^>]*?\bsrc=)(["'])(?P<url>[^"']+)\2""", re.I)
_CSS_URL = re.compile(r"""url\(\s*(["']?)(?P<url>[^"')]+)\1\s*\)""", re.I)
_SUBRESOURCE_INTEGRITY = re.compile(r"""\s+(?:integrity|crossorigin)(?:=(["'])[^"']*\1)?""", re.I)
_REMOTE_LOADS = (
    re.compile(
        r"""<(?:script|link|img|iframe|source|embed|object)\b[^>]*?\b(?:src|href|data)=["']?(https?:)?//[^"'\s>]+""",
        re.I,
    ),
    re.compile(r"""url\(\s*["']?(?:https?:)?//[^"')]+""", re.I),
    re.compile(r"""@import\s+["'](?:https?:)?//[^"']+""", re.I),
)


@dataclass(frozen=True)
class OfflineSite:
    """What :func:`make_offline` did to a site."""

    pages: int
    """HTML pages and stylesheets it rewrote."""
    remote: tuple[str, ...]
    """What a page still loads from another host (``page: address``): empty unless GX's templates
    changed or a page draws a chart."""


def make_offline(site: Path) -> OfflineSite:
    """Copy the vendored libraries into ``site`` and point its pages at them; see the module doc."""
    shutil.copytree(VENDOR, site / SITE_VENDOR, dirs_exist_ok=True)
    vendor_dir = (site / SITE_VENDOR).resolve()
    changed = 0
    remote: list[str] = []
    for path in sorted([*site.rglob("*.html"), *site.rglob("*.css")]):
        if path.resolve().is_relative_to(vendor_dir) or not path.is_file():
            continue
        relative = path.relative_to(site)
        text = path.read_text(encoding="utf-8")
        offline = rewrite(text, "../" * (len(relative.parts) - 1))
        remote.extend(f"{relative.as_posix()}: {address}" for address in remote_loads(offline))
        if offline != text:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(offline, encoding="utf-8")
            tmp.replace(path)
            changed += 1
    if remote:
        log.warning(
            "Data Docs in %s still load %d address(es) from other hosts, so they need the network: %s",
            site,
            len(remote),
            "; ".join(remote[:5]),
        )
    return OfflineSite(pages=changed, remote=tuple(remote))


def rewrite(text: str, to_root: str) -> str:
    """One page (or stylesheet) of a site, loading the site's copies; ``to_root`` is the path from
    the page's folder to the site's root (``""`` or ``"../"``, ...)."""
    charts = _CHARTS in text

    def tag(match: re.Match[str]) -> str:
        url = match["url"]
        if not _known(url):
            return match[0]
        local = _local(url, to_root)
        if local is None:
            return match[0] if charts else ""
        whole, start = match[0], match.start("url") - match.start()
        opening, _, rest = (whole[:start] + local + whole[start + len(url) :]).partition(">")
        # the copies are the pinned files (a test checks their hashes); from disk a browser would
        # refuse a script with an integrity or crossorigin attribute
        return _SUBRESOURCE_INTEGRITY.sub("", opening) + ">" + rest

    def image(match: re.Match[str]) -> str:
        local = _local(match["url"], to_root) if _known(match["url"]) else None
        return match[0] if local is None else f"{match[1]}{match[2]}{local}{match[2]}"

    def css_url(match: re.Match[str]) -> str:
        if not _known(match["url"]):
            return match[0]
        local = _local(match["url"], to_root)
        return "none" if local is None else f'url("{local}")'

    text = _SCRIPT.sub(tag, text)
    text = _LINK.sub(tag, text)
    text = _IMG_SRC.sub(image, text)
    return _CSS_URL.sub(css_url, text)


def remote_loads(text: str) -> list[str]:
    """The addresses on other hosts that a page or stylesheet loads (links to follow excluded)."""
    return [match[0] for pattern in _REMOTE_LOADS for match in pattern.finditer(text)]


def _known(url: str) -> bool:
    return url in ASSETS or _logo(url) in LOGOS


def _local(url: str, to_root: str) -> str | None:
    """The path that replaces a :func:`_known` ``url`` on a page ``to_root`` below the site's root;
    None: nothing does."""
    if url in ASSETS:
        vendored = ASSETS[url]
        return None if vendored is None else f"{to_root}{SITE_VENDOR}/{vendored}"
    logo = LOGOS[_logo(url)]
    return None if logo is None else f"{to_root}{logo}"


def _logo(url: str) -> str:
    """The file name of an address in GX's bucket, without its query; "" for any other address."""
    return url[len(GX_WEB_ASSETS) :].split("?", 1)[0] if url.startswith(GX_WEB_ASSETS) else ""
