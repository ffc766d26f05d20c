"""TODO markers in a mapping file: the places a draft (``listings_pipeline.scaffold``) could not fill.

A draft mapping is written for a person to finish. Where the scaffold found no catalog column or no
translation it writes the value ``TODO`` (a comment on the same line says what is wanted), and the
loader refuses the file with one problem per marker, each with its line and key, so that a draft can
never be used half finished and the error is the list of what is left to do.
"""

from __future__ import annotations

from typing import Any

from listings_pipeline.catalog.mapping_yaml import MappingProblem, Positions, key_text

__all__ = ["TODO", "is_todo", "todo_problems"]

#: The value the scaffold writes where a person must decide.
TODO = "TODO"


def is_todo(value: object) -> bool:
    """``TODO`` itself, or ``TODO: <what>``."""
    return isinstance(value, str) and (value.strip() == TODO or value.startswith(f"{TODO}:"))


def todo_problems(data: Any, positions: Positions, source: str) -> list[MappingProblem]:
    """One problem per TODO marker, in file order."""
    found: list[tuple[tuple[Any, ...], str]] = []
    _walk(data, (), found)
    problems = [
        MappingProblem(
            source,
            positions.lines.get(path) or positions.locate(path)[0],
            key_text(path),
            f"{text}: left for you by the mapping scaffold; fill it in (the comment on this line says with what)",
        )
        for path, text in found
    ]
    return sorted(problems, key=lambda p: p.line or 0)


def _walk(node: Any, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], str]]) -> None:
    if is_todo(node):
        out.append((path, str(node).strip()))
    elif isinstance(node, dict):
        for key, value in node.items():
            _walk(value, (*path, key), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _walk(value, (*path, index), out)
