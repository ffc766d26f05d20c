"""The ``listings_hotfix`` form: every problem of it found in one pass, then the typed request.

:func:`check_form` reads each field on its own (a bad one does not hide the next), then what
depends on several (each action's fields, the price's currency, a sale's dates), then, when it is
given them, the pipeline config (the seller and its marketplaces) and what the warehouse knows of
the SKUs (their product types). :func:`validate_form`, the DAG's first task, gathers the config,
the warehouse and the seller's connection for it, so a form fails once with everything wrong.

A SKU's product type comes from the warehouse (``listings.product_type``) when it knows the SKU;
the form's product type is needed only for SKUs it does not know, and one that contradicts the
warehouse is a problem (Amazon would file the patch under the wrong product type).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, cast

from pydantic import BaseModel, ConfigDict, ValidationError

from listings_pipeline.changes import HotfixForm
from listings_pipeline.forms.fields import FieldReader, entries
from listings_pipeline.forms.known import KnownListing
from listings_pipeline.forms.money import check_amount, check_currency
from listings_pipeline.forms.problems import FormError, FormProblem, problem
from listings_pipeline.forms.skus import check_skus
from spapi.models.listings import PATCH_PATH_PATTERN, PatchOperation
from spapi.regions import MARKETPLACES, marketplace_name

if TYPE_CHECKING:
    from listings_pipeline.config import PipelineConfig

FORM = "hotfix"
Action = Literal["price", "quantity", "patch", "delete", "put_from_catalog"]
ACTIONS: tuple[Action, ...] = ("price", "quantity", "patch", "delete", "put_from_catalog")
#: Amazon's patchListingsItem names the product type; delete and a put from the catalog do not need
#: the form's (the catalog row has its own)
NEEDS_PRODUCT_TYPE: tuple[Action, ...] = ("price", "quantity", "patch")
MAX_SKUS = 500
MAX_QUANTITY = 100_000_000
PATCH_OPS = ("add", "replace", "merge", "delete")

#: The fields each action uses besides seller, marketplaces, SKUs, product type and preview.
ACTION_FIELDS: dict[Action, tuple[str, ...]] = {
    "price": ("price", "currency", "sale_price", "sale_start", "sale_end", "minimum_price", "maximum_price"),
    "quantity": ("quantity", "handling_time"),
    "patch": ("attribute_patch",),
    "delete": (),
    "put_from_catalog": (),
}
#: The form's fields in the order it shows them: problems are listed in this order.
FIELDS: tuple[str, ...] = (
    "seller_id",
    "marketplace_ids",
    "skus",
    "action",
    "preview",
    "product_type",
    *dict.fromkeys(f for fields in ACTION_FIELDS.values() for f in fields),
    "config_path",
)
_PATCH_PATH = re.compile(PATCH_PATH_PATTERN)
_PATCH_EXAMPLE = '[{"op": "replace", "path": "/attributes/color", "value": [{"value": "Navy"}]}]'
_SHOWN = 5


class HotfixRequest(BaseModel):
    """One operator change, as :func:`check_form` made it: its values are already checked.

    ``product_types`` gives each SKU's product type (the warehouse's, else the form's); ``preview``
    on means Amazon validates (``mode=VALIDATION_PREVIEW``) and stores nothing.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seller_id: str
    marketplace_ids: tuple[str, ...]
    skus: tuple[str, ...]
    action: Action
    product_type: str | None = None
    product_types: dict[str, str] = {}
    preview: bool = True
    price: Decimal | None = None
    currency: str | None = None
    sale_price: Decimal | None = None
    sale_start: date | None = None
    sale_end: date | None = None
    minimum_price: Decimal | None = None
    maximum_price: Decimal | None = None
    quantity: int | None = None
    handling_time: int | None = None
    attribute_patch: tuple[PatchOperation, ...] | None = None

    @property
    def mode(self) -> Literal["VALIDATION_PREVIEW"] | None:
        return "VALIDATION_PREVIEW" if self.preview else None


def _listed(values: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:_SHOWN])
    return shown + (f" and {len(values) - _SHOWN} more" if len(values) > _SHOWN else "")


# --- one field at a time ----------------------------------------------------------------------------


def _marketplaces(read: FieldReader) -> list[str]:
    values = entries(read.params.get("marketplace_ids"))
    if values is None:
        read.add("marketplace_ids", "must be a list of marketplace ids")
        return []
    ids = list(dict.fromkeys(v for v in values if v))
    if not ids:
        read.add("marketplace_ids", "choose at least one marketplace")
    for unknown in (m for m in ids if m not in MARKETPLACES):
        read.add("marketplace_ids", f"{unknown!r} is not an Amazon marketplace id")
    return [m for m in ids if m in MARKETPLACES]


