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

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
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
from domain.offices import Holders, RecordedTerm, Tenure, Term, TermRetraction
from domain.segments import Segment, resegment, segments
from domain.status import known_facts
from domain.time import TICK
from infra.logging import get_logger
from infra.readmodel import ChangeSet, ChannelView, tracking_name
from infra.readmodel.rows import (
    MAX_TIME,
    ActorState,
    instant,
    member_row,
    retraction_from,
    sketch_from,
)

RECORDED = get_topic(Contact.Recorded)
RETRACTED = get_topic(Contact.Retracted)
TERM_RECORDED = get_topic(Tenure.Recorded)
TERM_RETRACTED = get_topic(Tenure.Retracted)
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


Item = RecordedContact | Retraction | ActorChange | RecordedTerm | TermRetraction
Known = list[list[datetime | None]]  # [known_from, known_to) intervals, None: still


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
    if isinstance(event, Tenure.Recorded):
        return RecordedTerm(Term.from_dict(event.term), event.timestamp, position)
    if isinstance(event, Tenure.Retracted):
        return TermRetraction(
            event.retraction_id, event.originator_id, event.reason, event.timestamp, position
        )
    return None


def decode(mapper: Mapper[Any], notification: Notification) -> Item | None:
    """Like `fold`, straight from the log; other events are not even decoded."""
    if notification.topic not in ChannelProjection.topics:
        return None
    return fold(mapper.to_domain_event(notification), notification.id)


@dataclass
class Ledger:
    """What the projection remembers of one channel.

    `facts` are the channel's own facts and, for a channel with an office on
    either side, the facts of others the office rule counts for it: those are in
    `members`, with the transaction times over which the terms made them count.
    `known` is what the record holds as of `last_tx` (kept up to date one fact at
    a time, with the indexes that let a sweep resume anywhere: domain.known.KnownFacts),
    `believed` its segments: the rows whose `known_to` is still open.
    """

    facts: dict[UUID, RecordedContact] = field(default_factory=dict)
    retractions: dict[UUID, Retraction] = field(default_factory=dict)
    members: dict[UUID, Known] = field(default_factory=dict)
    known: KnownFacts = field(default_factory=KnownFacts)
    believed: list[Segment] = field(default_factory=list)
    last_tx: datetime | None = None
    has_own: bool = False  # a fact of its own: it is on the board

    def learn(self, item: RecordedContact | Retraction) -> None:
        """Take in a fact or a retraction that is the latest thing the channel records."""
        self.change(
            [item] if isinstance(item, RecordedContact) else [],
            [] if isinstance(item, RecordedContact) else [self.facts[item.event_id]],
        )

    def change(self, added: Iterable[RecordedContact], removed: Iterable[RecordedContact]) -> None:
        if not isinstance(self.known, KnownFacts):  # assigned as a plain list
            self.known = KnownFacts(self.known)
        for fact in added:
            self.known.add(fact)
        for fact in removed:
            self.known.remove(fact)

    def counts(self, event_id: UUID) -> bool:
        """Whether a fact of others counts for the channel now (its last interval is open)."""
        spans = self.members.get(event_id)
        return bool(spans) and spans[-1][1] is None  # type: ignore[index]

    def recall(self, at: datetime) -> None:
        """Know again what the record held at `at` (after the channel was loaded or re-told)."""
        self.known = KnownFacts(self.known_at(at))

    def known_at(self, at: datetime) -> list[RecordedContact]:
        facts: Iterable[RecordedContact] = self.facts.values()
        if self.members:
            facts = [
                f for f in facts if f.id not in self.members or _within(self.members[f.id], at)
            ]
        return known_facts(facts, self.retractions.values(), at)

    def times(self) -> set[datetime]:
        """Every transaction time at which the channel's record changed."""
        found = {f.recorded_at for i, f in self.facts.items() if i not in self.members}
        found |= {r.recorded_at for r in self.retractions.values()}
        for spans in self.members.values():
            for start, end in spans:
                assert start is not None
                found.add(start)
                if end is not None:
                    found.add(end)
        return found

    def segments_at(self, at: datetime, window: timedelta) -> list[Segment]:
        """What the view believes at `at`: nothing before the channel's first fact."""
        if not any(self._first_known(i, f) <= at for i, f in self.facts.items()):
            return []
        return segments(self.known_at(at), window)

    def _first_known(self, event_id: UUID, fact: RecordedContact) -> datetime:
        spans = self.members.get(event_id)
        if spans is None:
            return fact.recorded_at
        first = spans[0][0]
        assert first is not None
        return first


