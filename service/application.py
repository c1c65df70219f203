"""The Backchannel application: the use cases, over the eventsourcing library.

Commands append events (actors, contact facts, retractions). What a command
must know before it appends — do the actors exist, is the id taken and with
what, does `in_response_to` name a request of the channel — it asks the log by
key (infra.log), in one query; it never folds the log. Every write returns the
log position of what it stored, so a caller can read its own writes from the
read model (service.queries).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
    Transcoder,
    Transcoding,
)
from eventsourcing.utils import get_topic

from domain.actors import (
    Actor,
    ActorProfile,
    actor_uuid,
    check_sector,
    check_wikidata,
    parse_actor,
)
from domain.contacts import Contact
from domain.errors import Conflict, FieldError, InvalidFact, NotFound, UnknownActor
from domain.events import (
    ContactFact,
    RecordedContact,
    Retraction,
    check_fact,
    check_response,
    parse_fact,
)
from domain.offices import (
    Post,
    RecordedTerm,
    Tenure,
    Term,
    TermRetraction,
    parse_term,
    post_uuid,
)
from domain.status import DEFAULT_WINDOW
from infra.log import histories, versions
from infra.store import commit_wait_seconds
from service.committer import Build, GroupCommit, Stamp

Clock = Callable[[], datetime]
Suggest = Callable[[str], list[str]]
READ_BATCH = 1000
ACTORS_REMEMBERED = 100_000  # actor ids a process remembers as registered
CONTACT_TOPIC = get_topic(Contact)
ACTOR_TOPIC = get_topic(Actor)
TENURE_TOPIC = get_topic(Tenure)
POST_TOPIC = get_topic(Post)
# A fact to record: typed (the API's request schema built it), or in the API's JSON
# shape (a line of an import file), which is checked here.
Stated = ContactFact | Mapping[str, Any]


def utcnow() -> datetime:
    return datetime.now(UTC)


def no_suggestions(_name: str) -> list[str]:
    return []


class ContactFactAsDict(Transcoding):
    """A `ContactFact` in the log, in its JSON shape (`to_dict`), as version 1 of
    `Contact.Recorded` stored it unmarked."""

    type = ContactFact
    name = "contact_fact"

    def encode(self, obj: ContactFact) -> dict[str, Any]:
        return obj.to_dict()

    def decode(self, data: dict[str, Any]) -> ContactFact:
        fact = ContactFact.from_dict(data)
        fact.__dict__["shape"] = data  # the shape it was stored in, decoded afresh: kept
        return fact


RECORDED_TOPIC = get_topic(Contact.Recorded)
_PLAIN_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
# The attributes of a `Contact.Recorded` as `recorded_event` (and `Contact(fact=…)`) make it.
RECORDED_ATTRIBUTES = [
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "fact",
]


class RecordedMapper(Mapper[UUID]):
    """The library's mapper, with a short way for the commonest event, `Contact.Recorded`.

    Its state is written with the library's own JSON encoder settings and the same
    markers its transcodings add (`datetime_iso`, `contact_fact`), around the fact's
    compact JSON computed once (`ContactFact.shape_json`): the same bytes the library
    writes, without a Python call per value. Any other event, or one with other
    attributes, goes the library's way.
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if type(domain_event) is not Contact.Recorded or self.compressor or self.cipher:
            return super().to_stored_event(domain_event)
        state = vars(domain_event)
        if (
            list(state) != RECORDED_ATTRIBUTES
            or type(state["timestamp"]) is not datetime
            or type(state["fact"]) is not ContactFact
        ):
            return super().to_stored_event(domain_event)
        try:
            fact_json = state["fact"].shape_json
        except (TypeError, ValueError):  # details the library encodes its own way
            return super().to_stored_event(domain_event)
        text = "".join(
            (
                '{"timestamp":{"_type_":"datetime_iso","_data_":',
                _PLAIN_JSON.encode(state["timestamp"].isoformat()),
                '},"originator_topic":',
                _PLAIN_JSON.encode(state["originator_topic"]),
                ',"fact":{"_type_":"contact_fact","_data_":',
                fact_json,
                '},"class_version":',
                str(Contact.Recorded.class_version),
                "}",
            )
        )
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=RECORDED_TOPIC,
            state=text.encode("utf8"),
        )


