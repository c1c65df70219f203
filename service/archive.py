"""The archive: the whole log as typed JSON Lines, restorable with every answer intact.

An archive is one line per thing the log holds, in log order, each with the
`recorded_at` the log gave it:

    {"record": "header", "format": "backchannel-archive", "version": 1, "head": 42, ...}
    {"record": "actor_registered", "recorded_at": "…", "actor": {…the API's actor…}, ...}
    {"record": "actor_renamed", "recorded_at": "…", "actor": "sergei-shoigu", "name": "…"}
    {"record": "actor_alias_added", "recorded_at": "…", "actor": "…", "alias": "…"}
    {"record": "actor_role_changed", "recorded_at": "…", "actor": "…", "role": "…"}
    {"record": "actor_sector_changed", "recorded_at": "…", "actor": "…", "sector": "MIL"}
    {"record": "actor_wikidata_changed", "recorded_at": "…", "actor": "…", "wikidata": "Q…"}
    {"record": "event", "recorded_at": "…", "event": {…the fact as stored…}}
    {"record": "retraction", "recorded_at": "…", "id": "…", "event": "…", "reason": "…"}
    {"record": "term", "recorded_at": "…", "term": {…the term as the API shows it…}}
    {"record": "term_retraction", "recorded_at": "…", "id": "…", "term": "…", "reason": "…"}
    {"record": "trailer", "count": 41, "check": "…"}

Every line carries `check`, a digest chained from the line before (SHA-256 of the
previous check and the line's canonical JSON without it), so an edited, dropped or
reordered line is found at the first line it affects; the trailer holds the count
of records and the last check, so a truncated archive is found too.

An office's list of its terms is not a record: it is written again, beside each
term, as the term is restored.

Restoring (`restore`) writes the library's own events with their original
timestamps into an empty store, so every answer at every (as_of, known_at) is the
source's. `--as-new` instead appends them as new facts of now, ids kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.utils import get_topic

from domain.actors import Actor, actor_uuid, check_sector, check_wikidata, parse_actor
from domain.contacts import Contact
from domain.errors import DomainError, InvalidFact
from domain.events import ContactFact, check_response, parse_fact
from domain.offices import Tenure, Term, parse_term, post_uuid
from domain.time import format_instant
from infra.logging import get_logger
from service.application import Backchannel, term_events
from service.application import registered as registration
from service.committer import Build
from service.transfer import (
    CHUNK,
    BadLine,
    Index,
    Meter,
    Silent,
    Store,
    canonical,
    parse_line,
    size_of,
)

FORMAT = "backchannel-archive"
VERSION = 1
READ_BATCH = 1000
_log = get_logger("backchannel.archive")

# The fields of each record type, beside `record`, `recorded_at` and `check`.
FIELDS: dict[str, frozenset[str]] = {
    "actor_registered": frozenset({"actor"}),
    "actor_renamed": frozenset({"actor", "name"}),
    "actor_alias_added": frozenset({"actor", "alias"}),
    "actor_role_changed": frozenset({"actor", "role"}),
    "actor_sector_changed": frozenset({"actor", "sector"}),
    "actor_wikidata_changed": frozenset({"actor", "wikidata"}),
    "event": frozenset({"event"}),
    "retraction": frozenset({"id", "event", "reason"}),
    "term": frozenset({"term"}),
    "term_retraction": frozenset({"id", "term", "reason"}),
}


# A retraction's record type, and the field naming what it withdraws, by aggregate.
RETRACTIONS = ((Contact, "retraction", "event"), (Tenure, "term_retraction", "term"))


class NotEmpty(DomainError):
    """The store holds records already; a restore needs an empty one."""


def chain(previous: str, body: Mapping[str, Any]) -> str:
    """The check of a line: its canonical JSON, chained to the previous line's check."""
    digest = hashlib.sha256(previous.encode("ascii"))
    digest.update(canonical(body).encode("utf-8"))
    return digest.hexdigest()[:32]


# -- writing --------------------------------------------------------------------


def export_archive(app: Backchannel) -> Iterator[str]:
    """The log up to its head now, as archive lines (header, records, trailer)."""
    head = app.head()
    check = ""

    def line(body: dict[str, Any]) -> str:
        nonlocal check
        check = chain(check, body)
        return canonical({**body, "check": check})

    yield line(
        {
            "record": "header",
            "format": FORMAT,
            "version": VERSION,
            "head": head,
            "exported_at": format_instant(app.clock()),
        }
    )
    count = 0
    start = 1
    slugs: dict[UUID, str] = {}  # actor changes name their actor by its aggregate id
    while start <= head:
        batch = app.notifications(start=start, limit=READ_BATCH)
        if not batch:
            break
        for notification in batch:
            if notification.id > head:
                break
            body = _record_of(app.mapper.to_domain_event(notification), slugs)
            if body is not None:
                count += 1
                yield line(body)
        start = batch[-1].id + 1
    yield line({"record": "trailer", "count": count})


