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
from dataclasses import dataclass
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
from listings_pipeline.scaffold.matching import Candidate, rank
from listings_pipeline.scaffold.names import name_score, normalise, read_column_name
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
from listings_pipeline.scaffold.vocabulary import DEFAULTS, SIZE_REGIONS, UNIT_SUFFIXES
from spapi.regions import MARKETPLACE_CURRENCIES, MARKETPLACE_LANGUAGES, MARKETPLACES

__all__ = ["Market", "build_draft", "market"]

#: below this a required place is left TODO (the candidates are named in its comment)
REQUIRED_FLOOR = 0.5
#: an attribute the schema does not require is drafted only with a column this good by name
OPTIONAL_NAME_FLOOR = 0.8
OPTIONAL_FLOOR = 0.7
#: a required place with no free column may share one this good
SHARED_FLOOR = 0.75
_IDENTIFIER_KINDS = ("upc", "ean", "gtin", "isbn")


@dataclass(frozen=True)
class Market:
    """A marketplace as the draft needs it: its country, language and currency."""

    marketplace_id: str
    country: str
    language_tag: str
    currency: str | None

    @property
    def language(self) -> str:
        return self.language_tag.split("_")[0]


def market(marketplace_id: str) -> Market:
    return Market(
        marketplace_id,
        MARKETPLACES[marketplace_id][0],
        MARKETPLACE_LANGUAGES[marketplace_id][0],
        MARKETPLACE_CURRENCIES.get(marketplace_id),
    )


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
        self.used: set[str] = set()
        self._primary: dict[str, float] = {}
        self._required = False

    # --- columns ----------------------------------------------------------------------------------

    def primary_score(self, name: str) -> float:
        if name not in self._primary:
            label = title(self.schema, name)
            self._primary[name] = max(
                (name_score(read_column_name(c), name, label).score for c in self.profiles), default=0.0
            )
        return self._primary[name]

    def claim(self, attribute: DraftAttribute) -> None:
        self.used.update(attribute.columns())

    def release(self, attribute: DraftAttribute) -> None:
        self.used.difference_update(attribute.columns())

    def _pick(
        self, attribute: str, node: Mapping[str, Any], *, field: str | None = None, role: str = ""
    ) -> tuple[Candidate | None, list[Candidate]]:
        ranked = rank(
            self.profiles,
            attribute,
            title(self.schema, attribute),
            node,
            field=field,
            role=role,
            exclude=frozenset(self.used),
        )
        best = ranked[0] if ranked and ranked[0].confidence >= REQUIRED_FLOOR else None
        if best is None and self._required:
            # a required place may share a column another attribute reads (the item's dimensions
            # and the package's, from one column), when nothing else fits
            shared = rank(
                self.profiles, attribute, title(self.schema, attribute), node, field=field, role=role
            )
            if shared and shared[0].confidence >= SHARED_FLOOR:
                first = shared[0]
                best = Candidate(
                    first.column, first.confidence, (*first.evidence, "also read by another attribute")
                )
        return best, ranked[:3]

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
        saved = set(self.used)
        if trial is not None:
            self.used -= set(trial.columns())
        self._evidence: list[str] = []
        self._scores: list[float] = []
        self._required = requirement is not None
        form, shaped = self._shape(name, fields, where)
        if trial is not None:
            self.used = saved
        spec = _prune(shaped)
        if spec is None:  # an object none of whose fields found anything
            if requirement is None:
                self.used = saved
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
            confidence=round(min(self._scores), 2) if self._scores else 1.0,
            evidence=self._evidence,
            language_tag=has_selector(self.schema, name, "language_tag"),
            marketplace_id=has_selector(self.schema, name, "marketplace_id"),
            always=requirement is not None and requirement.rule is None,
        )
        return drafted

    def _shape(self, name: str, fields: dict[str, dict[str, Any]], where: Market) -> tuple[Any, SpecTree]:
        keys = set(fields)
        if "our_price" in keys and "currency" in keys:
            return "fields", self._offer(name, fields)
        if {"fulfillment_channel_code", "quantity"} <= keys:
            return "fields", self._stock(name, fields)
        if keys == {"media_location"}:
            return "fields", {
                "media_location": self._column_leaf(name, fields["media_location"], "image", "image_url")
            }
        if keys == {"value", "unit"} and leaf_type(fields["value"]) in ("number", "integer"):
            return "object", self._unit(name, fields)
        if keys and keys <= {"length", "width", "height"}:
            return "object", self._dimensions(name, fields)
        kinds = [str(k) for k in fields.get("type", {}).get("enum") or []]
        if keys == {"type", "value"} and any(k in _IDENTIFIER_KINDS for k in kinds):
            return "fields", self._identifier(name, fields, kinds, where)
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
                best, _ = self._pick(name, node, field=field)
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
                self._scores.remove(0.0)

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
        best, top = self._pick(name, node, field=None if field == "value" else field)
        if best is None:
            return self._no_column(place, field or "value", node, top, where)
        self.used.add(best.column)
        self._note(place, best)
        profile = self.profiles[best.column]
        kind = leaf_type(node)
        if kind == "enum":
            return self._enum_leaf(best.column, profile, node)
        if kind == "boolean":
            return _boolean(best.column, profile)
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
        self._scores.append(0.0)
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

    def _column_leaf(self, name: str, node: Mapping[str, Any], role: str, transform: str) -> Leaf:
        best, top = self._pick(name, node, role=role)
        if best is None:
            self._scores.append(0.0)
            candidates = ", ".join(f"{c.column} ({c.confidence:.2f})" for c in top) or "none"
            return Leaf("todo", comment=f"best candidates: {candidates}", wanted=f"the column of {name}")
        self.used.add(best.column)
        self._note(name, best)
        return Leaf(transform, best.column)

    def _note(self, place: str, best: Candidate) -> None:
        self._scores.append(best.confidence)
        self._evidence.append(f"{place} <- {best.column} ({best.confidence:.2f}): {'; '.join(best.evidence)}")

    # --- the shapes with a transform of their own -------------------------------------------------

    def _offer(self, name: str, fields: Mapping[str, Any]) -> dict[str, SpecTree]:
        price = self._column_leaf(name, {"type": "number"}, "price", "price")
        currency_best, _ = self._pick(name, fields["currency"], field="currency", role="currency")
        currency = Leaf("currency", currency_best.column if currency_best else None)
        if currency_best:
            self.used.add(currency_best.column)
            self._note(f"{name}.currency", currency_best)
        else:
            currency.comment = "the marketplace's currency (marketplaces.<id>.currency)"
        return {"currency": currency, "our_price": [{"schedule": [{"value_with_tax": price}]}]}

    def _stock(self, name: str, fields: Mapping[str, Any]) -> dict[str, SpecTree]:
        channel = fields["fulfillment_channel_code"]
        codes = [str(v) for v in channel.get("enum") or []]
        code = DEFAULTS["fulfillment_channel_code"]
        channel_leaf = (
            Leaf("constant", const=code, comment="the merchant's own stock")
            if not codes or code in codes
            else Leaf("todo", wanted="the fulfillment channel", comment=f"one of: {', '.join(codes)}")
        )
        return {
            "fulfillment_channel_code": channel_leaf,
            "quantity": self._column_leaf(name, {"type": "integer"}, "quantity", "integer"),
        }

    def _unit(self, name: str, fields: Mapping[str, Any]) -> Leaf:
        units = [str(u) for u in fields["unit"].get("enum") or []]
        best, top = self._pick(name, fields["value"], role="unit_value")
        if best is None:
            self._scores.append(0.0)
            candidates = ", ".join(f"{c.column} ({c.confidence:.2f})" for c in top) or "none"
            return Leaf(
                "todo", comment=f"best candidates: {candidates}", wanted=f"the number column of {name}"
            )
        self.used.add(best.column)
        self._note(name, best)
        suffix = read_column_name(best.column).unit
        if suffix in units:
            return Leaf(
                "unit",
                best.column,
                options={"unit": suffix},
                comment=f"the unit from the column's name ({suffix})",
            )
        unit_column = self._unit_column(best.column)
        if unit_column is not None:
            self.used.add(unit_column)
            table = {code: _unit_name(code, units) for code in self.profiles[unit_column].distinct}
            return Leaf(
                "unit",
                best.column,
                options={"unit_column": unit_column, "units": {k: v or "TODO" for k, v in table.items()}},
                comment=f"the unit from column {unit_column}",
            )
        if self.profiles[best.column].kind == "number_unit":
            tokens = {"".join(ch for ch in v if ch.isalpha()) for v in self.profiles[best.column].distinct}
            table = {t: _unit_name(t, units) for t in sorted(tokens) if t}
            return Leaf("unit", best.column, options={"units": {k: v or "TODO" for k, v in table.items()}})
        self._scores.append(0.0)
        return Leaf(
            "unit",
            best.column,
            options={"unit": "TODO"},
            comment=f"one of: {', '.join(units)}",
            wanted=f"the unit of {best.column}",
        )

    def _unit_column(self, column: str) -> str | None:
        base = read_column_name(column).words
        for other, profile in self.profiles.items():
            if other == column or other in self.used or profile.kind != "code":
                continue
            words = normalise(other).split()
            if (
                words
                and words[-1] in ("unit", "uom", "einheit", "unite", "unidad")
                and (" ".join(words[:-1]) in ("", base) or base.startswith(" ".join(words[:-1])))
            ):
                return other
        return None

    def _dimensions(self, name: str, fields: Mapping[str, Any]) -> Leaf:
        first = resolve(self.schema, next(iter(fields.values())))
        unit_node = resolve(self.schema, (first.get("properties") or {}).get("unit") or {})
        units = [str(u) for u in unit_node.get("enum") or []]
        leaf = self._column_leaf(name, {}, "dimensions", "dimensions")
        if leaf.kind == "todo" or leaf.column is None:
            return leaf
        suffix = read_column_name(leaf.column).unit
        if suffix in units:
            leaf.options["unit"] = suffix
            leaf.comment = f"the unit from the column's name ({suffix})"
        else:
            leaf.options["unit"] = "TODO"
            leaf.wanted = f"the unit of {leaf.column}"
            leaf.comment = f"unless the cells carry it; one of: {', '.join(units)}"
        return leaf

    def _identifier(
        self, name: str, fields: Mapping[str, Any], kinds: list[str], where: Market
    ) -> dict[str, SpecTree]:
        region = SIZE_REGIONS.get(where.country)
        order = ("ean", "gtin", "upc") if region in ("EU", "UK") else ("upc", "gtin", "ean")
        for kind in order:
            if kind not in kinds:
                continue
            column = next(
                (
                    c
                    for c, p in self.profiles.items()
                    if p.kind == "barcode" and kind in read_column_name(c).words.split()
                ),
                None,
            )
            if column is not None:
                self.used.add(column)
                self._scores.append(0.9)
                self._evidence.append(
                    f"{name} <- {column}: a column of barcodes named {kind} ({where.country})"
                )
                return {"type": Leaf("constant", const=kind), "value": Leaf("copy", column)}
        best, top = self._pick(name, fields["value"], role="identifier")
        if best is None:
            self._scores.append(0.0)
            candidates = ", ".join(f"{c.column} ({c.confidence:.2f})" for c in top) or "none"
            return {
                "type": Leaf("todo", wanted="the kind of barcode", comment=f"one of: {', '.join(kinds)}"),
                "value": Leaf("todo", wanted="the barcode column", comment=f"best candidates: {candidates}"),
            }
        self.used.add(best.column)
        self._note(name, best)
        return {
            "type": Leaf(
                "todo", wanted=f"the kind of barcode in {best.column}", comment=f"one of: {', '.join(kinds)}"
            ),
            "value": Leaf("copy", best.column),
        }

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


