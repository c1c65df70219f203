"""The composition root: Settings in, a wired Backchannel application out."""

from __future__ import annotations

from infra import schema
from infra.readmodel import open_view
from infra.settings import Settings
from infra.store import eventsourcing_env
from service.application import Backchannel, Clock, utcnow


def migrate(settings: Settings) -> str:
    """Create the library's tables (log, tracking; idempotent) and bring ours to head."""
    Backchannel(eventsourcing_env(settings, create_table=True)).close()
    open_view(settings, create_table=True).close()
    return schema.upgrade(settings)


def bootstrap(
    settings: Settings, *, check_schema: bool = True, clock: Clock = utcnow
) -> Backchannel:
    """Open the store named by the settings; refuse an out-of-date schema."""
    if check_schema:
        schema.check_at_head(settings)
    app = Backchannel(eventsourcing_env(settings), clock=clock)
    app.window = settings.window
    return app
