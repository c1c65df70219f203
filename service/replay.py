"""The reference replay: the whole log folded into a `Record` (domain/record.py).

`backchannel status`, `backchannel export` and the tests replay the log this
way; nothing that serves requests does (they read the read model).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.events import RecordedContact, Retraction
from domain.offices import RecordedTerm, TermRetraction
from domain.record import Record
from infra.readmodel.rows import ActorState
from service.application import READ_BATCH, Backchannel
from service.projection import ActorChange, decode


class Replay:
    """A `Record` of one application's log, brought up to date by `refresh()`."""

    def __init__(self, app: Backchannel) -> None:
        self.app = app
        self.record = Record()
        self._actors: dict[UUID, ActorState] = {}

    def refresh(self) -> Record:
        """Fold every notification appended since the last refresh into the record."""
        while True:
            batch = self.app.notifications(start=self.record.position + 1, limit=READ_BATCH)
            for notification in batch:
                self._fold(notification)
            if len(batch) < READ_BATCH:
                return self.record

    def _fold(self, notification: Notification) -> None:
        item: Any = decode(self.app.mapper, notification)
        position = notification.id
        if isinstance(item, ActorChange):
            actor = item.applied(self._actors.get(item.aggregate_id))
            if actor is not None:
                self._actors[item.aggregate_id] = actor
                self.record.put_actor(actor.profile, position)
        elif isinstance(item, RecordedContact):
            self.record.add_contact(item)
        elif isinstance(item, Retraction):
            self.record.add_retraction(item)
        elif isinstance(item, RecordedTerm):
            self.record.add_term(item)
        elif isinstance(item, TermRetraction):
            self.record.add_term_retraction(item)
        self.record.position = max(self.record.position, position)


class ReplayingBackchannel(Backchannel):
    """The application with the reference replay beside it (the CLI's `status`, tests)."""

    name = Backchannel.name  # the same log: the library names its tables after the application

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replay = Replay(self)

    @property
    def record(self) -> Record:
        return self._replay.record

    def refresh(self) -> Record:
        return self._replay.refresh()


__all__ = ["Replay", "ReplayingBackchannel"]
