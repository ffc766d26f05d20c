"""Whether a seller performance run needs a person, and its note (docs/architecture.md, "Run outcomes").

The run fails at its ``outcome`` task, after everything was recorded, when:

- a report document was refused (it failed Amazon's schema or our model): that day's figures are
  missing, and only a person can say whether Amazon or we are wrong;
- an account health metric went past Amazon's target (or Amazon called it BAD) since the metric's
  previous report date, or has no previous one: the seller is about to be judged on it, and a person
  has to act (ship on time, answer a claim, fix a listing) where the pipeline cannot;
- an account is not NORMAL (AT_RISK or DEACTIVATED): red every day it lasts, because Amazon may stop
  the account's sales.

A metric still past its target from an earlier report is counted in the note but does not turn the
run red again: the status page's Seller performance section shows it until it recovers. A daily run
that is red for the same known breach teaches everyone to ignore red (``drift_outcome`` decides the
same for drift it already reported). A report Amazon cancelled (nothing to report) is only counted.

The DAG file names these types at parse time, so this module imports only the standard library and
:mod:`listings_pipeline.outcome`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from listings_pipeline.outcome import MARK, NOTE_LIMIT, SHOWN

if TYPE_CHECKING:
    from listings_pipeline.from_amazon.seller_performance import LoadResult
    from listings_pipeline.run_notes import PushesXCom

log = logging.getLogger(__name__)


class PerformanceOutcome(TypedDict):
    needs_attention: bool
    note: str
    loaded: int
    refused: int
    cancelled: int
    new_breaches: int
    known_breaches: int


def _where(result: LoadResult) -> str:
    return f"{result['seller_id']}/{result['marketplace_id']}"


def outcome(results: Iterable[LoadResult]) -> PerformanceOutcome:
    """The verdict over every report of the run, and its note (Markdown, like every note)."""
    results = list(results)
    refused = [r for r in results if r["status"] == "refused"]
    new = [(r, b) for r in results for b in r["new_breaches"]]
    known = [(r, b) for r in results for b in r["in_breach"] if b not in r["new_breaches"]]
    counts = {s: sum(1 for r in results if r["status"] == s) for s in ("loaded", "refused", "cancelled")}
    attention = bool(refused or new)
    day = ", ".join(sorted({r["day"] for r in results})) or "no day"
    if attention:
        reasons = []
        if new:
            reasons.append(f"{len(new)} new account health problem(s)")
        if refused:
            reasons.append(f"{len(refused)} report(s) refused")
        headline = f"{MARK}needs attention. {' and '.join(reasons)} for {day}."
    elif known:
        headline = f"{MARK}OK, nothing new. {len(known)} account health metric(s) still past target."
    else:
        headline = f"{MARK}OK. Every account meets Amazon's targets."
    blocks = [
        headline,
        f"{len({_where(r) for r in results})} marketplace(s) · reports loaded {counts['loaded']} · "
        f"refused {counts['refused']} · cancelled by Amazon {counts['cancelled']}",
    ]
    if new:
        shown = [f"- {_where(r)}: {b}" for r, b in new[:SHOWN]]
        more = [f"- and {len(new) - SHOWN} more"] if len(new) > SHOWN else []
        blocks.append("New:\n" + "\n".join(shown + more))
    if known:
        blocks.append(
            "Still past target: "
            + "; ".join(f"{_where(r)} {b}" for r, b in known[:SHOWN])
            + (" …" if len(known) > SHOWN else "")
        )
    for r in refused[:SHOWN]:
        blocks.append(f"Refused {r['report_type']} {_where(r)}: {r['reason']}")
    if new or known:
        blocks.append("Details: the status page's Seller performance section, `v_account_health`.")
    text = "\n\n".join(blocks)
    return {
        "needs_attention": attention,
        "note": text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…",
        "loaded": counts["loaded"],
        "refused": counts["refused"],
        "cancelled": counts["cancelled"],
        "new_breaches": len(new),
        "known_breaches": len(known),
    }


def conclude(ti: PushesXCom, results: Iterable[LoadResult]) -> PerformanceOutcome:
    """The ``outcome`` task: leave the note for the run (``run_notes``), and fail without retries
    when it needs attention (a retry would find the same)."""
    from listings_pipeline.run_notes import NOTE_KEY

    result = outcome(results)
    ti.xcom_push(NOTE_KEY, result["note"])
    if result["needs_attention"]:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(result["note"])
    log.info("%s", result["note"])
    return result
