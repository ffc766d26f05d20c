"""The plan step against a real (SQLite) warehouse: what is sent, what is skipped and why, and when a
SKU may be deleted.

Each test seeds listings in the states a history of runs leaves behind, writes the branch's
``messages.jsonl`` as the map step would, and reads back the planned file and the listings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from sqlalchemy import select

from listings_pipeline.config import load_config
from listings_pipeline.planning.plan import MassDeleteError, plan
from listings_pipeline.run_files import (
    BranchPaths,
    payload_hash,
    read_lines_at,
    read_message_hashes,
    write_messages,
)
from listings_pipeline.warehouse import db, lifecycle
from listings_pipeline.warehouse.models import Listing, ListingPayload, ListingStatus
from listings_pipeline.warehouse.records import ensure_seller

SELLER, US = "A1PLANSELLER", "ATVPDKIKX0DER"
RUN = "manual__plan-test"
L = ListingStatus


def _message(sku: str, price: float = 10.0) -> dict[str, Any]:
    return {
        "sku": sku,
        "operationType": "UPDATE",
        "productType": "SHIRT",
        "attributes": {"purchasable_offer": [{"our_price": [{"schedule": [{"value_with_tax": price}]}]}]},
    }


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    url = db.sqlite_url(tmp_path / "warehouse.db")
    monkeypatch.setenv("SPAPI_WAREHOUSE_URL", url)
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.session_scope(engine) as s:
        ensure_seller(s, SELLER, region="na")
    engine.dispose()
    return {"tmp": tmp_path, "url": url}


def _config(setup: dict[str, Any], **overrides: Any) -> str:
    path = setup["tmp"] / "pipeline.yaml"
    raw = {
        "var_dir": str(setup["tmp"] / "var"),
        "delete_removed": True,
        "max_deletes": 100,
        "max_delete_share": 1.0,
        "sellers": [
            {
                "seller_id": SELLER,
                "spapi_conn_id": "spapi_unused",
                "marketplaces": [US],
                "catalog": str(setup["tmp"] / "catalog.csv"),
            }
        ],
        **overrides,
    }
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def _seed(setup: dict[str, Any], states: dict[str, tuple[ListingStatus, dict[str, Any]]]) -> None:
    """Bring each SKU to its status through legal moves, with ``message`` as its last payload."""
    engine = db.make_engine(setup["url"])
    paths = {
        L.READY: [L.READY],
        L.SUBMITTED: [L.READY, L.SUBMITTED],
        L.ACCEPTED: [L.READY, L.SUBMITTED, L.ACCEPTED],
        L.INVALID: [L.READY, L.SUBMITTED, L.INVALID],
        L.DEAD_LETTERED: [L.READY, L.SUBMITTED, L.DEAD_LETTERED],
        L.DELETED: [L.READY, L.SUBMITTED, L.ACCEPTED, L.DELETED],
        L.QUARANTINED: [L.READY, L.SUBMITTED, L.ACCEPTED, L.QUARANTINED],
    }
    with db.session_scope(engine) as s:
        for sku, (status, message) in states.items():
            for step in paths[status]:
                fields = (
                    {"payload": message, "payload_hash": payload_hash(message)} if step == L.READY else {}
                )
                lifecycle.transition(s, SELLER, US, sku, step, cause="seed", **fields)
    engine.dispose()


def _branch(
    config_path: str, *, clean: bool = True, catalog_skus: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    config = load_config(config_path)
    paths = BranchPaths.of(config, RUN, SELLER, US)
    skus_file = paths.root / "seller_skus.txt"
    skus_file.parent.mkdir(parents=True, exist_ok=True)
    skus_file.write_text("".join(f"{sku}\n" for sku in sorted(catalog_skus or [])))
    return {
        "seller_id": SELLER,
        "marketplace_id": US,
        "spapi_conn_id": "spapi_unused",
        "region": "na",
        "config_path": config_path,
        "run_id": RUN,
        "snapshot": {"clean": clean, "seller_skus_path": str(skus_file)},
        **extra,
    }


def _write_messages(config_path: str, messages: list[dict[str, Any]]) -> None:
    paths = BranchPaths.of(load_config(config_path), RUN, SELLER, US)
    write_messages(paths.messages, paths.message_hashes, messages)


def _planned(config_path: str) -> list[dict[str, Any]]:
    path = BranchPaths.of(load_config(config_path), RUN, SELLER, US).planned
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def _statuses(setup: dict[str, Any]) -> dict[str, str]:
    engine = db.make_engine(setup["url"])
    with db.session_scope(engine) as s:
        found = {sku: status for sku, status in s.execute(select(Listing.sku, Listing.status))}
    engine.dispose()
    return found


def test_each_row_is_sent_unchanged_or_skipped_with_its_reason(setup: dict[str, Any]) -> None:
    config = _config(setup, delete_removed=False)
    _seed(
        setup,
        {
            "CHANGED": (L.ACCEPTED, _message("CHANGED", 9.0)),
            "SAME": (L.ACCEPTED, _message("SAME")),
            "RETRY": (L.READY, _message("RETRY")),
            "FLIGHT": (L.SUBMITTED, _message("FLIGHT")),
            # a change waits until the document in flight has its outcome: never two at once
            "FLIGHT-CHANGED": (L.SUBMITTED, _message("FLIGHT-CHANGED", 9.0)),
            "REJECTED": (L.INVALID, _message("REJECTED")),
            "LETTER": (L.DEAD_LETTERED, _message("LETTER")),
            # back in the catalog exactly as before: Amazon no longer has it as it is, so send it
            "BACK-Q": (L.QUARANTINED, _message("BACK-Q")),
            "BACK-D": (L.DELETED, _message("BACK-D")),
        },
    )
    skus = [
        "NEW",
        "CHANGED",
        "SAME",
        "RETRY",
        "FLIGHT",
        "FLIGHT-CHANGED",
        "REJECTED",
        "LETTER",
        "BACK-Q",
        "BACK-D",
    ]
    _write_messages(config, [_message(sku) for sku in skus])
    out = plan(_branch(config, extracted=len(skus)))
    assert out["plan_counts"] == {
        "new": 1,
        "changed": 1,
        "retry": 3,
        "unchanged": 1,
        "skipped": 4,
        "deleted": 0,
    }
    assert out["skipped_reasons"] == {"in_flight": 2, "rejected_by_amazon": 1, "dead_lettered": 1}
    assert sorted(m["sku"] for m in _planned(config)) == ["BACK-D", "BACK-Q", "CHANGED", "NEW", "RETRY"]
    assert out["planned"] == 5
    # every extracted row is accounted for
    c = out["plan_counts"]
    assert c["new"] + c["changed"] + c["retry"] + c["unchanged"] + c["skipped"] == len(skus)
    statuses = _statuses(setup)
    assert {sku for sku, status in statuses.items() if status == L.READY} == {
        "NEW",
        "CHANGED",
        "RETRY",
        "BACK-Q",
        "BACK-D",
    }
    assert statuses["FLIGHT"] == L.SUBMITTED and statuses["REJECTED"] == L.INVALID


def test_a_sku_truly_gone_from_a_clean_catalog_is_deleted(setup: dict[str, Any]) -> None:
    config = _config(setup)
    _seed(setup, {sku: (L.ACCEPTED, _message(sku)) for sku in ("KEEP", "GONE")})
    _write_messages(config, [_message("KEEP")])
    out = plan(_branch(config, catalog_skus=["KEEP"], catalog_rows=1))
    assert [m for m in _planned(config) if m["operationType"] == "DELETE"] == [
        {"sku": "GONE", "operationType": "DELETE"}
    ]
    assert out["plan_counts"]["deleted"] == 1 and out["deletes_withheld"] == {}


@pytest.mark.parametrize(
    ("clean", "catalog_rows", "catalog_skus", "withheld"),
    [
        # a row that could not be read or placed might be exactly this SKU's
        (False, 1, ["KEEP"], {"catalog_not_clean": 1}),
        (True, 0, [], {"catalog_empty": 2}),
        # quarantined here, mistyped into another marketplace, or listed only elsewhere now
        (True, 1, ["KEEP", "GONE"], {"still_in_catalog": 1}),
    ],
)
def test_a_sku_is_never_deleted_because_its_row_failed_or_moved(
    setup: dict[str, Any], clean: bool, catalog_rows: int, catalog_skus: list[str], withheld: dict[str, int]
) -> None:
    config = _config(setup)
    _seed(setup, {sku: (L.ACCEPTED, _message(sku)) for sku in ("KEEP", "GONE")})
    _write_messages(config, [_message("KEEP")] if catalog_rows else [])
    out = plan(_branch(config, clean=clean, catalog_skus=catalog_skus, catalog_rows=catalog_rows))
    assert not [m for m in _planned(config) if m["operationType"] == "DELETE"]
    assert out["plan_counts"]["deleted"] == 0
    assert out["deletes_withheld"] == withheld
    assert _statuses(setup)["GONE"] == L.ACCEPTED


@pytest.mark.parametrize(
    ("limits", "gone"),
    [({"max_deletes": 2}, 3), ({"max_delete_share": 0.25}, 3)],
    ids=["count", "share"],
)
def test_the_mass_delete_guard_stops_the_branch_until_confirmed(
    setup: dict[str, Any], limits: dict[str, Any], gone: int
) -> None:
    config = _config(setup, **limits)
    kept = [f"KEEP-{i}" for i in range(7)]
    removed = [f"GONE-{i}" for i in range(gone)]
    _seed(setup, {sku: (L.ACCEPTED, _message(sku)) for sku in kept + removed})
    _write_messages(config, [_message(sku, 11.0) for sku in kept])  # changed prices too
    with pytest.raises(MassDeleteError) as caught:
        plan(_branch(config, catalog_skus=kept, catalog_rows=len(kept)))
    text = str(caught.value)
    assert f"{gone} of {len(kept) + gone} listed SKUs" in text and "Confirm mass deletion" in text
    assert SELLER in text and US in text
    # the branch stopped before anything moved: no price change and no deletion goes out
    assert set(_statuses(setup).values()) == {L.ACCEPTED}
    assert _planned(config) == []

    out = plan(_branch(config, catalog_skus=kept, catalog_rows=len(kept), confirm_deletes=True))
    assert out["plan_counts"]["deleted"] == gone
    assert sorted(m["sku"] for m in _planned(config) if m["operationType"] == "DELETE") == removed


def test_a_sku_in_flight_is_not_deleted_until_its_outcome_is_known(setup: dict[str, Any]) -> None:
    config = _config(setup)
    _seed(setup, {"KEEP": (L.ACCEPTED, _message("KEEP")), "FLYING": (L.SUBMITTED, _message("FLYING"))})
    _write_messages(config, [_message("KEEP")])
    out = plan(_branch(config, catalog_skus=["KEEP"], catalog_rows=1))
    assert out["plan_counts"]["deleted"] == 0 and out["deletes_withheld"] == {"in_flight": 1}
    assert _statuses(setup)["FLYING"] == L.SUBMITTED


def test_deletes_within_the_guard_need_no_confirmation(setup: dict[str, Any]) -> None:
    config = _config(setup, max_deletes=2, max_delete_share=0.5)
    _seed(setup, {sku: (L.ACCEPTED, _message(sku)) for sku in ("A", "B", "C", "D")})
    _write_messages(config, [_message("A"), _message("B")])
    out = plan(_branch(config, catalog_skus=["A", "B"], catalog_rows=2))
    assert out["plan_counts"]["deleted"] == 2


def test_a_run_narrowed_to_some_skus_sends_only_those_and_deletes_nothing(setup: dict[str, Any]) -> None:
    """A replayed feed letter's SKU can be sent at once by a run narrowed to it: the rest of the
    catalog is read but neither sent nor judged for deletion, and every row is still accounted for."""
    config = _config(setup)
    _seed(
        setup,
        {
            "REPLAYED": (L.READY, _message("REPLAYED")),  # the replay put it back to ready
            "CHANGED": (L.ACCEPTED, _message("CHANGED", 9.0)),
            "LETTER": (L.DEAD_LETTERED, _message("LETTER")),  # asked for, but not replayed yet
            "GONE": (L.ACCEPTED, _message("GONE")),
        },
    )
    rows = ["REPLAYED", "CHANGED", "LETTER", "NEW"]
    _write_messages(config, [_message(sku) for sku in rows])
    branch = _branch(config, catalog_skus=rows, catalog_rows=len(rows), only_skus=["REPLAYED", "LETTER"])
    out = plan(branch)
    assert [m["sku"] for m in _planned(config)] == ["REPLAYED"]
    assert out["skipped_reasons"] == {"not_in_narrowed_run": 2, "dead_lettered": 1}
    assert out["deletes_withheld"] == {"narrowed_run": 1}
    c = out["plan_counts"]
    assert (c["retry"], c["skipped"], c["deleted"]) == (1, 3, 0)
    assert c["new"] + c["changed"] + c["retry"] + c["unchanged"] + c["skipped"] == len(rows)
    assert _statuses(setup) == {
        "REPLAYED": L.READY,
        "CHANGED": L.ACCEPTED,
        "LETTER": L.DEAD_LETTERED,
        "GONE": L.ACCEPTED,
    }
    # the same catalog, not narrowed: the other changes go, and GONE is deleted
    out = plan({k: v for k, v in branch.items() if k != "only_skus"})
    assert sorted(m["sku"] for m in _planned(config)) == ["CHANGED", "GONE", "NEW", "REPLAYED"]
    assert out["plan_counts"]["deleted"] == 1


def test_targets_hand_a_narrowed_runs_skus_to_every_branch(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from listings_pipeline.planning.targets import targets

    monkeypatch.setattr("listings_pipeline.connections.check_connections", lambda *_: {})  # tested elsewhere
    config = _config(setup)
    [branch] = targets(config, only_skus=[" REPLAYED ", "LETTER", "REPLAYED", ""])
    assert branch["only_skus"] == ["REPLAYED", "LETTER"]
    [whole] = targets(config, only_skus=[" ", ""])  # an empty form field narrows nothing
    assert "only_skus" not in whole


@pytest.mark.parametrize(
    "run_id",
    [
        "manual__2026-12-02T04:05:42.216046+00:00",
        "_leading_underscore",
        "trailing.dot.",
        "scheduled__" + "x" * 120,  # longer than a folder name is cut to
    ],
)
def test_a_branch_and_its_snapshot_share_one_folder_for_any_run_id(
    setup: dict[str, Any], run_id: str
) -> None:
    from listings_pipeline.catalog.extract import snapshot_path

    config = load_config(_config(setup))
    paths = BranchPaths.of(config, run_id, SELLER, US)
    assert snapshot_path(paths.snapshots, run_id, SELLER, US).parent == paths.root


def test_the_map_step_writes_each_message_s_sku_and_hash_as_plan_would_work_them_out(tmp_path: Path) -> None:
    """Plan reads the hashes map wrote instead of parsing every message; for a run without them
    (an older map step) it works them out from the messages, and both give the same."""
    config = load_config(None).model_copy(update={"var_dir": tmp_path})
    paths = BranchPaths.of(config, RUN, SELLER, US)
    messages = [
        {
            "sku": f"SKU-{i}",
            "operationType": "UPDATE",
            "productType": "SHIRT",
            "attributes": {"n": [{"value": i}]},
        }
        for i in range(5)
    ]
    assert write_messages(paths.messages, paths.message_hashes, messages) == 5
    written = list(read_message_hashes(paths))
    assert written == [(m["sku"], payload_hash(m), "SHIRT") for m in messages]
    paths.message_hashes.unlink()
    assert list(read_message_hashes(paths)) == written
    lines = list(read_lines_at(paths.messages, {1, 3}))
    assert [place for place, _ in lines] == [1, 3]
    assert [orjson.loads(line) for _, line in lines] == [messages[1], messages[3]]
    with pytest.raises(ValueError, match="messageId"):
        write_messages(paths.messages, paths.message_hashes, [{**messages[0], "messageId": 1}])


def test_a_sku_in_flight_past_the_feed_wait_is_sent_again(setup: dict[str, Any]) -> None:
    """Its feed's outcome was lost (no stale feed holds it): waiting longer would wait for ever.
    One submitted a moment ago still waits for its outcome."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    config = _config(setup, delete_removed=False, feed_wait_hours=2)
    _seed(setup, {"LOST": (L.SUBMITTED, _message("LOST")), "WAITING": (L.SUBMITTED, _message("WAITING"))})
    engine = db.make_engine(setup["url"])
    with db.session_scope(engine) as s:
        s.execute(
            update(Listing)
            .where(Listing.sku == "LOST")
            .values(updated_at=datetime.now(UTC) - timedelta(hours=3))
        )
    engine.dispose()
    _write_messages(config, [_message("LOST"), _message("WAITING")])
    out = plan(_branch(config, extracted=2))
    assert (out["plan_counts"]["retry"], out["plan_counts"]["skipped"]) == (1, 1)
    assert out["skipped_reasons"] == {"in_flight": 1}
    assert [m["sku"] for m in _planned(config)] == ["LOST"]


