"""The OpenAPI document, and its pages: Swagger UI at /docs, ReDoc at /redoc.

The document is FastAPI's, with every error as problem+json and reads' auth
optional. The pages' scripts and styles come from the installed fastapi-offline
package, served here under /docs/static/, so the docs work with no internet.
The document, the pages and their assets are reads: with read tokens set they
need `Authorization: Bearer <token>` like any other read.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from infra.settings import Settings
from service.api.auth import require_read
from service.api.errors import PROBLEM_JSON
from service.api.security import CSP, policy_for_page

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
    {
        "name": "countries",
        "description": "Pairs of countries: their channels counted per status, their latest "
        "contact.",
    },
    {
        "name": "what changed",
        "description": "Changes of status over valid time; what the record learned over time.",
    },
    {"name": "operations", "description": "Health, readiness and metrics."},
]
VALIDATION_PROBLEM = {"$ref": "#/components/schemas/ValidationProblem"}
# No string holds a NUL character (the API answers 422): said in the document, too.
NO_NUL = "^[^\\u0000]*$"
JSON_VALUE = {"$ref": "#/components/schemas/JsonValue"}
JSON_VALUE_SCHEMA = {
    "description": "Any JSON value, without a NUL character in any string or key",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": JSON_VALUE},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": JSON_VALUE,
        },
    ],
}
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
        for node in _request_side(document):
            _without_nul(node)
        schemas["JsonValue"] = JSON_VALUE_SCHEMA
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


def _request_side(document: dict[str, Any]) -> list[Any]:
    """The parameters and request bodies, and every component schema they refer to."""
    nodes: list[Any] = [
        part
        for item in document.get("paths", {}).values()
        for operation in item.values()
        for part in (operation.get("parameters"), operation.get("requestBody"))
        if part is not None
    ]
    schemas = document.get("components", {}).get("schemas", {})
    named: set[str] = set()
    pending = list(nodes)
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            name = ref.rpartition("/")[2] if isinstance(ref, str) else ""
            if name in schemas and name not in named:
                named.add(name)
                pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return [*nodes, *(schemas[name] for name in sorted(named))]


def _without_nul(node: Any) -> None:
    """Every string under `node` excludes NUL; free-form objects hold such JSON only."""
    if isinstance(node, list):
        for item in node:
            _without_nul(item)
        return
    if not isinstance(node, dict):
        return
    for item in node.values():
        _without_nul(item)
    if node.get("type") == "string":
        if "pattern" not in node:
            node["pattern"] = NO_NUL
        else:  # a string must match both
            node.setdefault("allOf", []).append({"pattern": NO_NUL})
    if node.get("type") == "object" and node.get("additionalProperties", False) is not False:
        node["propertyNames"] = {"pattern": NO_NUL}
        if node["additionalProperties"] is True or node["additionalProperties"] == {}:
            node["additionalProperties"] = JSON_VALUE


def _auth_optional(operation: dict[str, Any]) -> None:
    """Reads are open while no read tokens are set: a token is accepted, not required."""
    security = operation.get("security")
    if security and {} not in security:
        operation["security"] = [{}, *security]


# -- the browsable pages -----------------------------------------------------------

DOCS_ASSETS = Path(str(files("fastapi_offline") / "static"))
DOCS_STATIC = "/docs/static"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_read)])


@router.api_route("/openapi.json", methods=["GET", "HEAD"])
def document(request: Request) -> JSONResponse:
    """The OpenAPI document."""
    return JSONResponse(request.app.openapi())


@router.api_route("/docs", methods=["GET", "HEAD"])
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the document, from local assets."""
    root = _root(request)
    page = get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title="Backchannel - Swagger UI",
        swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
        swagger_ui_parameters=request.app.swagger_ui_parameters,
    )
    return _with_own_policy(page)


@router.api_route("/redoc", methods=["GET", "HEAD"])
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the document, from local assets and without web fonts."""
    root = _root(request)
    page = get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title="Backchannel - ReDoc",
        redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
        with_google_fonts=False,
    )
    # ReDoc adds <style> elements as it loads, some before it reads any option (so a
    # nonce cannot reach them), and searches in a worker it builds from a blob: its
    # page allows inline styles and blob: workers, never inline scripts.
    return _with_own_policy(page, any_style=True, blob_workers=True)


@router.api_route(DOCS_STATIC + "/{name}", methods=["GET", "HEAD"])
def docs_asset(name: str) -> FileResponse:
    """One of the docs' assets, by its name in the package; never a path."""
    if name not in ASSET_TYPES:
        raise HTTPException(status_code=404, detail="no such asset")
    return FileResponse(DOCS_ASSETS / name, media_type=ASSET_TYPES[name])


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _with_own_policy(page: HTMLResponse, **allowances: bool) -> HTMLResponse:
    """The page, allowed to run exactly its own inline script (by its hash)."""
    html = bytes(page.body).decode("utf-8")
    return HTMLResponse(html, headers={CSP: policy_for_page(html, **allowances)})
