"""PLOVER, the open event ontology: how each of our event types maps to its categories.

One table, as domain.md writes it. Statements and hotline tests have no PLOVER
category and are left out of a PLOVER export.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.events import ContactFact, EventType

MILITARY = "MIL"


@dataclass(frozen=True)
class Coding:
    """A PLOVER `event` and `mode`, and whether the guest is PLOVER's actor."""

    event: str
    mode: str
    visitor_first: bool = False
    military: bool = False


CODINGS: dict[EventType, Coding] = {
    EventType.CALL_REQUESTED: Coding("REQUEST", "meet"),
    EventType.MEETING_REQUESTED: Coding("REQUEST", "meet"),
    EventType.CALL_REFUSED: Coding("REJECT", "meet"),
    EventType.MEETING_REFUSED: Coding("REJECT", "meet"),
    EventType.CALL_HELD: Coding("CONSULT", "phone"),
    EventType.MEETING_HELD: Coding("CONSULT", "visit", visitor_first=True),
    EventType.SUMMONS: Coding("ACCUSE", "disapprove"),
    EventType.HOTLINE_USE: Coding("CONSULT", "phone", military=True),
}


def coding(fact: ContactFact) -> Coding | None:
    """The fact's PLOVER coding; None for a type PLOVER has no category for."""
    return CODINGS.get(fact.type)


def parties(fact: ContactFact) -> tuple[str, str]:
    """PLOVER's actor and recipient: ours, but for a meeting the guest (the visitor) first."""
    found = coding(fact)
    if found is not None and found.visitor_first:
        return fact.counterpart, fact.actor
    return fact.actor, fact.counterpart


def context(fact: ContactFact, sectors: tuple[str | None, str | None]) -> str:
    """`military` for a use of a military line or when either party's sector is MIL."""
    found = coding(fact)
    if (found is not None and found.military) or MILITARY in sectors:
        return "military"
    return "diplomatic"
