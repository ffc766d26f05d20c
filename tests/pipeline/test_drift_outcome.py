"""A reconcile run's verdict and note, and the drift_resolve form: each rule on hand-made figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from listings_pipeline.config import load_config
from listings_pipeline.forms.drift import check_form
from listings_pipeline.forms.problems import FormError
from listings_pipeline.from_amazon.drift_outcome import conclude, needs_attention, note, resolution_note
from listings_pipeline.from_amazon.reconcile import DriftTotals
from listings_pipeline.outcome import MARK
from listings_pipeline.run_notes import NOTE_KEY

PIPELINE = Path(__file__).resolve().parents[2] / "include" / "pipeline.yaml"
NA, US, DE = "A1SANDBOXNA0001", "ATVPDKIKX0DER", "A1PA6795UKMFR9"


def totals(
    opened: int = 0, open_: int = 0, gone: int = 0, by_kind: dict[str, int] | None = None
) -> DriftTotals:
    return {
        "branches": 2,
        "amazon_rows": 40,
        "found": open_,
        "opened": opened,
        "gone": gone,
        "open": open_,
        "by_kind": by_kind or {},
        "new_in": [f"{NA}/{US}"] if opened else [],
    }


class Ti:
    run_id = "scheduled__1"

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_new_drift_fails_the_run_with_a_note_that_says_where() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    found = totals(opened=3, open_=4, gone=1, by_kind={"price": 2, "unknown_to_catalog": 2})
    ti = Ti()
    with pytest.raises(AirflowFailException) as failed:
        conclude(ti, found)
    text = ti.pushed[NOTE_KEY]
    assert str(failed.value) == text
    assert text.startswith(
        f"{MARK}needs attention. 3 new drift between Amazon and the warehouse in {NA}/{US}."
    )
    assert "open drift 4 · new 3 · gone 1" in text and "Open by kind: price 2, unknown to catalog 2." in text


def test_drift_reported_before_is_counted_but_the_run_stays_green() -> None:
    earlier = totals(open_=5, by_kind={"quantity": 5})
    assert not needs_attention(earlier)
    ti = Ti()
    assert conclude(ti, earlier) == {"needs_attention": False, "note": ti.pushed[NOTE_KEY]}
    assert ti.pushed[NOTE_KEY].startswith(f"{MARK}OK, no new drift. 5 drift still open from earlier runs.")
    assert note(totals()).startswith(f"{MARK}OK. Amazon's listings match the warehouse.")


def test_a_resolution_note_lists_what_was_skipped_and_why() -> None:
    text = resolution_note(
        {
            "seller_id": NA,
            "marketplace_id": US,
            "action": "resubmit",
            "results": [
                {"sku": "A", "kinds": ["price"], "outcome": "resubmitted", "detail": None},
                {"sku": "B", "kinds": [], "outcome": "skipped", "detail": "no open drift"},
            ],
            "resubmitted": 1,
            "accepted": 0,
            "skipped": 1,
            "feed_syncs": [],
        }
    )
    assert text.startswith(f"{MARK}OK. {NA}/{US}: 1 SKU(s) resubmitted")
    assert "- `B`: no open drift" in text


def test_the_form_is_checked_whole() -> None:
    config = load_config(str(PIPELINE))
    request = check_form(
        {
            "seller_id": NA,
            "marketplace_id": US,
            "skus": "A\nB, A",
            "action": "accept_amazon",
            "note": " why ",
        },
        config,
    )
    assert request == {
        "seller_id": NA,
        "marketplace_id": US,
        "skus": ["A", "B"],
        "kinds": [],
        "action": "accept_amazon",
        "note": "why",
        "config_path": None,
    }
    with pytest.raises(FormError) as wrong:
        check_form(
            {"seller_id": NA, "marketplace_id": DE, "skus": "", "kinds": ["pricey"], "action": "x"}, config
        )
    assert [p["field"] for p in wrong.value.problems] == ["marketplace_id", "skus", "kinds", "action"]
    with pytest.raises(FormError) as nobody:
        check_form({"skus": ["A"], "action": "resubmit"}, config)
    assert [p["field"] for p in nobody.value.problems] == ["seller_id", "marketplace_id"]
