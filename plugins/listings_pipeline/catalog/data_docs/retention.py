"""Older runs' Data Docs deleted, so that each seller and marketplace keeps those of its latest runs.

Every catalog run leaves a Data Docs site per seller and marketplace in its run folder (GX's own
static files alone are 4 MB, the vendored libraries 1 MB, whatever the catalog's size), and nothing
else ever deletes one. :func:`prune` runs at the end of a branch's join step
(``catalog.chunks.join``), once that run's site is built: of the sites the same seller and
marketplace have in ``<var_dir>/runs/*/``, it keeps the newest ``keep`` (the run's own always among
them) and deletes the ``data_docs`` folders of the others. Nothing else of those runs is touched:
their snapshots, messages, feed documents and reports stay where they are.

Newest is by when the site was last built (its ``index.html``). A folder reached through a symbolic
link, or resolving outside the runs folder, is never deleted. A deletion that fails is logged and
never fails the step: the run's own work is done by then.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from listings_pipeline.run_files import BranchPaths

log = logging.getLogger(__name__)


def prune(paths: BranchPaths, keep: int | None) -> list[Path]:
    """Delete the Data Docs of ``paths``' seller and marketplace in all but their newest ``keep``
    runs (this one counted, and kept, whatever its age); None keeps every run's. Returns what was
    deleted."""
    if keep is None:
        return []
    if keep < 1:
        raise ValueError("keep the Data Docs of at least the run that just built them")
    current = paths.data_docs
    runs = paths.root.parent.parent.parent
    seller, marketplace, name = paths.root.parent.name, paths.root.name, current.name
    try:
        run_folders = [run for run in runs.iterdir() if run.is_dir() and not run.is_symlink()]
    except FileNotFoundError:
        return []
    older = [
        site
        for site in (run / seller / marketplace / name for run in run_folders)
        if site != current and _own_folder(site, runs)
    ]
    older.sort(key=lambda site: (_built_at(site), site.parent.parent.parent.name), reverse=True)
    deleted = []
    for site in older[keep - 1 :]:
        try:
            shutil.rmtree(site)
        except OSError as err:
            log.warning("could not delete the Data Docs in %s: %s", site, err)
            continue
        deleted.append(site)
    if deleted:
        log.info(
            "deleted the Data Docs of %d older run(s) of %s/%s (keeping %d)",
            len(deleted),
            seller,
            marketplace,
            keep,
        )
    return deleted


def _own_folder(site: Path, runs: Path) -> bool:
    """A real folder under ``runs``: no link on the way (a run or branch folder could be one)."""
    parts = (site.parent.parent, site.parent, site)
    if any(part.is_symlink() for part in parts) or not site.is_dir():
        return False
    return site.resolve().is_relative_to(runs.resolve())


def _built_at(site: Path) -> float:
    index = site / "index.html"
    try:
        return index.stat().st_mtime
    except FileNotFoundError:
        return site.stat().st_mtime
