"""Apps and sellers from a YAML/JSON file or an admin call (``POST /_sandbox/sellers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .published import MARKETPLACES, region_of
from .store import Store


def _region(seller: dict[str, Any]) -> str:
    if seller.get("region"):
        return str(seller["region"]).lower()
    for marketplace in seller.get("marketplaces") or []:
        region = region_of(marketplace)
        if region is not None:
            return region
    return "na"


def apply_config(store: Store, data: dict[str, Any]) -> dict[str, int]:
    """Upsert ``{"apps": [...], "sellers": [...]}``; returns how many of each were written."""
    if not isinstance(data, dict):
        raise ValueError("the sellers config must be an object with 'apps' and/or 'sellers'")
    apps = data.get("apps") or []
    sellers = data.get("sellers") or []
    for app in apps:
        if not app.get("client_id") or not app.get("client_secret"):
            raise ValueError("each app needs client_id and client_secret")
        store.upsert_app(
            str(app["client_id"]), str(app["client_secret"]), app.get("name"), list(app.get("scopes") or [])
        )
    for seller in sellers:
        missing = [k for k in ("seller_id", "client_id", "refresh_token") if not seller.get(k)]
        if missing:
            raise ValueError(f"a seller is missing {missing}")
        unknown = [m for m in seller.get("marketplaces") or [] if m not in MARKETPLACES]
        if unknown:
            raise ValueError(f"unknown marketplace ids {unknown}")
        store.upsert_seller(
            str(seller["seller_id"]),
            str(seller["client_id"]),
            str(seller["refresh_token"]),
            _region(seller),
            list(seller.get("marketplaces") or []),
            seller.get("name"),
            bool(seller.get("revoked", False)),
        )
    return {"apps": len(apps), "sellers": len(sellers)}


def load_file(store: Store, path: str | Path) -> dict[str, int]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return apply_config(store, data)
