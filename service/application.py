"""The Backchannel application: the use cases, over the eventsourcing library.

Commands append events (actors, contact facts, retractions); queries read the
`Record`, a fold of the log kept current by tailing the notification log
(`refresh`). Every write returns the log position of what it stored, so a
caller can read its own writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Notification, Recording

from domain.actors import Actor, ActorProfile, actor_uuid, parse_actor, suggest
from domain.contacts import Contact
from domain.errors import Conflict, FieldError, InvalidFact, NotFound, UnknownActor
from domain.events import (
    ContactFact,
    RecordedContact,
    Retraction,
    check_response,
    parse_fact,
    stored_fact,
)
from domain.record import Record
from domain.status import DEFAULT_WINDOW

Clock = Callable[[], datetime]
READ_BATCH = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


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


@dataclass(frozen=True)
class WrittenRetraction(Written):
    retraction: Retraction
    contact: RecordedContact


class Backchannel(Application[UUID]):
    """Use cases of the service; persistence is chosen by the environment it is given."""

    name = "Backchannel"

    def __init__(self, env: Mapping[str, str] | None = None, clock: Clock = utcnow) -> None:
        super().__init__(env=dict(env or {}))
        self.clock = clock
        self.written = 0  # the last log position this process appended
        self.listeners: list[Callable[[int], None]] = []  # told of every append's position
        self.window = DEFAULT_WINDOW
        self.record = Record()
        # Re-entrant: a reader holds it across refresh() and its own reading.
        self._fold_lock = threading.RLock()
        # Held from the moment new events are stamped until the store has them, so
        # that, within a process, recorded_at never runs backwards along the log.
        self._append_lock = threading.RLock()
        self._actor_states: dict[UUID, Actor] = {}

    # -- actors ---------------------------------------------------------------

    def register_actor(self, data: Mapping[str, Any]) -> WrittenActor:
        """Register an actor; the same id again is 200 if identical, else a conflict."""
        profile = parse_actor(data)
        existing = self._actor(profile.id)
        if existing is not None:
            if existing.profile != profile:
                raise Conflict(f"actor {profile.id!r} is registered with different content")
            self.refresh()
            return WrittenActor(False, self.record.actor_positions[profile.id], existing.profile)
        try:
            with self._append_lock:
                actor = Actor(
                    actor_id=profile.id,
                    name=profile.name,
                    kind=profile.kind.value,
                    country=profile.country,
                    role=profile.role,
                    aliases=list(profile.aliases),
                )
                recordings = self.save(actor)
        except IntegrityError:
            return self.register_actor(data)  # a concurrent twin won: compare with it
        position = self._note(recordings)
        return WrittenActor(True, position, actor.profile)

    def update_actor(
        self,
        actor_id: str,
        *,
        name: str | None = None,
        role: str | None = None,
        aliases: Sequence[str] = (),
    ) -> WrittenActor:
        """Rename, change role, add aliases; appends only the events that change something."""
        actor = self._actor(actor_id)
        if actor is None:
            raise NotFound(f"no actor {actor_id!r}")
        if name is not None and not name.strip():
            raise InvalidFact([FieldError(("name",), "must not be empty")])
        if any(not alias.strip() for alias in aliases):
            raise InvalidFact([FieldError(("aliases",), "must be non-empty strings")])
        try:
            with self._append_lock:
                if name is not None and name.strip() != actor.name:
                    actor.rename(name.strip())
                if role is not None and role != actor.role:
                    actor.change_role(role)
                for alias in aliases:
                    if alias.strip() not in actor.aliases:
                        actor.add_alias(alias.strip())
                if not actor.pending_events:
                    self.refresh()
                    return WrittenActor(False, self.record.position, actor.profile)
                recordings = self.save(actor)
        except IntegrityError as error:
            raise Conflict(f"actor {actor_id!r} changed concurrently; try again") from error
        return WrittenActor(True, self._note(recordings), actor.profile)

    # -- contact facts --------------------------------------------------------

    def check_facts(self, items: Sequence[Mapping[str, Any]]) -> list[ContactFact]:
        """Validate facts against every rule and the current log, storing nothing.

        Errors are located as ("events", index, field…); items may answer
        requests made by earlier items of the same sequence.
        """
        now = self.clock()
        facts: list[ContactFact] = []
        errors: list[FieldError] = []
        for index, item in enumerate(items):
            try:
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
        with self.reading():
            self._check_actors(facts)
            self._check_responses(facts)
        return facts

    def record_facts(self, items: Sequence[Mapping[str, Any]]) -> list[WrittenContact]:
        """Append facts atomically: all are stored, or none (InvalidFact names the item).

        A fact whose id is already stored with the same content is returned as
        it is (created=False) and stores nothing; with different content it is
        a Conflict. Concurrent writers of the same ids are serialised by the
        store: the loser re-reads and answers as for a retry.
        """
        facts = self.check_facts(items)
        for attempt in range(3):
            existing = {f.id: self._contact(f.id) for f in facts}
            for index, fact in enumerate(facts):
                stored = existing[fact.id]
                if stored is not None and stored.fact != fact.to_dict():
                    raise Conflict(
                        f"event {fact.id} is already recorded with different content"
                        + (f" (item {index})" if len(items) > 1 else "")
                    )
            try:
                with self._append_lock:
                    fresh = [Contact(fact=f.to_dict()) for f in facts if existing[f.id] is None]
                    recordings = self.save(*fresh) if fresh else []
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
            self._note(recordings)
            break
        self.refresh()
        return [
            WrittenContact(
                existing[f.id] is None,
                self.record.contacts[f.id].position,
                self.record.contacts[f.id],
            )
            for f in facts
        ]

    def record_fact(self, item: Mapping[str, Any]) -> WrittenContact:
        try:
            return self.record_facts([item])[0]
        except InvalidFact as invalid:
            raise InvalidFact([FieldError(e.loc[2:], e.msg) for e in invalid.errors]) from None
        except UnknownActor as unknown:
            raise UnknownActor(unknown.actor_id, unknown.suggestions, unknown.loc[2:]) from None

    def retract(self, event_id: UUID, reason: str) -> WrittenRetraction:
        """Withdraw a fact from now on; a fact is retracted at most once."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidFact([FieldError(("reason",), "required: why the fact is withdrawn")])
        contact = self._contact(event_id)
        if contact is None:
            raise NotFound(f"no event {event_id}")
        try:
            with self._append_lock:
                contact.retract(uuid4(), reason.strip())
                recordings = self.save(contact)
        except IntegrityError as error:
            raise Conflict(f"event {event_id} is already retracted") from error
        self._note(recordings)
        self.refresh()
        retraction = self.record.retractions[event_id]
        return WrittenRetraction(
            True, retraction.position, retraction, self.record.contacts[event_id]
        )

    # -- reading the log ------------------------------------------------------

    def refresh(self) -> Record:
        """Fold every notification appended since the last refresh into the record."""
        with self._fold_lock:
            while True:
                batch = self.recorder.select_notifications(
                    start=self.record.position + 1, limit=READ_BATCH
                )
                for notification in batch:
                    self._fold(notification)
                if len(batch) < READ_BATCH:
                    return self.record

    @contextmanager
    def reading(self) -> Iterator[Record]:
        """The record, brought up to date and held still while the caller reads it.

        The fold mutates the record in place; a reader iterating it while another
        thread folds new notifications would see it change under its feet.
        """
        with self._fold_lock:
            yield self.refresh()

    def head(self) -> int:
        """The position of the last event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def notifications(self, start: int = 1, limit: int = READ_BATCH) -> Sequence[Notification]:
        return self.recorder.select_notifications(start=start, limit=limit)

    def _fold(self, notification: Notification) -> None:
        event: DomainEventProtocol[UUID] = self.mapper.to_domain_event(notification)
        position = notification.id
        if isinstance(
            event, Actor.Registered | Actor.Renamed | Actor.AliasAdded | Actor.RoleChanged
        ):
            actor = event.mutate(self._actor_states.get(event.originator_id))
            assert isinstance(actor, Actor)
            self._actor_states[event.originator_id] = actor
            self.record.put_actor(actor.profile, position)
        elif isinstance(event, Contact.Recorded):
            fact = stored_fact(event.fact)
            self.record.add_contact(RecordedContact(fact, event.timestamp, position))
        elif isinstance(event, Contact.Retracted):
            self.record.add_retraction(
                Retraction(
                    event.retraction_id,
                    event.originator_id,
                    event.reason,
                    event.timestamp,
                    position,
                )
            )
        self.record.position = max(self.record.position, position)

    # -- helpers --------------------------------------------------------------

    def _actor(self, actor_id: str) -> Actor | None:
        try:
            return self.repository.get(actor_uuid(actor_id))
        except AggregateNotFoundError:
            return None

    def _contact(self, event_id: UUID) -> Contact | None:
        try:
            return self.repository.get(event_id)
        except AggregateNotFoundError:
            return None

    def _check_actors(self, facts: Sequence[ContactFact]) -> None:
        for index, fact in enumerate(facts):
            for role in ("actor", "counterpart"):
                name = getattr(fact, role)
                if name not in self.record.actors:
                    raise UnknownActor(
                        name, suggest(name, self.record.actors.values()), _at(index, (role,))
                    )

    def _check_responses(self, facts: Sequence[ContactFact]) -> None:
        in_batch = {f.id: f for f in facts}
        for index, fact in enumerate(facts):
            target = fact.in_response_to
            if target is None:
                continue
            request = in_batch.get(target)
            if request is None and target in self.record.contacts:
                request = self.record.contacts[target].fact
            try:
                check_response(fact, request)
            except InvalidFact as invalid:
                raise InvalidFact(
                    [FieldError(_at(index, e.loc), e.msg) for e in invalid.errors]
                ) from None

    def _note(self, recordings: Sequence[Recording[UUID]]) -> int:
        """The last position of what was just appended; listeners hear of it."""
        position = max((r.notification.id for r in recordings), default=0)
        if position:
            self.written = max(self.written, position)
            for listener in self.listeners:
                listener(position)
        return position


def _at(index: int, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Locate a field of item `index` of a batch (items are numbered from 0)."""
    return ("events", index, *loc)
