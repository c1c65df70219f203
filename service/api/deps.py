"""Dependencies shared by the routes: the application, behind the right token, caught up.

`Reading` is the read side: the read token checked, and the read model to read,
caught up to the client's `min_position` when it passes one (or 503 with
Retry-After). `Writing` is the application for a write: the write token checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from infra.settings import Settings
from service.api.auth import Credentials, require_read, require_write
from service.api.errors import NOT_CAUGHT_UP, ApiProblem
from service.api.metrics import ApiMetrics
from service.api.readiness import Readiness
from service.application import Backchannel
from service.projector import Projector
from service.queries import ReadModel


async def get_backchannel(request: Request) -> Backchannel:
    return request.app.state.backchannel  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_readmodel(request: Request) -> ReadModel:
    return request.app.state.readmodel  # type: ignore[no-any-return]


async def get_projector(request: Request) -> Projector | None:
    return request.app.state.projector  # type: ignore[no-any-return]


async def get_metrics(request: Request) -> ApiMetrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


async def get_readiness(request: Request) -> Readiness:
    return request.app.state.readiness  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ReadSide:
    """The read model for a read, and how far the client needs it to have come."""

    backchannel: Backchannel
    min_position: int | None
    wait_seconds: float
    readmodel: ReadModel
    projector: Projector | None
    readiness: Readiness
    response: Response

    @contextmanager
    def view(self) -> Iterator[ReadModel]:
        """The read model, caught up to `min_position` (else 503).

        The wait happens here, after every parameter was validated, so an invalid
        request is a 422 however far ahead its `min_position` is. Without
        `min_position`, it waits (bounded) for this process's own last write,
        and answers with what it has if that takes too long: a client of one
        process reads its writes without asking; across processes it passes
        `min_position`.

        The answer carries the position it reflects and its lag (see
        `Readiness.stamp`); until the read model has caught up since start-up it
        is a 503 instead, unless the client's `min_position` is reached.
        """
        self.caught_up()
        position, head = self.readmodel.progress()  # read before the answer: a lower bound
        self.stamp(position, head)
        yield self.readmodel

    def caught_up(self) -> None:
        """Wait (bounded) for `min_position`, else for this process's own last write;
        503 if `min_position` is not reached in time."""
        if self.min_position is not None:
            if not self._projected(self.min_position):
                reached = self.readmodel.position()
                raise ApiProblem(
                    503,
                    f"the read model is at position {reached}, not yet at "
                    f"{self.min_position}; retry shortly",
                    type=NOT_CAUGHT_UP,
                    headers={"Retry-After": "1"},
                    position=reached,
                )
        elif self.backchannel.written:
            self._projected(self.backchannel.written)

    def stamp(self, position: int, head: int) -> None:
        """Mark the answer with `position` (one it includes) and its lag (see
        `Readiness.stamp`); 503 while catching up since start-up."""
        self.readiness.stamp(self.response, position, head, self.min_position)

    def answer(self, content: Any) -> JSONResponse:
        """`content` (already in the shape of the route's response model, every value
        JSON) as the response, with the headers `stamp` set.

        The route's `response_model` then documents the answer without validating
        it again (nor in a worker thread of its own).
        """
        headers = {k: v for k, v in self.response.headers.items() if k != "content-length"}
        return JSONResponse(content, headers=headers)

    def _projected(self, position: int) -> bool:
        if self.projector is not None:
            return self.projector.wait(position, self.wait_seconds)
        return self.readmodel.wait(position, self.wait_seconds)

    def now(self) -> datetime:
        return self.backchannel.clock()

    @property
    def window(self) -> timedelta:
        return self.backchannel.window


# The dependencies are coroutines that never block (they only look things up), so
# FastAPI calls them on the event loop instead of a worker thread each.


async def reader_allowed(request: Request, credentials: Credentials) -> None:
    """`require_read`, on the event loop (it only compares tokens)."""
    require_read(request, credentials)


async def writer_allowed(request: Request, credentials: Credentials) -> None:
    """`require_write`, on the event loop (it only compares tokens)."""
    require_write(request, credentials)


async def read_side(
    _auth: Annotated[None, Depends(reader_allowed)],
    request: Request,
    response: Response,
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            description="wait (bounded) until the record has folded this log position: "
            "pass a write's `position` to read your own writes",
        ),
    ] = None,
) -> ReadSide:
    """The read side for a client allowed to read."""
    state = request.app.state  # what the get_* dependencies above give, looked up at once
    return ReadSide(
        state.backchannel,
        min_position,
        state.settings.min_position_wait_seconds,
        state.readmodel,
        state.projector,
        state.readiness,
        response,
    )


async def write_side(
    _auth: Annotated[None, Depends(writer_allowed)],
    backchannel: Annotated[Backchannel, Depends(get_backchannel)],
) -> Backchannel:
    """The application, for a client holding a write token."""
    return backchannel


Reading = Annotated[ReadSide, Depends(read_side)]
Writing = Annotated[Backchannel, Depends(write_side)]
Metrics = Annotated[ApiMetrics, Depends(get_metrics)]
