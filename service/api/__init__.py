"""The HTTP API: `create_app(settings)` wires the routes, errors, auth, middleware and metrics.

Run it with `uvicorn --factory service.api:app_from_environment`.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.concurrency import run_in_threadpool

from infra.logging import configure_logging
from infra.settings import Settings
from service.api import actors, changes, channels, countries, events, openapi, ops, stream, terms
from service.api.errors import install as install_problems
from service.api.metrics import ApiMetrics
from service.api.middleware import BodyLimit, NulRefusal, RequestContext, RouteTable
from service.api.openapi import openapi_document
from service.api.readiness import Readiness
from service.api.security import SecurityHeaders
from service.application import Backchannel
from service.beacon import RemoteHealth
from service.bootstrap import service
from service.feed import Feed

DASHBOARD_MODULE = "service.web"


NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings, backchannel: Backchannel | None = None) -> FastAPI:
    """The FastAPI app over `backchannel` (bootstrapped from `settings` when not given).

    An application the app bootstrapped itself is closed when the app shuts down;
    one passed in belongs to the caller. Bootstrapping refuses an out-of-date schema.
    """
    configure_logging(settings.log_format, settings.log_level)
    # Every read answers from the read model; by default this process keeps it
    # current itself, else a separate `backchannel projector` does.
    parts = service(settings, backchannel)
    application, readmodel, projector = parts.app, parts.readmodel, parts.projector
    # A worker of `serve` reads its supervisor's projector's health (service.beacon).
    readiness = Readiness(
        settings, application, readmodel, projector or RemoteHealth.from_environment()
    )
    # The stream follows the read model's position (whoever projects); this process's
    # projector, when it runs one, wakes it as each batch commits.
    feed = Feed(application, readmodel)
    if projector is not None:
        projector.committed.append(feed.committed)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(readiness.started)  # reads wait for the read model to get here
        parts.start()
        await run_in_threadpool(feed.start)
        try:
            yield
        finally:
            await run_in_threadpool(feed.stop)
            await run_in_threadpool(parts.close)

    # The document and its pages are our own routes (local assets, read tokens).
    app = FastAPI(
        # Without an OpenTelemetry SDK to report to, FastAPI's telemetry only asks, on
        # every request, whether one was configured (about 3% of a status read's CPU).
        telemetry=None if settings.opentelemetry else NO_TELEMETRY,
        lifespan=lifespan,
        title="Backchannel",
        version="1",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.backchannel = application
    app.state.readmodel = readmodel
    app.state.projector = projector
    app.state.readiness = readiness
    app.state.feed = feed
    app.state.metrics = metrics = ApiMetrics(application, readmodel)
    metrics.registry.register(readiness.collector())
    install_problems(app)
    stream.install_cut_off_filter()
    for router in (
        openapi.router,
        actors.router,
        events.router,
        channels.router,
        changes.router,
        countries.router,
        terms.router,
        channels.network_router,
        stream.router,
        ops.router,
    ):
        app.include_router(router)
    dashboard = dashboard_router()
    if dashboard is not None:
        app.include_router(dashboard)
        from service.web import not_found  # unknown pages: HTML; API paths: problems

        app.add_exception_handler(404, not_found)
    app.state.routes = routes = RouteTable.of(app)
    # Outermost last: every answer, the last-resort 500 included, gets the headers.
    app.add_middleware(NulRefusal, routes=routes)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=metrics, routes=routes)
    app.add_middleware(SecurityHeaders)
    app.openapi = lambda: openapi_document(app, settings)  # type: ignore[method-assign]
    return app


def dashboard_router() -> APIRouter | None:
    """The dashboard's `router` from service.web, when that module exists and has one."""
    try:
        module = importlib.import_module(DASHBOARD_MODULE)
    except ModuleNotFoundError as error:
        if error.name == DASHBOARD_MODULE:
            return None
        raise
    router = getattr(module, "router", None)
    return router if isinstance(router, APIRouter) else None


def app_from_environment() -> FastAPI:
    """The app configured from BACKCHANNEL_* environment variables (a uvicorn factory)."""
    return create_app(Settings())
