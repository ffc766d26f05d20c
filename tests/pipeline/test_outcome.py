"""A run's outcome: which runs need attention, and the note that says so, from the summaries the DAGs'
``summarise`` tasks produce; the first rejections read back from the warehouse; ``conclude``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from listings_pipeline import outcome
from listings_pipeline.changes import BatchResult, ChangeOutcome
from listings_pipeline.outcome import MARK, NOTE_LIMIT, SHOWN, Rejection
from listings_pipeline.run_totals import OffersSummary, RunTotals
from listings_pipeline.to_amazon import per_sku, replay
from listings_pipeline.to_amazon.letters import LetterResult

SELLER, US, CA = "A1SELLER", "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"


def change(sku: str, status: str, *, preview: bool = False, code: str | None = None) -> ChangeOutcome:
    return {
        "sku": sku,
        "marketplace_id": US,
        "operation": "patchListingsItem",
        "preview": preview,
        "submission_id": None if status == "failed" else f"sub-{sku}",
        "issue_codes": [code] if code else [],
        "status": status,
        "error_code": code,
        "dead_lettered": status in ("invalid", "failed") and not preview,
    }


def batch(*outcomes: ChangeOutcome) -> BatchResult:
    preview = any(o["preview"] for o in outcomes)
    return {
        "changes": len(outcomes),
        "accepted": sum(o["status"] == "accepted" for o in outcomes),
        "valid": sum(o["status"] == "valid" for o in outcomes),
        "invalid": sum(o["status"] == "invalid" for o in outcomes),
        "failed": sum(o["status"] == "failed" for o in outcomes),
        "dead_lettered": 0 if preview else sum(o["status"] in ("invalid", "failed") for o in outcomes),
        "issues": sum(len(o["issue_codes"]) for o in outcomes),
        "outcomes": list(outcomes),
    }


def rejection(
    sku: str, message: str = "You need approval to list the brand.", code: str = "5665"
) -> Rejection:
    return {"seller_id": SELLER, "marketplace_id": US, "sku": sku, "code": code, "message": message}


# --- listings_hotfix ----------------------------------------------------------------------------------


def test_a_hotfix_whose_every_change_amazon_rejected_needs_attention() -> None:
    summary = per_sku.summarise(
        [batch(change("HF-1", "invalid", code="4000006"), change("HF-2", "invalid", code="4000006"))]
    )
    tally = outcome.of_hotfix(summary, preview=False)
    assert (tally["changes"], tally["accepted"], tally["invalid"], tally["dead_lettered"]) == (2, 0, 2, 2)

    result = outcome.outcome(tally, [rejection("HF-1", "Not found", "4000006"), rejection("HF-2")])
    assert result["needs_attention"]
    text = result["note"]
    assert text.startswith(f"{MARK}needs attention. Amazon rejected 2 of 2 change(s), 2 dead-lettered.")
    assert "accepted 0 · invalid 2 · dead-lettered 2 · retry 0" in text
    assert f"- `HF-1` {US} 4000006: Not found" in text
    assert f"- `HF-2` {US} 5665: You need approval to list the brand." in text
    assert "and more" not in text


def test_a_clean_hotfix_is_ok_and_says_what_it_did() -> None:
    summary = per_sku.summarise([batch(change("HF-1", "accepted"), change("HF-2", "accepted"))])
    result = outcome.outcome(outcome.of_hotfix(summary, preview=False), [])
    assert not result["needs_attention"]
    assert result["note"].startswith(f"{MARK}OK. 2 change(s) accepted, none rejected.")
    assert "First rejections" not in result["note"]


def test_a_call_that_failed_for_good_needs_attention_even_without_amazons_verdict() -> None:
    summary = per_sku.summarise([batch(change("HF-1", "accepted"), change("HF-2", "failed", code="503"))])
    tally = outcome.of_hotfix(summary, preview=False)
    assert outcome.needs_attention(tally)
    assert "1 call(s) failed after retries, 1 dead-lettered" in outcome.note(tally, [])
    assert "failed 1" in outcome.note(tally, [])


def test_an_answer_neither_accepted_nor_invalid_counts_as_not_through() -> None:
    summary = per_sku.summarise([batch(change("HF-1", "accepted"), change("HF-2", "pending"))])
    tally = outcome.of_hotfix(summary, preview=False)
    assert tally["invalid"] == 1 and outcome.needs_attention(tally)


def test_a_preview_amazon_would_reject_needs_attention_and_says_nothing_was_sent() -> None:
    summary = per_sku.summarise(
        [batch(change("HF-1", "valid", preview=True), change("HF-2", "invalid", preview=True, code="90220"))]
    )
    tally = outcome.of_hotfix(summary, preview=True)
    assert tally["dead_lettered"] == 0 and outcome.needs_attention(tally)
    text = outcome.note(tally, [rejection("HF-2", "'price' is below the minimum.", "90220")])
    assert text.startswith(
        f"{MARK}needs attention (preview: nothing was sent). Amazon would reject 1 of 2 change(s)."
    )
    assert "valid 1 · invalid 1" in text

    clean = per_sku.summarise([batch(change("HF-1", "valid", preview=True))])
    assert outcome.note(outcome.of_hotfix(clean, preview=True), []).startswith(
        f"{MARK}OK (preview: nothing was sent). Amazon found 1 change(s) valid."
    )


# --- catalog_feed_sync and offers_inventory_sync ------------------------------------------------------


def catalog_totals(**counts: int) -> RunTotals:
    base: RunTotals = {
        "run_id": "scheduled__2026-01-01",
        "extracted": 520,
        "quarantined": 12,
        "planned": 510,
        "submitted": 510,
        "accepted": 510,
        "invalid": 0,
        "warnings": 3,
        "dead_lettered": 0,
        "retry": 0,
        "branches": 3,
    }
    return {**base, **counts}


def test_a_catalog_run_with_one_dead_lettered_message_needs_attention() -> None:
    tally = outcome.of_catalog(catalog_totals(accepted=509, invalid=1, dead_lettered=1))
    assert outcome.needs_attention(tally)
    text = outcome.note(tally, [rejection("TT-GATED")])
    assert "Amazon rejected 1 of 510 change(s), 1 dead-lettered." in text
    assert "accepted 509 · invalid 1 · dead-lettered 1 · retry 0" in text
    assert "quarantined catalog rows: 12" in text


def test_quarantined_rows_and_retries_alone_do_not_need_attention() -> None:
    tally = outcome.of_catalog(catalog_totals(accepted=400, retry=110))
    assert not outcome.needs_attention(tally)
    assert "retry 110" in outcome.note(tally, [])


def test_a_catalog_run_that_sent_nothing_is_ok() -> None:
    tally = outcome.of_catalog(catalog_totals(planned=0, submitted=0, accepted=0))
    assert outcome.note(tally, []).startswith(f"{MARK}OK. Nothing to send.")


def offers_summary(**run_summaries: int) -> OffersSummary:
    summary: OffersSummary = {
        "branches": 1,
        "changed": 3,
        "fba_left_to_amazon": 0,
        "skipped": 0,
        "routes": {f"{SELLER}/{US}": "listings_api"},
        "api_accepted": 2,
        "api_dead_lettered": 1,
        "feed_accepted": 0,
        "feed_invalid": 0,
        "recorded": 2,
    }
    if run_summaries:
        summary["run_summaries"] = dict(run_summaries)
    return summary


def test_the_offers_sync_reads_run_summaries_totals_and_else_its_own_counts() -> None:
    stored = outcome.of_offers(
        offers_summary(submitted=3, accepted=2, invalid=1, dead_lettered=1, quarantined=1)
    )
    assert (stored["changes"], stored["accepted"], stored["invalid"], stored["dead_lettered"]) == (3, 2, 1, 1)
    assert stored["details"] == ["quarantined catalog rows: 1 (see `quarantine`)"]
    own = outcome.of_offers(offers_summary())
    assert (own["changes"], own["accepted"], own["dead_lettered"]) == (3, 2, 1)
    assert outcome.needs_attention(stored) and outcome.needs_attention(own)


# --- dead_letter_replay ---------------------------------------------------------------------------------


def letter(sku: str, what: str, detail: str | None = None) -> LetterResult:
    return {
        "id": sum(map(ord, sku)),
        "seller_id": SELLER,
        "marketplace_id": US,
        "sku": sku,
        "path": "listings_api",
        "code": "4000006",
        "outcome": what,  # type: ignore[typeddict-item]
        "detail": detail,
        "attempts": 1,
    }


def replayed(*results: LetterResult, dry_run: bool = False) -> outcome.Tally:
    return outcome.of_replay(
        replay.summarise([{**replay._counts(list(results)), "results": list(results)}], dry_run=dry_run)
    )


def test_a_replay_whose_change_failed_again_needs_attention() -> None:
    tally = replayed(
        letter("RP-FIXED", "resolved"), letter("RP-MISSING", "failed_again", "4000006: Not found")
    )
    assert (tally["accepted"], tally["dead_lettered"]) == (1, 1)
    text = outcome.note(tally, [rejection("RP-MISSING", "SKU not found", "4000006")])
    assert text.startswith(f"{MARK}needs attention. 1 dead-lettered.")
    assert "2 dead letter(s): 1 resolved, 1 failed again." in text


def test_a_dry_run_or_a_requeue_is_ok() -> None:
    dry = replayed(letter("RP-1", "would_replay"), dry_run=True)
    assert not outcome.needs_attention(dry)
    assert "Dry run: nothing was changed" in outcome.note(dry, [])
    requeued = replayed(letter("RP-FEED", "requeued"))
    assert not outcome.needs_attention(requeued) and requeued["retry"] == 1


# --- the note itself ------------------------------------------------------------------------------------


def test_the_note_lists_the_first_rejections_says_there_are_more_and_fits_airflows_column() -> None:
    tally = outcome.of_catalog(catalog_totals(accepted=0, invalid=510, dead_lettered=510))
    many = [rejection(f"SKU-{i}", "word " * 400) for i in range(SHOWN + 1)]
    text = outcome.note(tally, many)
    assert len(text) <= NOTE_LIMIT
    assert "- `SKU-0`" in text and f"- `SKU-{SHOWN}`" not in text
    assert "and more" in text
    assert "\n" not in _rejection_lines(text)[0]  # a message's own newlines do not break the list
    assert _rejection_lines(text)[0].endswith("…")


def _rejection_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("- `")]


def test_a_note_with_more_than_fits_keeps_the_headline_and_figures_and_drops_rejections() -> None:
    summary = replay.summarise([{**replay._counts([]), "results": []}])
    tally = outcome.of_replay({**summary, "failed_again": 4, "message": "x" * 2000})
    long = [rejection(f"{i}" * 40, "word " * 100) for i in range(SHOWN + 1)]
    text = outcome.note(tally, long)
    assert len(text) <= NOTE_LIMIT
    assert text.startswith(f"{MARK}needs attention. 4 dead-lettered.") and "dead-lettered 4" in text
    assert 0 < len(_rejection_lines(text)) < SHOWN and "and more" in text


def test_the_outcome_goes_below_someones_note_and_replaces_an_earlier_outcome() -> None:
    first = outcome.merged_note("make demo: the sample catalog", f"{MARK}needs attention. 1 dead-lettered.")
    assert first == f"make demo: the sample catalog\n\n{MARK}needs attention. 1 dead-lettered."
    again = outcome.merged_note(first, f"{MARK}OK. 5 change(s) accepted, none rejected.")
    assert again == f"make demo: the sample catalog\n\n{MARK}OK. 5 change(s) accepted, none rejected."
    assert outcome.merged_note(None, f"{MARK}OK. Nothing to send.") == f"{MARK}OK. Nothing to send."
    assert len(outcome.merged_note("n" * 900, f"{MARK}" + "x" * 900)) == NOTE_LIMIT


# --- the warehouse's words, and the task ----------------------------------------------------------------


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from listings_pipeline.warehouse import db

    url = db.sqlite_url(tmp_path / "warehouse.db")
    db.upgrade(url)
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", url)
    monkeypatch.delenv("AIRFLOW_CONN_WAREHOUSE_DEFAULT", raising=False)
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


def seed(engine: Any, run_id: str) -> None:
    """A preview's ERROR issues (two for one SKU, a warning, a feed-level error), our validation's
    ERROR (the row was quarantined, not sent), a dead letter for a failed call (no issue), and another
    run's letter."""
    from sqlalchemy import insert

    from listings_pipeline.warehouse import db, lifecycle
    from listings_pipeline.warehouse.models import ListingIssue
    from listings_pipeline.warehouse.records import ensure_seller

    def issue(
        sku: str | None, code: str, severity: str, message: str, source: str = "listings_api"
    ) -> dict[str, Any]:
        return {
            "source": source,
            "seller_id": SELLER,
            "marketplace_id": US if sku else None,
            "sku": sku,
            "code": code,
            "severity": severity,
            "message": message,
            "run_id": run_id,
        }

    with db.session_scope(engine) as s:
        ensure_seller(s, SELLER, region="na")
        s.execute(
            insert(ListingIssue),
            [
                issue(None, "FEED", "ERROR", "feed-level"),
                issue("BAD-ROW", "content_policy", "ERROR", "banned term", source="validation"),
                issue("HF-1", "90220", "ERROR", "'price' is below the minimum."),
                issue("HF-1", "90221", "ERROR", "second error of the same listing"),
                issue("HF-2", "18027", "WARNING", "only a warning"),
            ],
        )
        for sku, run, reason in (("HF-3", run_id, "call failed after retries: 503"), ("OLD", "r0", "old")):
            lifecycle.open_dead_letter(
                s,
                seller_id=SELLER,
                marketplace_id=CA,
                sku=sku,
                path="listings_api",
                operation="patchListingsItem",
                reason=reason,
                code="503",
                run_id=run,
            )


