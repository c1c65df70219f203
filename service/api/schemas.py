"""Request and response models of the HTTP API, and the types of its query parameters.

Request bodies forbid unknown fields (a typo must not silently drop data) and
check the shape only, and a fact's body becomes the domain's `ContactFact` here,
once; the domain checks the rules (domain/events.py, domain/actors.py). Response models
describe the shapes service/views.py builds. Examples (examples.py) come from the
reference article: the Austin-Shoigu call of 18 February 2022 and the refusals that followed.
"""

from __future__ import annotations

import json
import math
import re
from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from domain.actors import SECTOR, SECTORS, WIKIDATA, ActorKind
from domain.events import MAX_SUMMARY, ContactFact, EventType, Precision, Source, default_precision
from domain.status import Status
from domain.time import Instant, end_of, parse_instant, start_of
from service.api.examples import (
    AUSTIN,
    CALL_HELD,
    CALL_REFUSED,
    CALL_REQUESTED,
    PAIR,
    SHOIGU,
    STATUS,
    STORED,
)

# -- scalar types ---------------------------------------------------------------

ActorId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$"),
    Field(description="Actor slug", examples=["sergei-shoigu"]),
]
# At least one character that Python's str.strip() keeps (what the domain requires). The
# whitespace is spelled out: `\s` means three different things to Python, to the Rust regex
# engine that validates, and to the ECMA-262 one that JSON Schema (hence clients) speaks.
STRIPPED = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NonBlank = Annotated[str, StringConstraints(pattern=f"[^{STRIPPED}]")]
Country = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{2}$"), Field(description="ISO 3166-1 alpha-2")
]
Sector = Annotated[
    str,
    StringConstraints(pattern=SECTOR.pattern),
    Field(
        description="PLOVER sector code, or two of them, broader first: "
        + "; ".join(f"`{code}` {meaning}" for code, meaning in SECTORS.items()),
        examples=["MIL"],
    ),
]
Wikidata = Annotated[
    str,
    StringConstraints(pattern=WIKIDATA.pattern),
    Field(description="Wikidata item id; exports use it as the entity's identifier"),
]
HttpUrlText = Annotated[
    str,
    StringConstraints(
        pattern=r"^https?://[A-Za-z0-9._~%!$&'()*+,;=:-]+([/?#][^\x00-\x20\x7f-\x9f]*)?$",
        max_length=2000,
    ),
    Field(description="An http(s) URL"),
]

RFC3339_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
RFC3339_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
DATE_SCHEMA = {"type": "string", "format": "date"}
DATETIME_SCHEMA = {"type": "string", "format": "date-time"}
INSTANT_SCHEMA = {"anyOf": [DATE_SCHEMA, DATETIME_SCHEMA]}


def _instant(text: object, *, dates: bool = True) -> Instant:
    """Parse an RFC 3339 date (if `dates`) or date-time with its offset; else ValueError."""
    if not isinstance(text, str):
        raise ValueError("must be a string")
    if dates and RFC3339_DATE.fullmatch(text):
        pass
    elif not RFC3339_DATETIME.fullmatch(text):
        wanted = "a date (2022-03-24) or " if dates else ""
        raise ValueError(f"must be {wanted}a datetime with its offset (2022-03-24T10:00:00Z)")
    try:
        return parse_instant(text)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"not a valid date or time: {error}") from None


def _checked_instant(text: str) -> str:
    _instant(text)
    return text


def _start(text: object) -> datetime:
    return start_of(_instant(text))


def _end(text: object) -> datetime:
    return end_of(_instant(text))


def _datetime(text: object) -> datetime:
    return start_of(_instant(text, dates=False))


InstantText = Annotated[str, AfterValidator(_checked_instant), WithJsonSchema(INSTANT_SCHEMA)]
# Query parameters: a date as a lower bound means its start, as an upper bound its end.
StartParam = Annotated[datetime, BeforeValidator(_start), WithJsonSchema(INSTANT_SCHEMA)]
EndParam = Annotated[datetime, BeforeValidator(_end), WithJsonSchema(INSTANT_SCHEMA)]
DateTimeParam = Annotated[datetime, BeforeValidator(_datetime), WithJsonSchema(DATETIME_SCHEMA)]

