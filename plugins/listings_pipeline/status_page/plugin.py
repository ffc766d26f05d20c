"""The Airflow plugin that puts the listing status page into the UI (registered as an entry point).

Airflow loads every plugin in every process (scheduler, dag-processor, triggerer, each task), but only
the api-server serves the page. So the plugin holds a small ASGI stand-in that imports the real app
(FastAPI, Jinja, Airflow's API security: over a second of imports) on the first request it receives.

``external_views`` with a ``url_route`` makes the UI show ``href`` in an iframe at
``/plugin/listing-status``; the ``browse`` category puts the link in the UI's *Browse* menu. The
``href`` carries the api-server's base path (``[api] base_url``), as the mount does.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

URL_PREFIX = "/listing-status"  # where the api-server mounts the app; the page builds its links from it
URL_ROUTE = "listing-status"


class LazyApp:
    """An ASGI app that imports ``module:attribute`` when it is first called, then delegates to it."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    def load(self) -> ASGIApp:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    module, _, attribute = self.target.partition(":")
                    self._app = getattr(importlib.import_module(module), attribute)
        assert self._app is not None
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.load()(scope, receive, send)

    def __repr__(self) -> str:
        return f"LazyApp({self.target!r})"


def _root_path() -> str:
    """The path part of ``[api] base_url`` (``""`` when Airflow is served at the root)."""
    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


class ListingStatusPlugin(AirflowPlugin):
    """The listing status page: ``/listing-status/`` on the api-server, *Browse > Listing status* in the UI."""

    name = "listing_status"
    fastapi_apps = [
        {
            "app": LazyApp("listings_pipeline.status_page.app:app"),
            "url_prefix": URL_PREFIX,
            "name": "Listing status",
        }
    ]
    external_views = [
        {
            "name": "Listing status",
            "href": f"{_root_path()}{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": URL_ROUTE,
        }
    ]
