"""ASGI middleware: request ids, one log line and metrics per request, the body-size limit.

`RequestContext` is outermost: it gives every request an id (the client's
X-Request-ID when it is sane, else a new one), echoes it on the response,
writes one structured log line per request, counts it in the metrics, and turns
an unhandled exception into a bare 500 problem (the trace goes to the log only).
`BodyLimit` refuses bodies over the limit with 413, by Content-Length before
reading and by counting what actually arrives.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable

import structlog
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.logging import get_logger
from service.api.errors import BODY_TOO_LARGE, INTERNAL, problem
from service.api.metrics import ApiMetrics

REQUEST_ID = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED = "<unmatched>"

log = get_logger("backchannel.api")


def request_id_of(headers: Headers) -> str:
    """The client's request id when it is safe to log and echo, else a fresh one."""
    given = headers.get(REQUEST_ID, "")
    return given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex


def route_path(scope: Scope) -> str:
    """The request's path below the app's mount point (`root_path`)."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


class RouteTable:
    """The app's path templates and their methods: which template a path falls under."""

    def __init__(self, routes: Iterable[tuple[str, set[str]]]) -> None:
        self.routes = [(compile_path(path)[0], path, methods) for path, methods in routes]

    @classmethod
    def of(cls, app: FastAPI) -> RouteTable:
        """The table of every route of `app`, included routers' too."""
        return cls(
            (context.path_format or context.path, set(context.methods or ()))
            for context in iter_route_contexts(app.router.routes)
            if context.path
        )

    def template(self, scope: Scope) -> str:
        """The template serving the request (`/v1/events/{event_id}`), not its path."""
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if template:
            return str(template)
        path = route_path(scope)
        for pattern, template, _ in self.routes:
            if pattern.match(path):
                return template
        return UNMATCHED

    def methods(self, scope: Scope) -> set[str]:
        """The methods served under the first template the request's path falls under."""
        path = route_path(scope)
        template = next((t for pattern, t, _ in self.routes if pattern.match(path)), None)
        return {m for _, t, methods in self.routes if t == template for m in methods}


class RequestContext:
    """Request id, access log line, metrics and the last-resort 500, for every HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics, routes: RouteTable) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(Headers(scope=scope))
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("unhandled error", method=scope["method"])
                if response_started:
                    raise
                detail = f"internal error; quote request id {request_id} when reporting it"
                await problem(500, detail, type=INTERNAL)(scope, receive, send_with_id)
            finally:
                self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = self.routes.template(scope)
        method = scope["method"]
        self.metrics.observe_request(method, route, status, seconds)
        client = scope.get("client")
        log.info(
            "request",
            method=method,
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 2),
            client=client[0] if client else None,
        )


class BodyLimit:
    """413 for a request body over `max_bytes`, declared or streamed; the body is then replayed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body exceeds {self.max_bytes} bytes"
        await problem(413, detail, type=BODY_TOO_LARGE)(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that yields `messages` first, then whatever the client sends next."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