DateTimeText = Annotated[str, WithJsonSchema(DATETIME_SCHEMA)]
InstantOut = Annotated[str, WithJsonSchema(INSTANT_SCHEMA)]
UUID_PATTERN = r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"
UuidText = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]
UuidIn = Annotated[
    str,
    StringConstraints(pattern=UUID_PATTERN),
    WithJsonSchema({"type": "string", "format": "uuid", "pattern": UUID_PATTERN}),
]


def _omittable(schema: dict[str, Any]) -> None:
    """May be left out, but is never null: the schema shows no `null` default."""
    schema.pop("default", None)


def omittable(**kwargs: Any) -> Any:
    """A field that may be omitted but, when sent, must have its type (not null)."""
    return Field(default=None, json_schema_extra=_omittable, **kwargs)


# -- requests --------------------------------------------------------------------


class RequestModel(BaseModel):
    """A request body: unknown fields are refused; what is stored must be plain JSON."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _plain_json(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """The whole body is checked once, by the outermost model; the models nested in
        it are parts of what was checked."""
        if _CHECKED.get():
            return handler(data)
        if not _is_plain_json(data):
            bad = _not_plain_json(data, ())
            if bad is not None:
                where = ".".join(map(str, bad)) or "body"
                raise ValueError(
                    f"{where}: must be valid Unicode text (no lone surrogates) "
                    "and finite numbers (no NaN or Infinity)"
                )
        token = _CHECKED.set(True)
        try:
            return handler(data)
        finally:
            _CHECKED.reset(token)


# Set while a request model validates the body it checked (nested models skip the check).
_CHECKED: ContextVar[bool] = ContextVar("plain_json_checked", default=False)


_STRICT_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False)


def _is_plain_json(value: Any) -> bool:
    """Whether JSON stores `value` faithfully, asked of the C encoder in one call (the
    walk below names the place when it does not)."""
    try:
        _STRICT_JSON.encode(value).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError):
        return False
    return True


def _not_plain_json(value: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """The path of the first value JSON cannot store faithfully, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    items: list[tuple[Any, tuple[str | int, ...]]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            items += [(key, path), (item, (*path, str(key)))]
    elif isinstance(value, list):
        items = [(item, (*path, index)) for index, item in enumerate(value)]
    for item, where in items:
        found = _not_plain_json(item, where)
        if found is not None:
            return found
    return None


class ActorIn(RequestModel):
    """An actor to register."""

    model_config = ConfigDict(json_schema_extra={"examples": [SHOIGU, AUSTIN]})

    id: ActorId
    name: NonBlank = Field(max_length=300)
    kind: ActorKind
    country: Country
    role: Annotated[str, Field(max_length=300)] | None = None
    sector: Sector | None = None
    wikidata: Wikidata | None = None
    aliases: list[Annotated[NonBlank, Field(max_length=300)]] = Field(
        default_factory=list, max_length=100
    )


class ActorChange(RequestModel):
    """Changes to an actor: a new name, role, sector or Wikidata id, aliases to add. Omitted
    fields stay as they are."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"aliases": ["Sergey Kuzhugetovich Shoygu"]}]}
    )

    name: NonBlank = omittable(max_length=300)
    role: str = omittable(max_length=300)
    sector: Sector = omittable()
    wikidata: Wikidata = omittable()
    aliases: list[Annotated[NonBlank, Field(max_length=300)]] = Field(
        default_factory=list, max_length=100
    )


class SourceIn(RequestModel):
    """Who reported a fact, where, and when it was published."""

    name: NonBlank = Field(max_length=300)
    url: HttpUrlText | None = None
    published_at: InstantText | None = None

    def source(self) -> Source:
        published = None if self.published_at is None else parse_instant(self.published_at)
        return Source(name=self.name, url=self.url, published_at=published)


class DetailsIn(BaseModel):
    """Type-specific details; the keys below are known, others are kept as sent."""

    model_config = ConfigDict(extra="allow")

    location: str = omittable(description="where a meeting or summons took place")
    in_response_to: UuidIn = omittable(description="a refusal's request (its event id)")
    stance: str = omittable(description="of a statement: accusation, appeal, warning…")
    quote: str = omittable(description="of a statement")
    mode: str = omittable(description="of a call: phone, video…")


class EventIn(RequestModel):
    """A contact fact as a client states it (see domain.md for the types and fields)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CALL_HELD, CALL_REQUESTED]})

    id: UuidIn = omittable(description="chosen by the client to make retries safe")
    type: EventType
    occurred_at: InstantText = Field(description="when it happened: a date or a UTC datetime")
    precision: Precision = omittable(description="how well occurred_at is known")
    actor: ActorId
    counterpart: ActorId
    summary: str = Field(default="", max_length=MAX_SUMMARY)
    sources: list[SourceIn] = Field(default_factory=list, max_length=100)
    details: DetailsIn = Field(default_factory=DetailsIn)

    def fact(self) -> ContactFact:
        """The fact as the domain's type: what was sent, canonicalised (a new id if none
        was chosen). The shape is checked here; the domain checks the rules."""
        occurred_at = parse_instant(self.occurred_at)
        details = self.details.model_dump(mode="json", exclude_unset=True)
        if "in_response_to" in details:
            details["in_response_to"] = str(UUID(details["in_response_to"]))
        return ContactFact(
            id=uuid4() if self.id is None else UUID(self.id),
            type=self.type,
            occurred_at=occurred_at,
            precision=self.precision
            if "precision" in self.model_fields_set
            else default_precision(occurred_at),
            actor=self.actor,
            counterpart=self.counterpart,
            summary=self.summary,
            sources=tuple(source.source() for source in self.sources),
            details=details,
        )