@pytest.mark.parametrize("shape", ["as map writes it", "a blank line and a CRLF", "no final newline"])
def test_planned_jsonl_is_the_lines_sent_whatever_the_messages_files_shape(
    setup: dict[str, Any], shape: str
) -> None:
    """A plan that sends every message takes ``messages.jsonl`` as ``planned.jsonl`` rather than
    writing its lines again; a file whose lines are not exactly its bytes (a blank line, a carriage
    return, no final newline) gets its lines written as before. Rewriting ``messages.jsonl`` later
    (a retried join) leaves the planned file as it was."""
    config = _config(setup, delete_removed=False)
    messages = [_message("A", 1.5), _message("B"), _message("C", 3.0)]
    _write_messages(config, messages)
    paths = BranchPaths.of(load_config(config), RUN, SELLER, US)
    lines = paths.messages.read_bytes().splitlines()
    if shape == "a blank line and a CRLF":
        paths.messages.write_bytes(lines[0] + b"\n\n" + lines[1] + b"\r\n" + lines[2] + b"\n")
    elif shape == "no final newline":
        paths.messages.write_bytes(b"\n".join(lines))
    assert plan(_branch(config, extracted=3))["planned"] == 3
    expected = b"".join(line + b"\n" for line in lines)
    assert paths.planned.read_bytes() == expected
    assert _statuses(setup) == {"A": "ready", "B": "ready", "C": "ready"}
    _write_messages(config, [_message("D")])
    assert paths.planned.read_bytes() == expected


