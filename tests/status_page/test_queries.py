"""The status page's queries give the right figures for a realistic warehouse, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from listings_pipeline.status_page import queries, replay_runs
from listings_pipeline.status_page.replay_runs import ReplaySelection
from tests.status_page.warehouse_data import DE, EU_SELLER, SELLER, UK, US, Facts


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
    assert nonzero == {"accepted": 6, "live": 1, "dead_lettered": 2, "submitted": 1, "quarantined": 1}
    assert set(us.counts) == {
        "draft", "quarantined", "ready", "submitted", "accepted", "invalid", "dead_lettered", "live", "deleted",
    }  # fmt: skip
    assert (us.seller_name, us.marketplace_id, us.total, us.in_sync, us.with_errors) == (
        "Acme Outdoor",
        US,
        11,
        7,
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
        assert queries.recent_feeds(s, seller_id=EU_SELLER) == []
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
    assert len(small) == 2 and all(len(g.skus) <= 1 for g in small)


def test_open_dead_letters_newest_first(engine: Engine, facts: Facts) -> None:
    with Session(engine) as s:
        letters = queries.open_dead_letters(s)
        eu = queries.open_dead_letters(s, seller_id=EU_SELLER)
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
        both_markets = queries.sku_history(s, "TT-01-M-BLK", seller_id=SELLER)
        other_seller = queries.sku_history(s, "TT-01-M-BLK", seller_id=EU_SELLER)
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
