"""Contact events: the ten types, their fields, and the rules a fact must obey.

A `ContactFact` is what a client states; a `RecordedContact` is that fact once
the log has appended it (with `recorded_at` and `position`). A `Retraction`
withdraws an earlier fact from its recorded time on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlparse
from uuid import UUID

from domain.errors import FieldError, InvalidFact
from domain.time import EARLIEST, Instant, format_instant, parse_instant, start_of

T = TypeVar("T")
COMPACT_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class cached_property(Generic[T]):
    """`functools.cached_property` without the lock Python 3.11 takes on every first
    read (one lock for all instances, contended by every thread reading facts); the
    value is computed at most once per thread race and then read from the instance."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value


class EventType(StrEnum):
    """What happened between an actor and a counterpart."""

    CALL_REQUESTED = "call_requested"
    CALL_REFUSED = "call_refused"
    CALL_HELD = "call_held"
    MEETING_REQUESTED = "meeting_requested"
    MEETING_REFUSED = "meeting_refused"
    MEETING_HELD = "meeting_held"
    SUMMONS = "summons"
    STATEMENT = "statement"
    HOTLINE_TEST = "hotline_test"
    HOTLINE_USE = "hotline_use"


class Precision(StrEnum):
    """How well `occurred_at` is known ("last week" is `week`)."""

    EXACT = "exact"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


CONTACTS = frozenset(
    {EventType.CALL_HELD, EventType.MEETING_HELD, EventType.SUMMONS, EventType.HOTLINE_USE}
)
REQUESTS = frozenset({EventType.CALL_REQUESTED, EventType.MEETING_REQUESTED})
REFUSALS = frozenset({EventType.CALL_REFUSED, EventType.MEETING_REFUSED})
REQUEST_REFUSED_BY = {
    EventType.CALL_REFUSED: EventType.CALL_REQUESTED,
    EventType.MEETING_REFUSED: EventType.MEETING_REQUESTED,
}

ACTOR_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
FACT_FIELDS = (
    "id",
    "type",
    "occurred_at",
    "precision",
    "actor",
    "counterpart",
    "summary",
    "sources",
    "details",
)
SOURCE_FIELDS = ("name", "url", "published_at")
MAX_SUMMARY = 4000


def channel_id(a: str, b: str) -> str:
    """The id of the unordered pair {a, b}: both ids sorted, joined by `~`."""
    first, second = sorted((a, b))
    return f"{first}~{second}"


def channel_actors(channel: str) -> tuple[str, str]:
    """Split a channel id into its two actor ids."""
    first, _, second = channel.partition("~")
    return first, second


@dataclass(frozen=True)
class Source:
    """Who reported a fact, where, and when the world learned of it."""

    name: str
    url: str | None = None
    published_at: Instant | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "published_at": format_instant(self.published_at)
            if self.published_at is not None
            else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Source:
        """A source from the JSON shape `to_dict` writes."""
        published = data.get("published_at")
        return cls(
            name=data["name"],
            url=data.get("url"),
            published_at=None if published is None else parse_instant(published),
        )