def _skus(read: FieldReader, known: set[str]) -> list[str]:
    values = entries(read.params.get("skus"))
    if values is None:
        read.add("skus", "must be text (one SKU per line, or separated by commas) or a list")
        return []
    skus, problems = check_skus(values, known=known)
    read.problems.extend(problems)
    if not skus and not problems:
        read.add("skus", "give at least one SKU (one per line, or separated by commas)")
    if len(skus) > MAX_SKUS:
        read.add(
            "skus",
            f"{len(skus)} SKUs; a hotfix takes at most {MAX_SKUS} (larger change sets go through the "
            "catalog feed sync)",
        )
    return skus


def _action(read: FieldReader) -> Action | None:
    value = read.params.get("action")
    if value in ACTIONS:
        return value
    read.add("action", f"must be one of {', '.join(ACTIONS)}; got {value!r}")
    return None


def _product_type(read: FieldReader) -> str | None:
    value = read.text("product_type")
    if value is None:
        return None
    if not re.fullmatch(r"[A-Z0-9_]+", value):
        upper = re.sub(r"\s+", "_", value.upper())
        if re.fullmatch(r"[A-Z0-9_]+", upper):
            read.add(
                "product_type", f"{value!r}: Amazon's product types are in capitals; did you mean {upper}?"
            )
        else:
            read.add(
                "product_type", f"{value!r} is not a product type name (capitals, digits and _, e.g. LUGGAGE)"
            )
        return None
    return value


def _patch(read: FieldReader) -> tuple[PatchOperation, ...] | None:
    value = read.params.get("attribute_patch")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            read.add(
                "attribute_patch", f"is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
            )
            return None
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list) or not value:
        read.add("attribute_patch", "must be a JSON list of patch operations, e.g. " + _PATCH_EXAMPLE)
        return None
    ops = []
    for index, op in enumerate(value, start=1):
        found = _patch_op_problem(op)
        if found is None:
            try:
                ops.append(PatchOperation.model_validate(dict(op)))
                continue
            except ValidationError as err:
                found = str(err.errors()[0]["msg"]).removeprefix("Value error, ")
        read.add("attribute_patch", f"operation {index}: {found}")
    return tuple(ops) if len(ops) == len(value) else None


def _patch_op_problem(op: object) -> str | None:
    if not isinstance(op, Mapping):
        return f"is not an object like {_PATCH_EXAMPLE}"
    if op.get("op") not in PATCH_OPS:
        return f"op {op.get('op')!r} is not one of {', '.join(PATCH_OPS)} (Amazon has no 'remove')"
    path = op.get("path")
    if not isinstance(path, str) or not _PATCH_PATH.match(path):
        return (
            f"path {path!r} is not allowed; only top-level attributes can be patched, as '/attributes/<name>'"
        )
    values = op.get("value")
    if values is not None and (
        not isinstance(values, list) or not all(isinstance(v, Mapping) for v in values)
    ):
        return (
            f"value of {path} must be an array of objects, even for one value "
            '(e.g. [{"value": "Navy", "marketplace_id": "ATVPDKIKX0DER"}])'
        )
    extra = set(op) - {"op", "path", "value"}
    if extra:
        return f"unknown keys {sorted(extra)}; use op, path and value"
    return None


# --- what depends on several fields ------------------------------------------------------------------


def _other_actions(read: FieldReader, action: Action) -> None:
    for owner, fields in ACTION_FIELDS.items():
        for name in fields:
            if owner != action and name not in ACTION_FIELDS[action] and read.given(name):
                read.add(name, f"belongs to the '{owner}' action; clear it for '{action}'")


