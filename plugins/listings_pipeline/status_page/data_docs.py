"""Which Great Expectations Data Docs the status page may serve, and where they are (no Airflow here).

The validation step leaves one site per run, seller and marketplace in
``<var_dir>/runs/<run>/<seller>/<marketplace>/data_docs/`` (``run_files.BranchPaths``), and makes it
self-contained (``catalog.data_docs.offline``): its links are relative and its libraries are in its
own ``static/vendor/``. So the page serves a site as the files of that folder, at
``data-docs/<run>/<seller>/<marketplace>/<path>``, where each of the three names is the folder's own
name on disk (``run_files.safe_part`` of the id: a run id's ``:`` and ``+`` are ``_`` there), and the
pages' relative links stay inside the site.

:func:`site_file` is the one gate: a name must look like a folder ``safe_part`` makes (never ``..``
nor hidden), the path inside the site is resolved and must stay in it (no ``..``, no absolute path,
no link out of it, no hidden file), the site itself must resolve inside ``<var_dir>/runs``, and the
file must be of a type a site holds. Anything else is "not found", as a missing file is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict

from listings_pipeline.run_files import BranchPaths, safe_part
from listings_pipeline.status_page.scope import Scope
from listings_pipeline.to_amazon.resubmit import FEED_SYNC_DAG_ID

#: what ``run_files.safe_part`` makes of a seller, marketplace or run id
FOLDER_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
INDEX = "index.html"
#: the DAGs whose runs validate a catalog, and so leave Data Docs
VALIDATING_DAGS = frozenset({FEED_SYNC_DAG_ID})
#: the types of file a site holds (GX's pages and static files, the vendored libraries)
MEDIA_TYPES: Mapping[str, str] = MappingProxyType(
    {
        ".html": "text/html; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".json": "application/json",
        ".png": "image/png",
        ".gif": "image/gif",
        ".svg": "image/svg+xml",
        ".ico": "image/x-icon",
        ".woff2": "font/woff2",
        ".otf": "font/otf",
        ".ttf": "font/ttf",
    }
)
#: A site needs nothing from another host, so a page may load nothing from one (a CDN address left
#: in a page fails here as it would offline), and only this host may frame it. GX's pages carry
#: inline scripts and styles; the values they show are escaped by GX.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)


class DocsSite(BaseModel):
    """One seller and marketplace's Data Docs of a run: what the page links to."""

    model_config = ConfigDict(frozen=True)

    run: str
    """The run's folder name (``safe_part`` of its id)."""
    seller: str
    marketplace: str

    @property
    def path(self) -> str:
        """The site's index, below the app's ``data-docs/``."""
        return f"{self.run}/{self.seller}/{self.marketplace}/{INDEX}"


def runs_dir(var_dir: Path) -> Path:
    """Where runs keep their folders (``BranchPaths.of``: ``<var_dir>/runs/<run>/...``)."""
    return var_dir / "runs"


def site_file(var_dir: Path, run: str, seller: str, marketplace: str, path: str) -> Path | None:
    """The file to serve for ``data-docs/<run>/<seller>/<marketplace>/<path>``, or None: see the
    module's doc for what is refused. An empty path is the site's index."""
    if not all(FOLDER_NAME.fullmatch(name) for name in (run, seller, marketplace)):
        return None
    runs = runs_dir(var_dir)
    site = BranchPaths(runs / run / seller / marketplace).data_docs
    inside = Path(path or INDEX)
    if inside.is_absolute() or any(part.startswith(".") for part in inside.parts):
        return None
    try:
        root = site.resolve(strict=True)
        target = (root / inside).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a loop of links
        return None
    if not root.is_relative_to(runs.resolve()) or not target.is_relative_to(root):
        return None
    if not target.is_file() or target.suffix.lower() not in MEDIA_TYPES:
        return None
    return target


def media_type(path: Path) -> str:
    return MEDIA_TYPES[path.suffix.lower()]


def run_sites(var_dir: Path, run_id: str, scope: Scope) -> list[DocsSite]:
    """The Data Docs a run left, by seller and marketplace folder, within ``scope``."""
    run = safe_part(run_id)
    folder = runs_dir(var_dir) / run
    wanted_seller = safe_part(scope.seller_id) if scope.seller_id else None
    wanted_marketplace = safe_part(scope.marketplace_id) if scope.marketplace_id else None
    try:
        sellers = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []
    sites = []
    for seller in sellers:
        if wanted_seller not in (None, seller.name):
            continue
        for marketplace in sorted(p for p in seller.iterdir() if p.is_dir()):
            if wanted_marketplace not in (None, marketplace.name):
                continue
            if (BranchPaths(marketplace).data_docs / INDEX).is_file():
                sites.append(DocsSite(run=run, seller=seller.name, marketplace=marketplace.name))
    return sites


def runs_sites(
    var_dir: Path, runs: Iterable[tuple[str, str]], scope: Scope
) -> dict[tuple[str, str], list[DocsSite]]:
    """(DAG id, run id) -> the Data Docs each run left within ``scope``, for the runs of the DAGs
    that validate a catalog (another DAG's run may share a run id, never its Data Docs)."""
    found = {}
    for dag_id, run_id in runs:
        if dag_id in VALIDATING_DAGS and (sites := run_sites(var_dir, run_id, scope)):
            found[dag_id, run_id] = sites
    return found
