"""The channel projection: what each event of the log changes in the read model.

For every contact fact or retraction, at its transaction time T, the projection
recomputes the channel's segments (domain.segments) from the facts known at T
and writes only the difference: rows no longer believed get `known_to = T`,
new rows `known_from = T`. Segments before the event's valid time come out
the same, so a backdated event rewrites only the part of the timeline it can
change. A transaction time older than one already projected for the channel
(two writers racing) rewinds that channel to T and re-tells what followed.

The projection remembers recently used channels (their facts and current
segments) so that a batch costs no reads; it forgets everything when a batch
fails, and reloads from the view.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, Notification, Tracking
from eventsourcing.utils import get_topic

from domain.actors import Actor, ActorKind, ActorProfile
from domain.contacts import Contact
from domain.events import RecordedContact, Retraction
from domain.known import KnownFacts
from domain.segments import Segment, resegment, segments
from domain.status import known_facts
from domain.time import TICK
from infra.logging import get_logger
from infra.readmodel import ChangeSet, ChannelView, tracking_name
from infra.readmodel.rows import ActorState, retraction_from, sketch_from

RECORDED = get_topic(Contact.Recorded)
RETRACTED = get_topic(Contact.Retracted)
ACTOR_EVENTS = (
    Actor.Registered,
    Actor.Renamed,
    Actor.AliasAdded,
    Actor.RoleChanged,
    Actor.SectorChanged,
    Actor.WikidataChanged,
)
ACTOR_TOPICS = tuple(get_topic(e) for e in ACTOR_EVENTS)
log = get_logger("backchannel.projection")


@dataclass(frozen=True)
class ActorChange:
    """One event of an actor's history, at its log position."""

    aggregate_id: UUID
    event: Actor.Event
    position: int

    def applied(self, before: ActorState | None) -> ActorState | None:
        """The actor after this change (None for a change of an unregistered actor)."""
        event = self.event
        if isinstance(event, Actor.Registered):
            profile = ActorProfile(
                id=event.actor_id,
                name=event.name,
                kind=ActorKind(event.kind),
                country=event.country,
                role=event.role,
                aliases=tuple(event.aliases),
                sector=event.sector,
                wikidata=event.wikidata,
            )
            return ActorState(self.aggregate_id, profile, self.position, self.position)
        if before is None:
            return None
        profile = before.profile
        if isinstance(event, Actor.Renamed):
            profile = replace(profile, name=event.name)
        elif isinstance(event, Actor.AliasAdded):
            profile = replace(profile, aliases=(*profile.aliases, event.alias))
        elif isinstance(event, Actor.RoleChanged):
            profile = replace(profile, role=event.role)
        elif isinstance(event, Actor.SectorChanged):
            profile = replace(profile, sector=event.sector)
        elif isinstance(event, Actor.WikidataChanged):
            profile = replace(profile, wikidata=event.wikidata)
        return replace(before, profile=profile, position=self.position)


Item = RecordedContact | Retraction | ActorChange


def actors_in_log(app: Any, batch: int = 1000) -> list[ActorProfile]:
    """Every actor as the log's actor events say, in the order they were registered."""
    actors: dict[UUID, ActorState] = {}
    start = 1
    while True:
        found = app.recorder.select_notifications(start=start, limit=batch, topics=ACTOR_TOPICS)
        for notification in found:
            change = fold(app.mapper.to_domain_event(notification), notification.id)
            if isinstance(change, ActorChange):
                after = change.applied(actors.get(change.aggregate_id))
                if after is not None:
                    actors[change.aggregate_id] = after
        if len(found) < batch:
            return [a.profile for a in actors.values()]
        start = found[-1].id + 1


def fold(event: DomainEventProtocol[Any], position: int) -> Item | None:
    """The fact, retraction or actor change a domain event records, if it records one."""
    if isinstance(event, Contact.Recorded):
        return RecordedContact(event.fact, event.timestamp, position)
    if isinstance(event, Contact.Retracted):
        return Retraction(
            event.retraction_id, event.originator_id, event.reason, event.timestamp, position
        )
    if isinstance(event, ACTOR_EVENTS):
        return ActorChange(event.originator_id, event, position)
    return None


