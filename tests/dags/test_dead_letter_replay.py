"""dead_letter_replay end to end: ``dag.test(run_conf=...)`` against the live sandbox, with the PostgreSQL
warehouse. Listings API letters are seeded by a real rejected ``per_sku.apply_batch``; a feed letter
is written the way the bulk path writes one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

from spapi import listings  # noqa: E402
from tests.dags.conftest import REPO, Warehouse, run_note, task_states, write_pipeline_config  # noqa: E402
from tests.fixtures.sandbox import SELLER, US, Sandbox, new_client  # noqa: E402
from tests.sandbox.conftest import luggage_attributes  # noqa: E402

PATCH = [
    {
        "op": "replace",
        "path": "/attributes/color",
        "value": [{"value": "Red", "language_tag": "en_US", "marketplace_id": US}],
    }
]


@dataclass
class Replay:
    config_path: Path
    warehouse: Warehouse
    sandbox: Sandbox

    def create_listing(self, sku: str) -> None:
        body = {"productType": "LUGGAGE", "requirements": "LISTING", "attributes": luggage_attributes(US)}
        with new_client(self.sandbox) as client:
            assert client.call(listings.put_listings_item(SELLER, sku, US, body)).accepted

    def color(self, sku: str) -> Any:
        with new_client(self.sandbox) as client:
            item = client.call(listings.get_listings_item(SELLER, sku, [US], included_data=["attributes"]))
        assert item.attributes is not None
        return item.attributes["color"][0]["value"]

    def patch_letters(self, *skus: str) -> None:
        """A real hotfix patch of SKUs that do not exist: Amazon answers 4000006, the change is dead-lettered."""
        from listings_pipeline.config import load_config
        from listings_pipeline.forms.hotfix import check_form
        from listings_pipeline.to_amazon import per_sku

        request = check_form(
            {
                "seller_id": SELLER,
                "marketplace_ids": [US],
                "skus": list(skus),
                "action": "patch",
                "product_type": "LUGGAGE",
                "preview": False,
                "attribute_patch": json.dumps(PATCH),
            }
        )
        changes = per_sku.build_changes(request, load_config(str(self.config_path)), run_id="seed")
        result = per_sku.apply_batch(
            changes, spapi_conn_id="spapi_sandbox_na", run_id="seed", config_path=str(self.config_path)
        )
        assert result["dead_lettered"] == len(skus), result

    def feed_letter(self, sku: str) -> None:
        """A listing the feed rejected (5665), as bulk._apply_report leaves it."""
        from listings_pipeline.warehouse import lifecycle
        from listings_pipeline.warehouse.db import session_scope
        from listings_pipeline.warehouse.records import ensure_seller

        key: dict[str, Any] = {"seller_id": SELLER, "marketplace_id": US, "sku": sku}
        with session_scope(self.warehouse.engine) as session:
            ensure_seller(session, SELLER)
            message = {"sku": sku, "operationType": "UPDATE", "productType": "LUGGAGE"}
            lifecycle.transition_many(
                session,
                [{**key, "payload": message, "payload_hash": "a" * 64}],
                cause="plan",
                to_status="ready",
            )
            for status in ("submitted", "invalid"):
                lifecycle.transition_many(session, [key], cause="feed:F1", to_status=status)
            lifecycle.open_dead_letter(
                session,
                **key,
                path="feed",
                operation="JSON_LISTINGS_FEED",
                reason="5665: You need approval to list the brand 'Gated Brand Co' in this category.",
                code="5665",
                run_id="seed",
            )
            lifecycle.transition_many(session, [key], cause="feed:F1", to_status="dead_lettered")

    def run(self, **conf: Any) -> Any:
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(REPO / "dags" / "dead_letter_replay.py")).get_dag("dead_letter_replay")
        assert dag is not None
        return dag.test(run_conf={"config_path": str(self.config_path), **conf})

    def letter(self, sku: str) -> Any:
        rows = self.warehouse.rows("select * from dead_letters where sku = :sku", sku=sku)
        assert len(rows) == 1, rows
        return rows[0]

    def events(self, sku: str) -> list[tuple[str | None, str, str]]:
        return [
            tuple(r)
            for r in self.warehouse.rows(
                "select e.from_state, e.to_state, e.actor from dead_letter_events e "
                "join dead_letters d on d.id = e.dead_letter_id where d.sku = :sku order by e.id",
                sku=sku,
            )
        ]

    def status(self, sku: str) -> str:
        return str(self.warehouse.scalar("select status from listings where sku = :sku", sku=sku))


@pytest.fixture
def replay(tmp_path: Path, sandbox_connections: Sandbox, pg_warehouse: Warehouse, airflow_db: None) -> Replay:
    config = write_pipeline_config(tmp_path, REPO / "include" / "sample_catalog" / "catalog.csv")
    return Replay(config, pg_warehouse, sandbox_connections)


def summary(run: Any) -> dict[str, Any]:
    ti = next(t for t in run.get_task_instances() if t.task_id == "summarise")
    value: dict[str, Any] = ti.xcom_pull(task_ids="summarise")
    return value


def test_replay_by_sku_resolves_the_fixed_one_and_reopens_the_other(replay: Replay) -> None:
    replay.patch_letters("RP-FIXED", "RP-STILL-MISSING")
    assert replay.letter("RP-FIXED").state == "open"
    assert replay.letter("RP-FIXED").code == "4000006"
    assert replay.status("RP-FIXED") == "dead_lettered"

    # dry run (the default): listed, nothing changes
    run = replay.run(skus="RP-FIXED\nRP-STILL-MISSING")
    assert run.state == "success"
    assert [
        (r.state, r.attempts) for r in (replay.letter("RP-FIXED"), replay.letter("RP-STILL-MISSING"))
    ] == [
        ("open", 1),
        ("open", 1),
    ]
    assert len(replay.events("RP-FIXED")) == 1
    assert (summary(run)["would_replay"], summary(run)["resolved"]) == (2, 0)
    assert "Dry run: nothing was changed" in summary(run)["message"]

    replay.create_listing("RP-FIXED")  # the cause is fixed for one of them only
    run = replay.run(skus="RP-FIXED\nRP-STILL-MISSING", note="listing created, ticket 42", dry_run=False)
    # one letter failed again: recorded, then the run ends red at its last task, the note says why
    assert run.state == "failed"
    states = task_states(run)
    assert states["summarise"] == {"success"} and states["outcome"] == {"failed"}, states
    note = run_note(run) or ""
    assert note.startswith("Run outcome: needs attention. 1 dead-lettered."), note
    assert "2 dead letter(s): 1 resolved, 1 failed again." in note
    assert f"- `RP-STILL-MISSING` {US} 4000006: " in note
    actor = f"dead_letter_replay:{run.run_id}"

    fixed = replay.letter("RP-FIXED")
    assert (fixed.state, fixed.attempts) == ("resolved", 1)
    assert replay.events("RP-FIXED") == [
        (None, "open", "seed"),
        ("open", "replayed", actor),
        ("replayed", "resolved", actor),
    ]
    notes = [r[0] for r in replay.warehouse.rows("select note from dead_letter_events order by id")]
    assert "listing created, ticket 42" in notes
    assert replay.status("RP-FIXED") == "live"  # accepted, and read back from Amazon at once
    assert replay.color("RP-FIXED") == "Red"

    again = replay.letter("RP-STILL-MISSING")
    assert (again.state, again.attempts, again.code) == ("open", 2, "4000006")
    assert [(f, t) for f, t, _ in replay.events("RP-STILL-MISSING")] == [
        (None, "open"),
        ("open", "replayed"),
        ("replayed", "open"),
    ]
    assert replay.status("RP-STILL-MISSING") == "dead_lettered"

    result = summary(run)
    assert (result["letters"], result["resolved"], result["failed_again"]) == (2, 1, 1)
    assert "A" + "tzr" not in json.dumps(result)  # no token in the XCom


def test_feed_letter_replay_requeues_the_listing_and_discard_is_recorded(replay: Replay) -> None:
    replay.feed_letter("RP-FEED")
    replay.feed_letter("RP-DROP")

    run = replay.run(skus="RP-FEED", dry_run=False)
    assert run.state == "success"
    assert replay.status("RP-FEED") == "ready"  # the next catalog_feed_sync run resubmits it
    assert replay.letter("RP-FEED").state == "replayed"
    cause = replay.warehouse.scalar(
        "select e.cause from listing_events e join listings l on l.id = e.listing_id "
        "where l.sku = 'RP-FEED' order by e.id desc limit 1"
    )
    assert cause == "replay"
    result = summary(run)
    assert result["requeued"] == 1
    assert "next catalog_feed_sync run resubmits" in result["message"]

    today = datetime.now(UTC).date().isoformat()
    run = replay.run(
        codes="5665", created_after=today, action="discard", note="brand not approved", dry_run=False
    )
    assert run.state == "success"
    assert replay.letter("RP-DROP").state == "discarded"
    assert replay.events("RP-DROP")[-1][:2] == ("open", "discarded")
    assert replay.letter("RP-FEED").state == "replayed"  # not open: not selected
    assert replay.status("RP-DROP") == "dead_lettered"


def test_an_empty_filter_is_refused(replay: Replay, capfd: pytest.CaptureFixture[str]) -> None:
    from listings_pipeline.forms.problems import FormError
    from listings_pipeline.to_amazon.replay import NO_FILTER, parse_request

    with pytest.raises(FormError, match="replaying every dead letter at once is refused"):
        parse_request({"action": "replay", "skus": " \n ", "seller_id": ""})

    run = replay.run(dry_run=False)
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["select"] == "failed"
    out, err = capfd.readouterr()
    assert NO_FILTER in out + err
    # select leaves the note, as outcome would have
    assert run_note(run) == (
        "Run outcome: the dead-letter replay form has 1 problem; nothing was done.\n\n- "
        + NO_FILTER.replace("_", "\\_")
    )


def test_a_filter_matching_nothing_still_summarises(replay: Replay) -> None:
    run = replay.run(skus="NO-SUCH-LETTER", dry_run=False)
    assert run.state == "success"
    result = summary(run)
    assert result["letters"] == 0
    assert result["message"] == "0 dead letter(s): nothing to do."