class BatchIn(RequestModel):
    """Up to 1000 facts, stored atomically: all of them or none."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"events": [CALL_HELD, CALL_REQUESTED, CALL_REFUSED]}]}
    )

    events: list[EventIn] = Field(min_length=1, max_length=1000)


class RetractionIn(RequestModel):
    """Why a fact is withdrawn."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "misattributed: the call was with Gerasimov"}]}
    )

    reason: NonBlank = Field(max_length=MAX_SUMMARY)


# -- responses -------------------------------------------------------------------

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(description="null on the last page")


class ActorOut(BaseModel):
    """An actor, with the log position of its latest change."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**SHOIGU, "position": 2}]})

    id: str
    name: str
    kind: ActorKind
    country: str
    role: str | None
    sector: str | None = Field(description="PLOVER sector code")
    wikidata: str | None = Field(description="Wikidata item id")
    aliases: list[str]
    position: int


class ActorPage(Page[ActorOut]):
    """A page of actors, by id."""


class SourceOut(BaseModel):
    name: str
    url: str | None
    published_at: InstantOut | None


class RetractedOut(BaseModel):
    """When and why an event was retracted, and by which retraction event."""

    at: DateTimeText
    reason: str
    by_event: UuidText


class EventOut(BaseModel):
    """A stored event: everything sent, plus `channel`, `recorded_at`, `position`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**CALL_HELD, **STORED, "position": 3, "retracted": None}]}
    )

    id: UuidText
    type: EventType
    occurred_at: InstantOut
    precision: Precision
    actor: str
    counterpart: str
    summary: str
    sources: list[SourceOut]
    details: dict[str, Any]
    channel: str
    recorded_at: DateTimeText = Field(description="transaction time, full precision")
    position: int = Field(description="place in the global log")
    retracted: RetractedOut | None


class EventPage(Page[EventOut]):
    """A page of events, by occurred_at then position."""


class BatchOut(BaseModel):
    """The stored events of a batch, in the order sent."""

    events: list[EventOut]
    created: int = Field(description="how many were new (the others were replays)")
    position: int = Field(description="the highest log position of the batch")


class RetractionOut(BaseModel):
    """A retraction, as an event of its own."""

    id: UuidText
    type: Literal["retraction"]
    event_id: UuidText
    reason: str
    channel: str
    recorded_at: DateTimeText
    position: int


class LastContactOut(BaseModel):
    event_id: UuidText
    type: EventType
    occurred_at: InstantOut


