"""ASGI middleware: request ids, one log line and metrics per request, the body-size limit,
and no NUL characters in what a request carries.

`RequestContext` (inside only `SecurityHeaders`) gives every request an id (the
client's X-Request-ID when it is sane, else a new one), echoes it on the
response, writes one structured log line per request, counts it in the metrics,
and turns an unhandled exception into a bare 500 problem (the trace goes to the
log only). The log line is DEBUG for static assets and for successful polls (a
request with `X-Backchannel-Poll: 1`, as the dashboard's refreshes send), INFO
for every other request.
`BodyLimit` refuses bodies over the limit with 413, by Content-Length before
reading and by counting what actually arrives.
`NulRefusal` answers 422, naming the place, for a NUL character in a path or
query parameter or anywhere in a JSON body (a raw NUL byte, or the escape
`\\u0000` in a string or key): PostgreSQL's text cannot hold it, so no store
may be handed one.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.logging import get_logger
from service.api.errors import BODY_TOO_LARGE, INTERNAL, problem, validation_problem
from service.api.metrics import ApiMetrics

REQUEST_ID = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED = "<unmatched>"
POLL = "X-Backchannel-Poll"
# Files, not questions: their requests are logged at DEBUG.
STATIC_PREFIXES = ("/static/", "/docs/static/", "/favicon.")
NUL = "\x00"
Loc = list[str | int]
NUL_MESSAGE = "must not contain a NUL character (U+0000)"

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

    def parameters(self, scope: Scope) -> dict[str, str]:
        """The path parameters of the first template the request's path falls under."""
        path = route_path(scope)
        for pattern, _, _ in self.routes:
            match = pattern.match(path)
            if match:
                return match.groupdict()
        return {}

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
        quiet = routine(scope, status)
        if not log.isEnabledFor(logging.DEBUG if quiet else logging.INFO):
            return  # no line to write: spare building it
        client = scope.get("client")
        write = log.debug if quiet else log.info
        write(
            "request",
            method=method,
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 2),
            client=client[0] if client else None,
        )


def routine(scope: Scope, status: int) -> bool:
    """A request not worth an INFO line: a static asset, or a poll that succeeded."""
    if route_path(scope).startswith(STATIC_PREFIXES):
        return True
    return Headers(scope=scope).get(POLL, "") == "1" and status < 400


def has_body(headers: Headers) -> bool:
    """Whether an HTTP/1.1 request carries a body: only with Content-Length (above 0)
    or Transfer-Encoding."""
    declared = headers.get("content-length")
    return "transfer-encoding" in headers or (declared is not None and declared != "0")


class BodyLimit:
    """413 for a request body over `max_bytes`, declared or streamed; the body is then replayed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not has_body(headers):
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
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


class NulRefusal:
    """422 for a NUL character in a path or query parameter or a JSON body, located."""

    def __init__(self, app: ASGIApp, *, routes: RouteTable) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not has_body(Headers(scope=scope)):  # nothing to read: the path and query only
            places = [*self._in_path(scope), *self._in_query(scope)]
            if places:
                await validation_problem([{"loc": loc, "msg": NUL_MESSAGE} for loc in places])(
                    scope, receive, send
                )
                return
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:  # BodyLimit has bounded the body already
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        places = [*self._in_path(scope), *self._in_query(scope), *_in_body(body)]
        if places:
            errors = [{"loc": loc, "msg": NUL_MESSAGE} for loc in places]
            await validation_problem(errors)(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)

    def _in_path(self, scope: Scope) -> list[Loc]:
        if NUL not in str(scope.get("path", "")):
            return []
        parameters = self.routes.parameters(scope)
        named: list[Loc] = [["path", name] for name, v in parameters.items() if NUL in v]
        return named or [["path"]]

    @staticmethod
    def _in_query(scope: Scope) -> list[Loc]:
        raw = scope.get("query_string", b"")
        if b"%00" not in raw and b"\x00" not in raw:  # a NUL is sent as %00, if at all
            return []
        query = QueryParams(raw)
        return [["query", name] for name, value in query.multi_items() if NUL in name + value]


def _in_body(body: bytes) -> list[Loc]:
    """Where NUL characters sit in a JSON body; none when it is not JSON (FastAPI says so)."""
    if not body:
        return []
    try:
        document = json.loads(body)
    except ValueError:
        return [["body"]] if b"\x00" in body else []
    return [["body", *loc] for loc in _nul_places(document, [])]


def _nul_places(value: Any, loc: Loc) -> Iterator[Loc]:
    if isinstance(value, str):
        if NUL in value:
            yield loc
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                yield [*loc, key]
            yield from _nul_places(item, [*loc, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_places(item, [*loc, index])


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that yields `messages` first, then whatever the client sends next."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