@pytest.mark.airflow
def test_first_rejections_give_one_line_per_listing_amazons_errors_first(warehouse: Any) -> None:
    from listings_pipeline.rejections import first_rejections

    seed(warehouse, "manual__1")
    found = first_rejections(None, "manual__1", SHOWN + 1)
    assert [(r["sku"], r["marketplace_id"], r["code"], r["message"]) for r in found] == [
        ("HF-1", US, "90220", "'price' is below the minimum."),
        ("HF-3", CA, "503", "call failed after retries: 503"),
    ]
    assert first_rejections(None, "manual__1", 1) == found[:1]
    assert first_rejections(None, "manual__2", SHOWN) == []


class FakeTi:
    run_id = "manual__1"

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.mark.airflow
def test_conclude_leaves_the_note_and_fails_only_a_run_that_needs_attention(warehouse: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from listings_pipeline.run_notes import NOTE_KEY, conclude

    seed(warehouse, "manual__1")
    ti = FakeTi()
    clean = per_sku.summarise([batch(change("HF-9", "accepted"))])
    result = conclude(ti, outcome.of_hotfix(clean, preview=False), None)
    assert not result["needs_attention"] and ti.pushed[NOTE_KEY] == result["note"]

    rejected = per_sku.summarise([batch(change("HF-1", "invalid", code="90220"))])
    with pytest.raises(AirflowFailException) as failed:
        conclude(ti, outcome.of_hotfix(rejected, preview=False), None)
    assert str(failed.value) == ti.pushed[NOTE_KEY]
    assert "- `HF-1` ATVPDKIKX0DER 90220: 'price' is below the minimum." in ti.pushed[NOTE_KEY]