@dataclass(frozen=True)
class Written:
    """The outcome of a write: the stored thing, whether it is new, and its position."""

    created: bool
    position: int


@dataclass(frozen=True)
class WrittenActor(Written):
    actor: ActorProfile


@dataclass(frozen=True)
class WrittenContact(Written):
    contact: RecordedContact
    retraction: Retraction | None = None


@dataclass(frozen=True)
class WrittenRetraction(Written):
    retraction: Retraction
    contact: RecordedContact


@dataclass(frozen=True)
class WrittenTerm(Written):
    term: RecordedTerm
    retraction: TermRetraction | None = None


@dataclass(frozen=True)
class WrittenTermRetraction(Written):
    retraction: TermRetraction
    term: RecordedTerm


@dataclass(frozen=True)
class History:
    """An aggregate as the log holds it, with the position and time of each of its events."""

    aggregate: Aggregate
    positions: tuple[int, ...]
    times: tuple[datetime, ...]

    @property
    def position(self) -> int:
        """The position of its latest event."""
        return self.positions[-1]


class Backchannel(Application[UUID]):
    """Use cases of the service; persistence is chosen by the environment it is given."""

    name = "Backchannel"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Clock = utcnow,
        *,
        window: timedelta = DEFAULT_WINDOW,
        suggest: Suggest = no_suggestions,
    ) -> None:
        super().__init__(env=dict(env or {}))
        self.clock = clock
        self.window = window
        self.suggest = suggest  # ids close to an unknown actor's name (from the read model)
        self.written = 0  # the last log position this process appended
        self._actors_seen: set[UUID] = set()  # aggregate ids of actors known registered
        self.listeners: list[Callable[[int], None]] = []  # told of every append's position
        # Every append goes through it: concurrent writers share transactions, and
        # it stamps their events in log order.
        self.committer = GroupCommit(
            self._store_group,
            lambda ids: versions(self.recorder, ids),
            wait_seconds=commit_wait_seconds(self.env),
        )

    def close(self) -> None:
        self.committer.close()
        super().close()

    def construct_mapper(self) -> Mapper[UUID]:
        transcoder: Transcoder = self.construct_transcoder()
        if self.factory.env.get(self.factory.MAPPER_TOPIC):
            return self.factory.mapper(transcoder=transcoder)
        return self.factory.mapper(transcoder=transcoder, mapper_class=RecordedMapper)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ContactFactAsDict())

    # -- actors ---------------------------------------------------------------

    def register_actor(self, data: Mapping[str, Any]) -> WrittenActor:
        """Register an actor; the same id again is 200 if identical, else a conflict."""
        profile = parse_actor(data)
        existing = self._history(actor_uuid(profile.id))
        if existing is not None:
            actor = existing.aggregate
            assert isinstance(actor, Actor)
            if actor.profile != profile:
                raise Conflict(f"actor {profile.id!r} is registered with different content")
            return WrittenActor(False, existing.position, actor.profile)
        try:
            recordings = self.append(lambda stamp: [registered(profile, stamp())])
        except IntegrityError:
            return self.register_actor(data)  # a concurrent twin won: compare with it
        return WrittenActor(True, _last(recordings), profile)

    def actors(self, actor_ids: Collection[str]) -> dict[str, ActorProfile]:
        """The registered actors among `actor_ids`, as the log holds them now."""
        found = self._histories({actor_uuid(i) for i in actor_ids})
        profiles = (h.aggregate.profile for h in found.values() if isinstance(h.aggregate, Actor))
        return {p.id: p for p in profiles}

    def update_actor(
        self,
        actor_id: str,
        *,
        name: str | None = None,
        role: str | None = None,
        aliases: Sequence[str] = (),
        sector: str | None = None,
        wikidata: str | None = None,
    ) -> WrittenActor:
        """Rename, change role, sector or Wikidata id, add aliases; appends only the events
        that change something."""
        existing = self._history(actor_uuid(actor_id))
        if existing is None:
            raise NotFound(f"no actor {actor_id!r}")
        actor = existing.aggregate
        assert isinstance(actor, Actor)
        if name is not None and not name.strip():
            raise InvalidFact([FieldError(("name",), "must not be empty")])
        if any(not alias.strip() for alias in aliases):
            raise InvalidFact([FieldError(("aliases",), "must be non-empty strings")])
        invalid = check_sector(sector) + check_wikidata(wikidata)
        if invalid:
            raise InvalidFact(invalid)
        changes: list[tuple[type[Actor.Event], dict[str, Any]]] = []
        if name is not None and name.strip() != actor.name:
            changes.append((Actor.Renamed, {"name": name.strip()}))
        if role is not None and role != actor.role:
            changes.append((Actor.RoleChanged, {"role": role}))
        if sector is not None and sector != actor.sector:
            changes.append((Actor.SectorChanged, {"sector": sector}))
        if wikidata is not None and wikidata != actor.wikidata:
            changes.append((Actor.WikidataChanged, {"wikidata": wikidata}))
        added: list[str] = []
        for alias in aliases:
            if alias.strip() not in actor.aliases and alias.strip() not in added:
                added.append(alias.strip())
                changes.append((Actor.AliasAdded, {"alias": alias.strip()}))
        if not changes:
            return WrittenActor(False, self.head(), actor.profile)

        def build(stamp: Stamp) -> list[Any]:
            at = stamp()
            return [
                kind(
                    originator_id=actor.id,
                    originator_version=actor.version + n,
                    timestamp=at,
                    **fields,
                )
                for n, (kind, fields) in enumerate(changes, start=1)
            ]

        try:
            recordings = self.append(build)
        except IntegrityError as error:
            raise Conflict(f"actor {actor_id!r} changed concurrently; try again") from error
        for recording in recordings:
            change: Any = recording.domain_event
            change.mutate(actor)
        return WrittenActor(True, _last(recordings), actor.profile)

    # -- contact facts --------------------------------------------------------

    def check_facts(self, items: Sequence[Stated]) -> list[ContactFact]:
        """Validate facts against every rule and the current log, storing nothing.

        Errors are located as ("events", index, field…); items may answer
        requests made by earlier items of the same sequence.
        """
        facts = self._parse(items)
        self._checked(facts)
        return facts

    def record_facts(self, items: Sequence[Stated]) -> list[WrittenContact]:
        """Append facts atomically: all are stored, or none (InvalidFact names the item).

        A fact whose id is already stored with the same content is returned as
        it is (created=False) and stores nothing; with different content it is
        a Conflict. Concurrent writers of the same ids are serialised by the
        store: the loser re-reads and answers as for a retry.
        """
        facts = self._parse(items)
        # First without reading the facts' own ids: a new fact's id is not in the log
        # (the API makes one up when the client gives none), and the store refuses an
        # id it holds. Refused, the facts are read by id and answered as a retry.
        read_ids = False
        for attempt in range(3):
            stored = self._checked(facts, read_ids=read_ids)
            for index, fact in enumerate(facts):
                known = stored.get(fact.id)
                if known is not None and _fact_of(known) != fact:
                    raise Conflict(
                        f"event {fact.id} is already recorded with different content"
                        + (f" (item {index})" if len(items) > 1 else "")
                    )
            fresh = [f for f in facts if f.id not in stored]
            try:
                recordings = self.append(facts_build(fresh)) if fresh else []
            except IntegrityError:
                if attempt == 2:
                    raise
                read_ids = True
                continue
            break
        new = {r.domain_event.originator_id: r for r in recordings}
        written: list[WrittenContact] = []
        for fact in facts:
            if fact.id in new:
                recording = new[fact.id]
                event: Any = recording.domain_event
                contact = RecordedContact(fact, event.timestamp, recording.notification.id)
                written.append(WrittenContact(True, contact.position, contact))
            else:
                contact, retraction = _recorded(stored[fact.id])
                written.append(WrittenContact(False, contact.position, contact, retraction))
        return written

    def record_fact(self, item: Stated) -> WrittenContact:
        with _one_item():
            return self.record_facts([item])[0]

    async def record_fact_async(self, item: Stated) -> WrittenContact:
        """`record_fact`, awaited. A new fact between actors this process has seen
        registered, answering no request, needs nothing read from the log: it is
        appended by the group commit's own thread while the loop goes on. Any other
        (or one whose id the log holds) takes `record_fact`'s way, in a worker thread.
        """
        with _one_item():
            fact = self._parse([item])[0]
        if fact.in_response_to is None and not self._to_read([fact], read_ids=False):
            try:
                recordings = await self.committer.append_async(facts_build([fact]))
            except IntegrityError:
                pass  # its id is stored: answered below, as a retry is
            else:
                event: Any = recordings[0].domain_event
                contact = RecordedContact(fact, event.timestamp, recordings[0].notification.id)
                return WrittenContact(True, contact.position, contact)
        return await asyncio.to_thread(self.record_fact, fact)

    def retract(self, event_id: UUID, reason: str) -> WrittenRetraction:
        """Withdraw a fact from now on; a fact is retracted at most once."""
        existing, event, position = self._withdraw(event_id, Contact, "event", "fact", reason)
        recorded, _ = _recorded(existing)
        retraction = Retraction(
            event.retraction_id, event_id, event.reason, event.timestamp, position
        )
        return WrittenRetraction(True, position, retraction, recorded)

    def _withdraw(
        self, originator_id: UUID, kind: type[Contact | Tenure], noun: str, what: str, reason: str
    ) -> tuple[History, Any, int]:
        """Append the `Retracted` event of the `kind` aggregate `originator_id` (a `noun`,
        `what` the reason speaks of); return its history before, the event, its position."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidFact([FieldError(("reason",), f"required: why the {what} is withdrawn")])
        existing = self._history(originator_id)
        if existing is None or not isinstance(existing.aggregate, kind):
            raise NotFound(f"no {noun} {originator_id}")
        aggregate = existing.aggregate
        if aggregate.retraction_id is not None:
            raise Conflict(f"{noun} {originator_id} is already retracted")
        retraction_id, why = uuid4(), reason.strip()

        def build(stamp: Stamp) -> list[Any]:
            return [
                kind.Retracted(  # type: ignore[call-arg]
                    originator_id=originator_id,
                    originator_version=aggregate.version + 1,
                    timestamp=stamp(),
                    retraction_id=retraction_id,
                    reason=why,
                )
            ]

        try:
            recordings = self.append(build)
        except IntegrityError as error:
            raise Conflict(f"{noun} {originator_id} is already retracted") from error
        return existing, recordings[-1].domain_event, _last(recordings)

    # -- offices and their terms ---------------------------------------------

    def record_term(self, office: str, data: Mapping[str, Any]) -> WrittenTerm:
        """Record that a person held `office` over [from, to).

        The office must be an actor of kind office, the person one of kind person
        (an unknown one is UnknownActor, with close matches); the same id again is
        returned as stored if the content is the same, else a Conflict; a term
        overlapping another unretracted term of the office is a Conflict naming it.
        Concurrent writers of one office are serialised by its `Post`.
        """
        term = parse_term(office, data, new_id=uuid4())
        for attempt in range(3):
            stored = self._histories(
                {actor_uuid(office), actor_uuid(term.person), term.id, post_uuid(office)}
            )
            self._check_holder(office, term, stored)
            existing = stored.get(term.id)
            if existing is not None:
                tenure = existing.aggregate
                if not isinstance(tenure, Tenure) or tenure.value != term:
                    raise Conflict(f"term {term.id} is already recorded with different content")
                recorded, retraction = _recorded_term(existing)
                return WrittenTerm(False, recorded.position, recorded, retraction)
            post = stored.get(post_uuid(office))
            listed: Any = post.aggregate if post is not None else None
            others = self._histories(set(listed.term_ids)) if listed is not None else {}
            for history in others.values():
                other = history.aggregate
                if (
                    isinstance(other, Tenure)
                    and other.retraction_id is None
                    and other.value.overlaps(term)
                ):
                    held = other.value
                    until = "on" if held.end is None else f"until {held.to_dict()['to']}"
                    raise Conflict(
                        f"term {held.id} of {office} ({held.person}, from "
                        f"{held.to_dict()['from']} {until}) overlaps this one"
                    )
            try:
                recordings = self.append(_term_build(term, post))
            except IntegrityError as error:
                if attempt == 2:
                    raise Conflict(
                        f"the terms of {office} changed concurrently; try again"
                    ) from error
                continue
            event: Any = recordings[0].domain_event
            recorded = RecordedTerm(term, event.timestamp, recordings[0].notification.id)
            return WrittenTerm(True, recorded.position, recorded)
        raise AssertionError("unreachable")  # pragma: no cover

    def retract_term(self, term_id: UUID, reason: str) -> WrittenTermRetraction:
        """Withdraw a term from now on; a term is retracted at most once."""
        existing, event, position = self._withdraw(term_id, Tenure, "term", "term", reason)
        recorded, _ = _recorded_term(existing)
        retraction = TermRetraction(
            event.retraction_id, term_id, event.reason, event.timestamp, position
        )
        return WrittenTermRetraction(True, position, retraction, recorded)

    def _check_holder(self, office: str, term: Term, stored: Mapping[UUID, History]) -> None:
        found = stored.get(actor_uuid(office))
        if found is None or not isinstance(found.aggregate, Actor):
            raise NotFound(f"no actor {office!r}")
        if found.aggregate.kind != "office":
            raise InvalidFact(
                [FieldError(("office",), f"{office!r} is a {found.aggregate.kind}, not an office")]
            )
        person = stored.get(actor_uuid(term.person))
        if person is None or not isinstance(person.aggregate, Actor):
            raise UnknownActor(term.person, self.suggest(term.person), ("person",))
        if person.aggregate.kind != "person":
            raise InvalidFact(
                [
                    FieldError(
                        ("person",),
                        f"{term.person!r} is a {person.aggregate.kind}; "
                        "an office is held by a person",
                    )
                ]
            )

    # -- appending -----------------------------------------------------------

    def append(self, build: Build) -> list[Recording[UUID]]:
        """Store the events `build` returns, stamped in log order, in the next group
        commit (see service.committer); their recordings, in order."""
        return self.committer.append(build)

    def _store_group(self, events: Sequence[Any]) -> list[Recording[UUID]]:
        """`save(*events)`, the library's steps, without asking of each event whether
        it is an aggregate (a runtime protocol check, costly per event): they are events."""
        processing = ProcessingEvent[UUID]()
        processing.events.extend(events)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's deprecated hook, as save() calls it
        self._note(recordings)
        return recordings

    # -- reading the log ------------------------------------------------------

    def head(self) -> int:
        """The position of the last event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def notifications(self, start: int = 1, limit: int = READ_BATCH) -> Sequence[Notification]:
        return self.recorder.select_notifications(start=start, limit=limit)

    # -- helpers --------------------------------------------------------------

    def _histories(self, ids: Collection[UUID]) -> dict[UUID, History]:
        """The aggregates among `ids` that the log holds, each rebuilt from its events."""
        found: dict[UUID, History] = {}
        for originator_id, stored in histories(self.recorder, ids).items():
            aggregate: Any = None
            times: list[datetime] = []
            for item in stored:
                event: Any = self.mapper.to_domain_event(item.event)
                aggregate = event.mutate(aggregate)
                times.append(event.timestamp)
            found[originator_id] = History(
                aggregate, tuple(s.position for s in stored), tuple(times)
            )
        return found

    def _history(self, originator_id: UUID) -> History | None:
        return self._histories({originator_id}).get(originator_id)

    def _parse(self, items: Sequence[Stated]) -> list[ContactFact]:
        """Each item checked on its own (shape and rules), and no id given twice."""
        now = self.clock()
        facts: list[ContactFact] = []
        errors: list[FieldError] = []
        for index, item in enumerate(items):
            try:
                if isinstance(item, ContactFact):
                    broken = check_fact(item, now=now)
                    if broken:
                        raise InvalidFact(broken)
                    facts.append(item)
                else:
                    facts.append(parse_fact(item, now=now, new_id=uuid4()))
            except InvalidFact as invalid:
                errors += [FieldError(_at(index, e.loc), e.msg) for e in invalid.errors]
        if errors:
            raise InvalidFact(errors)
        seen: set[UUID] = set()
        for index, fact in enumerate(facts):
            if fact.id in seen:
                raise InvalidFact([FieldError(_at(index, ("id",)), "repeats an earlier item's id")])
            seen.add(fact.id)
        return facts

    def _checked(
        self, facts: Sequence[ContactFact], *, read_ids: bool = True
    ) -> dict[UUID, History]:
        """Check what the facts say of the log, in one read; what the log holds of them
        (of the facts themselves only when `read_ids`).

        Actors are never removed, so one this process has seen registered is not read
        again; nor is a request that `in_response_to` finds among the facts.
        """
        in_batch = {f.id: f for f in facts}
        stored = self._histories(self._to_read(facts, read_ids=read_ids))
        for index, fact in enumerate(facts):
            for role in ("actor", "counterpart"):
                name = getattr(fact, role)
                key = actor_uuid(name)
                if key in self._actors_seen:
                    continue
                actor = stored.get(key)
                if actor is None or not isinstance(actor.aggregate, Actor):
                    raise UnknownActor(name, self.suggest(name), _at(index, (role,)))
                self._seen(key)
        for index, fact in enumerate(facts):
            target = fact.in_response_to
            if target is None:
                continue
            request = in_batch.get(target)
            if request is None and target in stored:
                request = _fact_of(stored[target])
            try:
                check_response(fact, request)
            except InvalidFact as invalid:
                raise InvalidFact(
                    [FieldError(_at(index, e.loc), e.msg) for e in invalid.errors]
                ) from None
        return {i: h for i, h in stored.items() if isinstance(h.aggregate, Contact)}

    def _to_read(self, facts: Sequence[ContactFact], *, read_ids: bool) -> set[UUID]:
        """The ids `_checked` reads from the log for `facts`: actors not yet seen
        registered, requests answered from outside the facts, and (`read_ids`) the
        facts' own ids."""
        ids = {f.id for f in facts}
        wanted = {actor_uuid(n) for f in facts for n in (f.actor, f.counterpart)}
        wanted -= self._actors_seen
        if read_ids:
            wanted |= ids
        wanted |= {
            f.in_response_to
            for f in facts
            if f.in_response_to is not None and (read_ids or f.in_response_to not in ids)
        }
        return wanted

    def _seen(self, actor: UUID) -> None:
        """Remember that the actor `actor` is registered (a bounded memory)."""
        if len(self._actors_seen) >= ACTORS_REMEMBERED:
            self._actors_seen.clear()
        self._actors_seen.add(actor)

    def _note(self, recordings: Sequence[Recording[UUID]]) -> int:
        """The last position of what was just appended; listeners hear of it."""
        position = max((r.notification.id for r in recordings), default=0)
        if position:
            self.written = max(self.written, position)
            for listener in self.listeners:
                listener(position)
        return position