class StatusOut(BaseModel):
    """A channel's status as of (`as_of`, `known_at`), with the evidence that decided it."""

    model_config = ConfigDict(json_schema_extra={"examples": [STATUS]})

    channel: str
    actors: list[str] = Field(min_length=2, max_length=2)
    as_of: DateTimeText
    known_at: DateTimeText
    status: Status
    since: InstantOut | None = Field(description="when the current status began (valid time)")
    last_contact: LastContactOut | None
    requests_since_contact: dict[str, int]
    refusals_since_contact: dict[str, int]
    recent: dict[str, int] = Field(description="events per type within the window before as_of")
    event_count: int
    evidence: list[UuidText]


class StatusPage(Page[StatusOut]):
    """A page of channel statuses, by channel id."""


class PairContactOut(LastContactOut):
    channel: str = Field(description="the channel it was on")


class CountryPairOut(BaseModel):
    """The board's channels between an actor of one country and an actor of the other
    (office channels left out): how many are in each status, and the latest contact."""

    model_config = ConfigDict(json_schema_extra={"examples": [PAIR]})

    pair: str = Field(description="the two ISO codes sorted and joined by `~`")
    countries: list[str] = Field(min_length=2, max_length=2)
    channel_count: int
    counts: dict[Status, int] = Field(
        description="channels per status, a key for every status with at least one"
    )
    last_contact: PairContactOut | None = Field(
        description="the latest contact among the pair's channels (greatest occurred_at, "
        "then log position)"
    )


class CountryPairPage(Page[CountryPairOut]):
    """A page of country pairs, by pair."""


class IntervalOut(BaseModel):
    """The status over valid time [from, to); null at the open ends."""

    model_config = ConfigDict(populate_by_name=True)

    status: Status
    from_: InstantOut | None = Field(alias="from")
    to: InstantOut | None
    evidence: list[UuidText]


class TimelineOut(Page[IntervalOut]):
    """A page of a channel's timeline, as known at `known_at`."""

    channel: str
    known_at: DateTimeText


class TransitionOut(BaseModel):
    """On `channel`, status `before` gave way to `after` at valid time `at`."""

    channel: str
    actors: list[str] = Field(min_length=2, max_length=2)
    at: InstantOut
    before: Status
    after: Status
    evidence: list[UuidText] = Field(description="that of the interval beginning at `at`")


class TransitionPage(Page[TransitionOut]):
    """A page of transitions, by `at` then channel."""


class AnswerOut(BaseModel):
    status: Status
    since: InstantOut | None


class RevisionOut(BaseModel):
    """A channel whose answer at `as_of` differs between `known_at=since` and `=until`."""

    channel: str
    actors: list[str] = Field(min_length=2, max_length=2)
    as_of: DateTimeText
    before: AnswerOut = Field(description="the answer as known at `since`")
    after: AnswerOut = Field(description="the answer as known at `until`")
    recorded: list[UuidText] = Field(description="the channel's events recorded in (since, until]")
    retracted: list[UuidText] = Field(
        description="the channel's events whose retraction was recorded in (since, until]"
    )


class RevisionPage(Page[RevisionOut]):
    """A page of revisions, by channel id."""


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    """Ready: the store answers, the schema is at head, the read model has caught up since
    start-up and is advancing; `lag` is events not yet projected.

    With read tokens set, only `status` is given (no log head, no positions).
    """

    status: Literal["ready"]
    schema_revision: str | None = None
    position: int | None = Field(
        default=None, description="the log position the read model has processed"
    )
    head: int | None = Field(default=None, description="the log's last position")
    lag: int | None = Field(default=None, description="`head` minus `position`")
    last_progress: datetime | None = Field(
        default=None, description="when the read model last advanced (null: not since start-up)"
    )
    projector: Literal["starting", "running", "external"] | None = Field(
        default=None,
        description="the state of the projector this process runs, or `serve` runs beside "
        "its workers; `external` when a separate `backchannel projector` process keeps the "
        "read model",
    )


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str


class ValidationProblem(Problem):
    """A 422: every broken rule, located (`loc` starts with body, query or path)."""

    errors: list[FieldProblem]
    suggestions: list[str] = omittable(description="for an unknown actor: close matches")
