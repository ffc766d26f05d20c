"""The seller performance run's verdict and note: red for a new breach, an account not NORMAL or a
refused report; green, with the count, for a breach already reported; the note for the listener."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from listings_pipeline.from_amazon.performance_outcome import conclude, outcome
from listings_pipeline.from_amazon.seller_performance import LoadResult
from listings_pipeline.run_notes import NOTE_KEY

LSR = "lateShipmentRate 5% (target < 4%)"


def result(status: str = "loaded", marketplace: str = "US", **kw: Any) -> LoadResult:
    base: LoadResult = {
        "seller_id": "A1",
        "marketplace_id": marketplace,
        "report_type": "GET_V2_SELLER_PERFORMANCE_REPORT",
        "day": "2026-11-30",
        "report_id": "1",
        "status": status,  # type: ignore[typeddict-item]
        "rows": 19 if status == "loaded" else 0,
        "reason": None,
        "account_status": "NORMAL",
        "in_breach": [],
        "new_breaches": [],
    }
    base.update(kw)  # type: ignore[typeddict-item]
    return base


class FakeTi:
    run_id = "scheduled__2026-12-01"

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_all_healthy_is_green() -> None:
    got = outcome([result(), result(marketplace="CA"), result("cancelled", reason="nothing to report")])
    assert not got["needs_attention"]
    assert got["note"].startswith("Run outcome: OK. Every account meets Amazon's targets.")
    assert "2 marketplace(s) · reports loaded 2 · refused 0 · cancelled by Amazon 1" in got["note"]


def test_a_new_breach_is_red_and_named() -> None:
    got = outcome([result(in_breach=[LSR], new_breaches=[LSR]), result(marketplace="CA")])
    assert got["needs_attention"] and got["new_breaches"] == 1
    assert got["note"].startswith(
        "Run outcome: needs attention. 1 new account health problem(s) for 2026-11-30."
    )
    assert f"- A1/US: {LSR}" in got["note"]


def test_a_known_breach_is_counted_but_green() -> None:
    got = outcome([result(in_breach=[LSR])])
    assert not got["needs_attention"] and got["known_breaches"] == 1
    assert "OK, nothing new. 1 account health metric(s) still past target." in got["note"]
    assert f"Still past target: A1/US {LSR}" in got["note"]


def test_a_refused_report_is_red_with_its_reason() -> None:
    got = outcome([result("refused", reason="GET_SALES_AND_TRAFFIC_REPORT document refused: x")])
    assert got["needs_attention"] and got["refused"] == 1
    assert "1 report(s) refused" in got["note"] and "document refused: x" in got["note"]


def test_conclude_leaves_the_note_and_fails_without_retry() -> None:
    ti = FakeTi()
    with pytest.raises(AirflowFailException, match="needs attention"):
        conclude(ti, [result(in_breach=["account AT_RISK"], new_breaches=["account AT_RISK"])])
    assert "account AT_RISK" in ti.pushed[NOTE_KEY]
    ti = FakeTi()
    assert conclude(ti, [result()])["needs_attention"] is False
    assert ti.pushed[NOTE_KEY].startswith("Run outcome: OK.")


def test_many_breaches_show_the_first_few_within_the_note_limit() -> None:
    many = [f"metric{i} {i}% (target < 1%)" for i in range(400)]
    got = outcome([result(in_breach=many, new_breaches=many)])
    assert "- A1/US: metric2 2% (target < 1%)\n- and 397 more" in got["note"]
    assert len(got["note"]) <= 1000