def decode(mapper: Mapper[Any], notification: Notification) -> Item | None:
    """Like `fold`, straight from the log; other events are not even decoded."""
    if notification.topic not in ChannelProjection.topics:
        return None
    return fold(mapper.to_domain_event(notification), notification.id)


@dataclass
class Ledger:
    """What the projection remembers of one channel.

    `known` is what the record holds as of `last_tx` (domain.status.known_facts,
    kept up to date one fact at a time, with the indexes that let a sweep resume
    anywhere: domain.known.KnownFacts), `believed` its segments: the rows whose
    `known_to` is still open.
    """

    facts: dict[UUID, RecordedContact] = field(default_factory=dict)
    retractions: dict[UUID, Retraction] = field(default_factory=dict)
    known: KnownFacts = field(default_factory=KnownFacts)
    believed: list[Segment] = field(default_factory=list)
    last_tx: datetime | None = None

    def learn(self, item: RecordedContact | Retraction) -> None:
        """Take in a fact or a retraction that is the latest thing the channel records."""
        if not isinstance(self.known, KnownFacts):  # assigned as a plain list
            self.known = KnownFacts(self.known)
        if isinstance(item, RecordedContact):
            self.known.add(item)
        else:
            self.known.remove(self.facts[item.event_id])

    def recall(self, at: datetime) -> None:
        """Know again what the record held at `at` (after the channel was loaded or re-told)."""
        self.known = KnownFacts(self.known_at(at))

    def known_at(self, at: datetime) -> list[RecordedContact]:
        return known_facts(self.facts.values(), self.retractions.values(), at)

    def times(self) -> set[datetime]:
        """Every transaction time at which the channel's record changed."""
        return {f.recorded_at for f in self.facts.values()} | {
            r.recorded_at for r in self.retractions.values()
        }

    def segments_at(self, at: datetime, window: timedelta) -> list[Segment]:
        """What the view believes at `at`: nothing before the channel's first fact."""
        if not any(f.recorded_at <= at for f in self.facts.values()):
            return []
        return segments(self.known_at(at), window)


