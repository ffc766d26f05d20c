"""The listings domain: catalog sources, mappings, validation, change planning, warehouse, routing.

Depends on ``spapi`` (never the reverse); DAG files depend on this package.
"""
