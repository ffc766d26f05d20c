"""The status page's queries give the right figures for a realistic warehouse, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from listings_pipeline.status_page import quarantine, queries, replay_runs, runs
from listings_pipeline.status_page.quarantine import QuarantineFilter
from listings_pipeline.status_page.replay_runs import ReplaySelection
from listings_pipeline.status_page.schemas import RunRef, RunRow
from listings_pipeline.status_page.scope import EVERYWHERE, Scope
from listings_pipeline.warehouse.models import Listing
from tests.status_page.warehouse_data import (
    CATALOG_DAG,
    DE,
    EU_SELLER,
    FORMULA,
    HOTFIX,
    HOTFIX_DAG,
    OFFERS_DAG,
    OFFERS_FILE,
    PREVIEW_CODE,
    SELLER,
    UK,
    US,
    US_FILE,
    Facts,
)


def test_status_counts_per_seller_and_marketplace(engine: Engine) -> None:
    with Session(engine) as s:
        rows = queries.status_counts(s)
    assert [(r.seller_id, r.country_code) for r in rows] == [
        (SELLER, "DE"),
        (SELLER, "US"),
        (EU_SELLER, "UK"),
    ]
    de, us, uk = rows
    nonzero = {k: v for k, v in us.counts.items() if v}
    # accepted: HP-01 (hotfixed), HP-02, HP-04, HP-05, TT-01-M-BLK; submitted: SH-01, HP-03
    assert nonzero == {"accepted": 5, "live": 1, "dead_lettered": 2, "submitted": 2, "quarantined": 1}
    assert set(us.counts) == {
        "draft", "quarantined", "ready", "submitted", "accepted", "invalid", "dead_lettered", "live", "deleted",
    }  # fmt: skip
    # in sync: the 5 accepted and SH-00 (live); with errors: BAG-01 and BAG-02, not HP-01 (its ERROR
    # is a preview's)
    assert (us.seller_name, us.marketplace_id, us.total, us.in_sync, us.with_errors) == (
        "Acme Outdoor",
        US,
        11,
        6,
        2,
    )
    assert ({k: v for k, v in de.counts.items() if v}, de.total, de.in_sync, de.with_errors) == (
        {"ready": 1, "draft": 1},
        2,
        0,
        0,
    )
    assert (
        uk.marketplace_id,
        uk.counts["accepted"],
        uk.counts["dead_lettered"],
        uk.in_sync,
        uk.with_errors,
    ) == (
        UK,
        1,
        1,
        1,
        1,
    )


def test_recent_feeds_newest_first_with_progress(engine: Engine) -> None:
    with Session(engine) as s:
        feeds = queries.recent_feeds(s)
        assert [f.feed_id for f in queries.recent_feeds(s, limit=2)] == ["F-QUEUE", "F-PROG"]
        assert queries.recent_feeds(s, Scope(seller_id=EU_SELLER)) == []
    assert [f.feed_id for f in feeds] == ["F-QUEUE", "F-PROG", "F-FATAL", "F-DONE"]
    assert [f.finished for f in feeds] == [False, False, True, True]  # Amazon is done with the last two
    by_id = {f.feed_id: f for f in feeds}
    done = by_id["F-DONE"]
    assert (
        done.processing_status,
        done.messages_submitted,
        done.messages_accepted,
        done.messages_invalid,
    ) == (
        "DONE",
        8,
        7,
        1,
    )
    assert done.results == {"accepted": 7, "invalid": 1, "warning": 0, "unprocessed": 0}
    assert (done.progress, done.duration_seconds, done.errors, done.warnings) == (1.0, 15 * 60, 1, 2)
    prog = by_id["F-PROG"]
    assert (prog.processing_status, prog.messages_submitted, prog.progress, prog.duration_seconds) == (
        "IN_PROGRESS",
        3,
        None,
        None,
    )
    assert prog.processing_started_at is not None and prog.processing_ended_at is None
    assert (by_id["F-FATAL"].progress, by_id["F-QUEUE"].processing_started_at) == (1.0, None)
    assert by_id["F-QUEUE"].marketplace_ids == [US]


def test_issue_groups_worst_first_with_their_skus(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        groups = queries.issue_groups(s, since=facts.now - timedelta(days=30))
        everything = queries.issue_groups(s)
        small = queries.issue_groups(s, since=facts.now - timedelta(days=30), limit=2, skus_per_group=1)
    assert [(g.code, g.severity, g.source, g.issues, g.listings) for g in groups] == [
        ("4000006", "ERROR", "listings_api", 1, 1),
        ("5665", "ERROR", "feed", 1, 1),
        ("90220", "ERROR", "feed", 1, 1),
        ("FATAL", "ERROR", "feed", 1, 0),
        ("18027", "WARNING", "feed", 2, 2),
    ]
    by_code = {g.code: g for g in groups}
    assert [(x.seller_id, x.marketplace_id, x.sku) for x in by_code["18027"].skus] == [
        (SELLER, US, "HP-01"),
        (SELLER, US, "HP-02"),
    ]
    assert by_code["18027"].message == "18027: the latest wording"
    assert by_code["90220"].message == "'brand' is required but not supplied."
    assert by_code["FATAL"].skus == []
    assert [x.sku for x in by_code["5665"].skus] == ["EU-02"] and by_code["5665"].skus[
        0
    ].seller_id == EU_SELLER
    assert (
        by_code["90220"].first_seen
        == by_code["90220"].last_seen
        == facts.now - timedelta(days=1, minutes=-20)
    )
    # the window: the 40-day-old issue shows only without one
    assert "OLD-1" not in by_code and "OLD-1" in {g.code for g in everything}
    # HP-01's preview ERROR (yesterday) is in no group: Amazon stored nothing
    assert PREVIEW_CODE not in {g.code for g in everything}
    assert len(small) == 2 and all(len(g.skus) <= 1 for g in small)


def test_open_dead_letters_newest_first(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        letters = queries.open_dead_letters(s)
        eu = queries.open_dead_letters(s, Scope(seller_id=EU_SELLER))
        picked = queries.dead_letters(s, [facts.letters["OLD-SKU"], facts.letters["BAG-01"], 10**9])
    assert [(x.sku, x.path, x.code, x.state) for x in letters] == [
        ("BAG-02", "listings_api", "4000006", "open"),
        ("BAG-01", "feed", "90220", "open"),
        ("EU-02", "feed", "5665", "open"),
    ]
    # BAG-02 failed twice: one letter, its last error and when, the first failure kept in its events
    assert letters[0].operation == "patchListingsItem" and letters[0].reason == "4000006: rejected again"
    assert (letters[0].attempts, letters[1].attempts) == (2, 1)
    assert letters[0].updated_at - letters[0].created_at == timedelta(minutes=2)
    assert [x.sku for x in eu] == ["EU-02"]
    assert [(x.sku, x.state) for x in picked] == [("OLD-SKU", "resolved"), ("BAG-01", "open")]


def test_sku_history_of_a_rejected_feed_message(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        history = queries.sku_history(s, " BAG-01 ")
    assert history.sku == "BAG-01" and history.found
    (listing,) = history.listings
    assert (listing.marketplace_id, listing.status, listing.in_sync, listing.product_type) == (
        US,
        "dead_lettered",
        False,
        "LUGGAGE",
    )
    assert listing.status_since == facts.now - timedelta(days=1, minutes=-103)
    assert [(e.from_status, e.to_status, e.cause) for e in history.events] == [
        ("invalid", "dead_lettered", "dead_letter"),
        ("submitted", "invalid", "feed:F-DONE"),
        ("ready", "submitted", "feed:F-DONE"),
        (None, "ready", "validation"),
    ]
    (submission,) = history.submissions
    assert (submission.feed_id, submission.message_id, submission.result, submission.processing_status) == (
        "F-DONE",
        8,
        "invalid",
        "DONE",
    )
    (issue,) = history.issues
    assert (issue.code, issue.severity, issue.attribute_names, issue.feed_id) == (
        "90220",
        "ERROR",
        ["brand"],
        "F-DONE",
    )
    (letter,) = history.dead_letters
    assert (letter.letter.id, letter.letter.state) == (facts.letters["BAG-01"], "open")
    assert [(e.from_state, e.to_state) for e in letter.events] == [(None, "open")]
    assert history.quarantine == [] and history.api_calls == []

    timeline = history.timeline()
    assert [e.at for e in timeline] == sorted((e.at for e in timeline), reverse=True)
    assert {e.kind for e in timeline} == {"lifecycle", "submission", "issue", "dead_letter"}
    assert timeline[0].title == "invalid \u2192 dead_lettered"
    assert any(e.title == "feed F-DONE message 8: invalid" for e in timeline)


def test_sku_history_of_a_rejected_hotfix_and_of_a_quarantined_row(engine: Engine) -> None:
    with Session(engine) as s:
        hotfix = queries.sku_history(s, "BAG-02")
        quarantined = queries.sku_history(s, "TT-02-L-RED")
        both_markets = queries.sku_history(s, "TT-01-M-BLK", Scope(seller_id=SELLER))
        other_seller = queries.sku_history(s, "TT-01-M-BLK", Scope(seller_id=EU_SELLER))
        unknown = queries.sku_history(s, "NO-SUCH-SKU")
    (call,) = hotfix.api_calls
    assert (call.operation, call.method, call.status, call.request_id, call.latency_ms) == (
        "patchListingsItem",
        "PATCH",
        200,
        "req-bag-02",
        420.0,
    )
    assert [(i.source, i.code, i.submission_id) for i in hotfix.issues] == [
        ("listings_api", "4000006", "sub-1")
    ]
    assert hotfix.dead_letters[0].letter.path == "listings_api"
    assert [(e.from_state, e.to_state, e.note) for e in hotfix.dead_letters[0].events] == [
        ("open", "open", "4000006: rejected again"),
        (None, "open", "4000006: rejected"),
    ]
    assert "api_call" in {e.kind for e in hotfix.timeline()}
    letter_id = hotfix.dead_letters[0].letter.id
    assert [e.title for e in hotfix.timeline() if e.kind == "dead_letter"] == [
        f"dead letter {letter_id}: failed again",
        f"dead letter {letter_id}: (new) \u2192 open",
    ]

    assert [(q.marketplace_id, q.column_name, q.rule) for q in quarantined.quarantine] == [
        (US, "item_name", "content_policy.no_html"),
        (US, "list_price", "expect_column_values_to_be_between"),
    ]  # same time: the later row first
    assert [(x.marketplace_id, x.status) for x in quarantined.listings] == [
        (DE, "draft"),
        (US, "quarantined"),
    ]
    validation = [e for e in quarantined.timeline() if e.kind == "validation"]
    assert len(validation) == 2 and any(
        "list_price" in e.title and "'-5'" in (e.detail or "") for e in validation
    )

    assert [(x.marketplace_id, x.status, x.in_sync) for x in both_markets.listings] == [
        (DE, "ready", False),
        (US, "accepted", True),
    ]
    assert not other_seller.found and other_seller.listings == []
    assert not unknown.found and unknown.timeline() == []


def test_sku_history_of_an_accepted_hotfix_says_who_what_and_which_run(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        history = queries.sku_history(s, "HP-01")
    (listing,) = history.listings
    # a patch Amazon accepted leaves the payload it accepted whole: in sync; the preview's ERROR
    # afterwards is not the listing's
    assert (listing.status, listing.in_sync, listing.with_errors) == ("accepted", True, False)
    run = HOTFIX["run_id"]
    assert [
        (e.from_status, e.to_status, e.actor, e.dag_id, e.run_id, [(c.field, c.old, c.new) for c in e.changes])
        for e in history.events
    ] == [
        # the sale price (15.99) and the currency were not in the patch: not changed, not listed
        ("submitted", "accepted", "alice", HOTFIX_DAG, run, [("our_price", "19.99", "17.99"), ("quantity", 12, 5)]),
        ("ready", "submitted", "alice", HOTFIX_DAG, run, []),
        ("accepted", "ready", "alice", HOTFIX_DAG, run, []),
        # the catalog run's moves, written before events named their DAG or user
        ("submitted", "accepted", None, None, "scheduled__1", []),
        ("ready", "submitted", None, None, "scheduled__1", []),
        (None, "ready", None, None, "scheduled__1", []),
    ]  # fmt: skip
    assert [(i.code, i.severity, i.source) for i in history.issues] == [("18027", "WARNING", "feed")]
    assert [(i.code, i.severity, i.source) for i in history.preview_issues] == [
        (PREVIEW_CODE, "ERROR", "listings_api")
    ]

    timeline = history.timeline()
    day = facts.now - timedelta(days=1)
    preview, accepted = timeline[:2]
    assert (preview.kind, preview.title, preview.at) == (
        "preview",
        f"validation preview: ERROR {PREVIEW_CODE} from listings_api",
        day + timedelta(minutes=130),
    )
    assert [e.title for e in timeline if e.kind == "issue"] == ["WARNING 18027 from feed"]
    assert (accepted.kind, accepted.title, accepted.detail, accepted.actor, accepted.run) == (
        "lifecycle",
        "submitted \u2192 accepted",
        "cause listings_api:sub-hp-01",
        "alice",
        RunRef(dag_id=HOTFIX_DAG, run_id=run),
    )
    assert [(c.field, c.old, c.new) for c in accepted.changes] == [
        ("our_price", "19.99", "17.99"),
        ("quantity", 12, 5),
    ]
    first = timeline[-1]
    assert (first.title, first.actor, first.run) == (
        "(new) \u2192 ready",
        None,
        RunRef(dag_id=None, run_id="scheduled__1"),
    )


def test_a_sku_history_and_the_status_counts_agree_on_in_sync_and_errors(engine: Engine) -> None:
    """The history reads the state model's one definition: per seller and marketplace, its listings
    add up to the status counts, and in sync is about the status as well as the hashes."""
    with Session(engine) as s:
        counts = queries.status_counts(s)
        skus = s.scalars(select(Listing.sku).distinct().order_by(Listing.sku)).all()
        states = [x for sku in skus for x in queries.sku_history(s, sku).listings]
        hp03 = s.scalars(select(Listing).where(Listing.sku == "HP-03")).one()
    for row in counts:
        branch = [x for x in states if (x.seller_id, x.marketplace_id) == (row.seller_id, row.marketplace_id)]
        assert (len(branch), sum(x.in_sync for x in branch), sum(x.with_errors for x in branch)) == (
            row.total,
            row.in_sync,
            row.with_errors,
        ), row.marketplace_id
    assert sorted((x.sku, x.marketplace_id) for x in states if x.in_sync) == [
        ("EU-01", UK),
        ("HP-01", US),
        ("HP-02", US),
        ("HP-04", US),
        ("HP-05", US),
        ("SH-00", US),
        ("TT-01-M-BLK", US),
    ]
    assert sorted(x.sku for x in states if x.with_errors) == ["BAG-01", "BAG-02", "EU-02"]
    # HP-03's price patch is on its way: the payload Amazon accepted is still the one wanted, but a
    # listing being sent is not in sync
    assert hp03.payload_hash == hp03.accepted_hash is not None
    assert [(x.status, x.in_sync) for x in states if x.sku == "HP-03"] == [("submitted", False)]


def test_find_skus_matches_any_case_and_no_wildcards(engine: Engine) -> None:
    with Session(engine) as s:
        assert queries.find_skus(s, "tt-0") == ["TT-01-M-BLK", "TT-02-L-RED"]
        assert queries.find_skus(s, "hp", limit=2) == ["HP-01", "HP-02"]
        assert queries.find_skus(s, "%") == []
        assert queries.find_skus(s, "_") == []
        assert queries.find_skus(s, "  ") == []


def test_api_call_series_per_hour(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        points = queries.api_call_series(s, now=facts.now)
        short = queries.api_call_series(s, hours=2, now=facts.now)
    hour = facts.now.replace(minute=0, second=0, microsecond=0)
    assert len(points) == 48 and points[-1].hour == hour and points[0].hour == hour - timedelta(hours=47)
    by_hour = {p.hour: p for p in points}
    quiet, throttled, failing, current = (by_hour[hour - timedelta(hours=n)] for n in (3, 2, 1, 0))
    assert (quiet.calls, quiet.throttled, quiet.failed, quiet.success_rate) == (10, 0, 0, 1.0)
    assert (quiet.avg_latency_ms, quiet.p95_latency_ms) == (pytest.approx(145.0), 190.0)
    assert (throttled.calls, throttled.throttled, throttled.failed, throttled.success_rate) == (10, 2, 2, 0.8)
    assert (throttled.avg_latency_ms, throttled.p95_latency_ms) == (pytest.approx(275.0), 500.0)
    assert (failing.calls, failing.failed, failing.success_rate, failing.p95_latency_ms) == (
        4,
        1,
        0.75,
        1000.0,
    )
    assert (current.calls, current.success_rate, current.avg_latency_ms) == (0, None, None)
    assert sum(p.calls for p in points) == 25  # and the hotfix's call, yesterday
    assert [p.calls for p in short] == [4, 0]


def test_feed_series_per_day(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        days = queries.feed_series(s, now=facts.now)
    assert len(days) == 14 and days[-1].day == facts.now.date()
    assert sum(d.feeds for d in days) == 4
    assert (
        sum(d.feeds_done for d in days),
        sum(d.feeds_fatal for d in days),
        sum(d.feeds_pending for d in days),
    ) == (
        1,
        1,
        2,
    )
    assert (sum(d.messages_accepted for d in days), sum(d.messages_invalid for d in days)) == (7, 1)
    with_results = [d for d in days if d.messages_accepted]
    assert len(with_results) == 1 and with_results[0].acceptance_rate == pytest.approx(7 / 8)
    assert with_results[0].avg_processing_seconds is not None
    assert all(d.acceptance_rate is None for d in days if not d.messages_accepted and not d.messages_invalid)


def test_overview_reads_every_section(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        page = queries.overview(s, now=facts.now)
    assert (
        len(page.status),
        len(page.feeds),
        len(page.dead_letters),
        len(page.api_hours),
        len(page.feed_days),
    ) == (
        3,
        4,
        3,
        48,
        14,
    )
    assert page.issues_since == facts.now - queries.ISSUE_WINDOW
    assert "OLD-1" not in {g.code for g in page.issues}
    assert page.model_dump(mode="json")["feeds"][0]["progress"] is None  # computed fields are in the JSON
    assert [b.dag_id for b in page.runs] == [CATALOG_DAG, OFFERS_DAG] and page.quarantine.total == 7
    assert page.scope == EVERYWHERE


# --- runs ------------------------------------------------------------------------------------------------


def _new(run: RunRow) -> list[tuple[str, int, list[tuple[str, str, str]]]]:
    return [(n.kind, n.count, [(x.seller_id, x.marketplace_id, x.sku) for x in n.skus]) for n in run.new]


def test_runs_of_each_dag_newest_first_with_what_is_new(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        blocks = runs.recent_runs(s)
    assert [(b.dag_id, [r.run_id for r in b.runs]) for b in blocks] == [
        (CATALOG_DAG, ["scheduled__1", "scheduled__0"]),
        (OFFERS_DAG, ["scheduled__o2", "scheduled__o1"]),
    ]
    latest, first = blocks[0].runs
    # US 13 + DE 2 + UK 2 extracted; every count is the three branches' sum
    assert (
        latest.branches, latest.extracted, latest.quarantined, latest.quarantined_skus, latest.planned,
        latest.unchanged, latest.skipped, latest.submitted, latest.accepted, latest.invalid, latest.warnings,
        latest.dead_lettered, latest.throttled_calls,
    ) == (3, 17, 4, 2, 12, 1, 0, 10, 8, 2, 2, 2, 2)  # fmt: skip
    day = facts.now - timedelta(days=1)
    assert (latest.started_at, latest.ended_at, latest.duration_seconds) == (
        day,
        day + timedelta(minutes=25),
        1500,
    )
    assert latest.airflow_state is None  # the app asks Airflow, not the query
    # SH-02 was quarantined by scheduled__0 already: only TT-02-L-RED is new; the run moved BAG-01
    # (US) and EU-02 (UK) to invalid and then to dead_lettered
    assert _new(latest) == [
        ("quarantined", 1, [(SELLER, US, "TT-02-L-RED")]),
        ("invalid", 2, [(SELLER, US, "BAG-01"), (EU_SELLER, UK, "EU-02")]),
        ("dead_lettered", 2, [(SELLER, US, "BAG-01"), (EU_SELLER, UK, "EU-02")]),
    ]
    # the DAG's first run: everything it quarantined is new (the SKU-less row is not a listing)
    assert (first.extracted, first.branches) == (12, 2)
    assert _new(first) == [("quarantined", 2, [(SELLER, US, "HP-03"), (SELLER, US, "SH-02")])]
    offers_latest, offers_first = blocks[1].runs
    assert _new(offers_latest) == [("quarantined", 1, [(SELLER, US, "HP-05")])] and _new(offers_first) == []
    assert (offers_latest.extracted, offers_latest.unchanged, offers_latest.accepted) == (7, 5, 1)


def test_runs_in_scope_and_limits(engine: Engine) -> None:
    with Session(engine) as s:
        eu = runs.recent_runs(s, Scope(seller_id=EU_SELLER))
        de = runs.recent_runs(s, Scope(marketplace_id=DE))
        nothing = runs.recent_runs(s, Scope(seller_id=EU_SELLER, marketplace_id=US))
        short = runs.recent_runs(s, per_dag=1, shown=1)
    [(eu_run,)] = [tuple(b.runs) for b in eu]
    assert (eu_run.dag_id, eu_run.run_id, eu_run.branches, eu_run.extracted, eu_run.invalid) == (
        CATALOG_DAG, "scheduled__1", 1, 2, 1,
    )  # fmt: skip
    assert _new(eu_run) == [
        ("invalid", 1, [(EU_SELLER, UK, "EU-02")]),
        ("dead_lettered", 1, [(EU_SELLER, UK, "EU-02")]),
    ]
    assert [(b.dag_id, [(r.run_id, r.extracted, r.unchanged, r.new) for r in b.runs]) for b in de] == [
        (CATALOG_DAG, [("scheduled__1", 2, 1, []), ("scheduled__0", 1, 0, [])])
    ]
    assert nothing == []
    assert [(b.dag_id, [r.run_id for r in b.runs]) for b in short] == [
        (CATALOG_DAG, ["scheduled__1"]),
        (OFFERS_DAG, ["scheduled__o2"]),
    ]
    assert _new(short[0].runs[0])[1] == ("invalid", 2, [(SELLER, US, "BAG-01")])  # 2 in all, 1 shown


# --- quarantine ------------------------------------------------------------------------------------------


def test_quarantine_newest_first_with_where_and_why(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        page = quarantine.quarantine_page(s, EVERYWHERE, QuarantineFilter())
    assert (page.total, page.page, page.pages, page.first, page.last) == (7, 1, 1, 1, 7)
    assert [(q.sku, q.rule, q.run_id) for q in page.rows] == [
        ("HP-05", "offers.price", "scheduled__o2"),
        (None, "expect_column_values_to_not_be_null", "scheduled__1"),  # same time: the later row first
        ("SH-02", "content_policy.formula_prefixes", "scheduled__1"),
        ("TT-02-L-RED", "content_policy.no_html", "scheduled__1"),
        ("TT-02-L-RED", "expect_column_values_to_be_between", "scheduled__1"),
        ("HP-03", "specs.number", "scheduled__0"),
        ("SH-02", "content_policy.formula_prefixes", "scheduled__0"),
    ]
    offers = page.rows[0]
    assert (
        offers.seller_id, offers.marketplace_id, offers.source_file, offers.source_line, offers.column_name,
        offers.value, offers.reason, offers.quarantined_at,
    ) == (SELLER, US, OFFERS_FILE, 6, "price", "-1", "price: offers.price", facts.now - timedelta(hours=2))  # fmt: skip
    assert (page.rows[2].source_file, page.rows[2].source_line, page.rows[2].value) == (US_FILE, 7, FORMULA)
    assert [(r.rule, r.rows) for r in page.rules] == [
        ("content_policy.formula_prefixes", 2),
        ("content_policy.no_html", 1),
        ("expect_column_values_to_be_between", 1),
        ("expect_column_values_to_not_be_null", 1),
        ("offers.price", 1),
        ("specs.number", 1),
    ]


def test_quarantine_filters_and_pages(engine: Engine) -> None:
    us = Scope(seller_id=SELLER, marketplace_id=US)
    with Session(engine) as s:
        formula = quarantine.quarantine_page(
            s, EVERYWHERE, QuarantineFilter(rule="content_policy.formula_prefixes")
        )
        run = quarantine.quarantine_page(s, us, QuarantineFilter(run_id="scheduled__1", page=2, page_size=3))
        beyond = quarantine.quarantine_page(
            s, us, QuarantineFilter(run_id="scheduled__1", page=3, page_size=3)
        )
        eu = quarantine.quarantine_page(s, Scope(seller_id=EU_SELLER), QuarantineFilter())
        de = quarantine.quarantine_page(s, Scope(marketplace_id=DE), QuarantineFilter())
        exported = list(
            quarantine.quarantine_rows(s, us, QuarantineFilter(run_id="scheduled__1", page=2, page_size=1))
        )
    assert [(q.sku, q.run_id) for q in formula.rows] == [("SH-02", "scheduled__1"), ("SH-02", "scheduled__0")]
    assert len(formula.rules) == 6  # the rule filter offers every rule, not only the one picked
    assert (run.total, run.pages, run.first, run.last) == (4, 2, 4, 4)
    assert [(q.sku, q.rule) for q in run.rows] == [("TT-02-L-RED", "expect_column_values_to_be_between")]
    assert [(r.rule, r.rows) for r in run.rules] == [
        ("content_policy.formula_prefixes", 1),
        ("content_policy.no_html", 1),
        ("expect_column_values_to_be_between", 1),
        ("expect_column_values_to_not_be_null", 1),
    ]
    assert (beyond.total, beyond.rows, beyond.first) == (4, [], 0)
    assert (eu.total, eu.rows, eu.rules) == (0, [], []) and de.total == 0
    # the export has every page of the filter
    assert [(q.sku, q.rule) for q in exported] == [
        (None, "expect_column_values_to_not_be_null"),
        ("SH-02", "content_policy.formula_prefixes"),
        ("TT-02-L-RED", "content_policy.no_html"),
        ("TT-02-L-RED", "expect_column_values_to_be_between"),
    ]


# --- the page-wide filter --------------------------------------------------------------------------------


def test_the_filter_narrows_every_section(engine: Engine, facts: Facts) -> None:
    eu, de, us = Scope(seller_id=EU_SELLER), Scope(marketplace_id=DE), Scope(marketplace_id=US)
    with Session(engine) as s:
        assert [(r.seller_id, r.marketplace_id) for r in queries.status_counts(s, de)] == [(SELLER, DE)]
        assert [r.marketplace_id for r in queries.status_counts(s, eu)] == [UK]
        assert len(queries.recent_feeds(s, us)) == 4 and queries.recent_feeds(s, de) == []
        since = facts.now - timedelta(days=30)
        assert [g.code for g in queries.issue_groups(s, eu, since=since)] == ["5665"]
        assert [g.code for g in queries.issue_groups(s, de, since=since)] == []
        assert [x.sku for x in queries.open_dead_letters(s, Scope(marketplace_id=UK))] == ["EU-02"]
        assert sum(h.calls for h in queries.api_call_series(s, us, now=facts.now)) == 25
        assert sum(h.calls for h in queries.api_call_series(s, eu, now=facts.now)) == 0
        assert sum(d.feeds for d in queries.feed_series(s, us, now=facts.now)) == 4
        assert (
            sum(
                d.feeds
                for d in queries.feed_series(s, Scope(seller_id=EU_SELLER, marketplace_id=US), now=facts.now)
            )
            == 0
        )
        in_de = queries.sku_history(s, "TT-02-L-RED", de)
        assert [(x.marketplace_id, x.status) for x in in_de.listings] == [(DE, "draft")]
        assert in_de.quarantine == [] and {e.marketplace_id for e in in_de.timeline()} == {DE}
        options = queries.filter_options(s)
    assert [(o.seller_id, o.name) for o in options.sellers] == [
        (SELLER, "Acme Outdoor"),
        (EU_SELLER, "Acme Europe"),
    ]
    assert [(o.country_code, o.marketplace_id) for o in options.marketplaces] == [
        ("DE", DE),
        ("UK", UK),
        ("US", US),
    ]


@pytest.mark.parametrize("marketplace_id", ['US"', "%", "atvpdkikx0der", "A" * 33])
def test_the_filter_takes_only_marketplace_ids(marketplace_id: str) -> None:
    with pytest.raises(ValidationError):
        Scope(marketplace_id=marketplace_id)


def test_replay_plan_one_run_per_seller(engine: Engine, facts: Facts) -> None:
    ids = facts.letters
    selection = ReplaySelection(
        dead_letter_ids=[ids["BAG-01"], ids["EU-02"], ids["BAG-02"], ids["OLD-SKU"], 10**9, ids["BAG-01"]],
        note="brand approved",
    )
    with Session(engine) as s:
        plan = replay_runs.plan(s, selection, user_name="operator")
    assert plan.skipped == {ids["OLD-SKU"]: "is resolved, not open", 10**9: "no such dead letter"}
    us, eu = plan.runs
    assert (us.seller_id, us.selected_ids, us.matching_ids) == (
        SELLER,
        [ids["BAG-01"], ids["BAG-02"]],
        sorted([ids["BAG-01"], ids["BAG-02"]]),
    )
    assert us.conf == {
        "seller_id": SELLER,
        "skus": "BAG-01\nBAG-02",
        "codes": "4000006\n90220",
        "states": ["open"],
        "action": "replay",
        "dry_run": False,
        "note": "replayed from the listing status page by operator: brand approved",
        "limit": 5000,
    }
    assert (eu.seller_id, eu.conf["skus"], eu.conf["codes"], eu.matching_ids) == (
        EU_SELLER,
        "EU-02",
        "5665",
        [ids["EU-02"]],
    )


def test_replay_conf_drops_the_code_filter_when_a_letter_has_no_code() -> None:
    conf = replay_runs.run_conf(SELLER, ["B", "A", "A"], ["5665", None], "n")
    assert (conf["skus"], conf["codes"]) == ("A\nB", None)
    with pytest.raises(ValueError):
        ReplaySelection(dead_letter_ids=[])
