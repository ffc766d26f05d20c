"""A :class:`Draft` as mapping-file YAML, with the evidence as comments and TODO markers.

PyYAML writes no comments, so the block structure is written here and each transform as one
flow mapping through ``yaml.safe_dump`` (its quoting is what the loader reads back). The same draft
can be written *runnable*: every attribute, code and label still marked TODO left out, which is
what the coverage figure is measured on (a draft with TODOs is refused by the loader on purpose).
"""

from __future__ import annotations

from typing import Any

import yaml

from listings_pipeline.catalog.mapping_todos import TODO
from listings_pipeline.scaffold.draft import Draft, DraftAttribute, Leaf, SpecTree, leaves
from spapi.regions import marketplace_name

__all__ = ["render"]


def _flow(value: Any) -> str:
    text: str = yaml.safe_dump(
        value, default_flow_style=True, width=1 << 30, allow_unicode=True, sort_keys=False
    )
    return text.strip().removesuffix("...").strip()


def _leaf_data(leaf: Leaf, runnable: bool) -> dict[str, Any]:
    if leaf.kind == "todo":
        return {"const": TODO} if leaf.const is not None else {"column": TODO}
    if leaf.kind == "copy":
        return {"column": leaf.column}
    if leaf.kind == "constant":
        return {"const": leaf.const}
    data: dict[str, Any] = {"transform": leaf.kind}
    if leaf.column is not None:
        data["column"] = leaf.column
    for key, option in leaf.options.items():
        if isinstance(option, dict):
            table = {k: v for k, v in option.items() if not (runnable and v == TODO)}
            data[key] = table
        else:
            data[key] = option
    if leaf.codes:
        data["values"] = {
            code: TODO if label is None else label
            for code, label in leaf.codes.items()
            if not (runnable and label is None)
        }
    return data


def _usable(leaf: Leaf) -> bool:
    """Whether a runnable draft can keep the leaf (some translation left, no option TODO)."""
    if leaf.kind == "todo":
        return False
    if leaf.codes and all(v is None for v in leaf.codes.values()):
        return False
    for option in leaf.options.values():
        if option == TODO:
            return False
        if isinstance(option, dict) and option and all(v == TODO for v in option.values()):
            return False
    return True


def _comment(leaf: Leaf) -> str:
    if leaf.todo:
        wanted = leaf.wanted or "a translation for each code marked TODO"
        return f"  # TODO: {wanted}" + (f"; {leaf.comment}" if leaf.comment else "")
    return f"  # {leaf.comment}" if leaf.comment else ""


def _tree(tree: SpecTree, indent: int, runnable: bool) -> list[str]:
    """The lines of an object of fields or a list (a leaf is written by its parent)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(tree, dict):
        for key, sub in tree.items():
            if isinstance(sub, Leaf):
                lines.append(f"{pad}{key}: {_flow(_leaf_data(sub, runnable))}{_comment(sub)}")
            else:
                lines.append(f"{pad}{key}:")
                lines.extend(_tree(sub, indent + 2, runnable))
    elif isinstance(tree, list):
        for sub in tree:
            if isinstance(sub, Leaf):
                lines.append(f"{pad}- {_flow(_leaf_data(sub, runnable))}{_comment(sub)}")
            else:
                inner = _tree(sub, indent + 2, runnable)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
    return lines


def _attribute(attribute: DraftAttribute, indent: int, runnable: bool) -> list[str]:
    pad = " " * indent
    lines = [
        f"{pad}# {'required' if attribute.required else 'optional'}: {attribute.why}; "
        f"confidence {attribute.confidence:.2f}"
    ]
    lines.extend(f"{pad}#   {line}" for line in attribute.evidence)
    lines.append(f"{pad}{attribute.name}:")
    inner = " " * (indent + 2)
    if attribute.language_tag:
        lines.append(f"{inner}language_tag: true")
    if not attribute.marketplace_id:
        lines.append(f"{inner}marketplace_id: false")
    if isinstance(attribute.spec, Leaf):
        lines.append(
            f"{inner}{attribute.form}: {_flow(_leaf_data(attribute.spec, runnable))}{_comment(attribute.spec)}"
        )
    else:
        lines.append(f"{inner}{attribute.form}:")
        lines.extend(_tree(attribute.spec, indent + 4, runnable))
    return lines


def _kept(attribute: DraftAttribute, runnable: bool) -> bool:
    return not runnable or all(_usable(leaf) for leaf in leaves(attribute.spec))


def render(draft: Draft, *, runnable: bool = False) -> str:
    """The draft's YAML; ``runnable`` leaves out whatever is still TODO."""
    todos = draft.todo_count()
    lines = [
        f"# Draft catalog mapping for Amazon product type {draft.product_type}, written by the mapping",
        "# scaffold (python -m listings_pipeline.scaffold) from the product type's schema and a sample of",
        f"# {draft.sample_rows} catalog rows. Each attribute says why it is here, which column feeds it and",
        "# how sure the scaffold is (0..1). Check them all; a confident guess can still be wrong.",
    ]
    if runnable:
        lines.append(
            "# RUNNABLE COPY: everything still TODO is left out (what the coverage report measures)."
        )
    elif todos:
        lines.append(
            f"# {todos} value(s) are TODO: fill them in; the mapping loader refuses this file until none is left."
        )
    lines += [
        "# Format: plugins/listings_pipeline/catalog/mapping.py.",
        f"product_type: {draft.product_type}",
        "requirements: LISTING",
        f"description: {_flow(f'{draft.product_type} (drafted by the mapping scaffold)')}",
        "",
        "marketplaces:",
    ]
    for market in draft.marketplaces:
        lines.append(f"  {market.marketplace_id}:  # {marketplace_name(market.marketplace_id)}")
        lines.append(f"    language_tag: {market.language_tag}")
        if market.currency:
            lines.append(f"    currency: {market.currency}")
        enums = {
            column: {c: (TODO if v is None else v) for c, v in table.items() if not (runnable and v is None)}
            for column, table in market.enums.items()
        }
        enums = {c: t for c, t in enums.items() if t}
        if enums:
            lines.append("    enums:  # labels in this marketplace's language")
            for column, table in enums.items():
                todo = "  # TODO: a label for each code marked TODO" if TODO in table.values() else ""
                lines.append(f"      {column}: {_flow(table)}{todo}")
        overrides = [a for a in market.attributes.values() if _kept(a, runnable)]
        if overrides:
            lines.append("    attributes:  # sent here instead of the attributes below")
            for attribute in overrides:
                lines.extend(_attribute(attribute, 6, runnable))
    lines += ["", "columns:"]
    for declared in draft.columns:
        spec: dict[str, Any] = {"type": declared.type}
        if declared.required:
            spec["required"] = True
        lines.append(f"  {_flow(declared.name)}: {_flow(spec)}  # {declared.comment}")
    if draft.unused_columns:
        lines.append(f"# not used by this draft: {', '.join(draft.unused_columns)}")
    if draft.empty_columns:
        lines.append(f"# empty in the sample: {', '.join(draft.empty_columns)}")
    lines += ["", "attributes:"]
    for attribute in draft.attributes:
        if _kept(attribute, runnable):
            lines.extend(_attribute(attribute, 2, runnable))
    return "\n".join(lines) + "\n"
