"""Builders for facts and histories used across the suites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain.events import ContactFact, RecordedContact, Retraction, parse_fact

T0 = datetime(2022, 3, 1, tzinfo=UTC)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def fact(
    type_: str,
    occurred_at: str,
    actor: str = "lloyd-austin",
    counterpart: str = "sergei-shoigu",
    **extra: Any,
) -> dict[str, Any]:
    """A fact in the API's JSON shape."""
    return {
        "id": str(extra.pop("id", uuid4())),
        "type": type_,
        "occurred_at": occurred_at,
        "actor": actor,
        "counterpart": counterpart,
        **extra,
    }


def typed(data: dict[str, Any]) -> ContactFact:
    """A fact in the API's JSON shape as the domain type (any occurred_at is accepted)."""
    return parse_fact(data, now=FAR_FUTURE, new_id=UUID(int=0))


def recorded(
    data: dict[str, Any], *, recorded_at: datetime = T0, position: int = 1
) -> RecordedContact:
    """The fact as the log would hold it."""
    return RecordedContact(typed(data), recorded_at, position)


def history(*items: dict[str, Any], start: datetime = T0) -> list[RecordedContact]:
    """Facts recorded one second apart, in the order given."""
    return [
        recorded(item, recorded_at=start + timedelta(seconds=i), position=i + 1)
        for i, item in enumerate(items)
    ]


def retraction(
    target: RecordedContact, *, recorded_at: datetime, position: int = 1000
) -> Retraction:
    return Retraction(uuid4(), target.id, "wrong date", recorded_at, position)


def ids(*contacts: RecordedContact) -> tuple[UUID, ...]:
    return tuple(c.id for c in contacts)


def seed_lines(name: str) -> int:
    """How many records the shipped seed file `name` (actors, events, terms) holds."""
    from service.transfer import SEEDS

    text = (SEEDS / f"{name}.jsonl").read_text(encoding="utf-8")
    return sum(1 for line in text.splitlines() if line.strip())
