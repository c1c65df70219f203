"""Rebuilding the read model: a new generation from position 0, switched to when caught up.

Readers keep reading the live generation while the new one is built; the
switch happens in one transaction once the new generation has processed at
least what the live one has, so no reader ever sees a half-built view. The
generation it replaces is then deleted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from infra.readmodel import open_view
from infra.settings import Settings
from service.bootstrap import bootstrap
from service.projector import Progress, Projector

REBUILD_BATCH = 2000
REBUILD_CACHE = 200_000  # channels: a rebuild reads every channel, and memory is cheap here


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild did: the generation now live, how far it got and how fast."""

    generation: int
    position: int
    seconds: float
    channels_dropped: int

    @property
    def rate(self) -> float:
        """Log positions per second."""
        return self.position / self.seconds if self.seconds else 0.0


def rebuild(
    settings: Settings,
    *,
    progress: Progress | None = None,
    batch_size: int = REBUILD_BATCH,
    cache_channels: int = REBUILD_CACHE,
) -> Rebuilt:
    """Build a new generation from the whole log, make it live, drop the one it replaces.

    A generation left half-built by an interrupted rebuild is discarded.
    """
    view = open_view(settings)
    app = bootstrap(settings)
    try:
        number = view.create_generation(settings.window, datetime.now(UTC), live=False)
        projector = Projector(
            settings,
            app=app,
            view=view,
            generation=number,
            batch_size=batch_size,
            cache_channels=cache_channels,
            quiet_gc=True,
        )
        started = time.monotonic()
        projector.catch_up(progress=progress)
        view.analyze()  # the new rows' statistics, before readers plan queries over them
        while not view.promote(number, datetime.now(UTC)):
            projector.catch_up(progress=progress)
        seconds = time.monotonic() - started
        dropped = view.drop_retired()
        return Rebuilt(number, projector.position, seconds, dropped)
    finally:
        view.close()
        app.close()
