"""Product Type Definitions API 2020-09-01 models.

Source of truth: ``models/product-type-definitions-api-model/definitionsProductTypes_2020-09-01.json``.
``requirements``, ``requirementsEnforced`` and ``link.verb`` are lenient response enums.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ResponseModel
from .listings import Requirements

RequirementsEnforced = Literal["ENFORCED", "NOT_ENFORCED"]
ParentageLevel = Literal["NONE", "CHILD", "PARENT"]


class ProductType(ResponseModel):
    name: str
    display_name: str
    marketplace_ids: list[str]


class ProductTypeList(ResponseModel):
    """``searchDefinitionsProductTypes`` response. ``productTypeVersion`` is a plain string here."""

    product_types: list[ProductType]
    product_type_version: str


class Link(ResponseModel):
    """Where to download a schema. ``resource`` is a presigned URL valid for 7 days."""

    resource: str
    verb: Literal["GET"] | str


class SchemaLink(ResponseModel):
    """``checksum`` is a Base64 MD5 of the schema: cache downloads by it."""

    link: Link
    checksum: str


class PropertyGroup(ResponseModel):
    title: str | None = None
    description: str | None = None
    property_names: list[str] | None = None


class ProductTypeVersion(ResponseModel):
    version: str
    latest: bool
    release_candidate: bool | None = None


class ProductTypeDefinition(ResponseModel):
    """``getDefinitionsProductType`` response.

    The wire field ``schema`` is the attribute ``schema_`` (``schema`` is a ``BaseModel`` method).
    """

    schema_: SchemaLink = Field(alias="schema")
    requirements: Requirements | str
    requirements_enforced: RequirementsEnforced | str
    property_groups: dict[str, PropertyGroup]
    locale: str
    marketplace_ids: list[str]
    product_type: str
    display_name: str
    product_type_version: ProductTypeVersion
    meta_schema: SchemaLink | None = None
