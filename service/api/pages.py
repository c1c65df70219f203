"""Pages of lists: `limit`, an opaque `cursor`, and `next_cursor` on every answer.

A cursor is URL-safe base64 of JSON: which list it belongs to, the sort key of
the last item served (keyset pagination, so items added meanwhile neither
repeat nor vanish), and the times the first page was read at (`known_at`,
`as_of`), so that every page of one listing answers the same question.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError

from domain.time import to_utc

T = TypeVar("T")
Key = str | tuple[int, ...] | tuple[int, str]
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended, and the times it was read at."""

    listing: str
    after: Any
    pins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PageRequest:
    """What the client asked for: at most `limit` items after `cursor`."""

    limit: int
    cursor: Cursor | None

    def pinned(self, name: str, given: datetime | None, default: datetime) -> datetime:
        """The time `name` to read at: as given, else as the first page was read, else default."""
        if given is not None:
            return given
        if self.cursor is not None and name in self.cursor.pins:
            try:
                return to_utc(datetime.fromisoformat(self.cursor.pins[name]))
            except (TypeError, ValueError, OverflowError):
                raise malformed("its times are not readable") from None
        return default

    def after(self, listing: str) -> str | None:
        """The string key the previous page of `listing` ended at (None on a first page)."""
        after = _after(self.cursor, listing)
        return after if isinstance(after, str) else None

    def after_key(self, listing: str, size: int) -> tuple[int, ...] | None:
        """The integer key (of `size` parts) the previous page of `listing` ended at."""
        after = _after(self.cursor, listing)
        if after is None:
            return None
        if (
            not isinstance(after, tuple)
            or len(after) != size
            or not all(isinstance(v, int) for v in after)
        ):
            raise malformed("its position belongs to another list")
        return after  # type: ignore[return-value]

    def after_instant(self, listing: str) -> tuple[int, str] | None:
        """The key (an integer, then a string) the previous page of `listing` ended at."""
        after = _after(self.cursor, listing)
        if after is None:
            return None
        if not (
            isinstance(after, tuple)
            and len(after) == 2
            and isinstance(after[0], int)
            and isinstance(after[1], str)
        ):
            raise malformed("its position belongs to another list")
        return after[0], after[1]


def malformed(why: str) -> RequestValidationError:
    """The 422 for a cursor this server did not issue (or not for this list)."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", "cursor"), "msg": f"malformed cursor: {why}"}]
    )


def encode_cursor(cursor: Cursor) -> str:
    data = {"l": cursor.listing, "a": cursor.after, "p": dict(cursor.pins)}
    raw = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """Read a cursor back; raise the 422 if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise malformed("not a cursor from this API") from None
    if not isinstance(data, dict) or not isinstance(data.get("l"), str) or "a" not in data:
        raise malformed("not a cursor from this API")
    pins = data.get("p", {})
    if not isinstance(pins, dict) or not all(isinstance(v, str) for v in pins.values()):
        raise malformed("not a cursor from this API")
    return Cursor(data["l"], data["a"], pins)


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=2000, description="`next_cursor` of the previous page"),
    ] = None,
) -> PageRequest:
    """The `limit` and `cursor` query parameters of every list."""
    return PageRequest(limit, decode_cursor(cursor) if cursor else None)


Paging = Annotated[PageRequest, Depends(page_request)]


def paginate(
    items: Iterable[T],
    *,
    listing: str,
    key: Callable[[T], Key],
    request: PageRequest,
    pins: Mapping[str, datetime] | None = None,
) -> tuple[list[T], str | None]:
    """One page of `items` (already in `key` order) and the cursor of the next, or None."""
    after = _after(request.cursor, listing)
    page: list[T] = []
    last: Key | None = None
    for item in items:
        item_key = key(item)
        if after is not None and _not_after(item_key, after):
            continue
        if len(page) == request.limit:
            assert last is not None
            written = last if isinstance(last, str) else list(last)
            stamped = {name: value.isoformat() for name, value in (pins or {}).items()}
            return page, encode_cursor(Cursor(listing, written, stamped))
        page.append(item)
        last = item_key
    return page, None


def _after(cursor: Cursor | None, listing: str) -> Key | None:
    if cursor is None:
        return None
    if cursor.listing != listing:
        raise malformed(f"it belongs to another list ({cursor.listing})")
    after = cursor.after
    if isinstance(after, str):
        return after
    if (
        isinstance(after, list)
        and after
        and all(isinstance(v, int | str) and not isinstance(v, bool) for v in after)
    ):
        return tuple(after)
    raise malformed("its position is not readable")


def _not_after(item_key: Key, after: Key) -> bool:
    if isinstance(item_key, str) != isinstance(after, str) or (
        isinstance(item_key, tuple)
        and isinstance(after, tuple)
        and [type(v) for v in item_key] != [type(v) for v in after]
    ):
        raise malformed("its position belongs to another list")
    return item_key <= after  # type: ignore[operator]
