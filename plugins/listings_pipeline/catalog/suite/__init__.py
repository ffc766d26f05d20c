"""The Great Expectations suite of one product type, as :class:`Rule` records: generated from its
catalog mapping (:mod:`.columns`, :mod:`.checks`) and the seller's content policy (:mod:`.text`,
:mod:`.content`, :mod:`.characters`). :mod:`listings_pipeline.catalog.validation` runs it.

Every rule is a GX expectation on a whole column (a pattern, a set, a pair comparison), so it shows
in Data Docs and runs vectorised; what a pattern cannot decide is computed first into a derived
column (:class:`Derived`).
"""

from __future__ import annotations

from collections.abc import Iterable

from listings_pipeline.catalog.content_policy import ContentPolicy
from listings_pipeline.catalog.mapping import ProductTypeMapping
from listings_pipeline.catalog.suite.checks import check_rules
from listings_pipeline.catalog.suite.columns import column_rules
from listings_pipeline.catalog.suite.rule import (
    DATE_CHECK_SUFFIX,
    DATE_SUFFIX,
    NUMERIC_SUFFIX,
    Derived,
    Explain,
    Rule,
    make_rule,
    quoted,
)
from listings_pipeline.catalog.suite.text import policy_rules

__all__ = [
    "DATE_CHECK_SUFFIX",
    "DATE_SUFFIX",
    "NUMERIC_SUFFIX",
    "Derived",
    "Explain",
    "Rule",
    "suite_rules",
]


def suite_rules(
    mapping: ProductTypeMapping, policy: ContentPolicy | None = None, *, columns: Iterable[str] | None = None
) -> list[Rule]:
    """Every rule of the suite, in order. With ``columns`` (those the frame has), rules on absent
    optional columns are left out, and uniqueness is per SKU alone when there is no marketplace_id."""
    policy = policy or ContentPolicy()
    present = set(columns) if columns is not None else None
    has_marketplace = present is None or "marketplace_id" in present
    specs = dict(mapping.columns)
    specs.setdefault("sku", mapping.column_spec("sku"))
    rules = [
        *_required_rules(mapping),
        *(rule for name, spec in specs.items() for rule in column_rules(mapping, name, spec)),
        *(_marketplace_rules(mapping) if has_marketplace else [_unique_sku_rule()]),
        *policy_rules(mapping, policy),
        *check_rules(mapping),
    ]
    if present is not None:
        rules = [r for r in rules if r.table_level or all(c in present for c in r.needs)]
    return rules


def _required_rules(mapping: ProductTypeMapping) -> list[Rule]:
    """A required column must be there (one table-level failure reported per row) and filled."""
    rules: list[Rule] = []
    for name in mapping.required_columns():
        rules.append(
            make_rule(
                "ExpectColumnToExist",
                name,
                f"the catalog has a column {name!r}",
                lambda v, r, name=name: f"required column {name!r} is not in the catalog",
                column=name,
                table_level=True,
            )
        )
        rules.append(
            make_rule(
                "ExpectColumnValuesToNotBeNull",
                name,
                f"{name} is not empty",
                lambda v, r, name=name: f"required column {name!r} is empty",
                column=name,
            )
        )
    return rules


def _marketplace_rules(mapping: ProductTypeMapping) -> list[Rule]:
    """With a marketplace column: one row per SKU in each marketplace, only marketplaces the
    mapping serves, and a row's own currency that of its marketplace."""
    served = list(mapping.marketplaces)
    return [
        make_rule(
            "ExpectCompoundColumnsToBeUnique",
            "sku",
            "one row per SKU and marketplace",
            lambda v, r: f"SKU {quoted(v)} appears more than once in marketplace {r.get('marketplace_id')}",
            needs=("sku", "marketplace_id"),
            column_list=["sku", "marketplace_id"],
        ),
        make_rule(
            "ExpectColumnValuesToBeInSet",
            "marketplace_id",
            f"the {mapping.product_type} mapping serves the marketplace",
            lambda v, r: (
                f"marketplace {v} is not served by the {mapping.product_type} mapping ({mapping.source}); "
                f"it serves {', '.join(served)}"
            ),
            column="marketplace_id",
            value_set=served,
        ),
        *_currency_rules(mapping),
    ]


def _currency_rules(mapping: ProductTypeMapping) -> list[Rule]:
    currency_columns = {column for _, leaf in mapping.leaves() if (column := leaf.currency_column())}
    pairs = [(mid, s.currency) for mid, s in mapping.marketplaces.items() if s.currency]
    expected = dict(pairs)
    return [
        make_rule(
            "ExpectColumnPairValuesToBeInSet",
            column,
            f"{column} is the marketplace's currency",
            lambda v, r: (
                f"currency {v} is not the currency of marketplace {r.get('marketplace_id')} "
                f"({expected.get(str(r.get('marketplace_id')), 'none configured')})"
            ),
            needs=("marketplace_id", column),
            column_A="marketplace_id",
            column_B=column,
            value_pairs_set=pairs,
            ignore_row_if="either_value_is_missing",
        )
        for column in sorted(currency_columns)
    ]


def _unique_sku_rule() -> Rule:
    """Without a marketplace column the catalog is one marketplace's: one row per SKU."""
    return make_rule(
        "ExpectColumnValuesToBeUnique",
        "sku",
        "one row per SKU",
        lambda v, r: f"SKU {quoted(v)} appears more than once",
        column="sku",
    )
