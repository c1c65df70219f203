"""Reads turned into files: streamed, with `Content-Disposition: attachment`.

The writers are service/exports.py's; the rows come from the read model a page at
a time (`pages`), so a file of any length holds one page in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from fastapi.responses import StreamingResponse

from infra.readmodel import event_key
from service.queries import ReadModel

T = TypeVar("T")
PAGE = 1000
TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl; charset=utf-8",
    "plover": "application/jsonl; charset=utf-8",
    "timelinejs": "application/vnd.timelinejs+json",
    "gexf": "application/gexf+xml",
}
EXTENSIONS = {"plover": "plover.jsonl", "timelinejs": "timeline.json"}


class BoardFormat(StrEnum):
    CSV = "csv"


class EventsFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    PLOVER = "plover"


class TimelineFormat(StrEnum):
    TIMELINEJS = "timelinejs"


class NetworkFormat(StrEnum):
    JSON = "json"
    GEXF = "gexf"


def attachment(pieces: Iterable[str], format: str, name: str) -> StreamingResponse:
    """`pieces` streamed as a file named `name` (the format's extension added)."""
    filename = f"{name}.{EXTENSIONS.get(format, format)}"
    return StreamingResponse(
        iter(pieces),
        media_type=TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def file_responses(*formats: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entry for a 200 that may also be one of these files."""
    return {
        200: {
            "content": {
                TYPES[f].split(";")[0]: {
                    "schema": {"type": "object" if f == "timelinejs" else "string"}
                }
                for f in formats
            }
        }
    }


def every_event(view: ReadModel, known_at: datetime, **filters: Any) -> Iterator[Any]:
    """Every event matching the filters, read a page at a time."""
    after = None
    while True:
        page = view.events(known_at=known_at, after=after, limit=PAGE, **filters)
        yield from page
        if len(page) < PAGE:
            return
        after = event_key(page[-1][0])


def lookup(view: ReadModel) -> Callable[[str], Any]:
    """An actor's profile by id, each looked up once."""
    seen: dict[str, Any] = {}

    def profile(actor_id: str) -> Any:
        if actor_id not in seen:
            found = view.actor(actor_id)
            seen[actor_id] = None if found is None else found.profile
        return seen[actor_id]

    return profile
