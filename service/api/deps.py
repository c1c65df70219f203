"""Dependencies shared by the routes: the application, behind the right token, caught up.

`Reading` is the read side: the read token checked, and the record to read,
caught up to the client's `min_position` when it passes one (or 503 with
Retry-After). `Writing` is the application for a write: the write token checked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from domain.record import Record
from infra.settings import Settings
from service.api.auth import require_read, require_write
from service.api.errors import NOT_CAUGHT_UP, ApiProblem
from service.api.metrics import ApiMetrics
from service.api.readiness import Readiness
from service.application import Backchannel
from service.projector import Projector
from service.queries import ReadModel

POLL_SECONDS = 0.02


def get_backchannel(request: Request) -> Backchannel:
    return request.app.state.backchannel  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_readmodel(request: Request) -> ReadModel:
    return request.app.state.readmodel  # type: ignore[no-any-return]


def get_projector(request: Request) -> Projector | None:
    return request.app.state.projector  # type: ignore[no-any-return]


def get_metrics(request: Request) -> ApiMetrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def get_readiness(request: Request) -> Readiness:
    return request.app.state.readiness  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ReadSide:
    """The application for a read, and how far the client needs its record to have come."""

    backchannel: Backchannel
    min_position: int | None
    wait_seconds: float
    readmodel: ReadModel
    projector: Projector | None
    readiness: Readiness
    response: Response

    @contextmanager
    def record(self) -> Iterator[Record]:
        """The record, caught up to `min_position` (else 503), held still while it is read.

        The wait happens here, after every parameter was validated, so an invalid
        request is a 422 however far ahead its `min_position` is.
        """
        if self.min_position is not None:
            wait_for(self.backchannel, self.min_position, self.wait_seconds)
        with self.backchannel.reading() as record:
            yield record

    @contextmanager
    def projection(self) -> Iterator[tuple[Record, ReadModel]]:
        """The channel read model, caught up to `min_position` (else 503), and the record
        (held still) to resolve actor names.

        Without `min_position`, it waits (bounded) for this process's own last
        write, and answers with what it has if that takes too long: a client of
        one process reads its writes without asking; across processes it passes
        `min_position`.

        The answer carries the position it reflects and its lag (see
        `Readiness.stamp`); until the read model has caught up since start-up it
        is a 503 instead, unless the client's `min_position` is reached.
        """
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
        with self.backchannel.reading() as record:
            position = self.readmodel.position()  # read before the answer: a lower bound
            self.readiness.stamp(self.response, position, record.position, self.min_position)
            yield record, self.readmodel

    def _projected(self, position: int) -> bool:
        if self.projector is not None:
            return self.projector.wait(position, self.wait_seconds)
        return self.readmodel.wait(position, self.wait_seconds)

    def now(self) -> datetime:
        return self.backchannel.clock()

    @property
    def window(self) -> timedelta:
        return self.backchannel.window


def read_side(
    _auth: Annotated[None, Depends(require_read)],
    backchannel: Annotated[Backchannel, Depends(get_backchannel)],
    settings: Annotated[Settings, Depends(get_settings)],
    readmodel: Annotated[ReadModel, Depends(get_readmodel)],
    projector: Annotated[Projector | None, Depends(get_projector)],
    readiness: Annotated[Readiness, Depends(get_readiness)],
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
    return ReadSide(
        backchannel,
        min_position,
        settings.min_position_wait_seconds,
        readmodel,
        projector,
        readiness,
        response,
    )


def wait_for(backchannel: Backchannel, position: int, seconds: float) -> None:
    """Return once the record has folded `position`; raise the 503 after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        reached = backchannel.refresh().position
        if reached >= position:
            return
        if time.monotonic() >= deadline:
            raise ApiProblem(
                503,
                f"the record is at position {reached}, not yet at {position}; retry shortly",
                type=NOT_CAUGHT_UP,
                headers={"Retry-After": "1"},
                position=reached,
            )
        time.sleep(POLL_SECONDS)


def write_side(
    _auth: Annotated[None, Depends(require_write)],
    backchannel: Annotated[Backchannel, Depends(get_backchannel)],
) -> Backchannel:
    """The application, for a client holding a write token."""
    return backchannel


Reading = Annotated[ReadSide, Depends(read_side)]
Writing = Annotated[Backchannel, Depends(write_side)]
Metrics = Annotated[ApiMetrics, Depends(get_metrics)]
