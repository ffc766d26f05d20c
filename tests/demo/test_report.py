"""The summary's block for the runs that read from Amazon: each run's state and the first line of
its outcome note, then what they left in the warehouse (read from a real SQLite warehouse); and how
the demo waits for those runs side by side. Fake runs and figures, no Airflow."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

import demo.__main__ as demo_main
from demo.airflow_api import RunProgress, TaskInstanceJson
from demo.environment import DemoLayout
from demo.report import AmazonFigures, amazon_block, outcome_line, read_amazon_figures, run_state
from listings_pipeline.warehouse.db import make_engine, upgrade
from listings_pipeline.warehouse.models import AccountHealth, DriftCheck, Inventory, ListingDrift, Seller

US = "ATVPDKIKX0DER"


def _run(state: str, failed: tuple[str, ...] = (), note: str | None = None) -> RunProgress:
    tis: list[TaskInstanceJson] = [{"task_id": t, "state": "failed"} for t in failed]
    return RunProgress.of(state, [{"task_id": "targets", "state": "success"}, *tis], note=note)


def test_the_outcome_line_is_the_first_line_below_the_trigger_note() -> None:
    note = "make demo: after the sample catalog\n\nRun outcome: needs attention. 2 new drift.\n\n| a | b |"
    assert outcome_line(note) == "Run outcome: needs attention. 2 new drift."
    assert outcome_line("Run outcome: OK. Amazon's listings match the warehouse.") == (
        "Run outcome: OK. Amazon's listings match the warehouse."
    )


def test_a_run_without_an_outcome_says_so() -> None:
    assert outcome_line(None) == "no outcome note"
    assert outcome_line("make demo: after the sample catalog") == "no outcome note"


def test_the_state_tells_red_on_purpose_from_a_failure() -> None:
    assert run_state(_run("success")) == "success"
    assert run_state(_run("failed", ("outcome",))) == "failed at outcome"
    assert run_state(_run("failed", ("request_report", "outcome"))) == "failed at request_report, outcome"


def test_the_block_has_a_line_per_run_and_one_of_figures() -> None:
    runs = {
        "fba_inventory_sync": _run("success", note="make demo: after the sample catalog"),
        "seller_performance": _run(
            "failed",
            ("outcome",),
            note="x\n\nRun outcome: needs attention. lateShipmentRate past target.\nmore",
        ),
    }
    figures = AmazonFigures(
        fba_skus={"AMAZON_NA": 12, "AMAZON_EU": 5},
        open_drift={"quantity": 1, "price": 3},
        account_status={("S2", "M1"): "NORMAL", ("S1", "M2"): None, ("S1", "M1"): "AT_RISK"},
    )

    assert amazon_block(runs, figures).splitlines() == [
        "  fba_inventory_sync  success: no outcome note",
        "  seller_performance  failed at outcome: Run outcome: needs attention. lateShipmentRate past target.",
        "  FBA SKUs read into inventory: AMAZON_EU 5, AMAZON_NA 12; open drift: price 3, quantity 1; "
        "account health: S1/M1 AT_RISK, S1/M2 ?, S2/M1 NORMAL",
    ]


def test_empty_figures_read_none() -> None:
    block = amazon_block({}, AmazonFigures({}, {}, {}))
    assert block == "  FBA SKUs read into inventory: none; open drift: none; account health: none"


def test_the_figures_are_read_from_the_warehouse(tmp_path: Path) -> None:
    """FBA rows only (read from Amazon), open drift only, and each account's latest report."""
    layout = DemoLayout(tmp_path)
    upgrade(layout.warehouse_url)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    engine = make_engine(layout.warehouse_url)
    with Session(engine) as s, s.begin():
        s.add(Seller(seller_id="S1"))
        s.flush()
        s.execute(
            insert(Inventory),
            [
                {"seller_id": "S1", "marketplace_id": US, "sku": sku, "fulfillment_channel_code": channel,
                 "quantity": 1, "read_at": read_at}
                for sku, channel, read_at in [
                    ("a", "AMAZON_NA", now), ("b", "AMAZON_NA", now), ("c", "AMAZON_NA", None),
                    ("a", "DEFAULT", None), ("d", "AMAZON_EU", now),
                ]
            ],
        )  # fmt: skip
        check = DriftCheck(
            seller_id="S1", marketplace_id=US, report_id="r", report_status="DONE", checked_at=now,
            amazon_rows=3, our_listings=3, found=3, opened=3, gone=0,
        )  # fmt: skip
        s.add(check)
        s.flush()
        s.execute(
            insert(ListingDrift),
            [
                {"check_id": check.id, "last_check_id": check.id, "seller_id": "S1", "marketplace_id": US,
                 "sku": sku, "kind": kind, "field": "f", "state": state, "found_at": now, "last_seen_at": now}
                for sku, kind, state in [("a", "price", "open"), ("b", "price", "open"), ("c", "quantity", "gone")]
            ],
        )  # fmt: skip
        s.execute(
            insert(AccountHealth),
            [
                {"seller_id": "S1", "marketplace_id": US, "report_date": day, "account_status": status,
                 "report_id": "r", "loaded_at": now}
                for day, status in [(date(2026, 11, 30), "AT_RISK"), (date(2026, 11, 29), "NORMAL")]
            ],
        )  # fmt: skip
    engine.dispose()

    figures = read_amazon_figures(layout)

    assert figures == AmazonFigures(
        fba_skus={"AMAZON_NA": 2, "AMAZON_EU": 1},
        open_drift={"price": 2},
        account_status={("S1", US): "AT_RISK"},
    )


class _Api:
    """Each run's states, one per look: the last one stays."""

    def __init__(self, states: dict[str, list[str]]) -> None:
        self.states = states
        self.looks: list[str] = []

    def progress(self, dag_id: str, run_id: str) -> RunProgress:
        self.looks.append(dag_id)
        states = self.states[dag_id]
        return RunProgress.of(states.pop(0) if len(states) > 1 else states[0], [])


def test_watch_all_waits_for_every_run_and_stops_looking_at_an_ended_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo_main, "POLL_SECONDS", 0)
    api = _Api({"a": ["running", "success"], "b": ["running", "running", "running", "failed"]})

    ended = demo_main.watch_all(api, {"a": "r1", "b": "r2"}, [], timeout=10)  # type: ignore[arg-type]

    assert {d: p.state for d, p in ended.items()} == {"a": "success", "b": "failed"}
    assert api.looks == ["a", "b", "a", "b", "b", "b"]
