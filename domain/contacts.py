"""The contact aggregate: one recorded fact, and at most one retraction of it.

Each fact is its own aggregate whose id is the fact's id, so a client-chosen id
is unique across the whole log (the store refuses a second version 1), and a
second retraction of one fact is refused by the same optimistic check.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import Conflict
from domain.events import ContactFact


class Contact(Aggregate):
    """A recorded contact fact."""

    class Recorded(Aggregate.Created):
        """The fact as recorded.

        Version 1 carried the fact as its JSON shape (`ContactFact.to_dict()`);
        version 2 carries the `ContactFact`, which the log stores in that same
        shape (see service.application.ContactFactAsDict).
        """

        class_version = 2
        fact: ContactFact

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["fact"] = ContactFact.from_dict(state["fact"])

    class Retracted(Aggregate.Event):
        retraction_id: UUID
        reason: str

    @staticmethod
    def create_id(fact: ContactFact) -> UUID:
        return fact.id

    @event(Recorded)
    def __init__(self, fact: ContactFact) -> None:
        self.fact = fact
        self.retraction_id: UUID | None = None
        self.retraction_reason: str | None = None

    @event(Retracted)
    def _retracted(self, retraction_id: UUID, reason: str) -> None:
        self.retraction_id = retraction_id
        self.retraction_reason = reason

    def retract(self, retraction_id: UUID, reason: str) -> None:
        """Withdraw the fact; a fact is retracted at most once."""
        if self.retraction_id is not None:
            raise Conflict(f"event {self.id} is already retracted")
        self._retracted(retraction_id, reason)
