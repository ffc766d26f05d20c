"""Fixtures the pipeline tests share: the shipped mappings, policy and schemas, a GX context, pyarrow."""

from __future__ import annotations

from typing import Any

import pytest

from listings_pipeline.catalog.mapping import ProductTypeMapping, load_mappings
from listings_pipeline.catalog.validation import ContentPolicy, load_policy, make_context
from spapi.product_types import ProductTypeSchemas
from tests.conftest import service_missing

from .catalog_paths import MAPPINGS_DIR, META_SCHEMA, MODELS, POLICY, PRODUCT_TYPES_DIR


@pytest.fixture(scope="module")
def pq() -> Any:
    """pyarrow.parquet, to make Parquet inputs and read snapshots back."""
    try:
        import pyarrow.parquet
    except ImportError:
        service_missing("pyarrow is not installed: it is the extract step's Parquet engine")
    return pyarrow.parquet


@pytest.fixture(scope="module")
def mappings() -> dict[str, ProductTypeMapping]:
    return load_mappings(MAPPINGS_DIR)


@pytest.fixture(scope="module")
def policy() -> ContentPolicy:
    return load_policy(POLICY)


@pytest.fixture(scope="module")
def gx_context() -> Any:
    """One GX context per module: importing GX is what is slow, so do it once."""
    return make_context()


@pytest.fixture(scope="module")
def schemas() -> ProductTypeSchemas:
    return ProductTypeSchemas(META_SCHEMA, [MODELS / "schemas" / "definitions", PRODUCT_TYPES_DIR])