@pytest.mark.parametrize("hashes", ["with product types", "from an older map step"])
def test_a_sent_message_reaches_the_warehouse_and_planned_jsonl_as_map_wrote_it(
    setup: dict[str, Any], hashes: str
) -> None:
    """Plan copies the lines it sends instead of parsing them: the listing's payload, product type and
    hash, and ``planned.jsonl``, must still be exactly the message's. A hashes file without product
    types (an older map step) gets them from the lines."""
    config = _config(setup, delete_removed=False)
    messages = [_message("A", 1.5), {**_message("B"), "productType": "HAT"}]
    _write_messages(config, messages)
    paths = BranchPaths.of(load_config(config), RUN, SELLER, US)
    if hashes == "from an older map step":
        older = [orjson.loads(line)[:2] for line in paths.message_hashes.read_bytes().splitlines()]
        paths.message_hashes.write_bytes(b"".join(orjson.dumps(pair) + b"\n" for pair in older))
    assert plan(_branch(config, extracted=2))["planned"] == 2
    assert _planned(config) == messages
    assert paths.planned.read_bytes() == paths.messages.read_bytes()
    engine = db.make_engine(setup["url"])
    with db.session_scope(engine) as s:
        stored = {
            sku: (product_type, payload, digest)
            for sku, product_type, payload, digest in s.execute(
                select(Listing.sku, Listing.product_type, ListingPayload.payload, Listing.payload_hash).join(
                    ListingPayload, ListingPayload.listing_id == Listing.id
                )
            )
        }
    engine.dispose()
    assert stored == {
        "A": ("SHIRT", messages[0], payload_hash(messages[0])),
        "B": ("HAT", messages[1], payload_hash(messages[1])),
    }
