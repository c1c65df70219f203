"""The record: everything the log says, folded in memory, and the questions asked of it.

The fold is fed the log's events in position order (see service.replay); it
never decides a status itself, it hands each channel's events to domain.status.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from domain.actors import ActorKind, ActorProfile, fold
from domain.events import EventType, RecordedContact, Retraction, channel_actors, channel_id
from domain.offices import Holders, RecordedTerm, TermRetraction, known_terms, office_facts
from domain.status import DEFAULT_WINDOW, ChannelStatus, Interval, Status, channel_status
from domain.status import known_facts as _known_facts
from domain.status import timeline as _timeline


@dataclass
class Record:
    """The state of the whole log up to `position`."""

    actors: dict[str, ActorProfile] = field(default_factory=dict)
    actor_positions: dict[str, int] = field(default_factory=dict)
    contacts: dict[UUID, RecordedContact] = field(default_factory=dict)
    retractions: dict[UUID, Retraction] = field(default_factory=dict)  # by retracted event id
    retraction_ids: dict[UUID, UUID] = field(default_factory=dict)  # retraction id -> event id
    by_channel: dict[str, list[UUID]] = field(default_factory=lambda: defaultdict(list))
    terms: dict[UUID, RecordedTerm] = field(default_factory=dict)
    term_retractions: dict[UUID, TermRetraction] = field(default_factory=dict)  # by term id
    position: int = 0

    # -- the fold -------------------------------------------------------------

    def put_actor(self, profile: ActorProfile, position: int) -> None:
        self.actors[profile.id] = profile
        self.actor_positions[profile.id] = position
        self.position = max(self.position, position)

    def add_contact(self, contact: RecordedContact) -> None:
        if contact.id not in self.contacts:
            self.contacts[contact.id] = contact
            self.by_channel[contact.fact.channel].append(contact.id)
        self.position = max(self.position, contact.position)

    def add_retraction(self, retraction: Retraction) -> None:
        self.retractions[retraction.event_id] = retraction
        self.retraction_ids[retraction.id] = retraction.event_id
        self.position = max(self.position, retraction.position)

    def add_term(self, term: RecordedTerm) -> None:
        self.terms.setdefault(term.id, term)
        self.position = max(self.position, term.position)

    def add_term_retraction(self, retraction: TermRetraction) -> None:
        self.term_retractions.setdefault(retraction.term_id, retraction)
        self.position = max(self.position, retraction.position)

    # -- offices --------------------------------------------------------------

    def is_office(self, actor_id: str) -> bool:
        actor = self.actors.get(actor_id)
        return actor is not None and actor.kind is ActorKind.OFFICE

    def counted(self, channel: str, known_at: datetime) -> list[RecordedContact]:
        """The facts that count for `channel` at `known_at`: its own, and under the office
        rule (domain.offices) those of the holders of an office on either side."""
        a, b = channel_actors(channel)
        if not (self.is_office(a) or self.is_office(b)):
            return _known_facts(
                self.channel_events(channel), self.channel_retractions(channel), known_at
            )
        return office_facts(
            channel,
            self.contacts.values(),
            self.retractions.values(),
            self.terms.values(),
            self.term_retractions.values(),
            known_at,
        )

    def office_channels(self, known_at: datetime) -> list[str]:
        """Every pair of offices with at least one fact counted at `known_at`, by id."""
        holders = Holders(
            known_terms(self.terms.values(), self.term_retractions.values(), known_at)
        )
        found: set[str] = set()
        for fact in _known_facts(self.contacts.values(), self.retractions.values(), known_at):
            for channel in {fact.fact.channel, *holders.channels(fact)}:
                if all(self.is_office(side) for side in channel_actors(channel)):
                    found.add(channel)
        return sorted(found)

    # -- actors ---------------------------------------------------------------

    def resolve(self, name: str) -> ActorProfile | None:
        """The actor whose id, name or alias equals `name`, folded; None if none does."""
        if name in self.actors:
            return self.actors[name]
        wanted = fold(name)
        for actor in self.actors.values():
            if any(fold(n) == wanted for n in actor.names()):
                return actor
        return None

    def find_actors(
        self, q: str | None = None, country: str | None = None, kind: str | None = None
    ) -> list[ActorProfile]:
        found = [
            a
            for a in self.actors.values()
            if (q is None or a.matches(q))
            and (country is None or a.country.upper() == country.upper())
            and (kind is None or a.kind.value == kind)
        ]
        return sorted(found, key=lambda a: a.id)

    # -- events ---------------------------------------------------------------

    def channel_events(self, channel: str) -> list[RecordedContact]:
        return [self.contacts[i] for i in self.by_channel.get(channel, [])]

    def channel_retractions(self, channel: str) -> list[Retraction]:
        return [
            self.retractions[i] for i in self.by_channel.get(channel, []) if i in self.retractions
        ]

    def events(
        self,
        *,
        channel: str | None = None,
        actor: str | None = None,
        types: Iterable[EventType] = (),
        occurred_from: datetime | None = None,
        occurred_to: datetime | None = None,
        known_at: datetime | None = None,
        retracted: bool = False,
    ) -> list[RecordedContact]:
        """Events matching every given filter, by `occurred_at` then position.

        With `known_at`, only what the record held then: recorded by then and,
        unless `retracted` is true, not retracted by then.
        """
        pool: Iterable[RecordedContact]
        pool = self.channel_events(channel) if channel else self.contacts.values()
        wanted = set(types)
        chosen = [
            e
            for e in pool
            if (actor is None or actor in (e.fact.actor, e.fact.counterpart))
            and (not wanted or e.type in wanted)
            and (occurred_from is None or e.valid_from >= occurred_from)
            and (occurred_to is None or e.valid_from <= occurred_to)
        ]
        if known_at is not None and retracted:
            chosen = [e for e in chosen if e.recorded_at <= known_at]
        elif known_at is not None:
            chosen = _known_facts(chosen, self.retractions.values(), known_at)
        return sorted(chosen, key=lambda e: (e.valid_from, e.position))

    def retraction(self, event_id: UUID, known_at: datetime | None = None) -> Retraction | None:
        """The retraction of `event_id` recorded by `known_at` (by now, when None), if any."""
        found = self.retractions.get(event_id)
        if found is None or (known_at is not None and found.recorded_at > known_at):
            return None
        return found

    # -- channels -------------------------------------------------------------

    def status(
        self,
        a: str,
        b: str,
        *,
        as_of: datetime,
        known_at: datetime,
        window: timedelta = DEFAULT_WINDOW,
    ) -> ChannelStatus:
        channel = channel_id(a, b)
        return channel_status(
            channel,
            self.counted(channel, known_at),
            (),
            as_of=as_of,
            known_at=known_at,
            window=window,
        )

    def board(
        self,
        *,
        as_of: datetime,
        known_at: datetime,
        window: timedelta = DEFAULT_WINDOW,
        status: Status | None = None,
        actor: str | None = None,
    ) -> Iterator[ChannelStatus]:
        """Every channel with at least one event visible at (as_of, known_at), by id."""
        for channel in sorted(self.by_channel):
            a, _, b = channel.partition("~")
            if actor is not None and actor not in (a, b):
                continue
            answer = self.status(a, b, as_of=as_of, known_at=known_at, window=window)
            if answer.event_count == 0:
                continue
            if status is not None and answer.status != status:
                continue
            yield answer

    def timeline(
        self, a: str, b: str, *, known_at: datetime, window: timedelta = DEFAULT_WINDOW
    ) -> list[Interval]:
        return _timeline(self.counted(channel_id(a, b), known_at), window)