#: yes and no in the languages of :mod:`.vocabulary` (the boolean transform knows Y/N, yes/no, 1/0)
_YES = ("ja", "oui", "si", "sí", "x", "wahr", "vrai")
_NO = ("nein", "non", "no", "falsch", "faux")
_KNOWN_YES_NO = {"y", "yes", "true", "1", "n", "no", "false", "0"}


def _boolean(column: str, profile: ColumnProfile) -> Leaf:
    """A yes/no column; its own words for yes and no when they are not the transform's defaults."""
    words = [v for v in profile.distinct if v.lower() not in _KNOWN_YES_NO]
    if not words:
        return Leaf("boolean", column)
    yes = [v for v in profile.distinct if v.lower() in (*_YES, "y", "yes", "true", "1")]
    no = [v for v in profile.distinct if v.lower() in (*_NO, "n", "false", "0")]
    if len(yes) + len(no) < len(profile.distinct):
        return Leaf("boolean", column, comment=f"check: {', '.join(words)} are not yes/no words")
    return Leaf(
        "boolean",
        column,
        options={"true_values": yes, "false_values": no},
        comment="the column's own yes/no words",
    )


def _unit_name(code: str, units: Sequence[str]) -> str | None:
    named = UNIT_SUFFIXES.get(normalise(code).replace(" ", ""))
    if named in units:
        return named
    return propose(code, units).value


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
