"""Every error as RFC 9457 `application/problem+json`, FastAPI's and Starlette's own included.

Domain errors map to statuses here, in one place: InvalidFact and UnknownActor
are 422, Conflict is 409, NotFound is 404. A store that cannot be reached in time
(the driver's or the library's connection and timeout errors) is 503 with
Retry-After: the request may be retried as it is (a write with the same id is
answered as already recorded if it was). Validation problems carry
`errors: [{loc, msg}]`; nothing ever carries a stack trace or SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from domain.actors import ActorProfile, suggest
from domain.errors import Conflict, DomainError, FieldError, InvalidFact, NotFound, UnknownActor
from infra.logging import get_logger
from service.api.schemas import Problem, ValidationProblem

log = get_logger("backchannel.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "tag:backchannel,2026:problem/"


def problem_type(slug: str) -> str:
    """The `type` URI of one of our problems (non-resolvable, per RFC 9457 §3.1.1)."""
    return PROBLEM_BASE + slug


REQUEST_INVALID = problem_type("request-invalid")
RULE_BROKEN = problem_type("rule-broken")
UNKNOWN_ACTOR = problem_type("unknown-actor")
CONFLICT = problem_type("conflict")
NOT_FOUND = problem_type("not-found")
UNAUTHORIZED = problem_type("unauthorized")
FORBIDDEN = problem_type("forbidden")
BODY_TOO_LARGE = problem_type("body-too-large")
NOT_CAUGHT_UP = problem_type("not-caught-up")
NOT_READY = problem_type("not-ready")
STORE_UNAVAILABLE = problem_type("store-unavailable")
INTERNAL = problem_type("internal")


class ProblemResponse(JSONResponse):
    """A problem document; rendered ASCII-only so no input can make it unencodable."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


class ApiProblem(Exception):
    """Raised by the API itself to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type
        self.headers = dict(headers or {})
        self.extensions = extensions


def problem(
    status: int,
    detail: str,
    *,
    type: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    """A problem+json response: `type`, `title` (the status phrase), `status`, `detail`, extras."""
    body = {
        "type": type,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def actor_not_found(name: str, actors: Iterable[ActorProfile]) -> ApiProblem:
    """404 for a name no actor goes by, suggesting the closest ones."""
    unknown = UnknownActor(name, suggest(name, actors))
    return ApiProblem(404, str(unknown), type=NOT_FOUND, suggestions=unknown.suggestions)


def field_errors(
    errors: Iterable[FieldError], prefix: Sequence[str | int] = ()
) -> list[dict[str, Any]]:
    """`[{loc, msg}]` from the domain's located errors, under `prefix` (e.g. `body`)."""
    return [{"loc": [*prefix, *e.loc], "msg": e.msg} for e in errors]


def validation_problem(
    errors: list[dict[str, Any]], *, type: str = REQUEST_INVALID
) -> ProblemResponse:
    """422 with every broken rule located; the detail summarises the first ones."""
    shown = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return problem(422, f"{shown}{more}" or "invalid request", type=type, errors=errors)


def install(app: FastAPI) -> None:
    """Answer every error the app can raise with a problem document."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(DomainError, _domain_error)
    for unavailable in STORE_UNAVAILABLE_ERRORS:
        app.add_exception_handler(unavailable, _store_unavailable)


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    if detail is None:
        detail = _default_detail(request, exc.status_code)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem(exc.status_code, detail, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method served at this path (Starlette names only the first route's)."""
    return ", ".join(sorted(request.app.state.routes.methods(request.scope)))


def _default_detail(request: Request, status: int) -> str:
    if status == 404:
        return f"no resource at {request.url.path}"
    if status == 405:
        return f"{request.method} is not allowed on {request.url.path}"
    return HTTPStatus(status).description or HTTPStatus(status).phrase


async def _request_invalid(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]
    return validation_problem(errors)


async def _api_problem(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ApiProblem)
    return problem(exc.status, exc.detail, type=exc.type, headers=exc.headers, **exc.extensions)


