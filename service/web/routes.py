"""Routes of the dashboard: two pages and their static assets."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

HERE = Path(__file__).resolve().parent
PAGES = HERE / "pages"
STATIC = HERE / "static"
# An actor in a channel's path: its id, or any name or alias the API resolves.
MAX_ACTOR_NAME = 300
ASSET = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css|svg)$")
MEDIA_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}
# Pages and assets change together on upgrade: let browsers revalidate every time.
NO_STALE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((PAGES / name).read_text(encoding="utf-8"), headers=NO_STALE)


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def board() -> HTMLResponse:
    """The board: every channel and its status, replayable to any date."""
    return _page("board.html")


@router.api_route("/channels/{a}/{b}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def channel(a: str, b: str) -> HTMLResponse:
    """One channel: its timeline as status bands, and its events (actors by id or alias)."""
    if max(len(a), len(b)) > MAX_ACTOR_NAME:
        raise HTTPException(status_code=404, detail="no such channel")
    return _page("channel.html")


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
def asset(name: str) -> FileResponse:
    """A file of the dashboard; only names of the known shapes, never a path."""
    match = ASSET.match(name)
    path = STATIC / name
    if match is None or not path.is_file():
        raise HTTPException(status_code=404, detail="no such asset")
    return FileResponse(path, media_type=MEDIA_TYPES[match.group(1)], headers=NO_STALE)
