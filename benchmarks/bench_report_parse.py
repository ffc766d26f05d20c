"""Benchmark: parse a 25,000-message JSON_LISTINGS_FEED processing report and load the per-message
results and issues into PostgreSQL.

    .venv/bin/python -m benchmarks.bench_report_parse [--messages 25000] [--repeat 3]
    POSTGRES_URL=postgresql+psycopg://user@host:5432/db .venv/bin/python -m benchmarks.bench_report_parse

The report is generated deterministically (seeded): about 6% of messages invalid with 1-3 ERROR
issues, 12% with WARNING issues only, 3% with an INFO issue, half of the issues naming an
``attributeName``, one feed-level WARNING, and a summary that agrees with the issues.

Variants, each in a fresh subprocess (its own peak RSS), loading into its own tables of a
temporary schema that is dropped afterwards:

* ``ours``: the pipeline's own parse step, ``listings_pipeline.to_amazon.bulk.apply_processing_report``
  (everything ``parse`` does once the report is downloaded: the report read against the document's
  index, every listing moved on with its events, results, issues and dead letters written, the
  ledger updated) on a fresh warehouse database whose SKUs are ``submitted``;
* ``copy``: :func:`spapi.feed_documents.summarise_report` (orjson, plain dicts), then ``COPY ...
  FROM STDIN`` through psycopg for ``message_results`` and ``issues`` (``attribute_names text[]``):
  a floor for loading the same rows, with none of the pipeline's bookkeeping;
* ``baseline``: ``pandas.read_json`` of the report, statuses with pandas, ``DataFrame.to_sql``
  (SQLAlchemy, default method) for both tables;
* ``pydantic`` (parse only, no database): ``spapi.feeds.parse_processing_report`` (the
  ``ProcessingReport`` model, validated in pydantic-core) plus the same per-message rows in
  Python (issues left as models, not flattened).

Times are the median of ``--repeat`` runs inside each worker, after one untimed warm-up run (the
database tables are truncated or replaced between runs; ``ours`` gets a new database each run).
Targets (25,000 messages): ours (the parse step) < 1 s and peak RSS < 512 MiB; copy: parse +
summarise < 0.5 s, parse + load < 3 s.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks._common import run_variant, verdict, vm_hwm_bytes

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SELLER = "A1BENCHSELLER"
MARKETPLACE = "ATVPDKIKX0DER"
FEED_ID = "50000000001"
TARGET_PIPELINE_S = 1.0  # issue #13: the parse step loads a 25k-message report in a second
TARGET_SUMMARISE_S = 0.5
TARGET_LOAD_S = 3.0
TARGET_RSS_BYTES = 512 * 1024**2

ERRORS = [
    ("90220", "'[{a}]' is required but not supplied."),
    (
        "99022",
        "The field 'prices' for the attribute '{a}' does not have enough values. The required minimum is '1' value(s).",
    ),
    ("8541", "The SKU data provided conflicts with the Amazon catalog for attribute '{a}'."),
    ("4000001", "The value provided for '{a}' is not valid for the marketplace."),
]
WARNINGS = [
    ("18448", "Attributes tagged as relevant_attributes are incomplete. Provide values for '{a}'."),
    ("90244", "The value for '{a}' exceeds the recommended length and may be truncated."),
]
ATTRIBUTES = [
    "item_name",
    "bullet_point",
    "brand",
    "purchasable_offer.our_price",
    "item_weight",
    "color",
    "batteries_required",
]


def generate_report(messages: int, seed: int = 20260807) -> tuple[bytes, list[str]]:
    """A processing report for a document of ``messages`` messages, and the document's SKUs."""
    rng = random.Random(seed)
    skus = [f"SKU-{i:08d}-{rng.randrange(16**6):06x}" for i in range(messages)]
    issues: list[dict[str, Any]] = [
        {
            "severity": "WARNING",
            "code": "FEED_LOCALE",
            "message": "issueLocale fr_XX is not supported; en_US is used.",
        }
    ]
    errors = warnings = invalid = 0
    for message_id, sku in enumerate(skus, start=1):
        roll = rng.random()
        if roll < 0.06:
            kinds = [(ERRORS, "ERROR")] * rng.randint(1, 3) + [(WARNINGS, "WARNING")] * rng.randint(0, 1)
            invalid += 1
        elif roll < 0.18:
            kinds = [(WARNINGS, "WARNING")] * rng.randint(1, 2)
        elif roll < 0.21:
            kinds = [([("INFO1", "Listing '{a}' will be reviewed.")], "INFO")]
        else:
            continue
        for pool, severity in kinds:
            code, text = rng.choice(pool)
            attribute = rng.choice(ATTRIBUTES)
            issue: dict[str, Any] = {
                "messageId": message_id,
                "sku": sku,
                "code": code,
                "severity": severity,
                "message": text.format(a=attribute),
            }
            if rng.random() < 0.5:
                issue["attributeName"] = attribute
            issues.append(issue)
            errors += severity == "ERROR"
            warnings += severity == "WARNING"
    report = {
        "header": {"sellerId": "A1BENCHSELLER", "version": "2.0", "feedId": "5012345678"},
        "issues": issues,
        "summary": {
            "errors": errors,
            "warnings": warnings,
            "messagesProcessed": messages,
            "messagesAccepted": messages - invalid,
            "messagesInvalid": invalid,
        },
    }
    return json.dumps(report, indent=2).encode(), skus