@contextmanager
def _one_item() -> Iterator[None]:
    """Errors about item 0 of a sequence, told as errors about the one item written."""
    try:
        yield
    except InvalidFact as invalid:
        raise InvalidFact([FieldError(e.loc[2:], e.msg) for e in invalid.errors]) from None
    except UnknownActor as unknown:
        raise UnknownActor(unknown.actor_id, unknown.suggestions, unknown.loc[2:]) from None


def recorded_event(fact: ContactFact, at: datetime) -> Contact.Recorded:
    """The event recording `fact`, as `Contact(fact=fact)` would, stamped `at`."""
    return Contact.Recorded(  # type: ignore[call-arg]
        originator_topic=CONTACT_TOPIC,
        originator_id=fact.id,
        originator_version=1,
        timestamp=at,
        fact=fact,
    )


def facts_build(facts: Sequence[ContactFact]) -> Build:
    """A build recording each of `facts` (none stored yet), all with one stamp."""

    def build(stamp: Stamp) -> list[Any]:
        at = stamp()
        return [recorded_event(f, at) for f in facts]

    return build


def registered(profile: ActorProfile, at: datetime) -> Actor.Registered:
    """The event registering `profile`, as `Actor(...)` would, stamped `at`."""
    return Actor.Registered(  # type: ignore[call-arg]
        originator_topic=ACTOR_TOPIC,
        originator_id=actor_uuid(profile.id),
        originator_version=1,
        timestamp=at,
        actor_id=profile.id,
        name=profile.name,
        kind=profile.kind.value,
        country=profile.country,
        role=profile.role,
        aliases=list(profile.aliases),
        sector=profile.sector,
        wikidata=profile.wikidata,
    )


