"""The sync closes the loop on replayed feed dead letters once Amazon accepts the resubmission (by a
feed's report, or by the Listings API for a small change set: both call the same function)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from listings_pipeline.warehouse import db, lifecycle
from listings_pipeline.warehouse.models import DeadLetter, DeadLetterEvent
from listings_pipeline.warehouse.records import ensure_seller

SELLER, US = "A1SELLER", "ATVPDKIKX0DER"


def test_only_replayed_feed_letters_of_accepted_skus_are_resolved(tmp_path: Path) -> None:
    engine = db.make_engine(db.sqlite_url(tmp_path / "w.db"))
    db.upgrade(engine)
    with db.session_scope(engine) as s:
        ensure_seller(s, SELLER, region="na")
        letters = {}
        for sku, path in (
            ("REPLAYED", "feed"),
            ("STILL-OPEN", "feed"),
            ("API", "listings_api"),
            ("OTHER", "feed"),
        ):
            letters[sku] = lifecycle.open_dead_letter(
                s,
                seller_id=SELLER,
                marketplace_id=US,
                sku=sku,
                path=path,
                operation="JSON_LISTINGS_FEED",
                reason="5665: approval needed",
                code="5665",
            ).id
        for sku in ("REPLAYED", "API", "OTHER"):
            lifecycle.move_dead_letter(
                s, s.get_one(DeadLetter, letters[sku]), "replayed", actor="dead_letter_replay:r1"
            )
    with db.session_scope(engine) as s:
        accepted = {sku: "feed:F-9" for sku in ("REPLAYED", "STILL-OPEN", "API")}
        resolved = lifecycle.resolve_requeued_letters(
            s, seller_id=SELLER, marketplace_id=US, accepted=accepted
        )
        assert resolved == 1
    with db.session_scope(engine) as s:
        states = {sku: s.get_one(DeadLetter, i).state for sku, i in letters.items()}
        assert states == {
            "REPLAYED": "resolved",
            "STILL-OPEN": "open",
            "API": "replayed",
            "OTHER": "replayed",
        }
        [event] = s.scalars(
            select(DeadLetterEvent).where(
                DeadLetterEvent.dead_letter_id == letters["REPLAYED"], DeadLetterEvent.to_state == "resolved"
            )
        )
        assert event.actor == "feed:F-9"
    engine.dispose()