def _within(spans: Known, at: datetime) -> bool:
    return any(s is not None and s <= at and (e is None or at < e) for s, e in spans)


class ChannelProjection:
    """Projects actors, contact facts and retractions into one generation of the view.

    The Projector hands it whole batches of the log (`process`), each written in
    one transaction with its tracking record.
    """

    name = "channels"
    topics = (RECORDED, RETRACTED, *ACTOR_TOPICS, TERM_RECORDED, TERM_RETRACTED)

    def __init__(
        self,
        view: ChannelView,
        *,
        generation: int,
        window: timedelta,
        cache_channels: int = 20_000,
        settled: Callable[[str], bool] | None = None,
    ) -> None:
        self.view = view
        self.generation = generation
        self.window = window
        self.cache_channels = cache_channels
        # The channels whose own facts and retractions the view already holds, through the
        # end of what this projection is given (a rebuild's bulk load wrote them): of their
        # items only what the office rule makes count for other channels is projected.
        self.settled = settled
        self._settled_facts: dict[UUID, RecordedContact] = {}
        self.tracking_name = tracking_name(generation)
        self._ledgers: OrderedDict[str, Ledger] = OrderedDict()
        # Every term the generation holds, with its retraction (None: not retracted), and
        # who holds what by those not retracted; loaded at the first fact that needs them.
        self._terms: dict[UUID, tuple[RecordedTerm, TermRetraction | None]] | None = None
        self._holders = Holders()

    def process(
        self,
        items: Sequence[Item],
        position: int,
        previous: int,
        changes: ChangeSet | None = None,
    ) -> None:
        """Project `items` and move the view from `previous` to `position`, in one transaction
        (with what `changes` holds already, if given)."""
        changes = ChangeSet() if changes is None else changes
        try:
            self._actors([i for i in items if isinstance(i, ActorChange)], changes)
            rest = [i for i in items if not isinstance(i, ActorChange)]
            contacts = [i for i in rest if isinstance(i, RecordedContact | Retraction)]
            channels = dict(zip(map(id, contacts), self._prepare(contacts), strict=True))
            if len(contacts) < len(rest) or self._terms is None:
                self._load_terms()
            for item in rest:
                if isinstance(item, RecordedTerm):
                    self._term(item, changes)
                elif isinstance(item, TermRetraction):
                    self._term_retracted(item, changes)
                else:
                    channel = channels[id(item)]
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
        """Drop every remembered channel and term (they are reloaded from the view when needed)."""
        self._ledgers.clear()
        self._terms = None
        self._holders = Holders()

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
        wanted = {c for c in channels if c is not None} - set(self._ledgers)
        if self.settled is not None:
            wanted = {c for c in wanted if not self.settled(c)}
        self._load(sorted(wanted))
        return channels

    def _load(self, channels: Sequence[str]) -> None:
        ledgers: dict[str, Ledger] = {c: Ledger() for c in channels}
        for row in self.view.load(self.generation, channels):
            ledger = ledgers[row["channel"]]
            contact = sketch_from(row)
            ledger.facts[contact.id] = contact
            ledger.has_own = True
            retraction = retraction_from(row)
            if retraction is not None:
                ledger.retractions[retraction.event_id] = retraction
        for row in self.view.load_members(self.generation, channels):
            ledger = ledgers[row["member_channel"]]
            contact = sketch_from(row)
            ledger.facts[contact.id] = contact
            ledger.members.setdefault(contact.id, []).append(
                [instant(row["known_from"]), _open_end(row["known_to"])]
            )
            retraction = retraction_from(row)
            if retraction is not None:
                ledger.retractions[retraction.event_id] = retraction
        for ledger in ledgers.values():
            for spans in ledger.members.values():
                spans.sort(key=lambda span: span[0])  # type: ignore[arg-type, return-value]
        for channel, ledger in ledgers.items():
            times = ledger.times()
            if times:
                ledger.last_tx = max(times)
                ledger.recall(ledger.last_tx)
                ledger.believed = segments(ledger.known, self.window)
            self._ledgers[channel] = ledger

    def _apply(self, item: RecordedContact | Retraction, channel: str, changes: ChangeSet) -> None:
        if self.settled is not None and self.settled(channel):
            self._apply_settled(item, changes)
            return
        ledger = self._ledgers[channel]
        self._ledgers.move_to_end(channel)
        if isinstance(item, RecordedContact):
            if item.id in ledger.facts:
                return
            if not ledger.has_own:
                changes.channels.add(channel)
                ledger.has_own = True
            ledger.facts[item.id] = item
            changes.facts.append(item)
            fact = item
            self._changed(channel, ledger, item.recorded_at, [item], [], changes)
        else:
            if item.event_id not in ledger.facts or item.event_id in ledger.retractions:
                return
            ledger.retractions[item.event_id] = item
            changes.retractions.append(item)
            fact = ledger.facts[item.event_id]
            self._changed(channel, ledger, item.recorded_at, [], [fact], changes)
        self._counted_elsewhere(item, fact, changes)

    def _apply_settled(self, item: RecordedContact | Retraction, changes: ChangeSet) -> None:
        """A fact or retraction of a settled channel: only where else it counts."""
        if isinstance(item, RecordedContact):
            fact = self._settled_facts.setdefault(item.id, item)
        else:
            found = self._settled_facts.pop(item.event_id, None)
            if found is None:
                return
            fact = found
        self._counted_elsewhere(item, fact, changes)

    def _counted_elsewhere(
        self, item: RecordedContact | Retraction, fact: RecordedContact, changes: ChangeSet
    ) -> None:
        """The channels of offices the fact's actors held then count it too (domain.offices)."""
        for other in sorted(self._holders.channels(fact)):
            ledger = self._ledger(other)
            if isinstance(item, RecordedContact):
                self._admit(other, ledger, [fact], item.recorded_at, changes)
            elif ledger.counts(fact.id) and fact.id not in ledger.retractions:
                ledger.retractions[fact.id] = item
                self._changed(other, ledger, item.recorded_at, [], [fact], changes)

    def _changed(
        self,
        channel: str,
        ledger: Ledger,
        at: datetime,
        added: Sequence[RecordedContact],
        removed: Sequence[RecordedContact],
        changes: ChangeSet,
    ) -> None:
        """The channel's record changed at `at` (its ledger says how): write the segments
        that change, from the earliest valid time touched on."""
        # At the channel's latest instant again (a batch's facts share their stamp), while
        # that instant's rows are unwritten, the change folds into them; older is re-told.
        if (
            ledger.last_tx is not None
            and at <= ledger.last_tx
            and (at < ledger.last_tx or not changes.pending_at(channel, at))
        ):
            self._retell(channel, ledger, at, changes)
            return
        ledger.change(added, removed)
        valid_from = min(f.valid_from for f in (*added, *removed))
        before = ledger.believed
        kept, tail = resegment(before, ledger.known, self.window, valid_from)
        changes.replace(channel, at, before[kept:], tail)
        before[kept:] = tail  # in place: only the recomputed end of the list moves
        ledger.last_tx = at

    # -- offices --------------------------------------------------------------------

    def _ledger(self, channel: str) -> Ledger:
        if channel not in self._ledgers:
            self._load([channel])
        self._ledgers.move_to_end(channel)
        return self._ledgers[channel]

    def _admit(
        self,
        channel: str,
        ledger: Ledger,
        facts: Sequence[RecordedContact],
        at: datetime,
        changes: ChangeSet,
    ) -> None:
        """From `at` on, `facts` (of others, known now) count for `channel`."""
        fresh = [f for f in facts if not ledger.counts(f.id) and f.id not in ledger.retractions]
        if not fresh:
            return
        if not ledger.members:
            changes.office_channels.add(channel)
        for fact in fresh:
            ledger.facts[fact.id] = fact
            ledger.members.setdefault(fact.id, []).append([at, None])
            changes.members.append(member_row(self.generation, channel, fact, at))
        self._changed(channel, ledger, at, fresh, [], changes)

    def _dismiss(
        self,
        channel: str,
        ledger: Ledger,
        facts: Sequence[RecordedContact],
        at: datetime,
        changes: ChangeSet,
    ) -> None:
        """From `at` on, `facts` (of others) no longer count for `channel`."""
        gone = [f for f in facts if ledger.counts(f.id)]
        if not gone:
            return
        for fact in gone:
            span = ledger.members[fact.id][-1]
            span[1] = at
            assert span[0] is not None
            changes.member_closes.append((channel, fact.id, span[0], at))
        known = [f for f in gone if f.id not in ledger.retractions]
        if known:
            self._changed(channel, ledger, at, [], known, changes)

    def _load_terms(self) -> None:
        if self._terms is not None:
            return
        self._terms = {}
        self._holders = Holders()
        for recorded, retraction in self.view.terms_of(self.generation):
            self._terms[recorded.id] = (recorded, retraction)
            if retraction is None:
                self._holders.add(recorded.term)

    def _term(self, item: RecordedTerm, changes: ChangeSet) -> None:
        """A term recorded: the facts of its holder in its valid time count, from now on,
        for the channels of its office."""
        assert self._terms is not None
        if item.id in self._terms:
            return
        self._terms[item.id] = (item, None)
        changes.terms.append(item)
        facts = self._holder_facts(item.term, item.position, changes)
        before = {f.id: self._holders.channels(f) for f in facts}
        self._holders.add(item.term)
        gained: dict[str, list[RecordedContact]] = defaultdict(list)
        for fact in facts:
            for channel in self._holders.channels(fact) - before[fact.id]:
                gained[channel].append(fact)
        for channel in sorted(gained):
            self._admit(channel, self._ledger(channel), gained[channel], item.recorded_at, changes)

    def _term_retracted(self, item: TermRetraction, changes: ChangeSet) -> None:
        """A term retracted: the facts it made count for its office's channels no longer do."""
        assert self._terms is not None
        found = self._terms.get(item.term_id)
        if found is None or found[1] is not None:
            if found is None:
                log.warning("retraction of an unknown term", term_id=str(item.term_id))
            return
        recorded = found[0]
        self._terms[item.term_id] = (recorded, item)
        changes.term_retractions.append(item)
        facts = self._holder_facts(recorded.term, item.position, changes)
        before = {f.id: self._holders.channels(f) for f in facts}
        self._holders.remove(recorded.term)
        lost: dict[str, list[RecordedContact]] = defaultdict(list)
        for fact in facts:
            for channel in before[fact.id] - self._holders.channels(fact):
                lost[channel].append(fact)
        for channel in sorted(lost):
            self._dismiss(channel, self._ledger(channel), lost[channel], item.recorded_at, changes)

    def _holder_facts(self, term: Term, position: int, changes: ChangeSet) -> list[RecordedContact]:
        """The facts, not retracted, of the term's person in the term's valid time as the
        log stands before `position`: those the view holds and those of this batch.

        The view holds nothing later than the batch, except in a rebuild, whose bulk load
        wrote the settled channels' facts and retractions through its end."""
        lo, hi = term.valid_from, term.valid_to
        found: dict[UUID, RecordedContact] = {}
        withdrawn = {r.event_id for r in changes.retractions}
        for row in self.view.facts_of(self.generation, term.person, lo, hi):
            if row["position"] > position:
                continue
            withdrawal = row["retraction_position"]
            if withdrawal is None or withdrawal > position:
                contact = sketch_from(row)
                found[contact.id] = contact
        for contact in changes.facts:
            if term.person in (contact.fact.actor, contact.fact.counterpart) and term.holds(
                contact.valid_from
            ):
                found[contact.id] = contact
        return sorted((f for i, f in found.items() if i not in withdrawn), key=lambda f: f.position)

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


def _open_end(value: int) -> datetime | None:
    return None if value >= MAX_TIME else instant(value)