def _price(read: FieldReader, marketplace_ids: list[str]) -> dict[str, object]:
    currency, problems = check_currency(read.text("currency"), marketplace_ids)
    read.problems.extend(problems)
    amounts = {}
    for name in ("price", "sale_price", "minimum_price", "maximum_price"):
        amount = read.number(name)
        if amount is not None:
            found = check_amount(name, amount, currency)
            read.problems.extend(found)
            amounts[name] = None if found else amount
    price, sale = amounts.get("price"), amounts.get("sale_price")
    low, high = amounts.get("minimum_price"), amounts.get("maximum_price")
    if not read.given("price"):
        read.add("price", "is required for 'price' (greater than 0)")
    start, end = read.day("sale_start"), read.day("sale_end")
    given = [read.given(n) for n in ("sale_price", "sale_start", "sale_end")]
    if any(given) and not all(given):
        read.add("sale_price", "a sale needs all of sale_price, sale_start and sale_end")
    if start and end and end < start:
        read.add("sale_end", f"{end} is before sale_start ({start})")
    if price is not None:
        if sale is not None and sale >= price:
            read.add("sale_price", f"{sale} must be below price ({price})")
        if low is not None and low > price:
            read.add("minimum_price", f"{low} is above price ({price})")
        if high is not None and high < price:
            read.add("maximum_price", f"{high} is below price ({price})")
    if low is not None and high is not None and low > high:
        read.add("minimum_price", f"{low} is above maximum_price ({high})")
    return {**amounts, "currency": currency, "sale_start": start, "sale_end": end}


def _quantity(read: FieldReader) -> dict[str, object]:
    quantity = read.integer("quantity", 0, MAX_QUANTITY)
    if not read.given("quantity"):
        read.add("quantity", "is required for 'quantity' (0 or more units)")
    return {"quantity": quantity, "handling_time": read.integer("handling_time", 1, 30)}


def _action_fields(
    read: FieldReader, action: Action, marketplace_ids: list[str], preview: bool
) -> dict[str, object]:
    _other_actions(read, action)
    if action == "price":
        return _price(read, marketplace_ids)
    if action == "quantity":
        return _quantity(read)
    if action == "patch":
        ops = _patch(read)
        if not read.given("attribute_patch"):
            read.add("attribute_patch", "is required for 'patch', e.g. " + _PATCH_EXAMPLE)
        return {"attribute_patch": ops}
    if action == "delete" and preview:
        read.add(
            "preview",
            "is not available for 'delete' (Amazon's deleteListingsItem has no validation preview); "
            "switch preview off to delete",
        )
    return {}


def _product_types(
    read: FieldReader,
    action: Action | None,
    given: str | None,
    skus: list[str],
    marketplace_ids: list[str],
    known: Sequence[KnownListing],
) -> dict[str, str]:
    """Each SKU's product type: the warehouse's in the chosen marketplaces, else the form's."""
    recorded: dict[str, set[str]] = {}
    for listing in known:
        if listing["marketplace_id"] in marketplace_ids and listing["product_type"]:
            recorded.setdefault(listing["sku"], set()).add(listing["product_type"])
    types: dict[str, str] = {}
    missing: list[str] = []
    contradicted: dict[str, list[str]] = {}
    for sku in skus:
        found = sorted(recorded.get(sku, ()))
        if len(found) > 1:
            read.add(
                "skus",
                f"{sku!r} has product types {' and '.join(found)} in the warehouse, one per "
                "marketplace; change its marketplaces in separate runs",
            )
        elif found and given and found[0] != given:
            contradicted.setdefault(found[0], []).append(sku)
        elif found:
            types[sku] = found[0]
        elif given:
            types[sku] = given
        else:
            missing.append(sku)
    for recorded_type, listed in contradicted.items():
        read.add(
            "product_type",
            f"{given} does not match the warehouse, which has {_listed(listed)} as {recorded_type} "
            "(listings.product_type); leave the product type empty to use the warehouse's",
        )
    if action in NEEDS_PRODUCT_TYPE and missing and not read.given("product_type"):
        read.add(
            "product_type",
            f"is required for '{action}' (Amazon's patch names it) and the warehouse does not know "
            f"{_listed(missing)}; give it, e.g. LUGGAGE",
        )
    return types


def config_problems(
    seller_id: str | None, marketplace_ids: Sequence[str], config: PipelineConfig | None
) -> list[FormProblem]:
    """The seller must be one of the config's, the marketplaces its own; without a config (or a
    seller) the marketplaces must at least share one region, as one seller account's do."""
    seller = None
    if seller_id and config is not None:
        try:
            seller = config.seller(seller_id)
        except KeyError:
            known = ", ".join(f"{s.seller_id} ({s.name})" if s.name else s.seller_id for s in config.sellers)
            return [
                problem(
                    "seller_id",
                    f"{seller_id!r} is not a seller of the pipeline config (its sellers: {known})",
                )
            ]
    if seller is None:
        regions = {MARKETPLACES[m][1] for m in marketplace_ids}
        if len(regions) < 2:
            return []
        listed = ", ".join(f"{marketplace_name(m)} {MARKETPLACES[m][1].upper()}" for m in marketplace_ids)
        return [
            problem(
                "marketplace_ids",
                f"all marketplaces must be in one region (one seller account per region); got {listed}",
            )
        ]
    own = ", ".join(marketplace_name(m) for m in seller.marketplaces)
    return [
        problem(
            "marketplace_ids",
            f"{marketplace_name(m)} is not a marketplace of seller {seller.seller_id} (its own: {own})",
        )
        for m in marketplace_ids
        if m not in seller.marketplaces
    ]