def _record_of(event: Any, slugs: dict[UUID, str]) -> dict[str, Any] | None:
    at = {"recorded_at": format_instant(event.timestamp)}
    if isinstance(event, Actor.Registered):
        slugs[event.originator_id] = event.actor_id
        actor = {
            "id": event.actor_id,
            "name": event.name,
            "kind": event.kind,
            "country": event.country,
            "role": event.role,
            "aliases": list(event.aliases),
        }
        # Only when set, so an archive of actors without them reads as version 1 wrote it.
        for key in ("sector", "wikidata"):
            if getattr(event, key) is not None:
                actor[key] = getattr(event, key)
        return {"record": "actor_registered", **at, "actor": actor}
    if isinstance(event, Actor.Renamed):
        slug = slugs[event.originator_id]
        return {"record": "actor_renamed", **at, "actor": slug, "name": event.name}
    if isinstance(event, Actor.AliasAdded):
        slug = slugs[event.originator_id]
        return {"record": "actor_alias_added", **at, "actor": slug, "alias": event.alias}
    if isinstance(event, Actor.RoleChanged):
        slug = slugs[event.originator_id]
        return {"record": "actor_role_changed", **at, "actor": slug, "role": event.role}
    if isinstance(event, Actor.SectorChanged):
        slug = slugs[event.originator_id]
        return {"record": "actor_sector_changed", **at, "actor": slug, "sector": event.sector}
    if isinstance(event, Actor.WikidataChanged):
        slug = slugs[event.originator_id]
        return {"record": "actor_wikidata_changed", **at, "actor": slug, "wikidata": event.wikidata}
    if isinstance(event, Contact.Recorded):
        return {"record": "event", **at, "event": event.fact.to_dict()}
    if isinstance(event, Tenure.Recorded):
        return {"record": "term", **at, "term": Term.from_dict(event.term).to_dict()}
    for kind, record, names in (
        (Contact, "retraction", "event"),
        (Tenure, "term_retraction", "term"),
    ):
        if isinstance(event, kind.Retracted):
            return {
                "record": record,
                **at,
                "id": str(event.retraction_id),
                names: str(event.originator_id),  # what it withdraws
                "reason": event.reason,
            }
    return None


# -- reading ----------------------------------------------------------------------


def is_archive(stream: BinaryIO) -> bool:
    """True if the first non-blank line of `stream` is an archive header (rewinds it)."""
    try:
        for raw in stream:
            if raw.strip():
                try:
                    value = parse_line(1, raw.decode("utf-8"))
                except (BadLine, UnicodeDecodeError):
                    return False
                return value.get("record") == "header" and value.get("format") == FORMAT
        return False
    finally:
        stream.seek(0)


@dataclass
class Item:
    """One checked record of an archive, ready to be stored."""

    line: int
    kind: str
    recorded_at: datetime
    body: dict[str, Any]


