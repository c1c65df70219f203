"""The OpenAPI document: FastAPI's, with every error as problem+json and reads' auth optional."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from infra.settings import Settings
from service.api.errors import PROBLEM_JSON

DESCRIPTION = """\
Backchannel records who talked to whom — and who refused to — between officials,
offices and governments, as an append-only log of facts, and derives from it the
status of every channel at any moment in the past (`as_of`), as known at any
moment (`known_at`).

Writes need `Authorization: Bearer <token>`. Every error is `application/problem+json`
(RFC 9457). Lists are paginated with `limit` and `cursor`. Every write answers with its
log `position`; pass it as `min_position` to a read to read your own writes.
"""
TAGS = [
    {"name": "actors", "description": "Parties to a channel: people, institutions, states."},
    {"name": "events", "description": "Contact facts, appended and retracted, never changed."},
    {"name": "channels", "description": "The status of a pair of actors, and its history."},
    {"name": "operations", "description": "Health, readiness and metrics."},
]
VALIDATION_PROBLEM = {"$ref": "#/components/schemas/ValidationProblem"}
PROBLEM = {"$ref": "#/components/schemas/Problem"}
UNUSED = ("HTTPValidationError", "ValidationError")


def openapi_document(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """Build (once) and return the app's OpenAPI document."""
    if app.openapi_schema is None:
        document = get_openapi(
            title="Backchannel",
            version="1",
            summary="Who talks to whom, who refuses to, and when.",
            description=DESCRIPTION,
            routes=app.routes,
            tags=TAGS,
        )
        for path_item in document.get("paths", {}).values():
            for method, operation in path_item.items():
                _problems_as_problem_json(operation)
                if method in ("get", "head") and not settings.read_token_set:
                    _auth_optional(operation)
        schemas = document.get("components", {}).get("schemas", {})
        for name in UNUSED:
            schemas.pop(name, None)
        app.openapi_schema = document
    return app.openapi_schema


def _problems_as_problem_json(operation: dict[str, Any]) -> None:
    """Error responses are application/problem+json, with the problem schema."""
    for code, response in operation.get("responses", {}).items():
        if not code.startswith(("4", "5")):
            continue
        content = response.setdefault("content", {})
        media = content.pop("application/json", {})
        media.update(content.get(PROBLEM_JSON, {}))
        media["schema"] = VALIDATION_PROBLEM if code == "422" else PROBLEM
        content.clear()
        content[PROBLEM_JSON] = media


def _auth_optional(operation: dict[str, Any]) -> None:
    """Reads are open while no read tokens are set: a token is accepted, not required."""
    security = operation.get("security")
    if security and {} not in security:
        operation["security"] = [{}, *security]