def _in_form_order(problems: list[FormProblem]) -> list[FormProblem]:
    order = {name: index for index, name in enumerate(FIELDS)}
    return sorted(problems, key=lambda p: order.get(p["field"], len(order)))


def _check(
    params: Mapping[str, object], config: PipelineConfig | None, known: Sequence[KnownListing]
) -> tuple[HotfixRequest | None, list[FormProblem]]:
    read = FieldReader(params)
    seller_id = read.text("seller_id")
    if not read.given("seller_id"):
        read.add("seller_id", "choose a seller")
    marketplace_ids = _marketplaces(read)
    skus = _skus(read, {k["sku"] for k in known if k["seller_id"] == seller_id})
    action = _action(read)
    preview = read.flag("preview", True)
    product_type = _product_type(read)
    fields = _action_fields(read, action, marketplace_ids, preview) if action else {}
    types = _product_types(read, action, product_type, skus, marketplace_ids, known)
    read.problems.extend(config_problems(seller_id, marketplace_ids, config))
    if read.problems:
        return None, _in_form_order(read.problems)
    request = HotfixRequest.model_validate(
        {
            "seller_id": seller_id,
            "marketplace_ids": marketplace_ids,
            "skus": skus,
            "action": action,
            "product_type": product_type,
            "product_types": types,
            "preview": preview,
            **fields,  # each value read and checked above
        }
    )
    return request, []


def check_form(
    params: Mapping[str, object],
    *,
    config: PipelineConfig | None = None,
    known: Sequence[KnownListing] = (),
) -> HotfixRequest:
    """The request a form asks for; with ``config``, its seller and marketplaces are checked too,
    and ``known`` (the warehouse's listings of its SKUs) gives their product types.

    :raises FormError: every problem, in the form's order, each naming its field.
    """
    request, problems = _check(params, config, known)
    if request is None:
        raise FormError(FORM, problems)
    return request


def request_of(form: HotfixForm) -> HotfixRequest:
    """The request a checked form (:func:`validate_form`'s XCom) stands for."""
    return HotfixRequest.model_validate({k: v for k, v in form.items() if k != "config_path"})


def validate_form(params: Mapping[str, object]) -> HotfixForm:
    """The DAG's first task: the form against itself, the pipeline config, the warehouse and the
    seller's connection, every problem at once (:class:`FormError`)."""
    from listings_pipeline.config import load_config

    config_path = params.get("config_path")
    config_path = config_path if isinstance(config_path, str) and config_path.strip() else None
    try:
        config: PipelineConfig | None = load_config(config_path)
    except (OSError, ValueError) as err:
        config = None
        unreadable = [problem("config_path", str(err))]
    else:
        unreadable = []
    seller_id = params.get("seller_id")
    known: list[KnownListing] = []
    if config is not None and isinstance(seller_id, str):
        from listings_pipeline.forms.known import known_listings

        known = known_listings(
            config, [s for s in entries(params.get("skus")) or () if s], [seller_id.strip()]
        )
    request, problems = _check(params, config, known)
    problems = _in_form_order(problems + unreadable + _connection_problems(config, seller_id))
    if request is None or problems:
        raise FormError(FORM, problems)
    # pydantic wrote the keys, from the very model HotfixForm mirrors
    return cast(HotfixForm, {**request.model_dump(mode="json"), "config_path": config_path})


def _connection_problems(config: PipelineConfig | None, seller_id: object) -> list[FormProblem]:
    """The seller's connection, checked with the form: a broken one would fail the run's first call."""
    if config is None or not isinstance(seller_id, str):
        return []
    try:
        conn_id = config.seller(seller_id.strip()).spapi_conn_id
    except KeyError:
        return []
    from listings_pipeline.connections import SpApiConnectionError, check_connections
    from spapi.errors import scrub

    try:
        check_connections(config, [conn_id])
    except SpApiConnectionError as err:
        return [problem("", scrub(str(found))) for found in err.problems]
    return []
