"""The channel read model's storage: its tables' SQL for SQLite and PostgreSQL.

`open_view(settings)` returns the view for the configured store: one of the
eventsourcing library's tracking recorders, so every batch of view changes
commits in one transaction with the position it brings the view to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.persistence import InfrastructureFactory, InterfaceError, OperationalError
from eventsourcing.utils import Environment

from infra.readmodel.base import (
    Generation,
    GenerationRetired,
    PositionMoved,
    tracking_name,
)
from infra.readmodel.changes import ChangeSet
from infra.readmodel.countries import CountryReads
from infra.readmodel.history import Channels, HistoryReads, transition_key
from infra.readmodel.reads import EventFilter, Found, Live, Window
from infra.readmodel.rows import ActorState, event_key
from infra.readmodel.writes import ViewWrites
from infra.settings import Settings
from infra.store import eventsourcing_env

T = TypeVar("T")

EventKey = tuple[int, int]  # where a page of events ended: see rows.event_key

__all__ = [
    "ActorState",
    "ChangeSet",
    "ChannelView",
    "Channels",
    "EventFilter",
    "EventKey",
    "Found",
    "Generation",
    "GenerationRetired",
    "Live",
    "PositionMoved",
    "Window",
    "event_key",
    "open_view",
    "retrying",
    "tracking_name",
    "transition_key",
]


class ChannelView(HistoryReads, CountryReads, ViewWrites):
    """Everything the read model stores, read and written; one subclass per store."""

    def close(self) -> None:
        """Close the view's own connections."""
        datastore = getattr(self, "datastore", None)
        if datastore is not None:
            datastore.close()


def retrying(read: Callable[[], T]) -> T:
    """Run `read`, once more if the store's connection broke (a restarted server)."""
    try:
        return read()
    except (InterfaceError, OperationalError):
        return read()


def open_view(settings: Settings, *, create_table: bool = False) -> ChannelView:
    """The view of the store named by the settings, on its own connections.

    With `create_table`, the library's tracking table is created if missing
    (`backchannel migrate` does this; alembic creates the view's own tables).
    """
    from infra.readmodel.postgres import PostgresChannelView
    from infra.readmodel.sqlite import SQLiteChannelView

    settings_env = eventsourcing_env(settings, create_table=create_table)
    # No ping before each use of a pooled connection: on a busy host it costs more
    # than the read itself. A read that meets a dead connection is retried instead
    # (see `retrying`), and the projector retries a failed batch.
    settings_env["POSTGRES_PRE_PING"] = "n"
    # The library ends a session idle in a transaction for 5 s; a batch builds its
    # rows before it begins, but a long pause of the process (a full garbage
    # collection of a large cache) must not cost the batch.
    settings_env["POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"] = "60"
    env = Environment(env=settings_env)
    factory = InfrastructureFactory.construct(env)
    view_class: type[Any] = PostgresChannelView if settings.is_postgres else SQLiteChannelView
    view = factory.tracking_recorder(view_class)
    assert isinstance(view, ChannelView)
    return view
