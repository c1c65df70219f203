"""Offices and their holders: terms, and the office rule.

An office is an actor of kind `office`, a post one person holds at a time. Its
holders are terms `{person, from, to}`: the person held the office over valid
time `[from, to)` (`to` None: still holds it). Terms are facts like contact
events: client-chosen ids, idempotent, corrected by retraction, each known from
the moment it was recorded.

The office rule says which events count for a channel with an office on either
side, at `known_at`: the events recorded between its own two actors, and every
event between x and y such that, at its `occurred_at`, one side of the channel
is x or is held by x and the other is y or is held by y. The status rule
(domain.status) then applies unchanged to that set. Person channels are
untouched: a side that is not an office is held by no one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actors import NAMESPACE
from domain.errors import FieldError, InvalidFact
from domain.events import (
    ACTOR_ID,
    RecordedContact,
    Retraction,
    Source,
    cached_property,
    channel_id,
    parse_sources,
)
from domain.status import known_facts
from domain.time import EARLIEST, Instant, format_instant, parse_instant, start_of

TERM_FIELDS = ("id", "person", "from", "to", "sources")


@dataclass(frozen=True)
class Term:
    """`person` held `office` over valid time [start, end); `end` None: still holds it."""

    id: UUID
    office: str
    person: str
    start: Instant
    end: Instant | None = None
    sources: tuple[Source, ...] = ()  # who reported the appointment and its end

    @cached_property
    def valid_from(self) -> datetime:
        return start_of(self.start)

    @cached_property
    def valid_to(self) -> datetime | None:
        return None if self.end is None else start_of(self.end)

    def holds(self, at: datetime) -> bool:
        """Whether the term covers the instant `at` of valid time."""
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    def overlaps(self, other: Term) -> bool:
        """Whether the two terms share an instant of valid time."""
        return (other.valid_to is None or self.valid_from < other.valid_to) and (
            self.valid_to is None or other.valid_from < self.valid_to
        )

    def to_dict(self) -> dict[str, Any]:
        """The term in the API's JSON shape."""
        return {
            "id": str(self.id),
            "office": self.office,
            "person": self.person,
            "from": format_instant(self.start),
            "to": None if self.end is None else format_instant(self.end),
            "sources": [s.to_dict() for s in self.sources],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Term:
        """A term from the JSON shape `to_dict` writes (as the log stores it)."""
        end = data.get("to")
        return cls(
            id=UUID(str(data["id"])),
            office=str(data["office"]),
            person=str(data["person"]),
            start=parse_instant(str(data["from"])),
            end=None if end is None else parse_instant(str(end)),
            sources=tuple(Source.from_dict(s) for s in data.get("sources", ())),
        )


@dataclass(frozen=True)
class RecordedTerm:
    """A term as the log holds it: with its transaction time and log position."""

    term: Term
    recorded_at: datetime
    position: int

    @property
    def id(self) -> UUID:
        return self.term.id


@dataclass(frozen=True)
class TermRetraction:
    """A later event withdrawing the term `term_id`; it counts from `recorded_at` on."""

    id: UUID
    term_id: UUID
    reason: str
    recorded_at: datetime
    position: int


def post_uuid(office: str) -> UUID:
    """The aggregate id of the office `office`'s list of terms."""
    return uuid5(NAMESPACE, f"post:{office}")


class Tenure(Aggregate):
    """One term, its aggregate id the term's id (so an id is used once in the whole log),
    and at most one retraction of it."""

    class Recorded(Aggregate.Created):
        term: dict[str, Any]  # Term.to_dict()

    class Retracted(Aggregate.Event):
        retraction_id: UUID
        reason: str

    @staticmethod
    def create_id(term: dict[str, Any]) -> UUID:
        return UUID(str(term["id"]))

    @event(Recorded)
    def __init__(self, term: dict[str, Any]) -> None:
        self.term = dict(term)
        self.retraction_id: UUID | None = None
        self.retraction_reason: str | None = None

    @event(Retracted)
    def _retracted(self, retraction_id: UUID, reason: str) -> None:
        self.retraction_id = retraction_id
        self.retraction_reason = reason

    @property
    def value(self) -> Term:
        return Term.from_dict(self.term)


class Post(Aggregate):
    """The terms an office was ever given, by id, in the order they were recorded.

    Every new term of an office appends to it, so two writers adding terms to one
    office are serialised by the store's optimistic check: the loser re-reads the
    office's terms and checks for overlap again.
    """

    class Opened(Aggregate.Created):
        office: str
        term_id: UUID

    class TermAdded(Aggregate.Event):
        term_id: UUID

    @staticmethod
    def create_id(office: str, term_id: UUID) -> UUID:
        return post_uuid(office)

    @event(Opened)
    def __init__(self, office: str, term_id: UUID) -> None:
        self.office = office
        self.term_ids = [term_id]

    @event(TermAdded)
    def add_term(self, term_id: UUID) -> None:
        self.term_ids.append(term_id)


def parse_term(office: str, data: Mapping[str, Any], *, new_id: UUID) -> Term:
    """Check a term in the API's JSON shape (`{id?, person, from, to?, sources?}`) for `office`.

    Every broken rule is collected and raised together as InvalidFact.
    """
    if not isinstance(data, Mapping):
        raise InvalidFact([FieldError((), "a term must be a JSON object")])
    errors: list[FieldError] = []
    for key in data:
        if key not in TERM_FIELDS:
            errors.append(FieldError((str(key),), "unknown field"))
    term_id = new_id
    if data.get("id") is not None:
        try:
            term_id = UUID(str(data["id"]))
        except ValueError:
            errors.append(FieldError(("id",), "must be a UUID"))
    person = data.get("person")
    if not isinstance(person, str) or not ACTOR_ID.match(person):
        errors.append(FieldError(("person",), "must be an actor id ^[a-z0-9][a-z0-9-]{0,62}$"))
        person = ""
    start = _instant(data.get("from"), "from", errors, required=True)
    end = _instant(data.get("to"), "to", errors, required=False)
    sources = parse_sources(
        data.get("sources", []), lambda loc, msg: errors.append(FieldError(loc, msg))
    )
    if start is not None and end is not None and start_of(start) >= start_of(end):
        errors.append(FieldError(("to",), "must be later than from"))
    if errors:
        raise InvalidFact(errors)
    assert start is not None
    return Term(term_id, office, str(person), start, end, sources)


def _instant(raw: object, name: str, errors: list[FieldError], *, required: bool) -> Instant | None:
    if raw is None:
        if required:
            errors.append(FieldError((name,), "required: an ISO date or UTC datetime"))
        return None
    if not isinstance(raw, str):
        errors.append(FieldError((name,), "must be an ISO date or UTC datetime"))
        return None
    try:
        value = parse_instant(raw)
    except ValueError:
        errors.append(FieldError((name,), "not an ISO 8601 date or datetime"))
        return None
    if start_of(value) < EARLIEST or (isinstance(value, date) and value.year > 9998):
        errors.append(FieldError((name,), "must be between 1900 and 9998"))
        return None
    return value


# -- the office rule -----------------------------------------------------------------


def known_terms(
    terms: Iterable[RecordedTerm], retractions: Iterable[TermRetraction], known_at: datetime
) -> list[Term]:
    """The terms the record holds at `known_at`: recorded by then, not retracted by then."""
    withdrawn = {r.term_id for r in retractions if r.recorded_at <= known_at}
    return [t.term for t in terms if t.recorded_at <= known_at and t.id not in withdrawn]


class Holders:
    """Who held which office when, for a set of terms (those the record holds at one time)."""

    def __init__(self, terms: Iterable[Term] = ()) -> None:
        self._by_person: dict[str, dict[UUID, Term]] = defaultdict(dict)
        for term in terms:
            self.add(term)

    def add(self, term: Term) -> None:
        self._by_person[term.person][term.id] = term

    def remove(self, term: Term) -> None:
        self._by_person[term.person].pop(term.id, None)

    def holds_any(self, person: str) -> bool:
        return bool(self._by_person.get(person))

    def offices(self, actor: str, at: datetime) -> list[str]:
        """The offices `actor` held at the instant `at` (none, for an office or an institution)."""
        held = self._by_person.get(actor)
        if not held:
            return []
        return sorted({t.office for t in held.values() if t.holds(at)})

    def sides(self, actor: str, at: datetime) -> list[str]:
        """What a side of a channel can be for `actor` to count on it at `at`: the actor
        itself, or an office it held then."""
        return [actor, *self.offices(actor, at)]

    def channels(self, fact: RecordedContact) -> set[str]:
        """The channels other than its own that the fact counts for: one side is x or
        held by x, the other y or held by y, at its `occurred_at`."""
        x, y = fact.fact.actor, fact.fact.counterpart
        if not (self.holds_any(x) or self.holds_any(y)):
            return set()
        at = fact.valid_from
        found = {channel_id(a, b) for a in self.sides(x, at) for b in self.sides(y, at) if a != b}
        found.discard(fact.fact.channel)
        return found


def office_facts(
    channel: str,
    facts: Iterable[RecordedContact],
    retractions: Iterable[Retraction],
    terms: Iterable[RecordedTerm],
    term_retractions: Iterable[TermRetraction],
    known_at: datetime,
) -> list[RecordedContact]:
    """The facts that count for `channel` at `known_at` under the office rule.

    `facts` may be the whole log's: those recorded between the channel's own two
    actors count, and those between two others count when the terms held at
    `known_at` make them count. For a channel of two non-offices this is exactly
    its own facts.
    """
    holders = Holders(known_terms(terms, term_retractions, known_at))
    counted = [f for f in facts if f.fact.channel == channel or channel in holders.channels(f)]
    return known_facts(counted, retractions, known_at)
