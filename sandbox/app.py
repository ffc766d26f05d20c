"""``create_app(settings)``: the sandbox as one FastAPI app."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from . import (
    admin,
    definitions,
    documents,
    fba_inventory,
    feeds,
    listings,
    lwa,
    notifications,
    reports,
    seller_performance,
)
from .core import RequestIdMiddleware, Sandbox, json_response
from .faults import Faults
from .notifier import Notifier
from .product_types import ProductTypes
from .ratelimit import RateLimiter
from .sellers import load_file
from .settings import Settings
from .store import Store

log = logging.getLogger("sandbox")


def build_sandbox(settings: Settings) -> Sandbox:
    store = Store(settings.database)
    schemas = ProductTypes(
        settings.meta_schema_path,
        [Path(settings.models_dir) / "schemas" / "definitions", *map(Path, settings.product_types_dirs)],
    )
    faults = Faults(seed=settings.seed)
    if settings.faults:
        faults.configure(list(settings.faults))
    sandbox = Sandbox(
        settings=settings,
        store=store,
        schemas=schemas,
        limiter=RateLimiter(
            settings.rate_scale, burst_scale=settings.burst_scale, enabled=settings.rate_limits
        ),
        faults=faults,
    )
    if settings.sellers_file:
        load_file(store, settings.sellers_file)
        fba_inventory.load_seed_file(store, settings.sellers_file)
        seller_performance.load_seed_file(store, settings.sellers_file, time.time())
    return sandbox


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves at ``path``, for a 405's ``Allow`` header (RFC 9110 §15.5.6).

    Starlette would name only the methods of the first route that matches the path, and each of
    the Listings API's methods on ``/items/{sellerId}/{sku}`` is a route of its own.
    """
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            methods |= route.methods
    return sorted(methods)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    sandbox = build_sandbox(settings)
    processor = feeds.FeedProcessor(sandbox)
    report_processor = reports.ReportProcessor(sandbox)
    notifier = Notifier(sandbox)
    report_processor.listeners.append(notifier.report_finished)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.processor_enabled:
            processor.start()
            report_processor.start()
            notifier.start()
        try:
            yield
        finally:
            await processor.stop()
            await report_processor.stop()
            await notifier.stop()

    app = FastAPI(
        title="SP-API sandbox",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = sandbox
    app.state.processor = processor
    app.state.report_processor = report_processor
    app.state.notifier = notifier
    app.add_middleware(RequestIdMiddleware)
    for module in (
        lwa,
        listings,
        feeds,
        reports,
        definitions,
        documents,
        fba_inventory,
        seller_performance,
        notifications,
        admin,
    ):
        app.include_router(module.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "InvalidInput")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return json_response(
            exc.status_code,
            {"errors": [{"code": code, "message": str(exc.detail), "details": request.url.path}]},
            headers,
        )

    return app
