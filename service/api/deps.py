"""Dependencies shared by the routes: the application, behind the right token, caught up.

`Reading` is the application for a read: the read token checked and, when the
client passes `min_position`, the record caught up to it (or 503 with
Retry-After). `Writing` is the application for a write: the write token checked.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Query, Request

from infra.settings import Settings
from service.api.auth import require_read, require_write
from service.api.errors import NOT_CAUGHT_UP, ApiProblem
from service.api.metrics import ApiMetrics
from service.application import Backchannel

POLL_SECONDS = 0.02


def get_backchannel(request: Request) -> Backchannel:
    return request.app.state.backchannel  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_metrics(request: Request) -> ApiMetrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def read_side(
    _auth: Annotated[None, Depends(require_read)],
    backchannel: Annotated[Backchannel, Depends(get_backchannel)],
    settings: Annotated[Settings, Depends(get_settings)],
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            description="wait (bounded) until the record has folded this log position: "
            "pass a write's `position` to read your own writes",
        ),
    ] = None,
) -> Backchannel:
    """The application, its record caught up to `min_position` within the allowed wait."""
    if min_position is not None:
        wait_for(backchannel, min_position, settings.min_position_wait_seconds)
    return backchannel


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


Reading = Annotated[Backchannel, Depends(read_side)]
Writing = Annotated[Backchannel, Depends(write_side)]
Metrics = Annotated[ApiMetrics, Depends(get_metrics)]
