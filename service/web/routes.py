"""Routes of the dashboard: its pages, their static assets, and the HTML page for 404s."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
STATIC = HERE / "static"
# An actor in a channel's path: its id, or any name or alias the API resolves.
MAX_ACTOR_NAME = 300
# A channel id as the API writes it ("lloyd-austin~sergei-shoigu"): two actors and one tilde.
CHANNEL_ID = re.compile(r"^([^~]+)~([^~]+)$")
ASSET = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css|svg)$")
MEDIA_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}
# The JSON API, `/v1` and any later version: its unknown paths answer with problem
# documents, never with a page.
API_PATH = re.compile(r"^/v[0-9]+(/|$)")
# Pages and assets change together on upgrade: let browsers revalidate every time.
NO_STALE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


def _page(name: str, status_code: int = 200) -> HTMLResponse:
    text = (PAGES / name).read_text(encoding="utf-8")
    return HTMLResponse(text, status_code=status_code, headers=NO_STALE)


def not_found_page() -> HTMLResponse:
    """The HTML 404: what was asked for is no page here, and a link to the board."""
    return _page("not-found.html", status_code=404)


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def board() -> HTMLResponse:
    """The board: every channel and its status, replayable to any date."""
    return _page("board.html")


@router.api_route("/offices", methods=["GET", "HEAD"], response_class=HTMLResponse)
def offices() -> HTMLResponse:
    """The Offices view: the board of the pairs of offices (its script reads the path)."""
    return _page("board.html")


@router.api_route("/changes", methods=["GET", "HEAD"], response_class=HTMLResponse)
def changes() -> HTMLResponse:
    """What changed: the transitions of a week or a range, and the revisions since a moment."""
    return _page("changes.html")


@router.api_route("/countries", methods=["GET", "HEAD"], response_class=HTMLResponse)
def countries() -> HTMLResponse:
    """Country pairs: a matrix of countries, each cell its channels' counts per status."""
    return _page("countries.html")


@router.api_route("/channels/{a}/{b}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def channel(a: str, b: str) -> HTMLResponse:
    """One channel: its timeline as status bands, and its events (actors by id or alias)."""
    if max(len(a), len(b)) > MAX_ACTOR_NAME:
        return not_found_page()
    return _page("channel.html")


@router.api_route("/channels/{channel_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def channel_by_id(channel_id: str) -> HTMLResponse:
    """The same page by the channel's id, `{a}~{b}`, as every card and status prints it."""
    match = CHANNEL_ID.match(channel_id)
    if match is None:
        return not_found_page()
    return channel(match.group(1), match.group(2))


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def asset(name: str) -> Response:
    """A file of the dashboard; only names of the known shapes, never a path."""
    match = ASSET.match(name)
    path = STATIC / name
    if match is None or not path.is_file():
        return not_found_page()
    return FileResponse(path, media_type=MEDIA_TYPES[match.group(1)], headers=NO_STALE)


def is_api_path(path: str) -> bool:
    """True for the JSON API's paths (`/v1` and below, or another version's)."""
    return API_PATH.match(path) is not None


async def not_found(request: Request, exc: Exception) -> Response:
    """The app's 404 handler: the HTML page for a browser's unknown page, and for an API
    path whatever the app answers other HTTP errors with (its problem document)."""
    path, root = str(request.scope.get("path", "")), str(request.scope.get("root_path", ""))
    if not is_api_path(path[len(root) :] if root and path.startswith(root) else path):
        return not_found_page()
    handler = request.app.exception_handlers[StarletteHTTPException]
    answer = handler(request, exc)
    response: Response = await answer if inspect.isawaitable(answer) else answer
    return response
