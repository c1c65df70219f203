"""GET /v1/stream: every entry of the log, once the projections have it, as server-sent events.

The messages come from this process's `Feed` (service/feed.py). A subscriber
holds only its position: it reads what follows from the feed (or, when it is
further behind than the feed keeps, from the log), a page at a time, and sends
it; nothing piles up for a client that reads slowly. A client whose socket takes
no message for `stream_send_timeout_seconds` (30 by default) is cut off, and
resumes from its `Last-Event-ID` when it reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from domain.events import channel_id
from infra.logging import get_logger
from service.api.deps import Reading
from service.api.errors import problems
from service.feed import Feed, Message

router = APIRouter(prefix="/v1", tags=["stream"])

HEARTBEAT = 15  # seconds between comment lines when idle
_log = get_logger("backchannel.stream")
IDLE = 0.1  # seconds between looks at the feed while nothing is new


@router.get(
    "/stream",
    responses=problems(
        401,
        422,
        503,
        others={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
    ),
    summary="Every entry of the log, as it is projected, as server-sent events",
    description="`text/event-stream`: one message per log entry once the projections have it, "
    "`id:` its position, `event:` `event`, `retraction`, `actor` or `term`, `data:` the JSON "
    "the API returns for it; for `event` and `retraction` also `statuses`, the status objects "
    "as of now of the board channels it changed. Resumes after `Last-Event-ID` (or `after`); "
    "without either, starts at the entries projected from now on. A comment line every "
    f"{HEARTBEAT} s when idle. A client that stops reading is cut off, and resumes from its "
    "position when it reconnects.",
)
async def stream(
    request: Request,
    reader: Reading,
    after: Annotated[int | None, Query(ge=0, description="resume after this position")] = None,
    channel: Annotated[
        str | None,
        Query(
            max_length=300,
            pattern=r"^[^~]+~[^~]+$",
            description="only this channel's entries: its two actors joined by `~`",
        ),
    ] = None,
    actor: Annotated[
        str | None, Query(max_length=300, description="only entries about this actor")
    ] = None,
    last_event_id: Annotated[
        str | None, Header(max_length=20, description="the last message's `id:`")
    ] = None,
) -> EventSourceResponse:
    """The log as server-sent events, after `Last-Event-ID` or `after`."""
    feed: Feed = request.app.state.feed
    start = after
    if last_event_id is not None and last_event_id.strip().isdigit():
        start = int(last_event_id.strip())
    view = reader.readmodel
    wanted_channel = None
    if channel is not None:
        a, _, b = channel.partition("~")
        wanted_channel = channel_id(*[await run_in_threadpool(view.id_of, n) for n in (a, b)])
    wanted_actor = None if actor is None else await run_in_threadpool(view.id_of, actor)

    def shown(message: Message) -> bool:
        if wanted_channel is not None and message.channel != wanted_channel:
            return False
        return wanted_actor is None or wanted_actor in message.actors

    return _Stream(
        _messages(request, feed, start, shown),
        ping=HEARTBEAT,
        send_timeout=request.app.state.settings.stream_send_timeout_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# Set in the request's task when its subscriber was cut off: the server then sees the
# response end unfinished, which is what a cut-off is, not an error (`CutOffFilter`).
_cut_off: ContextVar[bool] = ContextVar("stream_cut_off", default=False)
UNFINISHED = "ASGI callable returned without completing response."


class CutOffFilter(logging.Filter):
    """Drops the server's "response not completed" error for a subscriber the stream cut
    off on purpose (its own log line says so); the same error elsewhere still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.getMessage() == UNFINISHED and _cut_off.get())


def install_cut_off_filter() -> None:
    server = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, CutOffFilter) for f in server.filters):
        server.addFilter(CutOffFilter())


class _Stream(EventSourceResponse):
    """The stream's response: a subscriber cut off for not reading is told in the log,
    not reported as an error of the application."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except SendTimeoutError:
            _cut_off.set(True)
            client = scope.get("client")
            _log.info(
                "stream_subscriber_cut_off",
                client=f"{client[0]}:{client[1]}" if client else None,
                after_seconds=self.send_timeout,
            )


async def _messages(
    request: Request, feed: Feed, start: int | None, shown: Callable[[Message], bool]
) -> AsyncIterator[dict[str, Any]]:
    """The messages after `start` (None: from now) as they come, a page at a time; the
    feed follows the log while this subscriber is there."""
    await run_in_threadpool(feed.subscribe)
    try:
        position = feed.position if start is None else start
        async for message in _following(request, feed, position, shown):
            yield message
    finally:
        feed.unsubscribe()


async def _following(
    request: Request, feed: Feed, position: int, shown: Callable[[Message], bool]
) -> AsyncIterator[dict[str, Any]]:
    while True:
        if feed.position > position:
            found = feed.recent_after(position)
            if found is None:  # further behind than the feed keeps: from the log
                found = await run_in_threadpool(feed.from_log, position)
            batch, position = found
            for message in batch:
                if shown(message):
                    yield {
                        "id": str(message.position),
                        "event": message.kind,
                        "data": json.dumps(message.data, separators=(",", ":")),
                    }
            continue
        if await request.is_disconnected():
            return
        await asyncio.sleep(IDLE)