async def _domain_error(request: Request, exc: Exception) -> ProblemResponse:
    # Domain errors from a request always concern its body: locate them there.
    if isinstance(exc, UnknownActor):
        errors = [{"loc": ["body", *exc.loc], "msg": str(exc)}]
        return problem(
            422, str(exc), type=UNKNOWN_ACTOR, errors=errors, suggestions=exc.suggestions
        )
    if isinstance(exc, InvalidFact):
        return validation_problem(field_errors(exc.errors, ("body",)), type=RULE_BROKEN)
    if isinstance(exc, Conflict):
        return problem(409, str(exc), type=CONFLICT)
    if isinstance(exc, NotFound):
        return problem(404, str(exc), type=NOT_FOUND)
    return problem(422, str(exc), type=RULE_BROKEN)


STORE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,  # the library's, for the driver's below (and SQLite's "locked")
    InterfaceError,
    psycopg.OperationalError,  # the pool's PoolTimeout too
    psycopg.InterfaceError,
)
STORE_RETRY_AFTER_SECONDS = 2


async def _store_unavailable(request: Request, exc: Exception) -> ProblemResponse:
    cause = exc.__cause__ or exc
    first_line = next(iter(str(cause).strip().splitlines()), "")
    log.warning(
        "store unavailable",
        method=request.method,
        path=request.url.path,
        error=f"{type(cause).__name__}: {first_line}",
    )
    return problem(
        503,
        "the store cannot be reached right now; retry shortly (a write may be retried "
        "with the same id: one already recorded is answered as such)",
        type=STORE_UNAVAILABLE,
        headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)},
    )


# -- the problems each route documents in the OpenAPI document --------------------

PROBLEM_DESCRIPTIONS = {
    400: "The body cannot be read as JSON text (e.g. not UTF-8)",
    401: "No token, or a token that is not accepted",
    403: "A read token on a write",
    404: "No such resource",
    409: "Conflicts with what is recorded",
    413: "The request body is over the limit (1 MiB)",
    422: "The request breaks a rule; `errors` locates each one",
    500: "Internal error (details are in the server log, never in the response)",
    503: "Not caught up to `min_position` in time, not ready, or the store cannot be "
    "reached right now (see Retry-After)",
}
PROBLEM_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {
        "type": UNAUTHORIZED,
        "title": "Unauthorized",
        "status": 401,
        "detail": "writes need Authorization: Bearer <token>",
    },
    404: {
        "type": NOT_FOUND,
        "title": "Not Found",
        "status": 404,
        "detail": "no event 6f1c2a4e-0b7d-4c55-9a3e-2d8f1b7c9e09",
    },
    409: {
        "type": CONFLICT,
        "title": "Conflict",
        "status": 409,
        "detail": "event 6f1c2a4e-0b7d-4c55-9a3e-2d8f1b7c9e01 is already recorded "
        "with different content",
    },
    422: {
        "type": UNKNOWN_ACTOR,
        "title": HTTPStatus(422).phrase,
        "status": 422,
        "detail": "unknown actor 'sergei-shoygu'; did you mean 'sergei-shoigu'?",
        "errors": [
            {
                "loc": ["body", "counterpart"],
                "msg": "unknown actor 'sergei-shoygu'; did you mean 'sergei-shoigu'?",
            }
        ],
        "suggestions": ["sergei-shoigu"],
    },
    503: {
        "type": NOT_CAUGHT_UP,
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the record is at position 41, not yet at 42; retry shortly",
        "position": 41,
    },
}


def problems(
    *statuses: int, others: Mapping[int | str, dict[str, Any]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The `responses` entry documenting these problem statuses (and 500, always).

    `others` are the route's further (non-problem) responses, documented as given.
    """
    documented: dict[int | str, dict[str, Any]] = dict(others or {})
    for status in sorted({*statuses, 500}):
        entry: dict[str, Any] = {
            "model": ValidationProblem if status == 422 else Problem,
            "description": PROBLEM_DESCRIPTIONS[status],
        }
        if status in PROBLEM_EXAMPLES:
            entry["content"] = {PROBLEM_JSON: {"example": PROBLEM_EXAMPLES[status]}}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if status == 503:
            entry["headers"] = {"Retry-After": {"schema": {"type": "string"}}}
        documented[status] = entry
    return documented
