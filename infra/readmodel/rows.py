"""How the read model's rows spell domain values: times as integers, lists as JSON.

Times are microseconds since 1970-01-01 UTC; the open ends of valid and
transaction time are MIN_TIME and MAX_TIME, so every range condition is a plain
comparison an index can serve.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, SafeUUID

from domain.actors import ActorKind, ActorProfile, fold
from domain.events import (
    ContactFact,
    EventType,
    Precision,
    RecordedContact,
    Retraction,
    channel_actors,
)
from domain.offices import RecordedTerm, Term, TermRetraction
from domain.segments import Segment
from domain.status import Status
from domain.time import parse_instant

MIN_TIME = -(2**62)
MAX_TIME = 2**62
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
_compact = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps(…, separators=…)

Row = Mapping[str, Any]
T = TypeVar("T")


def micros(at: datetime) -> int:
    """An aware datetime as microseconds since the epoch."""
    return (at - EPOCH) // MICROSECOND


def instant(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def lower(at: datetime | None) -> int:
    """A start of valid time; None is the open start."""
    return MIN_TIME if at is None else micros(at)


def upper(at: datetime | None) -> int:
    """An end of valid or transaction time; None is the open end."""
    return MAX_TIME if at is None else micros(at)


class Spelling:
    """How times and ids are spelled in rows, remembering what it spelled already.

    A channel's rows repeat the same instants (a segment's end is the next one's
    start) and ids (a contact is evidence of many segments); a bulk load spells
    them once. `forget()` keeps the memory to what is still being written.
    """

    def __init__(self) -> None:
        self._times: dict[datetime, int] = {}
        self._ids: dict[UUID, str] = {}
        self._evidence: dict[tuple[UUID, ...], str] = {}  # as JSON lists
        self._counts: dict[tuple[tuple[str, int], ...], str] = {}  # as JSON objects

    def micros(self, at: datetime) -> int:
        value = self._times.get(at)
        if value is None:
            value = self._times[at] = micros(at)
        return value

    def text(self, id: UUID) -> str:
        value = self._ids.get(id)
        if value is None:
            value = self._ids[id] = str(id)
        return value

    def ids(self, ids: tuple[UUID, ...]) -> str:
        """A JSON list of ids (consecutive segments share their evidence)."""
        value = self._evidence.get(ids)
        if value is None:
            value = self._evidence[ids] = _ids(ids, self)
        return value

    def counts(self, counts: tuple[tuple[str, int], ...]) -> str:
        """Per-actor counts as a JSON object (consecutive segments share them)."""
        value = self._counts.get(counts)
        if value is None:
            value = self._counts[counts] = _counts(counts)
        return value

    def forget(self) -> None:
        self._times.clear()
        self._ids.clear()
        self._evidence.clear()
        self._counts.clear()


class _Plain(Spelling):
    """Spells every value afresh (what a projector's small batches need)."""

    def micros(self, at: datetime) -> int:
        return micros(at)

    def text(self, id: UUID) -> str:
        return str(id)

    def ids(self, ids: tuple[UUID, ...]) -> str:
        return _ids(ids, self)

    def counts(self, counts: tuple[tuple[str, int], ...]) -> str:
        return _counts(counts)


PLAIN = _Plain()


def segment_row(
    generation: int,
    channel: str,
    segment: Segment,
    known_from: int,
    known_to: int,
    spelling: Spelling = PLAIN,
) -> dict[str, Any]:
    at = spelling.micros
    return {
        "generation": generation,
        "channel": channel,
        "valid_from": MIN_TIME if segment.start is None else at(segment.start),
        "known_from": known_from,
        "valid_to": MAX_TIME if segment.end is None else at(segment.end),
        "known_to": known_to,
        "status": segment.status.value,
        "since": None if segment.since is None else at(segment.since),
        "event_count": segment.event_count,
        "last_contact": None
        if segment.last_contact is None
        else spelling.text(segment.last_contact),
        "evidence": spelling.ids(segment.evidence),
        "requests": spelling.counts(segment.requests),
        "refusals": spelling.counts(segment.refusals),
    }


def _counts(counts: tuple[tuple[str, int], ...]) -> str:
    return json.dumps(dict(counts)) if counts else "{}"


def _ids(ids: tuple[UUID, ...], spelling: Spelling = PLAIN) -> str:
    """A JSON list of ids (UUIDs need no escaping)."""
    if not ids:
        return "[]"
    text = spelling.text
    return '["' + '","'.join([text(i) for i in ids]) + '"]'


def _ids_from(text: str) -> tuple[UUID, ...]:
    """Read back `_ids`: a JSON list of ids without spaces, split rather than decoded
    (a board page reads hundreds); any other spelling of the list is decoded."""
    if text == "[]":
        return ()
    if " " in text or "\\" in text:
        return tuple(UUID(e) for e in json.loads(text))
    return tuple(map(uuid_of, text[2:-2].split('","')))


def uuid_of(text: str) -> UUID:
    """The UUID a row spells as `str(UUID)` wrote it, built without `UUID()`'s parsing of
    every other spelling (a third of its cost). The text is the read model's own."""
    value = _new_object(UUID)
    _set_attribute(value, "int", int(text.replace("-", ""), 16))
    _set_attribute(value, "is_safe", SafeUUID.unknown)
    return value


_new_object, _set_attribute = object.__new__, object.__setattr__


def _counts_from(text: str) -> tuple[tuple[str, int], ...]:
    return tuple(json.loads(text).items()) if text != "{}" else ()


def _once(seen: dict[str, Any], text: str, read: Callable[[str], T]) -> T:
    value: T | None = seen.get(text)
    if value is None:
        value = seen[text] = read(text)
    return value


def segment_from(row: Row, seen: dict[str, Any] | None = None) -> Segment:
    """The segment a row holds. With `seen` (for the rows of one channel, whose
    consecutive segments share their evidence and counts), each spelling of those is
    read once."""
    seen = {} if seen is None else seen
    return Segment(
        start=None if row["valid_from"] == MIN_TIME else instant(row["valid_from"]),
        end=None if row["valid_to"] == MAX_TIME else instant(row["valid_to"]),
        status=Status(row["status"]),
        since=None if row["since"] is None else instant(row["since"]),
        evidence=_once(seen, row["evidence"], _ids_from),
        last_contact=None if row["last_contact"] is None else uuid_of(row["last_contact"]),
        requests=_once(seen, row["requests"], _counts_from),
        refusals=_once(seen, row["refusals"], _counts_from),
        event_count=row["event_count"],
    )


def fact_row(
    generation: int, contact: RecordedContact, spelling: Spelling = PLAIN
) -> dict[str, Any]:
    fact = contact.fact
    return {
        "generation": generation,
        "event_id": spelling.text(fact.id),
        "channel": fact.channel,
        "type": fact.type.value,
        "actor": fact.actor,
        "counterpart": fact.counterpart,
        "valid_from": spelling.micros(fact.valid_from),
        "recorded_at": spelling.micros(contact.recorded_at),
        "position": contact.position,
        "fact": _compact(fact.shape),  # encoded, not changed: no copy (to_dict) needed
    }


def retraction_row(
    generation: int, retraction: Retraction, spelling: Spelling = PLAIN
) -> dict[str, Any]:
    return {
        "generation": generation,
        "event_id": spelling.text(retraction.event_id),
        "retracted_at": spelling.micros(retraction.recorded_at),
        "retraction_id": str(retraction.id),
        "retraction_position": retraction.position,
        "retraction_reason": retraction.reason,
    }


def contact_from(row: Row) -> RecordedContact:
    """The fact as recorded, in full (for answers), from the JSON `fact_row` wrote."""
    return RecordedContact(
        ContactFact.from_dict(json.loads(row["fact"])), instant(row["recorded_at"]), row["position"]
    )


def contact_sketch(row: Row) -> RecordedContact:
    """A segment row's last contact as a board shows it, from the `contact_*` columns a
    board read selects with the row: id, type, occurred_at as stated, its precision and
    actors, with no summary, sources or details."""
    fact = ContactFact(
        id=uuid_of(row["last_contact"]),
        type=EventType(row["contact_type"]),
        occurred_at=parse_instant(row["contact_occurred_at"]),
        precision=Precision(row["contact_precision"]),
        actor=row["contact_actor"],
        counterpart=row["contact_counterpart"],
    )
    return RecordedContact(fact, instant(row["contact_recorded_at"]), row["contact_position"])


def sketch_from(row: Row) -> RecordedContact:
    """The fact with only what the rule reads: id, type, valid time and who acted.

    Cheaper to build than `contact_from`, for the projector's memory of a channel.
    """
    fact = ContactFact(
        id=UUID(row["event_id"]),
        type=EventType(row["type"]),
        occurred_at=instant(row["valid_from"]),
        precision=Precision.EXACT,
        actor=row["actor"],
        counterpart=row["counterpart"],
    )
    return RecordedContact(fact, instant(row["recorded_at"]), row["position"])


def retraction_from(row: Row) -> Retraction | None:
    if row["retracted_at"] is None:
        return None
    return Retraction(
        id=UUID(row["retraction_id"]),
        event_id=UUID(row["event_id"]),
        reason=row["retraction_reason"] or "",
        recorded_at=instant(row["retracted_at"]),
        position=row["retraction_position"],
    )


def channel_row(generation: int, channel: str) -> dict[str, Any]:
    actor_a, actor_b = channel_actors(channel)
    return {"generation": generation, "channel": channel, "actor_a": actor_a, "actor_b": actor_b}


def event_from(row: Row) -> tuple[RecordedContact, Retraction | None]:
    """An event row as the fact recorded and its retraction, if it has one."""
    return contact_from(row), retraction_from(row)


def event_key(contact: RecordedContact) -> tuple[int, int]:
    """The events' list order as integers (valid time in µs, then log position):
    what a page of events is keyed by, and what the next page starts after."""
    return micros(contact.valid_from), contact.position


@dataclass(frozen=True)
class ActorState:
    """An actor as the read model holds it: the profile, and where the log changed it."""

    aggregate_id: UUID
    profile: ActorProfile
    registered: int
    position: int


def actor_row(generation: int, actor: ActorState) -> dict[str, Any]:
    profile = actor.profile
    return {
        "generation": generation,
        "actor_id": profile.id,
        "aggregate_id": str(actor.aggregate_id),
        "name": profile.name,
        "kind": profile.kind.value,
        "country": profile.country,
        "role": profile.role,
        "sector": profile.sector,
        "wikidata": profile.wikidata,
        "aliases": json.dumps(list(profile.aliases), ensure_ascii=False),
        "registered": actor.registered,
        "position": actor.position,
    }


def actor_name_rows(generation: int, profile: ActorProfile) -> list[dict[str, Any]]:
    """One row per distinct folded name the actor goes by."""
    folded = dict.fromkeys(fold(name) for name in profile.names())
    return [{"generation": generation, "folded": f, "actor_id": profile.id} for f in folded]


def actor_from(row: Row) -> ActorState:
    return ActorState(
        aggregate_id=UUID(row["aggregate_id"]),
        profile=ActorProfile(
            id=row["actor_id"],
            name=row["name"],
            kind=ActorKind(row["kind"]),
            country=row["country"],
            role=row["role"],
            aliases=tuple(json.loads(row["aliases"])),
            sector=row["sector"],
            wikidata=row["wikidata"],
        ),
        registered=row["registered"],
        position=row["position"],
    )


def term_row(generation: int, recorded: RecordedTerm) -> dict[str, Any]:
    term = recorded.term
    return {
        "generation": generation,
        "term_id": str(term.id),
        "office": term.office,
        "person": term.person,
        "valid_from": micros(term.valid_from),
        "valid_to": upper(term.valid_to),
        "recorded_at": micros(recorded.recorded_at),
        "position": recorded.position,
        "term": _compact(term.to_dict()),
    }


def term_retraction_row(generation: int, retraction: TermRetraction) -> dict[str, Any]:
    return {
        "generation": generation,
        "term_id": str(retraction.term_id),
        "retracted_at": micros(retraction.recorded_at),
        "retraction_id": str(retraction.id),
        "retraction_position": retraction.position,
        "retraction_reason": retraction.reason,
    }


def term_from(row: Row) -> tuple[RecordedTerm, TermRetraction | None]:
    """A term row as the term recorded and its retraction, if it has one."""
    recorded = RecordedTerm(
        Term.from_dict(json.loads(row["term"])), instant(row["recorded_at"]), row["position"]
    )
    retraction = None
    if row["retracted_at"] is not None:
        retraction = TermRetraction(
            id=UUID(row["retraction_id"]),
            term_id=recorded.id,
            reason=row["retraction_reason"] or "",
            recorded_at=instant(row["retracted_at"]),
            position=row["retraction_position"],
        )
    return recorded, retraction


def member_row(
    generation: int, channel: str, contact: RecordedContact, known_from: datetime
) -> dict[str, Any]:
    return {
        "generation": generation,
        "channel": channel,
        "event_id": str(contact.id),
        "valid_from": micros(contact.valid_from),
        "known_from": micros(known_from),
        "known_to": MAX_TIME,
    }
