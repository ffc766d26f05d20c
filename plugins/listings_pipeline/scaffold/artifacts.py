"""What the ``mapping_scaffold`` DAG's task hands on (XCom), apart so that parsing the DAG file,
which names it as the task's return type, imports nothing of the scaffold itself."""

from __future__ import annotations

from typing import TypedDict

__all__ = ["ScaffoldArtifacts"]


class ScaffoldArtifacts(TypedDict):
    """Where the draft and its report are, and the report's figures."""

    product_type: str
    draft: str
    report: str
    required: int
    missing: int
    todos: int
    passing_share: float