def read_archive(stream: BinaryIO, meter: Meter | None = None) -> Iterator[Item]:
    """The records of an archive, each with its line; BadLine on the first bad one.

    Checks the header, each line's chained check, that recorded_at never runs
    backwards, and the trailer (the count, the last check, nothing after it).
    """
    meter = meter or Silent()
    check = ""
    count = 0
    last: datetime | None = None
    number = 0
    header = trailer = False
    for number, raw in enumerate(stream, start=1):
        meter.advance(len(raw), 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadLine(number, "not UTF-8 text") from None
        if not text.strip():
            continue
        if trailer:
            raise BadLine(number, "a line after the trailer; the archive was edited")
        value = parse_line(number, text)
        given = value.pop("check", None)
        check = chain(check, value)
        if given != check:
            raise BadLine(number, "its check does not match; the archive was edited here")
        kind = value.get("record")
        if not header:
            if kind != "header" or value.get("format") != FORMAT:
                raise BadLine(number, f"not a {FORMAT} header")
            if value.get("version") != VERSION:
                raise BadLine(number, f"archive version {value.get('version')!r} is unknown")
            header = True
            continue
        if kind == "trailer":
            if value.get("count") != count:
                raise BadLine(number, f"trailer says {value.get('count')} records, not {count}")
            trailer = True
            continue
        if kind not in FIELDS:
            raise BadLine(number, f"unknown record type {kind!r}")
        extra = set(value) - FIELDS[kind] - {"record", "recorded_at"}
        missing = FIELDS[kind] - set(value)
        if extra or missing:
            names = ", ".join(sorted(extra | missing))
            raise BadLine(number, f"{kind}: unexpected or missing fields: {names}")
        recorded_at = _timestamp(number, value.get("recorded_at"))
        if last is not None and recorded_at < last:
            raise BadLine(number, "recorded_at runs backwards along the log")
        last = recorded_at
        count += 1
        yield Item(number, str(kind), recorded_at, value)
    if not header:
        raise BadLine(max(number, 1), "the archive is empty")
    if not trailer:
        raise BadLine(number, "the archive ends without its trailer; it is truncated")


def _timestamp(number: int, value: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadLine(number, "recorded_at: not an ISO 8601 datetime") from None
    if parsed.tzinfo is None:
        raise BadLine(number, "recorded_at: must carry its time zone")
    return parsed.astimezone(UTC)


# -- checking and storing -----------------------------------------------------------


@dataclass
class Tenancy:
    """A term of the archive as the first pass saw it."""

    line: int
    term: Term
    retracted: bool = False
    present: bool = False  # --as-new: the store holds it already


class Plan:
    """What the first pass learned beyond the index: the actors to skip (--as-new), and
    the archive's terms (an office has a handful; they are held in memory)."""

    def __init__(self) -> None:
        self.skipped_actors: set[str] = set()
        self.terms: dict[UUID, Tenancy] = {}
        # --as-new: each office's terms in the store, and whether each is retracted
        self.stored_terms: dict[str, list[tuple[Term, bool]]] = {}


def check_archive(
    app: Backchannel,
    stream: BinaryIO,
    index: Index,
    *,
    as_new: bool,
    meter: Meter | None = None,
) -> Plan:
    """First pass: every record checked, nothing stored. Raises BadLine or NotEmpty."""
    meter = meter or Silent()
    if not as_new:
        _require_empty(app)
    meter.phase("checking", size_of(stream))
    store = Store(app)
    plan = Plan()
    registered: dict[str, int] = {}
    kinds: dict[str, str] = {}
    now = app.clock()
    for item in read_archive(stream, meter):
        body, number = item.body, item.line
        if item.kind == "actor_registered":
            try:
                profile = parse_actor(body["actor"])
            except DomainError as error:
                raise BadLine(number, f"actor: {error}") from None
            if profile.id in registered:
                raise BadLine(
                    number, f"actor {profile.id!r} is registered on line {registered[profile.id]}"
                )
            registered[profile.id] = number
            kinds[profile.id] = profile.kind.value
            if as_new and store.has_actor(profile.id):
                plan.skipped_actors.add(profile.id)
        elif item.kind.startswith("actor_"):
            actor = body["actor"]
            if actor not in registered:
                raise BadLine(number, f"actor {actor!r} is not registered before this line")
            field = {"actor_renamed": "name", "actor_alias_added": "alias"}.get(item.kind)
            if field and (not isinstance(body[field], str) or not body[field].strip()):
                raise BadLine(number, f"{field}: must be a non-empty string")
            if item.kind == "actor_role_changed" and not isinstance(body["role"], str | None):
                raise BadLine(number, "role: must be a string or null")
            wrong = (
                check_sector(body["sector"])
                if item.kind == "actor_sector_changed"
                else check_wikidata(body["wikidata"])
                if item.kind == "actor_wikidata_changed"
                else []
            )
            if wrong:
                raise BadLine(number, str(InvalidFact(wrong)))
        elif item.kind == "event":
            fact = _fact(number, body["event"], item.recorded_at if not as_new else now)
            earlier = index.state(fact.id)
            if earlier is not None:
                raise BadLine(number, f"event {fact.id} repeats line {earlier[0]}")
            for role in ("actor", "counterpart"):
                if getattr(fact, role) not in registered:
                    raise BadLine(
                        number,
                        f"{role}: actor {getattr(fact, role)!r} is not registered before this line",
                    )
            if fact.in_response_to is not None:
                request = index.request(fact.in_response_to)
                try:
                    check_response(fact, request)
                except InvalidFact as invalid:
                    raise BadLine(number, str(invalid)) from None
            present = False
            if as_new:
                stored = store.fact(fact.id)
                if stored is not None and stored.to_dict() != fact.to_dict():
                    raise BadLine(
                        number, f"event {fact.id} is already recorded with different content"
                    )
                present = stored is not None
            index.add([(number, fact, present)])
        elif item.kind == "term":
            _check_term(number, body["term"], plan, store, kinds, as_new=as_new)
        elif item.kind == "term_retraction":
            _reason(number, body["reason"])
            try:
                term_id, _ = UUID(str(body["term"])), UUID(str(body["id"]))
            except ValueError:
                raise BadLine(number, "id and term must be UUIDs") from None
            tenancy = plan.terms.get(term_id)
            if tenancy is None:
                raise BadLine(number, f"term {term_id} is not recorded before this line")
            if tenancy.retracted:
                raise BadLine(number, f"term {term_id} is retracted twice")
            tenancy.retracted = True
        else:  # retraction
            _reason(number, body["reason"])
            try:
                event_id, _ = UUID(str(body["event"])), UUID(str(body["id"]))
            except ValueError:
                raise BadLine(number, "id and event must be UUIDs") from None
            state = index.state(event_id)
            if state is None:
                raise BadLine(number, f"event {event_id} is not recorded before this line")
            if state[1]:
                raise BadLine(number, f"event {event_id} is retracted twice")
            index.retract(event_id)
    return plan


def _reason(number: int, reason: object) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise BadLine(number, "reason: must be a non-empty string")


def _check_term(
    number: int,
    data: object,
    plan: Plan,
    store: Store,
    kinds: Mapping[str, str],
    *,
    as_new: bool,
) -> None:
    """A term record checked as `POST /v1/actors/{office}/terms` checks a term: its shape,
    an office and a person registered before it, no overlap with a standing term of its
    office (the archive's own, and with --as-new the store's)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("office"), str):
        raise BadLine(number, "term: must be a JSON object naming its office")
    office = data["office"]
    try:
        term = parse_term(
            office, {k: v for k, v in data.items() if k != "office"}, new_id=UUID(int=0)
        )
    except InvalidFact as invalid:
        raise BadLine(number, f"term: {invalid}") from None
    if "id" not in data or term.to_dict() != dict(data):
        raise BadLine(number, "term: not in the stored (canonical) shape")
    for role in ("office", "person"):
        name = getattr(term, role)
        if name not in kinds:
            raise BadLine(number, f"{role}: actor {name!r} is not registered before this line")
        if kinds[name] != role:
            raise BadLine(number, f"{role}: {name!r} is a {kinds[name]}, not a {role}")
    if term.id in plan.terms:
        raise BadLine(number, f"term {term.id} repeats line {plan.terms[term.id].line}")
    standing = [t.term for t in plan.terms.values() if t.term.office == office and not t.retracted]
    present = False
    if as_new:
        stored = plan.stored_terms.get(office)
        if stored is None:
            stored = plan.stored_terms[office] = store.terms_of(office)
        for other, retracted in stored:
            if other.id == term.id:
                if other != term:
                    raise BadLine(
                        number, f"term {term.id} is already recorded with different content"
                    )
                present = True
            elif not retracted and other.id not in plan.terms:
                standing.append(other)
    for other in standing:
        if other.overlaps(term):
            raise BadLine(number, f"term {term.id} overlaps term {other.id} of {office}")
    plan.terms[term.id] = Tenancy(number, term, present=present)


def _fact(number: int, data: object, now: datetime) -> ContactFact:
    if not isinstance(data, Mapping):
        raise BadLine(number, "event: must be a JSON object")
    try:
        fact = parse_fact(data, now=now, new_id=UUID(int=0))
    except InvalidFact as invalid:
        raise BadLine(number, f"event: {invalid}") from None
    if "id" not in data or fact.to_dict() != dict(data):
        raise BadLine(number, "event: not in the stored (canonical) shape")
    return fact


def _require_empty(app: Backchannel) -> None:
    head = app.head()
    if head:
        raise NotEmpty(
            f"the store is not empty (its log holds {head} records); a restore needs an"
            " empty store, or --as-new to append the archive's records as new ones"
        )


def store_archive(
    app: Backchannel,
    stream: BinaryIO,
    index: Index,
    plan: Plan,
    *,
    as_new: bool,
    meter: Meter | None = None,
) -> tuple[int, int]:
    """Second pass: store the checked records, a chunk per transaction.

    A restore keeps every recorded_at; `as_new` stamps them now and skips what the
    store already has (facts by id, retractions of retracted facts, known actors).
    Return (stored, already present).
    """
    meter = meter or Silent()
    if not as_new:
        _require_empty(app)
    meter.phase("storing", size_of(stream))
    store = Store(app)
    versions: dict[str, int] = {}
    stored = present = 0
    pending: list[DomainEventProtocol[UUID]] = []
    for item in read_archive(stream, meter):
        at = app.clock() if as_new else item.recorded_at
        if item.kind in ("term", "term_retraction"):
            events = _term_events(item, at, versions, plan, store, as_new=as_new)
        else:
            event = _event(item, at, versions, plan, store, index, as_new=as_new)
            events = [] if event is None else [event]
        if not events:
            present += 1
            continue
        stored += 1
        pending.extend(events)
        if len(pending) >= CHUNK:
            app.append(_as_given(pending))
            pending = []
    if pending:
        app.append(_as_given(pending))
    _log.info("archive_imported", stored=stored, present=present, as_new=as_new)
    return stored, present


def _as_given(events: list[DomainEventProtocol[UUID]]) -> Build:
    """A build of events stamped already (their recorded_at is the archive's)."""
    return lambda _stamp: events


def _event(
    item: Item,
    at: datetime,
    versions: dict[str, int],
    plan: Plan,
    store: Store,
    index: Index,
    *,
    as_new: bool,
) -> DomainEventProtocol[UUID] | None:
    body = item.body
    if item.kind == "event":
        fact = body["event"]
        if index.present([UUID(fact["id"])]):
            return None
        return Contact.Recorded(  # type: ignore[call-arg]
            originator_topic=get_topic(Contact),
            originator_id=UUID(fact["id"]),
            originator_version=1,
            timestamp=at,
            fact=ContactFact.from_dict(fact),
        )
    if item.kind == "retraction":
        event_id = UUID(body["event"])
        if as_new and any(isinstance(e, Contact.Retracted) for e in store.events_of(event_id)):
            return None
        return Contact.Retracted(  # type: ignore[call-arg]
            originator_id=event_id,
            originator_version=2,
            timestamp=at,
            retraction_id=UUID(body["id"]),
            reason=body["reason"],
        )
    slug = body["actor"]["id"] if item.kind == "actor_registered" else body["actor"]
    if slug in plan.skipped_actors:
        return None
    version = versions[slug] = versions.get(slug, 0) + 1
    common: dict[str, Any] = {
        "originator_id": actor_uuid(slug),
        "originator_version": version,
        "timestamp": at,
    }
    if item.kind == "actor_registered":
        # The first pass refused a second registration of an actor: this is its first event.
        return registration(parse_actor(body["actor"]), at)
    if item.kind == "actor_renamed":
        return Actor.Renamed(name=body["name"], **common)  # type: ignore[call-arg]
    if item.kind == "actor_alias_added":
        return Actor.AliasAdded(alias=body["alias"], **common)  # type: ignore[call-arg]
    if item.kind == "actor_sector_changed":
        return Actor.SectorChanged(sector=body["sector"], **common)  # type: ignore[call-arg]
    if item.kind == "actor_wikidata_changed":
        return Actor.WikidataChanged(wikidata=body["wikidata"], **common)  # type: ignore[call-arg]
    return Actor.RoleChanged(role=body["role"], **common)  # type: ignore[call-arg]


def _term_events(
    item: Item,
    at: datetime,
    versions: dict[str, int],
    plan: Plan,
    store: Store,
    *,
    as_new: bool,
) -> list[DomainEventProtocol[UUID]]:
    """A term and its office's list of terms, or a term's retraction; none if present."""
    body = item.body
    if item.kind == "term_retraction":
        term_id = UUID(body["term"])
        if as_new and any(isinstance(e, Tenure.Retracted) for e in store.events_of(term_id)):
            return []
        retracted = Tenure.Retracted(  # type: ignore[call-arg]
            originator_id=term_id,
            originator_version=2,
            timestamp=at,
            retraction_id=UUID(body["id"]),
            reason=body["reason"],
        )
        return [retracted]
    term = plan.terms[UUID(body["term"]["id"])].term
    if plan.terms[term.id].present:
        return []
    key = f"post:{term.office}"  # no actor id holds a colon
    if key not in versions:
        versions[key] = len(store.events_of(post_uuid(term.office))) if as_new else 0
    events = term_events(term, at, versions[key])
    versions[key] += 1
    return events


def import_archive(
    app: Backchannel, stream: BinaryIO, *, as_new: bool = False, meter: Meter | None = None
) -> tuple[int, int]:
    """Check a whole archive, then store it; a bad line or a non-empty store stores nothing."""
    with Index() as index:
        plan = check_archive(app, stream, index, as_new=as_new, meter=meter)
        stream.seek(0)
        return store_archive(app, stream, index, plan, as_new=as_new, meter=meter)