@dataclass(frozen=True)
class ContactFact:
    """One fact as a client states it: immutable once recorded."""

    id: UUID
    type: EventType
    occurred_at: Instant
    precision: Precision
    actor: str
    counterpart: str
    summary: str = ""
    sources: tuple[Source, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def channel(self) -> str:
        return channel_id(self.actor, self.counterpart)

    @cached_property
    def valid_from(self) -> datetime:
        """When it happened, as an instant (a date means its start, UTC)."""
        return start_of(self.occurred_at)

    @property
    def in_response_to(self) -> UUID | None:
        value = self.details.get("in_response_to")
        return UUID(str(value)) if value else None

    def to_dict(self) -> dict[str, Any]:
        """The API's JSON shape of the fact (what was sent, canonicalised): a copy of
        its `shape`, that the caller may change."""
        shape = self.shape
        return {
            **shape,
            "sources": [dict(s) for s in shape["sources"]],
            "details": dict(shape["details"]),
        }

    @cached_property
    def shape(self) -> dict[str, Any]:
        """The JSON shape, computed once per fact (the log's encoding, the API's answer
        and the import's checks all read it); not to be changed."""
        return {
            "id": str(self.id),
            "type": self.type.value,
            "occurred_at": format_instant(self.occurred_at),
            "precision": self.precision.value,
            "actor": self.actor,
            "counterpart": self.counterpart,
            "summary": self.summary,
            "sources": [s.to_dict() for s in self.sources],
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContactFact:
        """Read back `to_dict()`, the shape the log and the read model store.

        The fact was checked before it was stored, so it is rebuilt field by
        field rather than validated again.
        """
        return cls(
            id=UUID(data["id"]),
            type=EventType(data["type"]),
            occurred_at=parse_instant(data["occurred_at"]),
            precision=Precision(data["precision"]),
            actor=data["actor"],
            counterpart=data["counterpart"],
            summary=data["summary"],
            sources=tuple(Source.from_dict(s) for s in data["sources"]),
            details=data["details"],
        )

    @cached_property
    def shape_json(self) -> str:
        """The shape as compact JSON (no spaces, non-ASCII kept), as the log writes it."""
        return COMPACT_JSON.encode(self.shape)

    @classmethod
    def from_shape_json(cls, text: str) -> ContactFact:
        """Read back `shape_json` (of a fact checked and written down earlier); the
        text and its shape are kept, not computed again."""
        shape = json.loads(text)
        fact = cls.from_dict(shape)
        fact.__dict__["shape"] = shape
        fact.__dict__["shape_json"] = text
        return fact


def default_precision(occurred_at: Instant) -> Precision:
    """How well `occurred_at` is known when the client does not say: a datetime is
    exact, a date is known to the day."""
    return Precision.EXACT if isinstance(occurred_at, datetime) else Precision.DAY


def check_fact(fact: ContactFact, *, now: datetime) -> list[FieldError]:
    """The rules a well-formed fact must obey; `now` bounds `occurred_at`.

    Actor existence and `in_response_to` are checked against the log elsewhere.
    """
    errors: list[FieldError] = []
    if fact.valid_from < EARLIEST:
        errors.append(FieldError(("occurred_at",), "must not be before 1900-01-01"))
    elif fact.valid_from > now:
        errors.append(FieldError(("occurred_at",), "must not be in the future"))
    if fact.actor == fact.counterpart:
        errors.append(FieldError(("counterpart",), "must differ from actor"))
    if fact.details.get("in_response_to") is not None and fact.type not in REFUSALS:
        errors.append(FieldError(("details", "in_response_to"), "only refusals answer a request"))
    errors += _reserved_keys(fact.details, ("details",))
    return errors


# The event store's JSON encoding marks its own typed values with these keys: a
# detail spelled the same way would be read back as one of them, not as sent.
RESERVED_KEYS = frozenset({"_type_", "_data_"})


def _reserved_keys(value: object, loc: tuple[str | int, ...]) -> list[FieldError]:
    """Errors for every object key among RESERVED_KEYS, at any depth of `value`."""
    found: list[FieldError] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in RESERVED_KEYS:
                found.append(FieldError((*loc, key), "is a reserved key"))
            found += _reserved_keys(item, (*loc, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += _reserved_keys(item, (*loc, index))
    return found


@dataclass(frozen=True)
class RecordedContact:
    """A fact as the log holds it: with its transaction time and log position."""

    fact: ContactFact
    recorded_at: datetime
    position: int

    @property
    def id(self) -> UUID:
        return self.fact.id

    @property
    def type(self) -> EventType:
        return self.fact.type

    @property
    def valid_from(self) -> datetime:
        return self.fact.valid_from

    @cached_property
    def sort_key(self) -> tuple[datetime, str]:
        """Order in valid time that does not depend on arrival order."""
        return (self.fact.valid_from, str(self.fact.id))


# A fact's valid time and its sort key, read in C (the sweeps' bisects and sorts are hot);
# both are cached on first use, so a later read is a dictionary lookup.
VALID_FROM = attrgetter("fact.valid_from")
SORT_KEY = attrgetter("sort_key")


@dataclass(frozen=True)
class Retraction:
    """A later event withdrawing `event_id`; it counts from `recorded_at` on."""

    id: UUID
    event_id: UUID
    reason: str
    recorded_at: datetime
    position: int


def parse_fact(data: Mapping[str, Any], *, now: datetime, new_id: UUID) -> ContactFact:
    """Check a fact in the API's JSON shape (a line of an import file) and return it.

    `now` bounds `occurred_at`; `new_id` is used when the client chose no id.
    Every broken rule, of the shape and of `check_fact`, is collected, then
    raised together as `InvalidFact`.
    """
    errors: list[FieldError] = []

    def fail(loc: tuple[str | int, ...], msg: str) -> None:
        errors.append(FieldError(loc, msg))

    if not isinstance(data, Mapping):
        raise InvalidFact([FieldError((), "an event must be a JSON object")])
    for key in data:
        if key not in FACT_FIELDS:
            fail((str(key),), "unknown field")

    event_id = new_id
    raw_id = data.get("id")
    if raw_id is not None:
        try:
            event_id = UUID(str(raw_id))
        except ValueError:
            fail(("id",), "must be a UUID")

    event_type = EventType.STATEMENT
    raw_type = data.get("type")
    try:
        event_type = EventType(str(raw_type))
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        fail(("type",), f"unknown event type {raw_type!r}; known types: {known}")

    occurred_at: Instant = date(1900, 1, 1)
    raw_when = data.get("occurred_at")
    if not isinstance(raw_when, str):
        fail(("occurred_at",), "required: an ISO date or UTC datetime")
    else:
        try:
            occurred_at = parse_instant(raw_when)
        except ValueError:
            fail(("occurred_at",), "not an ISO 8601 date or datetime")

    precision = default_precision(occurred_at)
    if "precision" in data:
        raw_precision = data["precision"]
        try:
            precision = Precision(raw_precision)
        except ValueError:
            fail(("precision",), "must be one of exact, day, week, month")

    actor = _actor_field(data, "actor", fail)
    counterpart = _actor_field(data, "counterpart", fail)

    summary = data.get("summary", "")
    if not isinstance(summary, str):
        fail(("summary",), "must be a string")
        summary = ""
    elif len(summary) > MAX_SUMMARY:
        fail(("summary",), f"must be at most {MAX_SUMMARY} characters")

    sources = parse_sources(data.get("sources", []), fail)

    details = data.get("details", {})
    if not isinstance(details, Mapping):
        fail(("details",), "must be an object")
        details = {}
    else:
        details = dict(details)
        reply_to = details.get("in_response_to")
        if reply_to is not None:
            try:
                details["in_response_to"] = str(UUID(str(reply_to)))
            except ValueError:
                fail(("details", "in_response_to"), "must be the UUID of a request")

    fact = ContactFact(
        id=event_id,
        type=event_type,
        occurred_at=occurred_at,
        precision=precision,
        actor=actor,
        counterpart=counterpart,
        summary=summary,
        sources=sources,
        details=details,
    )
    # The rules, of the fields whose shape is right (the others hold placeholders).
    failed = {e.loc for e in errors}
    errors += [e for e in check_fact(fact, now=now) if e.loc not in failed]
    if errors:
        raise InvalidFact(errors)
    return fact


def check_response(fact: ContactFact, request: ContactFact | None) -> None:
    """A refusal's `in_response_to` must name a request of the same channel."""
    target = fact.in_response_to
    if target is None:
        return
    loc: tuple[str | int, ...] = ("details", "in_response_to")
    if request is None:
        raise InvalidFact([FieldError(loc, f"no event {target} is recorded")])
    if request.type not in REQUESTS:
        raise InvalidFact([FieldError(loc, f"event {target} is a {request.type}, not a request")])
    if request.channel != fact.channel:
        raise InvalidFact([FieldError(loc, f"event {target} belongs to channel {request.channel}")])


def _actor_field(data: Mapping[str, Any], name: str, fail: Any) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        fail((name,), "required: an actor id")
        return ""
    if not ACTOR_ID.match(value):
        fail((name,), "not an actor id (lower-case letters, digits and dashes)")
    return value


def parse_sources(raw: object, fail: Any) -> tuple[Source, ...]:
    """Sources in the API's shape; each broken rule is told to `fail(loc, message)`."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        fail(("sources",), "must be a list of {name, url, published_at}")
        return ()
    sources: list[Source] = []
    for index, item in enumerate(raw):
        loc: tuple[str | int, ...] = ("sources", index)
        if not isinstance(item, Mapping):
            fail(loc, "must be an object {name, url, published_at}")
            continue
        for key in item:
            if key not in SOURCE_FIELDS:
                fail((*loc, str(key)), "unknown field")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            fail((*loc, "name"), "required: who reported it")
            name = ""
        url = item.get("url")
        if url is not None:
            parsed = urlparse(url) if isinstance(url, str) else None
            if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
                fail((*loc, "url"), "must be an http(s) URL")
                url = None
        published: Instant | None = None
        raw_published = item.get("published_at")
        if raw_published is not None:
            try:
                published = parse_instant(str(raw_published))
            except ValueError:
                fail((*loc, "published_at"), "not an ISO 8601 date or datetime")
        sources.append(Source(name=name, url=url, published_at=published))
    return tuple(sources)
