"""The mapping scaffold: a first draft of ``include/catalog_mappings/<TYPE>.yaml`` for a new product type.

From the product type's schema (through the Product Type Definitions API, cached by checksum) and a
sample of the seller's catalog it drafts every attribute the schema requires, including those its
conditional rules require for the sample's values, each fed by the best-matching column with the
evidence and a confidence; it proposes enum translations, marks with TODO what it cannot decide,
and measures the draft with the pipeline's own validate and map steps (docs/scaffold.md).

Modules, in the order of a run: ``schemas`` (fetch), ``sample`` (extract), ``profiles`` (what each
column holds), ``requirements`` (required, and conditionally), ``names`` and ``vocabulary`` (name
matching), ``enums`` (code translations), ``matching`` (how well a column fits a place), ``picker``
(the columns still free and what each place found), ``shapes`` (the shapes with a transform of
their own), ``markets``, ``build`` (the :class:`~.draft.Draft`), ``writer`` (YAML with comments),
``coverage`` (the report), ``run``; ``task`` and ``artifacts`` for the DAG.
"""
