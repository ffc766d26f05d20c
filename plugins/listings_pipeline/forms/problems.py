"""A form's problems, and how they read where an operator looks: the failed task and the run's note.

Each problem names the form field to fix (its name in the run's conf, as the trigger form's JSON
shows it) and says what is wrong in one sentence, with the value as typed. Nothing here imports more
than the standard library: the DAG tasks raise :class:`FormError` and ``run_notes`` writes its note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypedDict

from listings_pipeline.outcome import MARK, NOTE_LIMIT


class FormProblem(TypedDict):
    """One thing wrong with a form: ``field`` is ``""`` for the form as a whole."""

    field: str
    message: str


def problem(field: str, message: str) -> FormProblem:
    return {"field": field, "message": message}


def line(found: FormProblem) -> str:
    return f"{found['field']}: {found['message']}" if found["field"] else found["message"]


def _count(problems: Sequence[FormProblem]) -> str:
    return f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"


class FormError(ValueError):
    """A form with problems; ``str()`` is the headline and one line per problem, the task's failure
    message (Airflow prints it under the exception's name, so it reads on its own)."""

    def __init__(self, form: str, problems: Sequence[FormProblem]) -> None:
        if not problems:
            raise ValueError("FormError needs at least one problem")
        self.form = form
        self.problems = list(problems)
        head = f"The {form} form has {_count(self.problems)}; nothing was done:"
        super().__init__("\n".join([head, *(f"- {line(p)}" for p in self.problems)]))

    def note(self) -> str:
        """The run's note: Markdown as the UI shows notes, at most ``NOTE_LIMIT`` characters. It
        starts like every outcome note, so a later try of the run replaces it rather than adding."""
        head = f"{MARK}the {self.form} form has {_count(self.problems)}; nothing was done."
        lines = [f"- {_markdown(line(p))}" for p in self.problems]
        shown = len(lines)
        while shown:
            more = len(lines) - shown
            tail = [f"- … and {more} more: the failed task's log lists them all"] if more else []
            text = "\n\n".join([head, "\n".join([*lines[:shown], *tail])])
            if len(text) <= NOTE_LIMIT:
                return text
            shown -= 1
        return head


_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~#])")


def _markdown(text: str) -> str:
    """A value as typed (``A_1_`` is a SKU, not emphasis) shown literally in the note."""
    return _MARKDOWN.sub(r"\\\1", text)
