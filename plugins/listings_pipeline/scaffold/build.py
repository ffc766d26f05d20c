"""From a product-type schema, the sample's column profiles and the requirements to a :class:`Draft`.

Each attribute takes the form its schema gives it: a plain ``value``; the shapes the mapping format
has a transform for (an amount and its unit, dimensions, a price with its currency, stock, an
image, a barcode with its kind); or an object built field by field. Each place is filled from the
best column (:mod:`.matching`), a value every seller would choose (:data:`~.vocabulary.DEFAULTS`,
a constant the schema allows alone), or left as a TODO for a person, with the candidates named.

Attributes are decided best match first, and a column feeds one attribute only, so that ``size``
goes to the size and not also to the luggage size. An attribute whose value differs by marketplace
(the EAN in Europe where America takes the UPC; a size system) is written once for the first
marketplace and overridden where it differs; codes whose label depends on the language (colours)
are relabelled per marketplace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from listings_pipeline.scaffold.draft import (
    Draft,
    DraftAttribute,
    DraftColumn,
    DraftMarketplace,
    Leaf,
    SpecTree,
    leaves,
)
from listings_pipeline.scaffold.enums import label_for, propose
from listings_pipeline.scaffold.markets import Market, market
from listings_pipeline.scaffold.matching import Candidate
from listings_pipeline.scaffold.names import name_score, read_column_name
from listings_pipeline.scaffold.picker import Picker
from listings_pipeline.scaffold.profiles import ColumnProfile
from listings_pipeline.scaffold.requirements import Requirement
from listings_pipeline.scaffold.schema_view import (
    attribute_fields,
    attribute_item,
    has_selector,
    leaf_type,
    resolve,
    title,
)
from listings_pipeline.scaffold.shapes import (
    IDENTIFIER_KINDS,
    boolean,
    dimensions,
    identifier,
    offer,
    stock,
    unit,
)
from listings_pipeline.scaffold.vocabulary import DEFAULTS, SIZE_REGIONS

__all__ = ["Market", "build_draft", "market"]

#: an attribute the schema does not require is drafted only with a column this good by name
OPTIONAL_NAME_FLOOR = 0.8
OPTIONAL_FLOOR = 0.7


def build_draft(
    product_type: str,
    schema: Mapping[str, Any],
    profiles: Mapping[str, ColumnProfile],
    markets: Sequence[Market],
    required: Sequence[Requirement],
) -> Draft:
    builder = _Builder(schema, profiles, markets)
    wanted = {r.attribute: r for r in required}
    properties = schema.get("properties") or {}
    order = sorted(
        properties,
        key=lambda name: (-builder.primary_score(name), name not in wanted, name),
    )
    attributes: list[DraftAttribute] = []
    overrides: dict[str, dict[str, DraftAttribute]] = {m.marketplace_id: {} for m in markets}
    for name in order:
        requirement = wanted.get(name)
        if requirement is None and builder.primary_score(name) < OPTIONAL_NAME_FLOOR:
            continue
        drafted = builder.attribute(name, requirement, markets[0])
        if drafted is None:
            continue
        if requirement is None and (drafted.status == "todo" or drafted.confidence < OPTIONAL_FLOOR):
            builder.release(drafted)
            continue
        attributes.append(drafted)
        for other in markets[1:]:
            again = builder.attribute(name, requirement, other, trial=drafted)
            if again is not None and again.spec != drafted.spec:
                builder.claim(again)
                overrides[other.marketplace_id][name] = again
    marketplaces = [
        DraftMarketplace(
            m.marketplace_id,
            m.language_tag,
            m.currency,
            enums=builder.relabels(m, markets[0], attributes),
            attributes=overrides[m.marketplace_id],
        )
        for m in markets
    ]
    everything = [*attributes, *(a for o in overrides.values() for a in o.values())]
    columns = builder.columns(everything)
    used = {c.name for c in columns}
    return Draft(
        product_type=product_type,
        marketplaces=marketplaces,
        attributes=sorted(attributes, key=lambda a: list(properties).index(a.name)),
        columns=columns,
        unused_columns=[c for c, p in profiles.items() if c not in used and p.kind != "empty"],
        empty_columns=[c for c, p in profiles.items() if p.kind == "empty"],
        sample_rows=max((p.rows for p in profiles.values()), default=0),
    )


class _Builder:
    def __init__(
        self, schema: Mapping[str, Any], profiles: Mapping[str, ColumnProfile], markets: Sequence[Market]
    ):
        self.schema = schema
        self.profiles = profiles
        self.markets = markets
        self.pick = Picker(schema, profiles)
        self._primary: dict[str, float] = {}

    # --- columns ----------------------------------------------------------------------------------

    def primary_score(self, name: str) -> float:
        if name not in self._primary:
            label = title(self.schema, name)
            self._primary[name] = max(
                (name_score(read_column_name(c), name, label).score for c in self.profiles), default=0.0
            )
        return self._primary[name]

    def claim(self, attribute: DraftAttribute) -> None:
        self.pick.used.update(attribute.columns())

    def release(self, attribute: DraftAttribute) -> None:
        self.pick.used.difference_update(attribute.columns())

    # --- attributes -------------------------------------------------------------------------------

    def attribute(
        self,
        name: str,
        requirement: Requirement | None,
        where: Market,
        *,
        trial: DraftAttribute | None = None,
    ) -> DraftAttribute | None:
        """The attribute for marketplace ``where``. A ``trial`` (another marketplace's version of an
        attribute already drafted) may use that draft's columns again and takes none for good."""
        fields = attribute_fields(self.schema, name)
        if not fields:
            return None
        saved = set(self.pick.used)
        if trial is not None:
            self.pick.used -= set(trial.columns())
        self.pick.start(required=requirement is not None)
        form, shaped = self._shape(name, fields, where)
        if trial is not None:
            self.pick.used = saved
        spec = _prune(shaped)
        if spec is None:  # an object none of whose fields found anything
            if requirement is None:
                self.pick.used = saved
                return None
            spec = {
                next(iter(fields)): Leaf("todo", wanted=f"the fields of {name}", comment="nothing matched")
            }
        why = requirement.why if requirement else "not required; a column matches it well"
        drafted = DraftAttribute(
            name=name,
            form=form,
            spec=spec,
            required=requirement is not None,
            why=why,
            confidence=round(min(self.pick.scores), 2) if self.pick.scores else 1.0,
            evidence=self.pick.evidence,
            language_tag=has_selector(self.schema, name, "language_tag"),
            marketplace_id=has_selector(self.schema, name, "marketplace_id"),
            always=requirement is not None and requirement.rule is None,
        )
        return drafted

    def _shape(self, name: str, fields: dict[str, dict[str, Any]], where: Market) -> tuple[Any, SpecTree]:
        keys = set(fields)
        if "our_price" in keys and "currency" in keys:
            return "fields", offer(self.pick, name, fields)
        if {"fulfillment_channel_code", "quantity"} <= keys:
            return "fields", stock(self.pick, name, fields)
        if keys == {"media_location"}:
            return "fields", {
                "media_location": self.pick.column_leaf(name, fields["media_location"], "image", "image_url")
            }
        if keys == {"value", "unit"} and leaf_type(fields["value"]) in ("number", "integer"):
            return "object", unit(self.pick, name, fields)
        if keys and keys <= {"length", "width", "height"}:
            return "object", dimensions(self.pick, name, fields)
        kinds = [str(k) for k in fields.get("type", {}).get("enum") or []]
        if keys == {"type", "value"} and any(k in IDENTIFIER_KINDS for k in kinds):
            return "fields", identifier(self.pick, name, fields, kinds, where)
        if keys == {"value"}:
            return "value", self._leaf(name, None, fields["value"], where)
        return "fields", self._object(name, fields, self._required_fields(name), where)

    def _required_fields(self, name: str) -> set[str]:
        return {str(f) for f in attribute_item(self.schema, name).get("required") or []}

    def _object(
        self, name: str, fields: Mapping[str, Any], required: set[str], where: Market
    ) -> dict[str, SpecTree]:
        out: dict[str, SpecTree] = {}
        for field, node in fields.items():
            node = resolve(self.schema, node)
            if field in required:
                out[field] = self._node(name, field, node, where)
            else:
                best, _ = self.pick.pick(name, node, field=field)
                if best is not None and best.confidence >= OPTIONAL_FLOOR:
                    out[field] = self._node(name, field, node, where)
        self._value_class(out, fields)
        return out

    def _value_class(self, out: dict[str, SpecTree], fields: Mapping[str, Any]) -> None:
        """A field that says whether its neighbour's values are words or numbers (a size's class:
        ``alpha`` or ``numeric``), decided from the column the neighbour reads."""
        read = [leaf.column for leaf in leaves(out) if leaf.column and leaf.kind != "todo"]
        for field, spec in out.items():
            values = [str(v) for v in resolve(self.schema, fields[field]).get("enum") or []]
            if not (isinstance(spec, Leaf) and spec.kind == "todo" and {"alpha", "numeric"} <= set(values)):
                continue
            if len(read) == 1:
                numeric = self.profiles[read[0]].kind in ("integer", "number")
                out[field] = Leaf(
                    "constant",
                    const="numeric" if numeric else "alpha",
                    comment=f"{read[0]} holds {'numbers' if numeric else 'letters'}",
                )
                self.pick.scores.remove(0.0)

    def _node(self, name: str, field: str, node: Mapping[str, Any], where: Market) -> SpecTree:
        kind = leaf_type(node)
        if kind == "array":
            items = resolve(self.schema, node.get("items") or {})
            return [self._node(name, field, items, where)]
        if kind == "object":
            props = {k: resolve(self.schema, v) for k, v in (node.get("properties") or {}).items()}
            required = {str(r) for r in node.get("required") or []}
            return (
                self._object(name, props, required, where)
                if props
                else Leaf("todo", wanted=f"{name}.{field}")
            )
        return self._leaf(name, field, node, where)

    # --- one place --------------------------------------------------------------------------------

    def _leaf(self, name: str, field: str | None, node: Mapping[str, Any], where: Market) -> Leaf:
        place = f"{name}.{field}" if field and field != "value" else name
        best, top = self.pick.pick(name, node, field=None if field == "value" else field)
        if best is None:
            return self._no_column(place, field or "value", node, top, where)
        self.pick.used.add(best.column)
        self.pick.note(place, best)
        profile = self.profiles[best.column]
        kind = leaf_type(node)
        if kind == "enum":
            return self._enum_leaf(best.column, profile, node)
        if kind == "boolean":
            return boolean(best.column, profile)
        if kind == "integer":
            return Leaf("integer", best.column)
        if kind == "number":
            return Leaf("decimal", best.column)
        if profile.separator and self._many(name):
            return Leaf("list", best.column, options={"separator": profile.separator})
        if profile.codes and has_selector(self.schema, name, "language_tag"):
            labelled = {code: label_for(code, self.markets[0].language).value for code in profile.distinct}
            if sum(v is not None for v in labelled.values()) * 2 >= len(labelled):
                return Leaf("enum", best.column, codes=labelled, comment="labels from the code list")
        return Leaf("copy", best.column)

    def _many(self, name: str) -> bool:
        prop = (self.schema.get("properties") or {}).get(name) or {}
        return int(prop.get("maxUniqueItems", 1 if prop.get("maxItems") == 1 else 99)) > 1

    def _enum_leaf(self, column: str, profile: ColumnProfile, node: Mapping[str, Any]) -> Leaf:
        values, names = list(node.get("enum") or []), list(node.get("enumNames") or [])
        codes = profile.distinct
        if profile.separator:
            codes = tuple(
                dict.fromkeys(c.strip() for v in codes for c in v.split(profile.separator) if c.strip())
            )
        if all(c in [str(v) for v in values] for c in codes) and not profile.separator:
            return Leaf("copy", column, comment="every sample value is one of the schema's values")
        table: dict[str, str | None] = {}
        hows: list[str] = []
        for code in codes:
            proposal = propose(code, values, names)
            table[code] = proposal.value
            if proposal.value is not None:
                hows.append(f"{code} -> {proposal.value} ({proposal.how})")
        options: dict[str, Any] = {"separator": profile.separator} if profile.separator else {}
        return Leaf("enum", column, codes=table, options=options, comment="; ".join(hows[:4]))

    def _no_column(
        self, place: str, field: str, node: Mapping[str, Any], top: list[Candidate], where: Market
    ) -> Leaf:
        values = [str(v) for v in node.get("enum") or []]
        names = [str(n) for n in node.get("enumNames") or []]
        if len(values) == 1:
            return Leaf("constant", const=values[0], comment="the only value the schema allows")
        default = DEFAULTS.get(field) or DEFAULTS.get(place)
        if default in values:
            return Leaf("constant", const=default, comment="the usual value; change it if yours differ")
        region = SIZE_REGIONS.get(where.country)
        if region and region in names:
            return Leaf(
                "constant",
                const=values[names.index(region)],
                comment=f"{region}: the marketplace's sizing region (enumNames)",
            )
        self.pick.scores.append(0.0)
        candidates = ", ".join(f"{c.column} ({c.confidence:.2f})" for c in top) or "none"
        allowed = f"; one of: {', '.join(values[:12])}" if values else ""
        keyword = place.endswith("_keyword")  # a word of Amazon's browse tree, not a column
        kind = "constant" if values or keyword else "column"
        return Leaf(
            "todo",
            const="TODO" if kind == "constant" else None,
            comment=f"best candidates: {candidates}{allowed}",
            wanted=f"a {kind} for {place}",
        )

    # --- per marketplace and columns --------------------------------------------------------------

    def relabels(
        self, where: Market, base: Market, attributes: Sequence[DraftAttribute]
    ) -> dict[str, dict[str, str | None]]:
        """Labels in this marketplace's language for the code columns translated into words."""
        if where.language == base.language:
            return {}
        out: dict[str, dict[str, str | None]] = {}
        for attribute in attributes:
            if not attribute.language_tag:
                continue
            for leaf in leaves(attribute.spec):
                if leaf.kind != "enum" or leaf.column is None or leaf.comment != "labels from the code list":
                    continue
                table: dict[str, str | None] = {}
                for code, label in leaf.codes.items():
                    if label is None:
                        continue
                    local = label_for(code, where.language).value
                    if local != label:
                        table[code] = local
                if table:
                    out[leaf.column] = table
        return out

    def columns(self, attributes: Sequence[DraftAttribute]) -> list[DraftColumn]:
        types: dict[str, str] = {}
        required: dict[str, bool] = {}
        for attribute in attributes:
            for leaf in leaves(attribute.spec):
                for column in leaf.columns():
                    types.setdefault(column, _column_type(leaf, column, self.profiles[column]))
                    # a row without it cannot be listed: the validation says so first, by column
                    needed = attribute.always and column == leaf.column and leaf.kind != "currency"
                    required[column] = required.get(column, False) or needed
        return [
            DraftColumn(c, types[c], required[c], self.profiles[c].describe())
            for c in self.profiles
            if c in types
        ]


def _prune(tree: SpecTree) -> SpecTree | None:
    """The tree without empty objects and lists (a field nothing was found for); None if nothing is left."""
    if isinstance(tree, Leaf):
        return tree
    if isinstance(tree, dict):
        kept = {k: v for k, v in ((k, _prune(v)) for k, v in tree.items()) if v is not None}
        return kept or None
    items = [v for v in (_prune(v) for v in tree) if v is not None]
    return items or None


def _column_type(leaf: Leaf, column: str, profile: ColumnProfile) -> str:
    if column != leaf.column:
        return "string"  # a unit column
    return {
        "integer": "integer",
        "boolean": "boolean",
        "decimal": "decimal",
        "price": "decimal",
        "unit": "decimal",
        "dimensions": "dimensions",
    }.get(leaf.kind, "text" if profile.kind == "text" else "string")
