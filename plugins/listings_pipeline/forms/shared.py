"""The questions every DAG form asks alike: which pipeline config, and which of its sellers.

Why here: a dozen DAGs ask them, and the targets task reads both answers (``config_path``,
``sellers``) the same way in each; one definition keeps their type, wording and default alike. The
fields are Param keywords (``Param(**config_path_field())``), so this module imports no Airflow.
What the choices are (the configured sellers and marketplaces) is ``forms.choices``' job; how a
form offers them (``pick_one``, ``suggest``) is this module's. The SKU and marketplace questions of
the operators' forms are here too: the forms' checks (``forms.skus``, ``forms.hotfix``) read their
answers alike, so the fields must not drift apart.
"""

from __future__ import annotations

from typing import TypedDict

from listings_pipeline.forms.choices import all_marketplaces


class Offer(TypedDict, total=False):
    """The keywords of an Airflow ``Param`` that offer choices (``pick_one``, ``suggest``): no
    ``default``, so that they can be added to a ``Param`` that has its own."""

    enum: list[str]
    examples: list[str]
    values_display: dict[str, str]


class Items(TypedDict, total=False):
    """The schema of an ``array`` field's items."""

    type: str
    enum: list[str]


class ParamFields(Offer, total=False):
    """The keywords of an Airflow ``Param`` these fields set."""

    default: object
    type: str | list[str]
    format: str
    minLength: int
    minItems: int
    title: str
    description_md: str
    section: str
    items: Items


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


def pick_one(choices: dict[str, str]) -> Offer:
    """Param keywords that make a text field a drop-down of ``choices`` (``enum``: nothing else is
    taken), labelled; none without choices, so that the field takes any text."""
    return {"enum": list(choices), "values_display": choices} if choices else {}


def suggest(choices: dict[str, str]) -> Offer:
    """Param keywords offering ``choices`` without restricting to them: an ``array`` field becomes a
    multi-select of them, a text field suggests them as you type. None without choices: an empty
    ``examples`` would be a multi-select with nothing to pick."""
    return {"examples": list(choices), "values_display": choices} if choices else {}


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
    return {**field, **suggest(choices)}


def seller_field(
    choices: dict[str, str],
    *,
    only_configured: bool,
    required: bool = False,
    title: str = "Seller",
    description_md: str | None = None,
    section: str | None = None,
) -> ParamFields:
    """One seller id, for the operators' DAGs that act for a single seller.

    ``only_configured``: a drop-down of ``choices`` (a run can only act for a seller it has a
    connection for); otherwise they are suggested and any id is taken (a dead letter may belong to
    a seller since removed from the config). ``required``: the run needs one (no default); otherwise
    empty means none (each DAG says what that means in ``description_md``).
    """
    field: ParamFields = (
        {"type": "string", "minLength": 1} if required else {"default": None, "type": ["null", "string"]}
    )
    field["title"] = title
    if description_md is not None:
        field["description_md"] = description_md
    if section is not None:
        field["section"] = section
    return {**field, **(pick_one(choices) if only_configured else suggest(choices))}


def skus_field(*, description_md: str, required: bool = False, section: str | None = None) -> ParamFields:
    """Seller SKUs as free text, one per line or separated by commas (``forms.skus`` reads and
    checks them), for the operators' DAGs that act on a few SKUs. ``required``: the run needs at
    least one (no default); otherwise empty means any SKU, or none (``description_md`` says which).
    """
    field: ParamFields = (
        {"type": "string", "format": "multiline", "minLength": 1}
        if required
        else {"default": None, "type": ["null", "string"], "format": "multiline"}
    )
    field["title"] = "SKUs"
    field["description_md"] = description_md
    if section is not None:
        field["section"] = section
    return field


def marketplaces_field(configured: dict[str, str], *, description_md: str) -> ParamFields:
    """One or more marketplaces, required. ``configured`` (``forms.choices``) are suggested, but the
    form takes any Amazon marketplace, each labelled by name: a run may read another config than the
    deployed one the form was built from, and its first task says which are the seller's own."""
    every = all_marketplaces()
    return {
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "enum": list(every)},
        "examples": list(configured),
        "values_display": every,
        "title": "Marketplaces",
        "description_md": description_md,
    }