def _term_build(term: Term, post: History | None) -> Build:
    """A build recording `term` and adding it to its office's list of terms."""
    listed = 0 if post is None else post.aggregate.version
    return lambda stamp: term_events(term, stamp(), listed)


def term_events(term: Term, at: datetime, listed: int) -> list[Any]:
    """The events that record `term` at `at`: the term itself, and its office's list of
    terms (`listed` its version now: 0 opens it) with the term added."""
    recorded = Tenure.Recorded(  # type: ignore[call-arg]
        originator_topic=TENURE_TOPIC,
        originator_id=term.id,
        originator_version=1,
        timestamp=at,
        term=term.to_dict(),
    )
    if not listed:
        opened = Post.Opened(  # type: ignore[call-arg]
            originator_topic=POST_TOPIC,
            originator_id=post_uuid(term.office),
            originator_version=1,
            timestamp=at,
            office=term.office,
            term_id=term.id,
        )
        return [recorded, opened]
    added = Post.TermAdded(  # type: ignore[call-arg]
        originator_id=post_uuid(term.office),
        originator_version=listed + 1,
        timestamp=at,
        term_id=term.id,
    )
    return [recorded, added]


def _recorded_term(history: History) -> tuple[RecordedTerm, TermRetraction | None]:
    """A stored term as recorded, and its retraction if it has one."""
    tenure = history.aggregate
    assert isinstance(tenure, Tenure)
    recorded = RecordedTerm(tenure.value, history.times[0], history.positions[0])
    retraction = None
    if tenure.retraction_id is not None and len(history.times) > 1:
        retraction = TermRetraction(
            tenure.retraction_id,
            tenure.id,
            tenure.retraction_reason or "",
            history.times[1],
            history.positions[1],
        )
    return recorded, retraction


def _last(recordings: Sequence[Recording[UUID]]) -> int:
    return max((r.notification.id for r in recordings), default=0)


def _fact_of(history: History) -> ContactFact | None:
    contact = history.aggregate
    return contact.fact if isinstance(contact, Contact) else None


def _recorded(history: History) -> tuple[RecordedContact, Retraction | None]:
    """A stored contact as the fact recorded, and its retraction if it has one."""
    contact = history.aggregate
    assert isinstance(contact, Contact)
    recorded = RecordedContact(contact.fact, history.times[0], history.positions[0])
    retraction = None
    if contact.retraction_id is not None and len(history.times) > 1:
        retraction = Retraction(
            contact.retraction_id,
            contact.id,
            contact.retraction_reason or "",
            history.times[1],
            history.positions[1],
        )
    return recorded, retraction


def _at(index: int, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Locate a field of item `index` of a batch (items are numbered from 0)."""
    return ("events", index, *loc)
