"""Whether a reconciliation run needs a person, and its note (docs/architecture.md, "Run outcomes").

New drift needs attention: the run's ``outcome`` task fails, after every check was recorded, and the
note says where and of which kind, as a run in which Amazon rejected a change does. Amazon changed
something behind our back (or we never sent what we think we did), and only a person can say
whether to send ours again or take Amazon's.

Drift that an earlier run already reported, and nobody has resolved yet, is counted in the note but
does not fail the run again: it waits on the status page's Drift section, which is where a person
deals with it. A daily run that turned red for the same known rows would teach everyone to ignore
red; the quarantine is shown the same way, green, once the run that found it said so. Drift that
went away (``gone``) is only counted.

The DAG file names these types at parse time, so this module imports only the standard library
and :mod:`listings_pipeline.outcome`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypedDict

from listings_pipeline.outcome import MARK, NOTE_LIMIT

if TYPE_CHECKING:
    from listings_pipeline.from_amazon.drift_resolution import DriftResolution
    from listings_pipeline.from_amazon.reconcile import DriftTotals
    from listings_pipeline.run_notes import PushesXCom

log = logging.getLogger(__name__)


class DriftOutcome(TypedDict):
    needs_attention: bool
    note: str


def needs_attention(totals: DriftTotals) -> bool:
    """A check opened drift no earlier run had reported."""
    return totals["opened"] > 0


def _kinds(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in by_kind.items())


def note(totals: DriftTotals) -> str:
    """The DagRun note: a headline, the figures, where the new drift is; Markdown like every note."""
    figures = (
        f"{totals['branches']} marketplace(s) checked · Amazon's rows {totals['amazon_rows']} · "
        f"open drift {totals['open']} · new {totals['opened']} · gone {totals['gone']}"
    )
    if needs_attention(totals):
        headline = (
            f"{MARK}needs attention. {totals['opened']} new drift between Amazon and the warehouse "
            f"in {', '.join(totals['new_in'])}."
        )
    elif totals["open"]:
        headline = f"{MARK}OK, no new drift. {totals['open']} drift still open from earlier runs."
    else:
        headline = f"{MARK}OK. Amazon's listings match the warehouse."
    blocks = [headline, figures]
    if totals["by_kind"]:
        blocks.append(f"Open by kind: {_kinds(totals['by_kind'])}.")
    if totals["open"]:
        blocks.append(
            "Resubmit ours or accept Amazon's value from the status page's Drift section or a "
            "manual `listings_reconcile` run; the rows are in `v_drift`."
        )
    text = "\n\n".join(blocks)
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


def conclude(ti: PushesXCom, totals: DriftTotals) -> DriftOutcome:
    """The ``outcome`` task: leave the note for the run (``run_notes``), and fail without retries
    when there is new drift (a retry would find the same)."""
    from listings_pipeline.run_notes import NOTE_KEY

    result: DriftOutcome = {"needs_attention": needs_attention(totals), "note": note(totals)}
    ti.xcom_push(NOTE_KEY, result["note"])
    if result["needs_attention"]:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(result["note"])
    log.info("%s", result["note"])
    return result


def resolution_note(resolution: DriftResolution) -> str:
    """A ``drift_resolve`` run's note: what was done, and each skipped SKU with its reason. Skipped
    SKUs are reported, not failed, as ``dead_letter_replay`` reports letters it cannot move: nothing
    went wrong, there was nothing this action could do for them."""
    done = (
        f"{resolution['resubmitted']} SKU(s) resubmitted (a narrowed `catalog_feed_sync` sends them)"
        if resolution["action"] == "resubmit"
        else f"{resolution['accepted']} SKU(s) took Amazon's value"
    )
    blocks = [
        f"{MARK}OK. {resolution['seller_id']}/{resolution['marketplace_id']}: {done}, "
        f"{resolution['skipped']} skipped."
    ]
    skipped = [r for r in resolution["results"] if r["outcome"] == "skipped"]
    if skipped:
        blocks.append("Skipped:\n" + "\n".join(f"- `{r['sku']}`: {r['detail']}" for r in skipped[:5]))
    text = "\n\n".join(blocks)
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


def conclude_resolution(ti: PushesXCom, resolution: DriftResolution) -> str:
    from listings_pipeline.run_notes import NOTE_KEY

    text = resolution_note(resolution)
    ti.xcom_push(NOTE_KEY, text)
    log.info("%s", text)
    return text
