"""The bad-input corpus (issue #11) through the bulk path's own steps, against the live sandbox.

The gate is only as good as what it was tried on: each rule has unit tests, but a defect slips
through between steps (a row the extract scopes away that validation never sees, a count that
forgets a row, a message that the build writes anyway). So the corpus in ``tests/pipeline/corpus``
is run the way ``catalog_feed_sync`` runs a catalog, ``extract`` -> ``validate`` -> ``map_messages``
-> ``plan`` -> ``build`` for every branch, into a fresh warehouse, with ``per_sku_threshold: 0`` so
that every planned row ends in a feed document on disk. Then, per case: its quarantine records
(rule, column, value, physical line, and a reason naming the line, the SKU and the column), and
none of its SKUs in any document; per branch: exactly the good rows in its documents, the row
counts the corpus implies, and the conservation invariant in ``run_summaries``.

One run serves every case (a module fixture): Great Expectations costs seconds per branch and
product type, a row costs nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy import select

from listings_pipeline.catalog import chunks, steps
from listings_pipeline.catalog.extract import ExtractError
from listings_pipeline.config import load_config
from listings_pipeline.planning.plan import plan
from listings_pipeline.run_files import payload_hash
from listings_pipeline.to_amazon import bulk
from listings_pipeline.to_amazon.settle import settle
from listings_pipeline.warehouse import db, lifecycle
from listings_pipeline.warehouse.models import ListingStatus, Quarantine, RunSummary
from listings_pipeline.warehouse.records import ensure_seller
from sandbox.testing import serve
from spapi.auth import clear_process_cache
from tests.fixtures.sandbox import connection_json, sandbox_settings
from tests.pipeline.corpus.cases import (
    CASES,
    CELL,
    NA2_SELLER,
    NA_SELLER,
    POSTGRES_CASES,
    POSTGRES_TRICKY,
    REFUSED_FILES,
    TRICKY_GOOD,
    UNCHECKED,
    US,
    Corpus,
    Expect,
    Placed,
    RefusedFile,
    figures,
    us_shirts,
    write_corpus,
    write_refused,
)

REPO = Path(__file__).resolve().parents[2]
RUN_ID = "manual__bad-input-corpus"

CONNECTIONS = (
    ("SPAPI_SANDBOX_NA", "Atzr|sandbox-na-0001", NA_SELLER, "na"),
    ("SPAPI_SANDBOX_EU", "Atzr|sandbox-eu-0003", "A3SANDBOXEU0003", "eu"),
    ("SPAPI_SANDBOX_NA2", "Atzr|sandbox-na-0002", NA2_SELLER, "na"),
)


def _config(tmp: Path, corpus: Corpus) -> Path:
    """include/pipeline.yaml as shipped, but for this corpus: the NA and EU sellers share one glob,
    a second NA seller reads a catalog without the ``fit`` column; everything planned is built."""
    raw = yaml.safe_load((REPO / "include" / "pipeline.yaml").read_text())
    include = REPO / "include"
    raw.update(
        var_dir=str(tmp / "var"),
        mappings_dir=str(include / "catalog_mappings"),
        product_types_dir=str(include / "product_types"),
        content_policy=str(include / "content_policy.yaml"),
        per_sku_threshold=0,
        # the corpus is half bad by design; the threshold is tested elsewhere
        max_failing_share=1.0,
        # live listings whose rows went bad must survive; one truly gone in three may go
        delete_removed=True,
        max_delete_share=0.5,
        # several chunks per branch, so that every case also proves nothing is lost between them
        chunk_rows=11,
    )
    sellers = raw["sellers"]
    assert [s["seller_id"] for s in sellers] == [NA_SELLER, "A3SANDBOXEU0003"], sellers
    for seller in sellers:
        seller["catalog"] = corpus.shared_glob
    sellers.append(
        {
            "seller_id": NA2_SELLER,
            "spapi_conn_id": "spapi_sandbox_na2",
            "region": "na",
            "marketplaces": [US],
            "catalog": corpus.nofit_path,
        }
    )
    path = tmp / "pipeline.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@dataclass
class Run:
    corpus: Corpus
    engine: sa.Engine
    branches: list[dict[str, Any]]
    #: (source_file, source_line) -> its quarantine rows
    quarantine: dict[tuple[str | None, int | None], list[Any]] = field(default_factory=dict)
    #: (seller, marketplace) -> (SKU, operationType) of each message in its built feed documents
    built: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)
    seconds: float = 0.0

    def built_anywhere(self) -> set[str]:
        return {sku for messages in self.built.values() for sku, _ in messages}


def _seed_live(engine: Any, corpus: Corpus) -> None:
    """The listings a previous run left live on Amazon (accepted), before their rows went bad."""
    with db.session_scope(engine) as session:
        for (seller_id, marketplace_id), skus in corpus.live.items():
            for sku in sorted(skus):
                message = {"sku": sku, "operationType": "UPDATE", "productType": "SHIRT", "attributes": {}}
                fields = {"payload": message, "payload_hash": payload_hash(message)}
                for step in (ListingStatus.READY, ListingStatus.SUBMITTED, ListingStatus.ACCEPTED):
                    lifecycle.transition(
                        session,
                        seller_id,
                        marketplace_id,
                        sku,
                        step,
                        cause="seed",
                        **(fields if step == ListingStatus.READY else {}),
                    )


def run_pipeline(tmp: Path, corpus: Corpus, url: str) -> Run:
    """Every branch through extract..build against a sandbox, as catalog_feed_sync wires them."""
    clear_process_cache()
    with pytest.MonkeyPatch.context() as mp, serve(sandbox_settings(tmp)) as sandbox_url:
        for conn_id, token, seller, region in CONNECTIONS:
            mp.setenv(
                f"AIRFLOW_CONN_{conn_id}",
                connection_json(sandbox_url, token=token, seller=seller, region=region),
            )
        mp.setenv("SPAPI_WAREHOUSE_URL", url)
        mp.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
        # and read and map a chunk's rows a few at a time
        mp.setattr(chunks, "READ_ROWS", 5)
        mp.setattr(chunks, "MAP_ROWS", 7)
        db.upgrade(url)
        config_path = _config(tmp, corpus)
        config = load_config(config_path)
        engine = db.make_engine(url)
        with db.session_scope(engine) as session:
            for seller in config.sellers:
                ensure_seller(
                    session, seller.seller_id, region=seller.region, spapi_conn_id=seller.spapi_conn_id
                )
        _seed_live(engine, corpus)
        # the branches as targets() makes them (its connection gate is tested elsewhere)
        branches: list[dict[str, Any]] = []
        claimed: set[str] = set()
        for target in config.targets():
            catalog = str(config.seller(target["seller_id"]).catalog)
            branches.append(
                {
                    **target,
                    "config_path": str(config_path),
                    "claims_defects": catalog not in claimed,
                    "confirm_deletes": False,
                }
            )
            claimed.add(catalog)
        started = time.monotonic()
        done: list[dict[str, Any]] = []
        built: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for branch in branches:
            branch = steps.extract(branch, RUN_ID)
            branch = chunks.validate_and_map(branch)
            branch = plan(settle(branch))
            documents = bulk.build(branch)
            messages = built.setdefault((branch["seller_id"], branch["marketplace_id"]), [])
            for document in documents:
                body = json.loads(Path(document["document_path"]).read_bytes())
                messages.extend((m["sku"], m.get("operationType", "UPDATE")) for m in body["messages"])
            done.append(branch)
        bulk.summarise(RUN_ID, "catalog_feed_sync", done, [])
    clear_process_cache()
    result = Run(corpus, engine, done, built=built, seconds=time.monotonic() - started)
    with db.session_scope(engine) as session:
        for row in session.scalars(select(Quarantine).where(Quarantine.run_id == RUN_ID)):
            session.expunge(row)
            result.quarantine.setdefault((row.source_file, row.source_line), []).append(row)
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("corpus")
    result = run_pipeline(tmp, write_corpus(tmp / "catalog"), db.sqlite_url(tmp / "warehouse.db"))
    yield result
    result.engine.dispose()


# --- each case ---------------------------------------------------------------------------------------


def _matches(expect: Expect, record: Any) -> bool:
    rule_ok = record.rule.startswith(expect.rule) if expect.rule.endswith(".") else record.rule == expect.rule
    return rule_ok and record.column_name == expect.column


def _expected_value(expect: Expect, placed: Placed) -> object:
    if expect.value is not CELL:
        return expect.value
    assert expect.column is not None, f"{placed.case.id}: CELL needs a column"
    if expect.column not in placed.case.cells:
        return UNCHECKED
    value = placed.case.cells[expect.column].strip()
    return value if len(value) <= 200 else value[:197] + "..."  # the quarantine keeps a preview


def _params(cases: list[Any]) -> list[Any]:
    return [
        pytest.param(
            case.id,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=case.defect)] if case.defect else [],
        )
        for case in cases
    ]


def check_case(run: Run, case_id: str) -> None:
    placed = run.corpus.placed[case_id]
    for row in placed.rows:
        line, sku = row.line, row.sku
        records = run.quarantine.get((row.source_file, line), [])
        shown = [(r.rule, r.column_name, r.value) for r in records]
        unmatched = list(records)
        for expect in placed.case.expect:
            found = [r for r in unmatched if _matches(expect, r)]
            assert found, f"line {line}: want {expect.rule} on {expect.column}, got {shown}"
            record = found[0]  # a record the case does not expect is left over, and fails below
            unmatched.remove(record)
            assert (record.seller_id, record.marketplace_id) == placed.branch
            assert record.sku == (sku.replace("\x00", "\\x00") if sku else None)  # PostgreSQL takes no NUL
            value = _expected_value(expect, placed)
            if value is not UNCHECKED:
                assert record.value == value, (record.value, value)
            who = f"SKU {sku!r}" if sku else "row without SKU"
            where = expect.where or f"column {expect.column!r}"
            reason = record.reason or ""
            assert reason.startswith(f"line {line}, {who}, "), reason
            assert f"{where}: " in reason, (where, reason)
            tail = reason.split(f"{where}: ", 1)[1]
            assert tail.strip(), reason
            assert expect.says in tail, (expect.says, reason)
        assert not unmatched, f"line {line}: records the case does not expect: {shown}"
    leaked = {row.sku for row in placed.rows if row.sku} & run.built_anywhere()
    assert not leaked, f"{case_id}: {sorted(leaked)} reached a built feed document"


@pytest.mark.parametrize("case_id", _params(CASES))
def test_bad_case_is_quarantined_with_its_line_and_never_built(run: Run, case_id: str) -> None:
    """What an operator needs to fix the row (line, SKU, column, value, reason) is in quarantine,
    and nothing of the row went into a document that could be sent to Amazon."""
    check_case(run, case_id)


def check_published(run: Run) -> None:
    for branch in run.branches:
        key = (branch["seller_id"], branch["marketplace_id"])
        messages = run.built.get(key, [])
        built = {sku for sku, _ in messages}
        assert len(messages) == len(built), f"{key}: a SKU is in its documents twice"
        expected = run.corpus.published.get(key, set())
        assert not expected - built, f"{key}: good rows missing: {sorted(expected - built)}"
        unexpected = built - expected - run.corpus.deleted.get(key, set())
        assert not unexpected, f"{key}: unexpected SKUs built: {sorted(unexpected)}"


def check_deletes(run: Run) -> None:
    for branch in run.branches:
        key = (branch["seller_id"], branch["marketplace_id"])
        deletes = {sku for sku, operation in run.built.get(key, []) if operation == "DELETE"}
        assert deletes == run.corpus.deleted.get(key, set()), f"{key}: deleted {sorted(deletes)}"
        assert branch["deletes_withheld"] == run.corpus.withheld[key], key


def check_no_stray_records(run: Run) -> None:
    cased = {(row.source_file, row.line) for p in run.corpus.placed.values() for row in p.rows}
    stray = sorted((k, [r.rule for r in rows]) for k, rows in run.quarantine.items() if k not in cased)
    assert not stray


def check_counts(run: Run) -> None:
    assert len(run.branches) == 4
    for branch in run.branches:
        key = (branch["seller_id"], branch["marketplace_id"])
        counts = branch["plan_counts"]
        assert branch["extracted"] == run.corpus.extracted[key], key
        assert branch["quarantined"] == run.corpus.quarantined[key], key
        deleted = len(run.corpus.deleted.get(key, ()))
        assert branch["planned"] == len(run.corpus.published.get(key, ())) + deleted, key
        assert counts["deleted"] == deleted, key
        assert branch["extracted"] == (
            branch["quarantined"]
            + branch["planned"]
            - counts["deleted"]
            + counts["unchanged"]
            + counts["skipped"]
        ), (key, branch["extracted"], branch["quarantined"], counts)
        lines = {
            (r.source_file, r.source_line)
            for rows in run.quarantine.values()
            for r in rows
            if (r.seller_id, r.marketplace_id) == key
        }
        assert len(lines) == run.corpus.quarantined[key], key
    with db.session_scope(run.engine) as session:
        summaries = {
            (s.seller_id, s.marketplace_id): s
            for s in session.scalars(select(RunSummary).where(RunSummary.run_id == RUN_ID))
        }
        assert set(summaries) == {(b["seller_id"], b["marketplace_id"]) for b in run.branches}
        for key, s in summaries.items():
            # what the DAG tests check on every run (tests/dags/conftest.py, assert_rows_add_up)
            assert s.extracted == s.quarantined + (s.planned - s.deleted) + s.unchanged + s.skipped, key
            assert (s.extracted, s.quarantined, s.deleted) == (
                run.corpus.extracted[key],
                run.corpus.quarantined[key],
                len(run.corpus.deleted.get(key, ())),
            ), key
            assert sum((s.skipped_reasons or {}).values()) == s.skipped, key
            assert (s.withheld_reasons or {}) == run.corpus.withheld[key], key
            assert s.deletes_withheld == sum(run.corpus.withheld[key].values()), key
            skus = {
                r.sku
                for rows in run.quarantine.values()
                for r in rows
                if (r.seller_id, r.marketplace_id) == key
            }
            assert s.quarantined_skus == len(skus - {None}), key


def test_every_good_row_and_only_those_reach_the_documents(run: Run) -> None:
    """A good row next to a bad one must not be lost with it (a stray quote once cost every line it
    swallowed), and each branch's documents hold its own marketplace's rows, nothing else."""
    check_published(run)


def test_live_listings_of_bad_rows_are_never_deleted(run: Run) -> None:
    """Every bad row's SKU was live before the run: a row that failed to parse, was quarantined or
    named no marketplace must not read as a removed SKU (a mistyped cell once deleted a listing).
    Only the SKU truly gone from a cleanly read catalog is deleted; the rest are withheld, counted."""
    check_deletes(run)


@pytest.mark.parametrize("case_id", _params(TRICKY_GOOD))
def test_tricky_good_row_is_published(run: Run, case_id: str) -> None:
    """Trade mark signs, line breaks in a description, a byte order mark, codes such as lock
    "NONE": a gate that refuses what sellers legitimately write is one they learn to switch off."""
    case = next(c for c in TRICKY_GOOD if c.id == case_id)
    sku = case.sku.strip()
    assert sku in run.built_anywhere()
    assert not [rows for rows in run.quarantine.values() if any(r.sku == sku for r in rows)]


def test_every_quarantine_record_belongs_to_a_case(run: Run) -> None:
    """A record on a line no case put there is a good row refused, or a line number that is wrong."""
    check_no_stray_records(run)


def test_rows_add_up_per_branch(run: Run) -> None:
    """extracted = quarantined + (planned - deleted) + unchanged + skipped, with the figures the
    corpus implies: a count that is right only on aggregate hides a row lost in one branch."""
    check_counts(run)


def test_corpus_size(run: Run) -> None:
    """The README quotes these figures; at least 150 cases, and at least as many good rows."""
    per_kind = figures()
    bad_rows = sum(len(p.rows) for p in run.corpus.placed.values())
    print(
        f"\nbad-input corpus: {len(CASES)} cases in {len(per_kind)} kinds ({bad_rows} rows), "
        f"{len(REFUSED_FILES)} refused files, {run.corpus.good_rows} good rows "
        f"({len(TRICKY_GOOD)} of them tricky); extract..build of 4 branches in {run.seconds:.1f} s"
    )
    for kind, count in per_kind.items():
        print(f"  {count:4d}  {kind}")
    assert len(CASES) + len(REFUSED_FILES) >= 150
    assert len({c.id for c in [*CASES, *TRICKY_GOOD]}) == len(CASES) + len(TRICKY_GOOD)
    assert run.corpus.good_rows >= bad_rows


# --- files refused as a whole ----------------------------------------------------------------------


@pytest.mark.parametrize("refused", REFUSED_FILES, ids=lambda r: r.id)
def test_file_with_a_broken_header_stops_its_branch(tmp_path: Path, refused: RefusedFile) -> None:
    """Which column is which cannot be guessed: the branch stops before a row is kept, and the error
    names the file and the fault."""
    path = write_refused(tmp_path, refused)
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "environment": "sandbox",
                "var_dir": str(tmp_path / "var"),
                "sellers": [
                    {
                        "seller_id": NA_SELLER,
                        "spapi_conn_id": "spapi_unused",
                        "marketplaces": [US],
                        "catalog": str(path),
                    }
                ],
            }
        )
    )
    branch = {
        "seller_id": NA_SELLER,
        "marketplace_id": US,
        "spapi_conn_id": "spapi_unused",
        "config_path": str(config),
    }
    with pytest.raises(ExtractError) as caught:
        steps.extract(branch, RUN_ID)
    assert str(path) in str(caught.value)
    assert refused.says in str(caught.value)
    assert not list((tmp_path / "var").rglob("catalog.parquet"))


# --- the production warehouse ------------------------------------------------------------------------


def test_postgres_stores_every_record(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL, unlike SQLite, refuses a NUL in text: one cell holding it must not fail the
    insert of the quarantine records, and with them the branch (one bad record blocking a catalog).
    The US shirts of the corpus, NUL cases included, on the warehouse production uses."""
    schema = f"corpus_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        corpus = write_corpus(tmp_path / "catalog", POSTGRES_CASES, POSTGRES_TRICKY, us_shirts)
        result = run_pipeline(tmp_path, corpus, url.render_as_string(hide_password=False))
        failed = {}
        for case in POSTGRES_CASES:
            try:
                check_case(result, case.id)
            except AssertionError as err:
                failed[case.id] = str(err).splitlines()[0]
        assert not failed
        check_published(result)
        check_deletes(result)
        check_no_stray_records(result)
        check_counts(result)
        result.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
