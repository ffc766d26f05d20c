"""The questions every DAG form asks alike: which pipeline config, and which of its sellers.

Why here: a dozen DAGs ask them, and the targets task reads both answers (``config_path``,
``sellers``) the same way in each; one definition keeps their type, wording and default alike. The
fields are Param keywords (``Param(**config_path_field())``), so this module imports no Airflow.
"""

from __future__ import annotations

from typing import TypedDict


class ParamFields(TypedDict, total=False):
    """The keywords of an Airflow ``Param`` these fields set."""

    default: object
    type: list[str]
    title: str
    description_md: str
    section: str
    items: dict[str, str]
    examples: list[str]
    values_display: dict[str, str]


def config_path_field(*, section: str | None = None, more: str = "") -> ParamFields:
    """The pipeline YAML to read (``None``: ``include/pipeline.yaml``); ``more`` adds a sentence."""
    field: ParamFields = {
        "default": None,
        "type": ["null", "string"],
        "title": "Pipeline config",
        "description_md": f"Path of the pipeline YAML; empty for `include/pipeline.yaml`.{more}",
    }
    if section is not None:
        field["section"] = section
    return field


def sellers_field(choices: dict[str, str], verb: str) -> ParamFields:
    """The configured sellers as a multi-select (``choices``: ``forms.choices``), none for all;
    ``verb`` says what the run does for them ("sync", "read", ...)."""
    field: ParamFields = {
        "default": [],
        "type": ["null", "array"],
        "items": {"type": "string"},
        "title": "Only these sellers",
        "description_md": f"Sellers to {verb} in this run; empty for all sellers in the config.",
    }
    if choices:  # an empty ``examples`` would be a multi-select with nothing to pick (``suggest``)
        field["examples"], field["values_display"] = list(choices), choices
    return field
