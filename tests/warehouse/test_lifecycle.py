"""Listing lifecycle: every move is recorded, illegal moves write nothing, bulk moves scale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import joinedload

from listings_pipeline.warehouse import lifecycle
from listings_pipeline.warehouse.db import session_scope
from listings_pipeline.warehouse.lifecycle import (
    IllegalTransitionError,
    LifecycleError,
    history,
    move_dead_letter,
    open_dead_letter,
    open_dead_letters,
    transition,
    transition_many,
)
from listings_pipeline.warehouse.models import DeadLetter, DeadLetterEvent, Listing, ListingEvent
from tests.warehouse.conftest import DE, SELLER, US

pytestmark = pytest.mark.usefixtures("backend")

H1, H2 = "1" * 64, "2" * 64


def _listing(engine: Engine, sku: str, marketplace_id: str = US) -> Listing:
    with session_scope(engine) as s:
        listing = s.scalars(
            select(Listing)
            .where(Listing.seller_id == SELLER, Listing.marketplace_id == marketplace_id, Listing.sku == sku)
            .options(joinedload(Listing.stored_payload))
        ).one()
        s.expunge_all()  # the listing and its payload row
        return listing


def _events(engine: Engine) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(ListingEvent)) or 0


def test_a_listing_from_draft_to_live_with_its_history(warehouse_engine: Engine) -> None:
    t0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    with session_scope(warehouse_engine) as s:
        first = transition(s, SELLER, US, "SKU-1", "draft", "catalog", "run-1", at=t0, product_type="LUGGAGE")
        assert first is not None and first.from_status is None and first.to_status == "draft"
        transition(s, SELLER, US, "SKU-1", "ready", "validation", "run-1", payload={"a": 1}, payload_hash=H1)
        transition(
            s, SELLER, US, "SKU-1", "submitted", "feed:50001", "run-1", last_submission_id="feed:50001"
        )
    listing = _listing(warehouse_engine, "SKU-1")
    assert (listing.status, listing.product_type, listing.payload, listing.payload_hash) == (
        "submitted",
        "LUGGAGE",
        {"a": 1},
        H1,
    )
    assert listing.submitted_hash == H1 and listing.accepted_hash is None
    assert listing.created_at == t0 and listing.payload_changed_at is not None

    with session_scope(warehouse_engine) as s:
        # the catalog moved on while the feed was processing: Amazon accepts what was *sent*
        transition(s, SELLER, US, "SKU-1", "submitted", "catalog", payload_hash=H2)
        transition(s, SELLER, US, "SKU-1", "accepted", "feed:50001", "run-1")
        transition(s, SELLER, US, "SKU-1", "live", "notification", asin="B0TEST0001")
        events = history(s, SELLER, US, "SKU-1")
        assert [(e.from_status, e.to_status, e.cause, e.run_id) for e in events] == [
            (None, "draft", "catalog", "run-1"),
            ("draft", "ready", "validation", "run-1"),
            ("ready", "submitted", "feed:50001", "run-1"),
            ("submitted", "accepted", "feed:50001", "run-1"),
            ("accepted", "live", "notification", None),
        ]
        assert events[0].at == t0 and all(e.at.tzinfo is UTC for e in events)
    listing = _listing(warehouse_engine, "SKU-1")
    assert (listing.status, listing.asin, listing.accepted_hash, listing.payload_hash) == (
        "live",
        "B0TEST0001",
        H1,
        H2,
    )
    assert listing.accepted_at is not None and listing.accepted_at.tzinfo is UTC


def test_same_status_writes_fields_but_no_event(warehouse_engine: Engine) -> None:
    with session_scope(warehouse_engine) as s:
        transition(s, SELLER, US, "SKU-1", "ready", "validation", payload_hash=H1)
        assert transition(s, SELLER, US, "SKU-1", "ready", "validation", payload_hash=H2) is None
    assert _events(warehouse_engine) == 1
    assert _listing(warehouse_engine, "SKU-1").payload_hash == H2


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], "submitted"),
        ([], "accepted"),
        (["draft"], "submitted"),
        (["draft"], "accepted"),
        (["ready"], "live"),
        (["ready", "submitted"], "draft"),
        (["ready", "submitted", "accepted"], "submitted"),
    ],
)
def test_illegal_moves_raise_and_write_nothing(
    warehouse_engine: Engine, path: list[str], illegal: str
) -> None:
    with session_scope(warehouse_engine) as s:
        for status in path:
            transition(s, SELLER, US, "SKU-1", status, "setup")
    before = _events(warehouse_engine)
    origin = path[-1] if path else "(new)"
    with session_scope(warehouse_engine) as s, pytest.raises(IllegalTransitionError) as caught:
        transition(s, SELLER, US, "SKU-1", illegal, "feed:1")
    assert f"listing {SELLER}/{US}/SKU-1: illegal transition {origin} -> {illegal}" in str(caught.value)
    assert _events(warehouse_engine) == before


def test_bad_arguments(warehouse_engine: Engine) -> None:
    with session_scope(warehouse_engine) as s:
        with pytest.raises(LifecycleError, match="unknown listing status 'published'"):
            transition(s, SELLER, US, "SKU-1", "published", "x")
        with pytest.raises(TypeError, match="unexpected listing fields"):
            transition(s, SELLER, US, "SKU-1", "draft", "x", status="live")


def test_foreign_keys_are_enforced(warehouse_engine: Engine) -> None:
    """A listing needs a known seller and marketplace (SQLite too: make_engine turns them on)."""
    with pytest.raises(sa.exc.IntegrityError), session_scope(warehouse_engine) as s:
        transition(s, "A9UNKNOWN", US, "SKU-1", "draft", "catalog")
    with pytest.raises(sa.exc.IntegrityError), session_scope(warehouse_engine) as s:
        transition(s, SELLER, "NOTAMARKET", "SKU-1", "draft", "catalog")


def test_transition_many_moves_5000_skus(warehouse_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifecycle, "ANALYZE_AFTER", 1000)  # exercise the statistics refresh too
    skus = [f"SKU-{i:05d}" for i in range(5000)]
    with session_scope(warehouse_engine) as s:
        created = transition_many(
            s,
            [{"seller_id": SELLER, "marketplace_id": US, "sku": sku, "payload_hash": H1} for sku in skus],
            "validation",
            "run-1",
            to_status="ready",
        )
    assert (created.created, created.changed, created.unchanged, created.events) == (5000, 0, 0, 5000)

    with session_scope(warehouse_engine) as s:
        submitted = transition_many(
            s,
            [{"seller_id": SELLER, "marketplace_id": US, "sku": sku} for sku in skus],
            "feed:50001",
            "run-1",
            to_status="submitted",
        )
    assert (submitted.created, submitted.changed) == (0, 5000)

    # the report: most accepted, 100 invalid, one already accepted by an earlier pass (no event),
    # plus 10 new SKUs in another marketplace
    outcome = [
        {
            "seller_id": SELLER,
            "marketplace_id": US,
            "sku": sku,
            "to_status": "invalid" if i < 100 else "accepted",
        }
        for i, sku in enumerate(skus)
    ]
    outcome += [
        {"seller_id": SELLER, "marketplace_id": DE, "sku": f"DE-{i}", "to_status": "draft"} for i in range(10)
    ]
    with session_scope(warehouse_engine) as s:
        transition(s, SELLER, US, skus[-1], "accepted", "listings_api:abc")
        result = transition_many(s, outcome, "feed:50001", "run-1")
    assert (result.created, result.changed, result.unchanged) == (10, 4999, 1)
    # how fast is measured end to end by benchmarks/ (bench_report_parse, bench_catalog_sync)

    with session_scope(warehouse_engine) as s:
        by_status = dict(
            s.execute(
                select(Listing.status, func.count())
                .where(Listing.seller_id == SELLER)
                .group_by(Listing.status)
            ).all()
        )
        assert by_status == {"accepted": 4900, "invalid": 100, "draft": 10}
        assert s.scalar(select(func.count()).select_from(ListingEvent)) == 5000 + 5000 + 1 + 4999 + 10
        accepted_hashes = s.scalars(
            select(Listing.accepted_hash).where(Listing.status == "accepted").distinct()
        ).all()
        assert accepted_hashes == [H1]
        events = history(s, SELLER, US, skus[0])
        assert [(e.from_status, e.to_status) for e in events] == [
            (None, "ready"),
            ("ready", "submitted"),
            ("submitted", "invalid"),
        ]


def test_transition_many_is_all_or_nothing(warehouse_engine: Engine) -> None:
    with session_scope(warehouse_engine) as s:
        transition_many(
            s,
            [{"seller_id": SELLER, "marketplace_id": US, "sku": f"S{i}"} for i in range(20)],
            "c",
            to_status="draft",
        )
    rows = [
        {"seller_id": SELLER, "marketplace_id": US, "sku": f"S{i}", "to_status": "ready"} for i in range(20)
    ]
    rows += [
        {"seller_id": SELLER, "marketplace_id": US, "sku": f"S{i}", "to_status": "accepted"}
        for i in range(20, 27)
    ]
    rows[3]["to_status"] = "live"
    before = _events(warehouse_engine)
    with session_scope(warehouse_engine) as s, pytest.raises(IllegalTransitionError) as caught:
        transition_many(s, rows, "validation")
    message = str(caught.value)
    assert message.startswith("8 illegal transition(s) for cause validation, nothing written")
    assert f"{SELLER}/{US}/S3: illegal transition draft -> live" in message and "(and 3 more)" in message
    assert _events(warehouse_engine) == before
    with session_scope(warehouse_engine) as s:
        assert set(s.scalars(select(Listing.status))) == {"draft"}

    with session_scope(warehouse_engine) as s, pytest.raises(LifecycleError, match="appears twice"):
        transition_many(s, rows[:2] + rows[:1], "validation")
    with session_scope(warehouse_engine) as s, pytest.raises(LifecycleError, match="no to_status"):
        transition_many(s, [{"seller_id": SELLER, "marketplace_id": US, "sku": "S1"}], "validation")


def test_a_move_through_a_status_writes_both_events_and_the_row_once(warehouse_engine: Engine) -> None:
    """A rejected message's listing goes ``invalid`` and on to ``dead_lettered`` in one move: the
    same events and the same row as two moves, but one UPDATE of it."""

    def row(sku: str, **extra: object) -> dict[str, object]:
        return {"seller_id": SELLER, "marketplace_id": US, "sku": sku, **extra}

    with session_scope(warehouse_engine) as s:
        transition_many(s, [row(f"S{i}", payload_hash=H1) for i in range(4)], "plan", to_status="ready")
        transition_many(s, [row(f"S{i}") for i in range(4)], "build", to_status="submitted")
    t = datetime(2026, 1, 5, tzinfo=UTC)
    rows = [
        row("S0", via="invalid", to_status="dead_lettered", last_submission_id="feed:1"),
        row("S1", to_status="invalid", last_submission_id="feed:1"),
        row("S2", to_status="dead_lettered"),
    ]
    updates: list[str] = []

    def count_updates(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(statement)

    sa.event.listen(warehouse_engine, "before_cursor_execute", count_updates)
    try:
        with session_scope(warehouse_engine) as s:
            summary = transition_many(s, rows, "feed:1", run_id="r", at=t)
    finally:
        sa.event.remove(warehouse_engine, "before_cursor_execute", count_updates)
    assert (summary.changed, summary.unchanged) == (4, 0)
    # S0 and S1 share their columns (status, last_submission_id, updated_at), S2 sets fewer
    assert len(updates) == 2
    with session_scope(warehouse_engine) as s:
        moves = [(e.to_status, e.from_status, e.at, e.cause) for e in history(s, SELLER, US, "S0")]
    assert moves[-2:] == [("invalid", "submitted", t, "feed:1"), ("dead_lettered", "invalid", t, "feed:1")]
    s0 = _listing(warehouse_engine, "S0")
    assert (s0.status, s0.last_submission_id, s0.updated_at) == ("dead_lettered", "feed:1", t)

    with session_scope(warehouse_engine) as s, pytest.raises(IllegalTransitionError) as caught:
        transition_many(
            s,
            [
                row("S3", via="accepted", to_status="dead_lettered"),
                row("NEW", via="ready", to_status="submitted"),
            ],
            "c",
        )
    assert "S3: illegal transition accepted -> dead_lettered" in str(caught.value)
    assert "NEW: a new listing cannot pass through ready" in str(caught.value)
    assert _listing(warehouse_engine, "S3").status == "submitted"


def test_transition_many_stamps_payload_changes(warehouse_engine: Engine) -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    t1 = t0 + timedelta(hours=1)
    row = {"seller_id": SELLER, "marketplace_id": US, "sku": "S1"}
    with session_scope(warehouse_engine) as s:
        transition_many(s, [{**row, "payload_hash": H1}], "c", to_status="ready", at=t0)
        transition_many(s, [{**row, "payload_hash": H1}], "c", to_status="ready", at=t1)  # same hash
    assert _listing(warehouse_engine, "S1").payload_changed_at == t0
    with session_scope(warehouse_engine) as s:
        summary = transition_many(s, [{**row, "payload_hash": H2}], "c", to_status="ready", at=t1)
    assert (summary.unchanged, summary.events) == (1, 0)
    listing = _listing(warehouse_engine, "S1")
    assert (listing.payload_hash, listing.payload_changed_at) == (H2, t1)


def test_an_accepted_patch_leaves_the_accepted_payload(warehouse_engine: Engine) -> None:
    """A patch changes attributes on top of the listing: the payload Amazon holds is still the one it
    accepted whole, so a hotfixed listing is neither out of sync nor sent again by the next plan."""
    patch_hash = "3" * 64
    rows = [{"seller_id": SELLER, "marketplace_id": US, "sku": sku} for sku in ("ONE", "MANY")]
    with session_scope(warehouse_engine) as s:
        transition_many(s, [{**r, "payload_hash": H1} for r in rows], "plan", to_status="ready")
        transition_many(s, rows, "feed_document:x", to_status="submitted")
        transition_many(s, rows, "feed:1", to_status="accepted")
        transition_many(s, rows, "listings_api:plan", to_status="ready")
        transition_many(
            s, [{**r, "submitted_hash": patch_hash} for r in rows], "submit", to_status="submitted"
        )
        transition(s, SELLER, US, "ONE", "accepted", "listings_api:s1", patch=True)
        transition_many(s, rows[1:], "listings_api:s2", to_status="accepted", patch=True)
    for sku in ("ONE", "MANY"):
        listing = _listing(warehouse_engine, sku)
        assert (listing.status, listing.accepted_hash, listing.submitted_hash) == ("accepted", H1, patch_hash)
    with session_scope(warehouse_engine) as s:  # the same moves for a whole payload take its hash
        transition(s, SELLER, US, "ONE", "ready", "plan")
        transition(s, SELLER, US, "ONE", "submitted", "submit", submitted_hash=patch_hash)
        transition(s, SELLER, US, "ONE", "accepted", "listings_api:s3")
    assert _listing(warehouse_engine, "ONE").accepted_hash == patch_hash


def test_live_follows_amazons_view_both_ways(warehouse_engine: Engine) -> None:
    with session_scope(warehouse_engine) as s:
        for status in ("ready", "submitted", "accepted"):
            transition(s, SELLER, US, "SKU-1", status, "setup", payload_hash=H1)
        transition(s, SELLER, US, "SKU-1", "live", "amazon:summaries", buyable=True, discoverable=True)
        # suppressed: Amazon still has what it accepted, but shows it no more
        transition(s, SELLER, US, "SKU-1", "accepted", "amazon:summaries", buyable=False, discoverable=False)
        transition(s, SELLER, US, "SKU-1", "live", "amazon:summaries", discoverable=True)
        transition(s, SELLER, US, "SKU-1", "deleted", "notification")
        assert [e.to_status for e in history(s, SELLER, US, "SKU-1")][-4:] == [
            "live",
            "accepted",
            "live",
            "deleted",
        ]
    listing = _listing(warehouse_engine, "SKU-1")
    assert (listing.buyable, listing.discoverable) == (False, False)  # a deleted listing is not shown


def test_events_say_who_triggered_them_and_what_changed(warehouse_engine: Engine) -> None:
    change = {"our_price": {"old": "20.00", "new": "25.00"}}
    rows = [{"seller_id": SELLER, "marketplace_id": US, "sku": "SKU-1"}]
    with session_scope(warehouse_engine) as s:
        transition_many(s, rows, "plan", "run-1", to_status="ready", actor="alice", dag_id="listings_hotfix")
        transition(
            s, SELLER, US, "SKU-1", "submitted", "submit", "run-1", actor="alice", dag_id="listings_hotfix"
        )
        transition(
            s, SELLER, US, "SKU-1", "accepted", "s1", "run-1", dag_id="listings_hotfix", changes=change
        )
        events = history(s, SELLER, US, "SKU-1")
        assert [(e.to_status, e.actor, e.dag_id, e.run_id, e.changes) for e in events] == [
            ("ready", "alice", "listings_hotfix", "run-1", None),
            ("submitted", "alice", "listings_hotfix", "run-1", None),
            ("accepted", None, "listings_hotfix", "run-1", change),
        ]


def test_dead_letters_keep_one_letter_per_failing_change(warehouse_engine: Engine) -> None:
    key = {"seller_id": SELLER, "marketplace_id": US, "sku": "SKU-1", "path": "listings_api"}
    with session_scope(warehouse_engine) as s:
        letter = open_dead_letter(
            s, **key, operation="putListingsItem", reason="INVALID: 90220", code="90220", run_id="run-1"
        )
        move_dead_letter(s, letter, "replayed", actor="operator@example.com", note="fixed the brand")
        again = open_dead_letter(s, **key, operation="putListingsItem", reason="INVALID: 90244", code="90244")
        assert again.id == letter.id
        assert (again.state, again.attempts, again.code) == ("open", 2, "90244")
        move_dead_letter(s, letter, "resolved", actor="run-3")
        with pytest.raises(
            IllegalTransitionError, match=r"illegal transition resolved -> open; allowed: nothing"
        ):
            move_dead_letter(s, letter, "open", actor="run-4")
        events = s.scalars(select(DeadLetterEvent).order_by(DeadLetterEvent.id)).all()
        assert [(e.from_state, e.to_state, e.actor) for e in events] == [
            (None, "open", "run-1"),
            ("open", "replayed", "operator@example.com"),
            ("replayed", "open", "pipeline"),
            ("open", "resolved", "run-3"),
        ]
        # a resolved letter is history: the next failure opens a new one
        fresh = open_dead_letter(s, **key, operation="patchListingsItem", reason="timeout")
        assert fresh.id != letter.id and s.scalar(select(func.count()).select_from(DeadLetter)) == 2


def test_dead_letters_in_bulk_reuse_unfinished_letters_and_keep_the_order(warehouse_engine: Engine) -> None:
    """A report rejecting thousands of messages opens its letters in one go, with the same rules as
    one by one: an unfinished letter is reopened, a SKU named twice is one letter tried twice."""
    branch = {"seller_id": SELLER, "marketplace_id": US, "path": "feed", "operation": "JSON_LISTINGS_FEED"}
    with session_scope(warehouse_engine) as s:
        earlier = open_dead_letter(s, **branch, sku="B", reason="first failure", code="8541")
        move_dead_letter(s, earlier, "replayed", actor="operator@example.com")
        ids = open_dead_letters(
            s,
            **branch,
            letters=[
                {"sku": "A", "reason": "90220: brand", "code": "90220"},
                {"sku": "B", "reason": "8541: conflict", "code": "8541"},
                {"sku": "C", "reason": "4000001: colour", "code": "4000001"},
                {"sku": "A", "reason": "90220: brand again", "code": "90220"},
            ],
            run_id="run-2",
        )
        letters = {d.id: d for d in s.scalars(select(DeadLetter))}
        assert [letters[i].sku for i in ids] == ["A", "B", "C", "A"]
        assert ids[1] == earlier.id and ids[0] == ids[3]
        assert len(letters) == 3
        by_sku = {d.sku: d for d in letters.values()}
        assert (by_sku["A"].attempts, by_sku["A"].reason, by_sku["A"].state) == (
            2,
            "90220: brand again",
            "open",
        )
        assert (by_sku["B"].attempts, by_sku["B"].reason, by_sku["B"].state) == (2, "8541: conflict", "open")
        assert (by_sku["C"].attempts, by_sku["C"].run_id, by_sku["C"].code) == (1, "run-2", "4000001")
        opened = s.scalars(select(DeadLetterEvent).where(DeadLetterEvent.to_state == "open")).all()
        assert sorted(e.dead_letter_id for e in opened if e.from_state is None) == sorted(
            {ids[0], ids[1], ids[2]}
        )


def test_a_failed_replay_reopens_the_same_letter_whatever_path_failed(warehouse_engine: Engine) -> None:
    """A replayed feed letter puts its listing back to ``ready``; the next sync may send it through the
    Listings API (a small change set). That failure is the replay's outcome: the same letter, one
    more attempt, the new error, path and change; every failure stays in its events, with its time."""
    key = {"seller_id": SELLER, "marketplace_id": US, "sku": "SKU-F"}
    change = {**key, "operation": "putListingsItem", "action": "put_from_catalog", "body": {"a": 1}}
    with session_scope(warehouse_engine) as s:
        letter = open_dead_letter(
            s, **key, path="feed", operation="JSON_LISTINGS_FEED", reason="5665: approval", code="5665"
        )
        first_failure = letter.updated_at
        move_dead_letter(s, letter, "replayed", actor="dead_letter_replay:r1", note="approval received")
        again = open_dead_letter(
            s,
            **key,
            path="listings_api",
            operation="putListingsItem",
            reason="90220: brand",
            code="90220",
            payload=change,
            run_id="sync-2",
        )
        assert again.id == letter.id
        assert (again.state, again.attempts, again.path, again.operation, again.code, again.run_id) == (
            "open",
            2,
            "listings_api",
            "putListingsItem",
            "90220",
            "sync-2",
        )
        assert again.payload == change and again.updated_at > first_failure
        # failing again while open (nobody replayed it): still this letter, the failure in its history
        third = open_dead_letter(
            s, **key, path="feed", operation="JSON_LISTINGS_FEED", reason="5665: approval", run_id="sync-3"
        )
        assert (third.id, third.attempts, third.path, third.payload) == (letter.id, 3, "feed", None)
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 1
        events = s.scalars(select(DeadLetterEvent).order_by(DeadLetterEvent.id)).all()
        assert [(e.from_state, e.to_state, e.actor, e.note) for e in events] == [
            (None, "open", "pipeline", "5665: approval"),
            ("open", "replayed", "dead_letter_replay:r1", "approval received"),
            ("replayed", "open", "sync-2", "90220: brand"),
            ("open", "open", "sync-3", "5665: approval"),
        ]
        assert events[0].at == first_failure and events[2].at <= events[3].at
