"""
### Dead-letter replay

Re-drive changes that ended in `dead_letters`, or close them. Fill in the form:

- **which letters**: by seller, error code, SKU and/or creation date (at least one filter: replaying
  everything at once is refused), in the chosen states (`open` by default), at most *limit*;
- **what**: *replay* re-sends them through the path they came from, *discard* or *resolve* only
  record a decision; a note says why;
- **dry run** (on by default): only lists what would be done. Switch it off to act.

Replay by path: a **Listings API** letter's stored change is sent again through the Listings Items
API (letter `replayed`, then `resolved` when Amazon accepts it, or back to `open` with one more
attempt when it fails again); a **feed** letter's listing goes back to `ready`, and this run then
triggers a `catalog_feed_sync` run narrowed to those SKUs (one per seller), which sends them now.
Every state change is recorded in `dead_letter_events` with
this run as the actor.

Tasks: **select** (checks the whole form at once: a wrong one fails here with every problem on a
line of its own, in the failure message and the run's note; then lists the letters and cuts them in
batches of 20), **replay**
(one mapped task per batch), **summarise** (counts per outcome), and **outcome**: the run's note
gives the counts and Amazon's first rejections, and the run fails here when a replayed change failed
again (its letter is open again); **resubmit_feed_letters** triggers the narrowed syncs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from listings_pipeline.forms.choices import form_choices
from listings_pipeline.forms.shared import config_path_field, seller_field, skus_field
from listings_pipeline.json_types import JsonObject
from listings_pipeline.outcome import RunOutcome
from listings_pipeline.schedules import manual_retries
from listings_pipeline.to_amazon.letters import ReplayBatch, ReplayResult, ReplaySummary
from listings_pipeline.to_amazon.resubmit import resubmit_feed_letters

WHICH = "Which dead letters"
WHAT = "What to do"
# the deployed config's sellers, offered as you type (a few ms: forms.choices); any other seller id
# is taken too, for the letters of a seller since removed from the config
SELLERS = form_choices().sellers


@dag(
    dag_id=Path(__file__).stem,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["spapi", "listings", "dead-letters", "operator"],
    default_args=manual_retries(),
    params={
        "seller_id": Param(
            **seller_field(
                SELLERS,
                only_configured=False,
                title="Seller id",
                description_md="Only this seller's letters (its selling partner id). Empty: any seller. "
                + ("Configured: " + ", ".join(SELLERS.values()) + "." if SELLERS else ""),
                section=WHICH,
            )
        ),
        "codes": Param(
            None,
            type=["null", "string"],
            format="multiline",
            title="Error codes",
            description_md="Amazon's codes (e.g. `5665`, `4000006`, `FATAL`), one per line or separated "
            "by commas. Empty: any code.",
            section=WHICH,
        ),
        "skus": Param(
            **skus_field(
                description_md="Seller SKUs, one per line or separated by commas. Empty: any SKU. A SKU "
                "with quotes, spaces or invisible characters is refused unless the warehouse knows it.",
                section=WHICH,
            )
        ),
        "created_after": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Created on or after",
            description_md="Letters created from this day (UTC) on.",
            section=WHICH,
        ),
        "created_before": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Created before",
            description_md="Letters created before this day (UTC).",
            section=WHICH,
        ),
        "states": Param(
            ["open"],
            type="array",
            minItems=1,
            items={"type": "string", "enum": ["open", "replayed", "resolved", "discarded"]},
            values_display={
                "open": "Open (waiting for someone)",
                "replayed": "Replayed (outcome pending)",
                "resolved": "Resolved",
                "discarded": "Discarded",
            },
            title="States",
            description_md="Letters in these states. Usually `open`; a move the letter's state does "
            "not allow (e.g. resolve a discarded letter) is skipped and reported.",
            section=WHICH,
        ),
        "limit": Param(
            500,
            type="integer",
            minimum=1,
            maximum=5000,
            title="At most",
            description_md="The oldest letters first, at most this many.",
            section=WHICH,
        ),
        "action": Param(
            "replay",
            type="string",
            enum=["replay", "discard", "resolve"],
            values_display={
                "replay": "Replay: send the change again through its path",
                "discard": "Discard: do not send it (recorded)",
                "resolve": "Resolve: fixed some other way (recorded)",
            },
            title="Action",
            section=WHAT,
        ),
        "note": Param(
            None,
            type=["null", "string"],
            title="Note",
            description_md="Why: recorded with each state change (e.g. the ticket, the brand approval).",
            section=WHAT,
        ),
        "dry_run": Param(
            True,
            type="boolean",
            title="Dry run",
            description_md="**On** (the safe default): only lists what would be done; nothing changes. "
            "**Off**: the action is applied.",
            section=WHAT,
        ),
        "config_path": Param(**config_path_field(section="Advanced")),
    },
)
def dead_letter_replay() -> None:
    @task
    def select(params: JsonObject | None = None, ti: Any = None) -> list[ReplayBatch]:  # the form as typed in
        from listings_pipeline.run_notes import refusing
        from listings_pipeline.to_amazon import replay

        return refusing(ti, lambda: list(replay.select_step(dict(params or {}))["batches"]))

    @task
    def replay(batch: ReplayBatch, run_id: str | None = None) -> ReplayResult:
        from listings_pipeline.to_amazon import replay

        return replay.replay_step(batch, str(run_id))

    @task(trigger_rule="none_failed")
    def summarise(results: list[ReplayResult], params: JsonObject | None = None) -> ReplaySummary:
        from listings_pipeline.to_amazon import replay

        return replay.summarise(results or [], dry_run=bool((params or {}).get("dry_run", True)))

    @task
    def outcome(summary: ReplaySummary, params: JsonObject | None = None, ti: Any = None) -> RunOutcome:
        from listings_pipeline import outcome as verdict
        from listings_pipeline.run_notes import conclude

        return conclude(ti, verdict.of_replay(summary), (params or {}).get("config_path"))

    summary = summarise(replay.expand(batch=select()))
    outcome(summary)
    # feed letters put back to ready are sent now, by a catalog_feed_sync run narrowed to their SKUs
    resubmit_feed_letters(summary)


dead_letter_replay()