class ChannelProjection:
    """Projects actors, contact facts and retractions into one generation of the view.

    The Projector hands it whole batches of the log (`process`), each written in
    one transaction with its tracking record.
    """

    name = "channels"
    topics = (RECORDED, RETRACTED, *ACTOR_TOPICS)

    def __init__(
        self,
        view: ChannelView,
        *,
        generation: int,
        window: timedelta,
        cache_channels: int = 20_000,
    ) -> None:
        self.view = view
        self.generation = generation
        self.window = window
        self.cache_channels = cache_channels
        self.tracking_name = tracking_name(generation)
        self._ledgers: OrderedDict[str, Ledger] = OrderedDict()

    def process(self, items: Sequence[Item], position: int, previous: int) -> None:
        """Project `items` and move the view from `previous` to `position`, in one transaction."""
        changes = ChangeSet()
        try:
            self._actors([i for i in items if isinstance(i, ActorChange)], changes)
            contacts = [i for i in items if not isinstance(i, ActorChange)]
            channels = self._prepare(contacts)
            for item, channel in zip(contacts, channels, strict=True):
                if channel is not None:
                    self._apply(item, channel, changes)
            self.view.apply(
                self.generation, changes, Tracking(self.tracking_name, position), previous
            )
        except BaseException:
            self.forget()
            raise
        while len(self._ledgers) > self.cache_channels:
            self._ledgers.popitem(last=False)

    def forget(self) -> None:
        """Drop every remembered channel (they are reloaded from the view when needed)."""
        self._ledgers.clear()

    # -- one batch --------------------------------------------------------------

    def _actors(self, items: Sequence[ActorChange], changes: ChangeSet) -> None:
        """Each changed actor as it stands after the batch (the rest of the view does not
        depend on actors, so they are projected ahead of the batch's facts)."""
        if not items:
            return
        stored = self.view.actors_of(self.generation, sorted({str(i.aggregate_id) for i in items}))
        now: dict[UUID, ActorState | None] = {UUID(k): v for k, v in stored.items()}
        for item in items:
            after = item.applied(now.get(item.aggregate_id))
            if after is None:
                log.warning("change of an unknown actor", aggregate_id=str(item.aggregate_id))
                continue
            now[item.aggregate_id] = after
            changes.actors[after.profile.id] = after

    def _prepare(self, items: Sequence[RecordedContact | Retraction]) -> list[str | None]:
        """Each item's channel (None for a retraction of an unknown fact); load their ledgers."""
        in_batch = {i.fact.id: i.fact.channel for i in items if isinstance(i, RecordedContact)}
        targets = [
            str(i.event_id)
            for i in items
            if isinstance(i, Retraction) and i.event_id not in in_batch
        ]
        stored = self.view.channels_of(self.generation, targets)
        channels: list[str | None] = []
        for item in items:
            if isinstance(item, RecordedContact):
                channels.append(item.fact.channel)
            else:
                found = in_batch.get(item.event_id) or stored.get(str(item.event_id))
                if found is None:
                    log.warning("retraction of an unknown fact", event_id=str(item.event_id))
                channels.append(found)
        self._load(sorted({c for c in channels if c is not None} - set(self._ledgers)))
        return channels

    def _load(self, channels: Sequence[str]) -> None:
        ledgers: dict[str, Ledger] = {c: Ledger() for c in channels}
        for row in self.view.load(self.generation, channels):
            ledger = ledgers[row["channel"]]
            contact = sketch_from(row)
            ledger.facts[contact.id] = contact
            retraction = retraction_from(row)
            if retraction is not None:
                ledger.retractions[retraction.event_id] = retraction
        for channel, ledger in ledgers.items():
            times = ledger.times()
            if times:
                ledger.last_tx = max(times)
                ledger.recall(ledger.last_tx)
                ledger.believed = segments(ledger.known, self.window)
            self._ledgers[channel] = ledger

    def _apply(self, item: RecordedContact | Retraction, channel: str, changes: ChangeSet) -> None:
        ledger = self._ledgers[channel]
        self._ledgers.move_to_end(channel)
        if isinstance(item, RecordedContact):
            if item.id in ledger.facts:
                return
            if not ledger.facts:
                changes.channels.add(channel)
            ledger.facts[item.id] = item
            changes.facts.append(item)
            valid_from = item.valid_from
        else:
            if item.event_id not in ledger.facts or item.event_id in ledger.retractions:
                return
            ledger.retractions[item.event_id] = item
            changes.retractions.append(item)
            valid_from = ledger.facts[item.event_id].valid_from
        at = item.recorded_at
        if ledger.last_tx is not None and at <= ledger.last_tx:
            self._retell(channel, ledger, at, changes)
            return
        ledger.learn(item)
        before = ledger.believed
        kept, tail = resegment(before, ledger.known, self.window, valid_from)
        changes.replace(channel, at, before[kept:], tail)
        before[kept:] = tail  # in place: only the recomputed end of the list moves
        ledger.last_tx = at

    def _retell(self, channel: str, ledger: Ledger, at: datetime, changes: ChangeSet) -> None:
        """A transaction time older than the channel's latest (writers raced, or the same
        instant twice): forget the channel's rows from `at` on and write them again.

        Each transaction time from `at` on is segmented afresh from the whole record:
        this costs the channel's length for every write re-told, which is fine for
        something as rare as two writers racing on one channel.
        """
        assert ledger.last_tx is not None
        changes.rewind(channel, at)
        before = ledger.segments_at(at - TICK, self.window)
        for t in sorted(t for t in ledger.times() if t >= at):
            after = segments(ledger.known_at(t), self.window)
            changes.replace(channel, t, before, after)
            before = after
        ledger.believed = before
        ledger.last_tx = max(ledger.last_tx, at)
        ledger.recall(ledger.last_tx)