def _psycopg_url(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- workers ----------------------------------------------------------------------------------------


def _timed(repeat: int, run: Any) -> tuple[float, Any]:
    """Median of ``repeat`` timed runs after one untimed warm-up run (imports, allocator arenas)."""
    times = []
    result = run()
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _work_copy(data: bytes, skus: list[str], url: str, schema: str, repeat: int) -> dict[str, Any]:
    import psycopg

    from spapi.feed_documents import MessageIndex, summarise_report

    index = MessageIndex(skus)
    parse_s, outcome = _timed(repeat, lambda: summarise_report(data, index))
    results_table = f'"{schema}".ours_message_results'
    issues_table = f'"{schema}".ours_issues'
    with psycopg.connect(_psycopg_url(url), autocommit=False) as conn:
        conn.execute(
            f"CREATE TABLE {results_table} (feed_id text NOT NULL, message_id integer NOT NULL, sku text NOT NULL,"
            " status text NOT NULL, error_count integer NOT NULL, warning_count integer NOT NULL)"
        )
        conn.execute(
            f"CREATE TABLE {issues_table} (feed_id text NOT NULL, message_id integer, sku text, scope text NOT NULL,"
            " code text, severity text NOT NULL, message text NOT NULL, attribute_names text[] NOT NULL)"
        )
        conn.commit()

        def load() -> tuple[int, int]:
            conn.execute(f"TRUNCATE {results_table}, {issues_table}")
            outcome = summarise_report(data, index)
            feed_id = outcome.feed_id
            with conn.cursor() as cur:
                with cur.copy(
                    f"COPY {results_table} (feed_id, message_id, sku, status, error_count, warning_count) FROM STDIN"
                ) as copy:
                    copy.set_types(["text", "int4", "text", "text", "int4", "int4"])
                    for r in outcome.messages:
                        severities = [i["severity"] for i in r["issues"]]
                        copy.write_row(
                            (
                                feed_id,
                                r["message_id"],
                                r["sku"],
                                r["status"],
                                severities.count("ERROR"),
                                severities.count("WARNING"),
                            )
                        )
                with cur.copy(
                    f"COPY {issues_table} (feed_id, message_id, sku, scope, code, severity, message, attribute_names)"
                    " FROM STDIN"
                ) as copy:
                    copy.set_types(["text", "int4", "text", "text", "text", "text", "text", "text[]"])
                    for i in outcome.issue_rows():
                        copy.write_row(
                            (
                                feed_id,
                                i["message_id"],
                                i["sku"],
                                i["scope"],
                                i["code"],
                                i["severity"],
                                i["message"],
                                i["attribute_names"],
                            )
                        )
            conn.commit()
            counts = conn.execute(
                f"SELECT (SELECT count(*) FROM {results_table}), (SELECT count(*) FROM {issues_table})"
            ).fetchone()
            assert counts is not None
            return counts[0], counts[1]

        load_s, (loaded_results, loaded_issues) = _timed(repeat, load)
    return {
        "parse_s": parse_s,
        "load_s": load_s,
        "results": loaded_results,
        "issues": loaded_issues,
        "counts": outcome.counts,
        "consistent": outcome.consistent,
    }


def _work_baseline(data: bytes, skus: list[str], url: str, schema: str, repeat: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    import sqlalchemy as sa

    def parse() -> tuple[pd.DataFrame, pd.DataFrame, str]:
        report = pd.read_json(io.BytesIO(data), typ="series")
        issues = pd.DataFrame(report["issues"])
        feed_id = str(report["header"]["feedId"])
        results = pd.DataFrame({"message_id": np.arange(1, len(skus) + 1), "sku": skus})
        errors = issues.loc[issues["severity"] == "ERROR"].groupby("messageId").size()
        warnings = issues.loc[issues["severity"] == "WARNING"].groupby("messageId").size()
        results["error_count"] = results["message_id"].map(errors).fillna(0).astype(int)
        results["warning_count"] = results["message_id"].map(warnings).fillna(0).astype(int)
        results["status"] = np.select(
            [results["error_count"] > 0, results["warning_count"] > 0], ["invalid", "warning"], "accepted"
        )
        results.insert(0, "feed_id", feed_id)
        issues = issues.rename(columns={"messageId": "message_id", "attributeName": "attribute_names"})
        issues["attribute_names"] = issues["attribute_names"].map(
            lambda a: json.dumps([a] if isinstance(a, str) else [])
        )
        issues.insert(0, "feed_id", feed_id)
        return results, issues, feed_id

    parse_s, (results, _issues, _) = _timed(repeat, parse)
    engine = sa.create_engine(url)

    def load() -> tuple[int, int]:
        results, issues, _ = parse()
        results.to_sql("base_message_results", engine, schema=schema, if_exists="replace", index=False)
        issues.to_sql("base_issues", engine, schema=schema, if_exists="replace", index=False)
        with engine.connect() as conn:
            n_results = conn.execute(
                sa.text(f'SELECT count(*) FROM "{schema}".base_message_results')
            ).scalar_one()
            n_issues = conn.execute(sa.text(f'SELECT count(*) FROM "{schema}".base_issues')).scalar_one()
        return n_results, n_issues

    load_s, (loaded_results, loaded_issues) = _timed(repeat, load)
    engine.dispose()
    counts = results["status"].value_counts().to_dict()
    return {
        "parse_s": parse_s,
        "load_s": load_s,
        "results": loaded_results,
        "issues": loaded_issues,
        "counts": {k: int(v) for k, v in counts.items()},
    }


def _work_pydantic(data: bytes, skus: list[str], url: str, schema: str, repeat: int) -> dict[str, Any]:
    from spapi.feeds import parse_processing_report

    def parse() -> dict[str, int]:
        # the same output shape as ours: one row per message of the document, with its issues
        report = parse_processing_report(data)
        by_id = report.issues_by_message_id()
        counts = {"accepted": 0, "invalid": 0, "warning": 0}
        rows = []
        for message_id, sku in enumerate(skus, start=1):
            issues = by_id.get(message_id, ())
            severities = {i.severity for i in issues}
            status = (
                "invalid" if "ERROR" in severities else "warning" if "WARNING" in severities else "accepted"
            )
            counts[status] += 1
            rows.append({"message_id": message_id, "sku": sku, "status": status, "issues": issues})
        return counts

    parse_s, counts = _timed(repeat, parse)
    return {"parse_s": parse_s, "load_s": None, "results": None, "issues": None, "counts": counts}


def _pipeline_once(data: bytes, skus: list[str], url: str, tmp: Path) -> dict[str, Any]:
    """A warehouse in which the document's SKUs are ``submitted`` and its feed is in the ledger,
    then the parse step's own work on the report, timed."""
    import sqlalchemy as sa
    import yaml

    from benchmarks._common import REPO
    from listings_pipeline.config import load_config
    from listings_pipeline.run_files import payload_hash
    from listings_pipeline.to_amazon import bulk
    from listings_pipeline.warehouse import db, lifecycle
    from listings_pipeline.warehouse.models import FeedSubmission
    from listings_pipeline.warehouse.records import ensure_seller
    from spapi.feed_documents import FeedLimits, build_feed_documents

    db.upgrade(url)
    engine = db.make_engine(url)
    raw = yaml.safe_load((REPO / "include" / "pipeline.yaml").read_text())
    raw["var_dir"] = str(tmp / "var")
    (tmp / "pipeline.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(tmp / "pipeline.yaml")
    messages = [
        {
            "sku": sku,
            "operationType": "UPDATE",
            "productType": "LUGGAGE",
            "requirements": "LISTING",
            "attributes": {"item_name": [{"value": f"Item {sku}", "marketplace_id": MARKETPLACE}]},
        }
        for sku in skus
    ]
    (document,) = build_feed_documents(
        SELLER, iter(messages), tmp / "documents", issue_locale="en_US", limits=FeedLimits(len(skus), 2**40)
    )
    with db.session_scope(engine) as session:
        ensure_seller(session, SELLER, region="na", spapi_conn_id="bench")
    for status in ("ready", "submitted"):
        with db.session_scope(engine) as session:
            rows = [
                {"seller_id": SELLER, "marketplace_id": MARKETPLACE, "sku": m["sku"]}
                | ({"payload": m, "payload_hash": payload_hash(m)} if status == "ready" else {})
                for m in messages
            ]
            lifecycle.transition_many(session, rows, cause="bench", run_id="bench", to_status=status)
    with db.session_scope(engine) as session:
        session.execute(
            sa.insert(FeedSubmission).values(
                feed_id=FEED_ID,
                seller_id=SELLER,
                marketplace_ids=[MARKETPLACE],
                processing_status="DONE",
                document_path=str(document.path),
                document_hash=document.sha256,
            )
        )
    ref = {
        "seller_id": SELLER,
        "marketplace_id": MARKETPLACE,
        "spapi_conn_id": "bench",
        "config_path": str(tmp / "pipeline.yaml"),
        "run_id": "bench",
        "document_path": str(document.path),
        "document_hash": document.sha256,
        "index_path": str(document.index_path),
    }
    profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    applied = bulk.apply_processing_report(engine, config, ref, FEED_ID, data, tmp / "report.json")  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    if profiler:  # BENCH_PROFILE=tottime (or cumulative): where the parse step's time goes
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(os.environ["BENCH_PROFILE"]).print_stats(30)
    with engine.connect() as connection:
        results = connection.execute(sa.text("SELECT count(*) FROM message_results")).scalar_one()
        issues = connection.execute(sa.text("SELECT count(*) FROM listing_issues")).scalar_one()
    engine.dispose()
    return {"seconds": seconds, "applied": dict(applied), "results": results, "issues": issues}


def _work_pipeline(data: bytes, skus: list[str], url: str, schema: str, repeat: int) -> dict[str, Any]:
    """The pipeline's own parse step (``bulk.apply_processing_report``: the report read against the
    document's index, every listing moved, results, issues and dead letters written), each run on
    a database of its own."""
    import shutil

    import sqlalchemy as sa

    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    runs = []
    try:
        for run in range(repeat + 1):
            name = f"{schema}_{run}"
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            tmp = Path(tempfile.mkdtemp(prefix="bench-parse-"))
            try:
                target = sa.make_url(url).set(database=name).render_as_string(hide_password=False)
                runs.append(_pipeline_once(data, skus, target, tmp))
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                with admin.connect() as connection:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    timed = runs[1:]  # the first is the warm-up
    seconds = statistics.median(r["seconds"] for r in timed)
    last = timed[-1]
    return {
        "parse_s": None,
        "load_s": seconds,
        "results": last["results"],
        "issues": last["issues"],
        "counts": last["applied"],
    }


WORKERS = {"ours": _work_pipeline, "copy": _work_copy, "baseline": _work_baseline, "pydantic": _work_pydantic}


def worker(variant: str, report_path: Path, url: str, schema: str, repeat: int) -> None:
    payload = json.loads(report_path.read_text())
    data = Path(payload["report"]).read_bytes()
    result = WORKERS[variant](data, payload["skus"], url, schema, repeat)
    result["vm_hwm_bytes"] = vm_hwm_bytes()
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260807)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    url = os.environ.get("POSTGRES_URL", DEFAULT_URL)
    if args.worker:
        worker(args.worker, args.input, url, args.schema, args.repeat)
        return 0

    import sqlalchemy as sa

    data, skus = generate_report(args.messages, args.seed)
    n_issues = data.count(b'"severity"')
    print(
        f"report: {args.messages} messages, {n_issues} issues, {len(data) / 1e6:.1f} MB; median of {args.repeat} after a warm-up run"
    )
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        print(
            f"PostgreSQL not reachable at {sa.make_url(url).render_as_string()}: {exc.orig}; set POSTGRES_URL"
        )
        return 2
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        report_path = Path(tmp) / "report.json"
        report_path.write_bytes(data)
        payload_path = Path(tmp) / "input.json"
        payload_path.write_text(json.dumps({"report": str(report_path), "skus": skus}))
        try:
            measured = {}
            print(
                f"{'variant':<9} {'parse s':>8} {'msgs/s':>10} {'parse+load s':>13} {'peak RSS':>10}  rows loaded / counts"
            )
            for variant in ("ours", "copy", "baseline", "pydantic"):
                m = run_variant(
                    "benchmarks.bench_report_parse",
                    variant,
                    ["--input", str(payload_path), "--schema", schema, "--repeat", str(args.repeat)],
                )
                measured[variant] = m
                r = m.result
                load = f"{r['load_s']:>13.3f}" if r["load_s"] is not None else f"{'-':>13}"
                loaded = f"{r['results']} results, {r['issues']} issues; " if r["results"] is not None else ""
                parse = (
                    f"{r['parse_s']:>8.3f} {args.messages / r['parse_s']:>10,.0f}"
                    if r["parse_s"] is not None
                    else f"{'-':>8} {'-':>10}"
                )
                print(
                    f"{variant:<9} {parse} {load} {m.peak_rss_mib:>6.0f} MiB  {loaded}{r['counts']}",
                    flush=True,
                )
        finally:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
    ours, copy, base = measured["ours"], measured["copy"], measured["baseline"]
    print(
        f"ours/copy (the whole parse step against a bare COPY of the same rows): "
        f"{ours.result['load_s'] / copy.result['load_s']:.1f}x; "
        f"copy/baseline: parse+load {copy.result['load_s'] / base.result['load_s']:.3f}, "
        f"parse {copy.result['parse_s'] / base.result['parse_s']:.3f}; "
        f"copy/pydantic parse {copy.result['parse_s'] / measured['pydantic'].result['parse_s']:.3f}"
    )
    if ours.result["results"] != args.messages or copy.result["results"] != base.result["results"]:
        print("FAIL: a variant did not load one result per message")
        failed = True
    scale = args.messages / 25_000
    checks = [
        (
            f"ours: the parse step < {TARGET_PIPELINE_S * scale:.2f} s",
            ours.result["load_s"] < TARGET_PIPELINE_S * scale,
        ),
        ("ours: peak RSS < 512 MiB", ours.peak_rss_bytes < TARGET_RSS_BYTES),
        (
            f"copy: parse + summarise < {TARGET_SUMMARISE_S * scale:.2f} s",
            copy.result["parse_s"] < TARGET_SUMMARISE_S * scale,
        ),
        (
            f"copy: parse + load < {TARGET_LOAD_S * scale:.2f} s",
            copy.result["load_s"] < TARGET_LOAD_S * scale,
        ),
    ]
    failed |= not all(ok for _, ok in checks)
    print("targets: " + "; ".join(f"{label} {verdict(ok)}" for label, ok in checks))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
