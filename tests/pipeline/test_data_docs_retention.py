"""Older runs' Data Docs are deleted: exactly the ``data_docs`` folders of the same seller and
marketplace beyond the newest ``keep`` runs, and nothing else; and the join step does it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from demo.sample_catalog import US
from listings_pipeline.catalog import chunks, steps
from listings_pipeline.catalog.data_docs.retention import prune
from listings_pipeline.config import PipelineConfig, load_config
from listings_pipeline.run_files import BranchPaths
from listings_pipeline.warehouse import db
from listings_pipeline.warehouse.records import ensure_seller
from tests.fixtures.sandbox import SELLER
from tests.pipeline.test_chunks import _branch, _config
from tests.pipeline.test_chunks import sandbox_connection as sandbox_connection  # the fixture

CA = "A2EUQ1WTGCTBG2"
OTHER_SELLER = "A3SANDBOXEU0003"


def _config_for(var_dir: Path) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "var_dir": var_dir,
            "sellers": [
                {"seller_id": SELLER, "spapi_conn_id": "c", "marketplaces": [US], "catalog": "x.csv"}
            ],
        }
    )


def _run_folder(
    config: PipelineConfig, run_id: str, age_days: float, *, seller: str = SELLER, marketplace: str = US
) -> BranchPaths:
    """A run's branch folder with Data Docs built ``age_days`` ago and the other files a run leaves."""
    paths = BranchPaths.of(config, run_id, seller, marketplace)
    (paths.data_docs / "validations").mkdir(parents=True)
    (paths.data_docs / "index.html").write_text("<html></html>")
    (paths.data_docs / "validations" / "page.html").write_text("<html></html>")
    paths.documents.mkdir(parents=True)
    (paths.documents / "feed-1.json").write_text("{}")
    paths.messages.write_text("{}\n")
    when = time.time() - age_days * 86400
    os.utime(paths.data_docs / "index.html", (when, when))
    return paths


def _everything(var_dir: Path) -> set[str]:
    return {p.relative_to(var_dir).as_posix() for p in var_dir.rglob("*")}


@pytest.fixture
def config(tmp_path: Path) -> PipelineConfig:
    return _config_for(tmp_path / "var")


def test_keeps_the_newest_runs_of_the_branch_and_deletes_only_older_data_docs(config: PipelineConfig) -> None:
    older = {n: _run_folder(config, f"scheduled__{n}", age_days=10 - n) for n in range(5)}  # 0 the oldest
    current = _run_folder(config, "manual__2026-12-03T06:00:00+00:00", age_days=0)
    other_marketplace = _run_folder(config, "scheduled__0", 30, marketplace=CA)
    other_seller = _run_folder(config, "scheduled__1", 30, seller=OTHER_SELLER)
    var_dir = config.var_dir
    before = _everything(var_dir)

    deleted = prune(current, keep=3)

    assert sorted(deleted) == sorted(older[n].data_docs for n in (0, 1, 2))
    gone = {
        p
        for p in before
        if any(p.startswith(f"runs/scheduled__{n}/{SELLER}/{US}/data_docs") for n in (0, 1, 2))
    }
    assert gone and _everything(var_dir) == before - gone
    for n in (0, 1, 2):  # the rest of those runs stays
        assert older[n].messages.is_file() and (older[n].documents / "feed-1.json").is_file()
    for kept in (current, older[3], older[4], other_marketplace, other_seller):
        assert (kept.data_docs / "index.html").is_file()
    assert prune(current, keep=3) == []  # nothing more to do


def test_the_run_that_just_built_its_docs_is_kept_whatever_its_age(config: PipelineConfig) -> None:
    """A clock that went back, or a re-run of an old run's join: its own docs are never deleted."""
    newer = _run_folder(config, "scheduled__new", age_days=1)
    current = _run_folder(config, "scheduled__old", age_days=20)
    assert prune(current, keep=1) == [newer.data_docs]
    assert (current.data_docs / "index.html").is_file()


def test_none_keeps_everything_and_keep_must_be_positive(config: PipelineConfig) -> None:
    runs = [_run_folder(config, f"scheduled__{n}", age_days=n) for n in range(3)]
    before = _everything(config.var_dir)
    assert prune(runs[0], keep=None) == []
    assert _everything(config.var_dir) == before
    with pytest.raises(ValueError, match="at least"):
        prune(runs[0], keep=0)
    with pytest.raises(ValueError):
        PipelineConfig.model_validate({**config.model_dump(), "data_docs_keep_runs": 0})
    assert config.data_docs_keep_runs == 14


def test_links_are_never_followed(config: PipelineConfig, tmp_path: Path) -> None:
    """A run or a site folder that is a link (to another volume, say) is left alone, and so is
    what it points to."""
    current = _run_folder(config, "scheduled__now", age_days=0)
    outside = tmp_path / "elsewhere"
    (outside / "data_docs").mkdir(parents=True)
    (outside / "data_docs" / "index.html").write_text("precious")
    linked_site = BranchPaths.of(config, "scheduled__linked_site", SELLER, US)
    linked_site.root.mkdir(parents=True)
    linked_site.data_docs.symlink_to(outside / "data_docs", target_is_directory=True)
    linked_run = config.var_dir / "runs" / "scheduled__linked_run"
    (outside / "run" / SELLER / US / "data_docs").mkdir(parents=True)
    (outside / "run" / SELLER / US / "data_docs" / "index.html").write_text("precious too")
    linked_run.symlink_to(outside / "run", target_is_directory=True)
    old = _run_folder(config, "scheduled__old", age_days=5)

    assert prune(current, keep=1) == [old.data_docs]
    assert (outside / "data_docs" / "index.html").read_text() == "precious"
    assert (outside / "run" / SELLER / US / "data_docs" / "index.html").read_text() == "precious too"
    assert linked_site.data_docs.is_symlink() and linked_run.is_symlink()


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = db.sqlite_url(tmp_path / "warehouse.db")
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        ensure_seller(session, SELLER, region="na", spapi_conn_id="spapi_chunks")
    engine.dispose()
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", url)
    yield url


def test_the_join_step_deletes_the_branch_s_older_data_docs(
    sandbox_connection: Path, tmp_path: Path, warehouse: str
) -> None:
    config_path = _config(tmp_path, sandbox_connection, 10**6)
    raw = yaml.safe_load(config_path.read_text())
    config_path.write_text(yaml.safe_dump({**raw, "data_docs_keep_runs": 2}))
    config = load_config(config_path)
    older = [_run_folder(config, f"scheduled__{n}", age_days=10 - n) for n in range(3)]

    joined = chunks.validate_and_map(steps.extract(_branch(config_path), "manual__retention"))

    this_run = BranchPaths.of(config, "manual__retention", SELLER, US)
    assert joined["data_docs"] == str(this_run.data_docs / "index.html")
    assert (this_run.data_docs / "index.html").is_file()
    assert [(p.data_docs / "index.html").is_file() for p in older] == [False, False, True]
    assert all(p.messages.is_file() for p in older)
