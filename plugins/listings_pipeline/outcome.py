"""Whether a run needs a person, and the note that says so at a glance (docs/architecture.md, "Run outcomes").

Every DAG that sends changes records everything first (its ``summarise`` task); its last task,
``outcome``, then reads the run's totals through this module. A run in which Amazon rejected a
change (INVALID), a call failed for good, or a change was dead-lettered *needs attention*: the task
fails, so the run ends red with its figures already in the warehouse, and the note below becomes the
DagRun note (``run_notes``). A preview whose changes Amazon would reject needs attention as well:
finding that out is what the preview was for, and a green run would hide it. Quarantined catalog
rows and changes sent back for the next run (``retry``) are shown but do not, on their own: the
validation gate and the feed retries already deal with them.

The DAG files name these types at parse time, so this module imports nothing heavy (nothing at all
at run time beyond the standard library): the warehouse is read by ``rejections``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from listings_pipeline.changes import HotfixSummary
    from listings_pipeline.run_totals import OffersSummary, RunTotals
    from listings_pipeline.to_amazon.letters import ReplaySummary

#: Airflow stores a DagRun note in a ``VARCHAR(1000)``.
NOTE_LIMIT = 1000
#: How many rejections a note lists; the rest are in ``dead_letters`` / ``listing_issues``.
SHOWN = 3
#: How every outcome note starts: a note that already holds one has it replaced, not repeated.
MARK = "Run outcome: "
_MESSAGE_CHARS = 160
_MORE = "- … and more: this run's `dead_letters` and `listing_issues`"


class Tally(TypedDict):
    """A run's changes by what came of them, whatever the path; ``details`` are lines of their own
    (quarantined rows, the replay's sentence)."""

    changes: int  # sent to Amazon (previewed, replayed)
    accepted: int  # a preview: found valid; a replay: resolved
    invalid: int  # Amazon rejected it (a preview: would reject it)
    failed: int  # the call itself failed after its retries (a real run also dead-letters it)
    dead_lettered: int
    retry: int  # sent back to ``ready``: the next run sends it again
    preview: bool
    details: list[str]


class Rejection(TypedDict):
    """One change that did not get through, as the note lists it: Amazon's code and words, no body."""

    seller_id: str
    marketplace_id: str
    sku: str
    code: str | None
    message: str


class RunOutcome(TypedDict):
    """What the ``outcome`` task found: its XCom when the run is clean, its error's text otherwise."""

    needs_attention: bool
    tally: Tally
    rejections: list[Rejection]
    note: str


def _tally(
    *,
    changes: int,
    accepted: int,
    invalid: int = 0,
    failed: int = 0,
    dead_lettered: int = 0,
    retry: int = 0,
    preview: bool = False,
    details: list[str] | None = None,
) -> Tally:
    return {
        "changes": changes,
        "accepted": accepted,
        "invalid": invalid,
        "failed": failed,
        "dead_lettered": dead_lettered,
        "retry": retry,
        "preview": preview,
        "details": details or [],
    }


def of_hotfix(summary: HotfixSummary, *, preview: bool) -> Tally:
    """A hotfix's totals; a change Amazon answered with a status of its own (neither accepted, valid
    nor invalid) is counted as invalid: it did not get through either."""
    other = len(summary["problems"]) - summary["invalid"] - summary["failed"]
    return _tally(
        changes=summary["changes"],
        accepted=summary["accepted"] + summary["valid"],
        invalid=summary["invalid"] + max(other, 0),
        failed=summary["failed"],
        dead_lettered=summary["dead_lettered"],
        preview=preview,
    )


def _count(totals: RunTotals, name: str) -> int:
    value = totals.get(name, 0)
    return value if isinstance(value, int) else 0


def _quarantined(totals: RunTotals) -> list[str]:
    rows = _count(totals, "quarantined")
    return [f"quarantined catalog rows: {rows} (see `quarantine`)"] if rows else []


def of_catalog(totals: RunTotals) -> Tally:
    """``catalog_feed_sync``'s totals, feeds and small change sets alike (``bulk.summarise``)."""
    return _tally(
        changes=_count(totals, "submitted"),
        accepted=_count(totals, "accepted"),
        invalid=_count(totals, "invalid"),
        dead_lettered=_count(totals, "dead_lettered"),
        retry=_count(totals, "retry"),
        details=_quarantined(totals),
    )


def of_offers(summary: OffersSummary) -> Tally:
    """The offers sync's totals: ``run_summaries``' when it wrote them (any branch had a catalog),
    else the two routes' own counts."""
    totals = summary.get("run_summaries")
    if totals is not None:
        return of_catalog(totals)
    accepted = summary["api_accepted"] + summary["feed_accepted"]
    return _tally(
        changes=accepted + summary["api_dead_lettered"] + summary["feed_invalid"],
        accepted=accepted,
        invalid=summary["feed_invalid"],
        dead_lettered=summary["api_dead_lettered"],
    )


def of_replay(summary: ReplaySummary) -> Tally:
    """A replay: resolved letters were accepted, letters that failed again are dead letters again,
    feed letters put back in ``ready`` wait for the next catalog sync; the replay's own sentence says
    the rest (pending, skipped, discarded, a dry run)."""
    return _tally(
        changes=summary["resolved"] + summary["failed_again"] + summary["pending"],
        accepted=summary["resolved"],
        dead_lettered=summary["failed_again"],
        retry=summary["requeued"],
        details=[summary["message"]],
    )


def needs_attention(tally: Tally) -> bool:
    """Amazon rejected something, a call failed for good, or a change ended in ``dead_letters``."""
    return bool(tally["invalid"] or tally["failed"] or tally["dead_lettered"])


def _headline(tally: Tally, attention: bool) -> str:
    if not attention:
        if tally["preview"]:
            return f"{MARK}OK (preview: nothing was sent). Amazon found {tally['accepted']} change(s) valid."
        if not tally["changes"]:
            return f"{MARK}OK. Nothing to send."
        return f"{MARK}OK. {tally['accepted']} change(s) accepted, none rejected."
    parts = []
    if tally["invalid"]:
        would = "would reject" if tally["preview"] else "rejected"
        parts.append(f"Amazon {would} {tally['invalid']} of {tally['changes']} change(s)")
    if tally["failed"]:
        parts.append(f"{tally['failed']} call(s) failed after retries")
    if tally["dead_lettered"]:
        parts.append(f"{tally['dead_lettered']} dead-lettered")
    preview = " (preview: nothing was sent)" if tally["preview"] else ""
    return f"{MARK}needs attention{preview}. " + ", ".join(parts) + "."


def _figures(tally: Tally) -> str:
    accepted = "valid" if tally["preview"] else "accepted"
    figures = [
        f"{accepted} {tally['accepted']}",
        f"invalid {tally['invalid']}",
        f"dead-lettered {tally['dead_lettered']}",
        f"retry {tally['retry']}",
    ]
    if tally["failed"]:
        figures.append(f"failed {tally['failed']}")
    return " · ".join(figures)


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _rejection_line(rejection: Rejection) -> str:
    code = f" {rejection['code']}" if rejection["code"] else ""
    message = _one_line(rejection["message"], _MESSAGE_CHARS)
    return f"- `{rejection['sku']}` {rejection['marketplace_id']}{code}: {message}"


def note(tally: Tally, rejections: list[Rejection]) -> str:
    """The DagRun note: a headline, the figures, the first rejections, at most ``NOTE_LIMIT``
    characters. Markdown, as the UI shows notes: paragraphs and a list, so lines stay lines.
    ``rejections`` may hold one more than ``SHOWN``: that one only says there are more."""
    attention = needs_attention(tally)
    blocks = [_headline(tally, attention), _figures(tally)]
    blocks += [_one_line(detail, 300) for detail in tally["details"]]
    lines = [_rejection_line(r) for r in rejections[:SHOWN]]
    more = [_MORE] if len(rejections) > SHOWN else []
    while lines:  # the headline and figures first: drop rejections until the note fits
        text = "\n\n".join([*blocks, "First rejections:\n" + "\n".join([*lines, *more])])
        if len(text) <= NOTE_LIMIT:
            return text
        lines.pop()
        more = [_MORE]
    text = "\n\n".join(blocks)
    return text if len(text) <= NOTE_LIMIT else text[: NOTE_LIMIT - 1] + "…"


def outcome(tally: Tally, rejections: list[Rejection]) -> RunOutcome:
    """The verdict and its note (``rejections``: the run's first ones, read only when it needs attention)."""
    return {
        "needs_attention": needs_attention(tally),
        "tally": tally,
        "rejections": rejections[:SHOWN],
        "note": note(tally, rejections),
    }


def merged_note(existing: str | None, outcome_note: str) -> str:
    """The run's note with ``outcome_note`` below what someone wrote (a trigger's note, an operator's
    words), replacing the outcome of an earlier try of the same run; never more than ``NOTE_LIMIT``."""
    kept = (existing or "").split(MARK, 1)[0].rstrip()
    merged = f"{kept}\n\n{outcome_note}" if kept else outcome_note
    return merged[:NOTE_LIMIT]
