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


class Contact(Aggregate):
    """A recorded contact fact; `fact` is its canonical JSON shape."""

    class Recorded(Aggregate.Created):
        fact: dict[str, Any]

    class Retracted(Aggregate.Event):
        retraction_id: UUID
        reason: str

    @staticmethod
    def create_id(fact: dict[str, Any]) -> UUID:
        return UUID(fact["id"])

    @event(Recorded)
    def __init__(self, fact: dict[str, Any]) -> None:
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
