"""The ``drift_resolve`` form: which drift (seller, marketplace, SKUs, kinds) and what to do with it.

Every problem is found in one pass (:class:`~listings_pipeline.forms.problems.FormError`), as in
the other forms: the seller must be in the pipeline config and the marketplace one of its own,
at least one SKU (resolving a whole marketplace at once is refused: drift is decided SKU by SKU),
and the action one of :data:`ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, Literal, TypedDict, get_args

from listings_pipeline.forms.fields import FieldReader, entries
from listings_pipeline.forms.problems import FormError
from listings_pipeline.forms.skus import check_skus
from listings_pipeline.from_amazon.drift import DRIFT_KINDS

if TYPE_CHECKING:
    from listings_pipeline.config import PipelineConfig

FORM: Final = "drift_resolve"
DriftAction = Literal["resubmit", "accept_amazon"]
ACTIONS: Final[tuple[DriftAction, ...]] = get_args(DriftAction)
MAX_SKUS: Final = 5000


class DriftRequest(TypedDict):
    """A checked form: the drift to act on and the action."""

    seller_id: str
    marketplace_id: str
    skus: list[str]
    kinds: list[str]  # empty: every kind
    action: DriftAction
    note: str | None
    config_path: str | None


def check_form(params: Mapping[str, object], config: PipelineConfig) -> DriftRequest:
    """The typed request, or :class:`FormError` with every problem of the form."""
    read = FieldReader(params)
    seller_id = read.text("seller_id")
    marketplace_id = read.text("marketplace_id")
    if seller_id is None:
        read.add("seller_id", "is required")
    else:
        try:
            seller = config.seller(seller_id)
        except KeyError:
            read.add("seller_id", f"{seller_id!r} is not a seller of the pipeline config")
        else:
            if marketplace_id is not None and marketplace_id not in seller.marketplaces:
                read.add(
                    "marketplace_id",
                    f"{marketplace_id!r} is not one of {seller_id}'s marketplaces "
                    f"({', '.join(seller.marketplaces)})",
                )
    if marketplace_id is None:
        read.add("marketplace_id", "is required")
    skus: list[str] = []
    values = entries(params.get("skus"))
    if values is None:
        read.add("skus", "must be text (one SKU per line) or a list")
    elif not values:
        read.add("skus", "name at least one SKU: drift is resolved SKU by SKU")
    else:
        skus, problems = check_skus(values)
        read.problems.extend(problems)
        if len(skus) > MAX_SKUS:
            read.add("skus", f"{len(skus)} SKUs; at most {MAX_SKUS} at once")
    kinds = entries(params.get("kinds")) or []
    unknown = [k for k in kinds if k not in DRIFT_KINDS]
    if unknown:
        read.add("kinds", f"unknown kind(s) {', '.join(map(repr, unknown))}; one of {', '.join(DRIFT_KINDS)}")
    action = read.text("action")
    if action not in ACTIONS:
        read.add("action", f"must be one of {', '.join(ACTIONS)}; got {action!r}")
    if read.problems:
        raise FormError(FORM, read.problems)
    assert seller_id is not None and marketplace_id is not None and action in ACTIONS
    return {
        "seller_id": seller_id,
        "marketplace_id": marketplace_id,
        "skus": skus,
        "kinds": kinds,
        "action": "resubmit" if action == "resubmit" else "accept_amazon",
        "note": read.text("note"),
        "config_path": read.text("config_path"),
    }
