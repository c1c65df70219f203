"""The rebuild's bulk load: each channel's whole history projected at once, into rows.

A rebuild sees every channel's history at once, so it need not go through the
log batch by batch, loading channels and writing differences: a worker reads
the log up to a position in large batches (service.stored decodes them), keeps
the facts and retractions of the channels of its share (a hash of the channel
id), then projects one channel at a time and writes the rows in bulk (COPY on
PostgreSQL). Each channel goes through the incremental projection itself
(`ChannelProjection`), its whole history as one batch, against `Collected`:
a stand-in for the view that keeps, in memory, the rows the view's own writes
would leave (writes.py: segments closed, opened and rewound, facts and their
retractions). The rows are those the projector would write, batch by batch.

Several workers share the channels between them (`part`, `parts`), each a
process of its own on PostgreSQL; their rows go into a generation that is
still being built, which no reader reads.
"""

from __future__ import annotations

import gc
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from domain.events import RecordedContact, Retraction, channel_actors, channel_id
from domain.offices import RecordedTerm, TermRetraction
from infra.logging import get_logger
from infra.readmodel import ActorState, ChangeSet, ChannelView
from infra.readmodel.changes import Rewind
from infra.readmodel.rows import (
    MAX_TIME,
    Row,
    Spelling,
    channel_row,
    fact_row,
    retraction_row,
    segment_row,
)
from infra.readmodel.tables import RETRACTION
from infra.readmodel.writes import Rows
from infra.settings import Settings
from infra.store import eventsourcing_env
from service.application import Backchannel
from service.projection import (
    TERM_RECORDED,
    TERM_RETRACTED,
    ActorChange,
    ChannelProjection,
    fold,
)
from service.stored import RECORDED, RETRACTED, StoredContacts

log = get_logger("backchannel.rebuild")
READ_BATCH = 20_000  # log positions per read
WRITE_CHANNELS = 500  # channels per bulk write (one transaction)
NO_RETRACTION = dict.fromkeys(RETRACTION)
Report = Callable[[int, int, int], None]  # (positions read, channels projected, channels)
# What holding a decoded fact or retraction costs beyond its stored state's bytes (its
# objects, and its slots in a share's lists and index): measured, about 2,240 bytes an
# event at 1,000,000 events, whose states average 390.
DECODED_OVERHEAD = 1850
HASHES = 1 << 32  # zlib.crc32's values


def place(channel: str, parts: int) -> tuple[int, int]:
    """Which of `parts` workers projects `channel`, and its key among that worker's
    channels (below `HASHES // parts + 1`): the same in every process."""
    return divmod(zlib.crc32(channel.encode()), parts)[::-1]


def share(channel: str, parts: int) -> int:
    """Which of `parts` workers projects `channel` (the same in every process)."""
    return place(channel, parts)[0]


SegmentKey = tuple[str, int, int]  # (channel, valid_from, known_from): the primary key


class Collected:
    """A stand-in for the view, for a projection that starts from nothing.

    It holds no channel before the projection tells it of one, and applies
    each batch's `ChangeSet` to rows in memory the way ViewWrites._write
    applies it to tables. `take()` hands over the rows so far and forgets them.
    """

    def __init__(self) -> None:
        self._channels: dict[str, dict[str, Any]] = {}
        self._facts: dict[str, dict[str, Any]] = {}
        self._segments: dict[SegmentKey, dict[str, Any]] = {}
        # The rows still believed (known_to open), by (channel, valid_from): at most one each.
        self._believed: dict[tuple[str, int], dict[str, Any]] = {}
        self._spelling = Spelling()

    # -- what the projection asks of its view ---------------------------------

    def load(self, generation: int, channels: Sequence[str]) -> Iterator[Row]:
        return iter(())

    def channels_of(self, generation: int, event_ids: Sequence[str]) -> dict[str, str]:
        return {e: self._facts[e]["channel"] for e in event_ids if e in self._facts}

    def actors_of(self, generation: int, aggregate_ids: Sequence[str]) -> dict[str, ActorState]:
        return {}

    # The bulk load leaves out the channels with an office on either side (the office
    # pass projects them: `project_offices`): no channel it loads counts a fact of others.
    def load_members(self, generation: int, channels: Sequence[str]) -> Iterator[Row]:
        return iter(())

    def terms_of(self, generation: int) -> list[Any]:
        return []

    def facts_of(self, generation: int, actor: str, *_: Any) -> list[Row]:
        return []

    def apply(self, generation: int, changes: ChangeSet, tracking: Tracking, previous: int) -> None:
        assert not (changes.terms or changes.members), "no terms in a bulk load"
        g, spelling = generation, self._spelling
        for channel in changes.channels:
            self._channels.setdefault(channel, channel_row(g, channel))
        for contact in changes.facts:
            self._facts[spelling.text(contact.id)] = {
                **fact_row(g, contact, spelling),
                **NO_RETRACTION,
            }
        for retraction in changes.retractions:
            self._facts[spelling.text(retraction.event_id)].update(
                retraction_row(g, retraction, spelling)
            )
        for step in changes.steps:
            if isinstance(step, Rewind):
                self._rewind(step)
                continue
            believed = self._believed
            for key, at in step.closes.items():
                closed = believed.pop(key, None)
                if closed is not None:
                    closed["known_to"] = at
            for opened in step.rows():
                row = segment_row(
                    g, opened.channel, opened.segment, opened.known_from, opened.known_to, spelling
                )
                self._segments[(row["channel"], row["valid_from"], row["known_from"])] = row
                if row["known_to"] == MAX_TIME:
                    believed[(row["channel"], row["valid_from"])] = row

    def _rewind(self, step: Rewind) -> None:
        for key, row in list(self._segments.items()):
            if row["channel"] != step.channel:
                continue
            if row["known_from"] >= step.at:
                del self._segments[key]
            elif step.at <= row["known_to"] < MAX_TIME:
                row["known_to"] = MAX_TIME
        self._believed = {
            (row["channel"], row["valid_from"]): row
            for row in self._segments.values()
            if row["known_to"] == MAX_TIME
        }

    def take(self) -> Rows:
        rows = Rows(
            list(self._channels.values()),
            list(self._facts.values()),
            list(self._segments.values()),
        )
        self._channels, self._facts, self._segments, self._believed = {}, {}, {}, {}
        self._spelling.forget()
        return rows


Item = RecordedContact | Retraction


@dataclass
class Share:
    """One worker's channels: each one's facts and retractions, in log order."""

    items: dict[str, list[Item]] = field(default_factory=dict)
    channel_of: dict[UUID | str, str] = field(default_factory=dict)  # a fact's id: its channel
    # The keys (`place`) of the channels read, [low, high): a share over its memory budget
    # lets go of the upper half of its keys, for a later pass over the log.
    keys: tuple[int, int] = (0, HASHES)
    key_of: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)  # bytes held, by channel (estimated)
    size: int = 0  # bytes held in all (estimated)
    mine: set[str] = field(default_factory=set)  # every channel of the worker, in any pass

    @property
    def events(self) -> int:
        return sum(len(v) for v in self.items.values())

    def hold(self, channel: str, key: int, item: Item, stored: int) -> None:
        """Keep `item` (decoded from `stored` bytes) as the channel's latest."""
        self.items.setdefault(channel, []).append(item)
        self.key_of[channel] = key
        cost = stored + DECODED_OVERHEAD
        self.held[channel] = self.held.get(channel, 0) + cost
        self.size += cost

    def halve(self) -> bool:
        """Let go of the channels of the upper half of the keys; False when the keys are
        one (a single channel is held whatever it costs)."""
        low, high = self.keys
        middle = (low + high) // 2
        if middle == low:
            return False
        self.keys = (low, middle)
        dropped = {c for c, key in self.key_of.items() if key >= middle}
        for channel in dropped:
            self.size -= self.held.pop(channel)
            del self.items[channel], self.key_of[channel]
        self.channel_of = {i: c for i, c in self.channel_of.items() if c not in dropped}
        return True


StoredRow = tuple[int, Any, int, str, bytes]  # (position, originator id, version, topic, state)


def stored_rows(
    app: Backchannel, until: int, topics: Sequence[str] = (RECORDED, RETRACTED)
) -> Iterator[list[StoredRow]]:
    """The log's events of `topics` (contact facts and retractions unless told) up to
    position `until`, in log order, a batch at a time, as plain tuples: on PostgreSQL
    from a server-side cursor, with none of the library's notification objects."""
    recorder = app.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state"
            " FROM {}.{} WHERE notification_id <= %s AND topic = ANY(%s)"
            " ORDER BY notification_id"
        ).format(Identifier(recorder.datastore.schema), Identifier(recorder.events_table_name))
        with (
            recorder.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(name="rebuild_read", row_factory=tuple_row) as cursor,
        ):
            cursor.execute(statement, (until, list(topics)))
            while batch := cursor.fetchmany(READ_BATCH):
                yield batch
        return
    start = 1
    while start <= until:
        notifications = recorder.select_notifications(
            start=start, limit=READ_BATCH, stop=until, topics=tuple(topics)
        )
        if not notifications:
            break
        yield [
            (n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notifications
        ]
        start = notifications[-1].id + 1


def read_share(
    app: Backchannel,
    until: int,
    part: int,
    parts: int,
    report: Report | None = None,
    *,
    keys: tuple[int, int] = (0, HASHES),
    budget: float | None = None,
    offices: frozenset[str] = frozenset(),
) -> Share:
    """The facts and retractions, up to log position `until`, of this worker's channels
    whose keys (`place`) lie in `keys`, but for the channels with one of `offices` on
    either side (those are left to the office pass: `project_offices`).

    Each worker reads the whole log; the share of a fact is told from its stored bytes
    where that is sure (`StoredContacts.quick_channel`, remembered per pair of actors),
    so only the worker's own facts are decoded. When what is held would pass `budget`
    bytes, the channels of the upper half of the keys are let go (`Share.halve`): the
    share's `keys` say which were read, the rest is for another pass."""
    contacts = StoredContacts(app.mapper)
    found = Share(keys=keys)
    places: dict[tuple[bytes, bytes], tuple[str, int, int]] = {}
    for batch in stored_rows(app, until):
        for position, originator_id, version, topic, raw in batch:
            if topic == RECORDED:
                state = None
                pair = contacts.quick_channel(raw)
                known = None if pair is None else places.get(pair)
                if known is None:
                    if pair is None:  # not told by its bytes: decoded
                        state = _decoded(contacts, originator_id, version, topic, raw)
                        channel = contacts.channel(state)
                    else:
                        channel = channel_id(pair[0].decode(), pair[1].decode())
                    known = (channel, *place(channel, parts))
                    if offices and not offices.isdisjoint(channel_actors(channel)):
                        known = (channel, -1, 0)  # nobody's share
                    if pair is not None:
                        places[pair] = known
                channel, owner, key = known
                if owner != part:
                    continue
                found.mine.add(channel)
                low, high = found.keys
                if not low <= key < high or originator_id in found.channel_of:
                    continue  # for a later pass, or a fact already read (ids are unique)
                if state is None:
                    state = _decoded(contacts, originator_id, version, topic, raw)
                    if contacts.channel(state) != channel:
                        raise RuntimeError(f"event {position}: its channel misread as {channel}")
                found.channel_of[originator_id] = channel
                found.hold(channel, key, contacts.recorded(state, position), len(raw))
                while budget is not None and found.size > budget and found.halve():
                    pass
            elif originator_id in found.channel_of:  # a retraction of one of the share's
                channel = found.channel_of[originator_id]
                state = _decoded(contacts, originator_id, version, topic, raw)
                retraction = contacts.retraction(state, UUID(str(originator_id)), position)
                found.hold(channel, found.key_of[channel], retraction, len(raw))
        if report is not None:
            report(min(batch[-1][0], until), 0, 0)
    if report is not None:
        report(until, 0, 0)
    return found


def _decoded(
    contacts: StoredContacts, originator_id: Any, version: int, topic: str, raw: bytes
) -> Any:
    """A stored event's state (the stored event itself built only if the transcoder needs it)."""
    return contacts.state_of(raw, partial(StoredEvent, originator_id, version, topic, raw))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Garbage collection held off: reading a share makes millions of long-lived objects,
    none of them in a cycle, and each collection would walk them all again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def project_share(
    found: Share,
    *,
    generation: int,
    settings: Settings,
    write: Callable[[Rows], None],
    report: Report | None = None,
    until: int = 0,
) -> int:
    """Project each channel of the share and `write` its rows, a few hundred channels at
    a time; how many channels."""
    collected = Collected()
    projection = ChannelProjection(
        collected,  # type: ignore[arg-type]
        generation=generation,
        window=settings.window,
        cache_channels=1,
    )
    channels = sorted(found.items)
    pending = Rows()
    # The projection makes and drops millions of objects, none of them in a cycle: the
    # collector, run by their count, would only walk them (5 to 10% of the CPU). It is
    # run once per write instead, over the little that is then alive.
    with gc_paused():
        for done, channel in enumerate(channels, start=1):
            projection.process(found.items.pop(channel), 0, 0)
            projection.forget()
            pending.extend(collected.take())
            if done % WRITE_CHANNELS == 0 or done == len(channels):
                write(pending)
                pending = Rows()
                gc.collect()
                if report is not None:
                    report(until, done, len(channels))
    return len(channels)


def build_share(
    settings: Settings,
    generation: int,
    until: int,
    part: int,
    parts: int,
    report: Report | None = None,
    offices: frozenset[str] = frozenset(),
) -> int:
    """Read, project and write one worker's share of the channels (none with one of
    `offices` on either side); how many channels.

    The worker holds at most about `settings.rebuild_memory_mib` of decoded events at
    once: a larger share is read and projected in several passes over the log, each
    taking the channels of a range of keys (`read_share`). Garbage collection is held
    off while a pass reads (millions of new, long-lived objects, none of them in a
    cycle) and what it read is then frozen out of its sight while it is projected.
    """
    from infra.readmodel import open_view

    app = Backchannel(eventsourcing_env(settings), window=settings.window)
    view = open_view(settings)
    budget = settings.rebuild_memory_mib * 2**20
    reading = writing = 0.0
    channels = events = passes = 0
    mine: set[str] = set()

    def write(rows: Rows) -> None:
        nonlocal writing
        began = time.monotonic()
        view.insert_rows(generation, rows)
        writing += time.monotonic() - began

    def told(read: int, done: int, total: int) -> None:
        """Progress over every pass: reading is the first pass's, the channels are all
        of the worker's (known once the first pass has read the log)."""
        if report is not None and total:
            report(until, channels + done, len(mine))
        elif report is not None and passes == 1:
            report(read, 0, 0)

    try:
        started = time.monotonic()
        keys = (0, HASHES)
        while True:
            passes += 1
            began = time.monotonic()
            with gc_paused():
                found = read_share(
                    app, until, part, parts, told, keys=keys, budget=budget, offices=offices
                )
                gc.freeze()  # what was read, out of the collector's sight while projected
            reading += time.monotonic() - began
            mine = mine or found.mine
            events += found.events
            channels += project_share(
                found,
                generation=generation,
                settings=settings,
                write=write,
                report=told,
                until=until,
            )
            gc.unfreeze()
            if found.keys[1] == keys[1]:
                break
            keys = (found.keys[1], keys[1])
        log.info(
            "share loaded",
            part=part,
            channels=channels,
            events=events,
            passes=passes,
            reading=round(reading, 1),
            projecting=round(time.monotonic() - started - reading - writing, 1),
            writing=round(writing, 1),
        )
        return channels
    finally:
        gc.unfreeze()
        view.close()
        app.close()


# -- the office pass ------------------------------------------------------------------

OFFICE_BATCH = 2000  # items of the office pass per transaction
OfficeItem = Item | RecordedTerm | TermRetraction


def term_holders(app: Backchannel, until: int) -> frozenset[str]:
    """Everyone the log names as the holder of a term up to `until`, retracted or not."""
    holders: set[str] = set()
    for batch in stored_rows(app, until, (TERM_RECORDED,)):
        for position, originator_id, version, topic, raw in batch:
            item = fold(
                app.mapper.to_domain_event(StoredEvent(originator_id, version, topic, raw)),
                position,
            )
            if isinstance(item, RecordedTerm):
                holders.add(item.term.person)
    return frozenset(holders)


def office_items(
    app: Backchannel, until: int, offices: frozenset[str], holders: frozenset[str]
) -> Iterator[OfficeItem]:
    """What the office rule can make count for a channel with one of `offices` on either
    side, up to `until`, in log order: every term and its retraction, the facts of those
    channels, and the facts of anyone who ever held a term, with their retractions.
    Other facts count for their own channel alone (domain.offices). A fact is told apart
    by its stored bytes where that is sure, and only those kept are decoded."""
    contacts = StoredContacts(app.mapper)
    named = offices | holders
    kept: set[Any] = set()
    topics = (RECORDED, RETRACTED, TERM_RECORDED, TERM_RETRACTED)
    for batch in stored_rows(app, until, topics):
        for position, originator_id, version, topic, raw in batch:
            if topic == RECORDED:
                pair = contacts.quick_channel(raw)
                if pair is not None:
                    actors = (pair[0].decode(), pair[1].decode())
                else:
                    state = _decoded(contacts, originator_id, version, topic, raw)
                    actors = channel_actors(contacts.channel(state))
                if named.isdisjoint(actors):
                    continue
                kept.add(originator_id)
            elif topic == RETRACTED and originator_id not in kept:
                continue
            event = app.mapper.to_domain_event(StoredEvent(originator_id, version, topic, raw))
            item = fold(event, position)
            if item is not None and not isinstance(item, ActorChange):
                yield item


def office_log(app: Backchannel, until: int, offices: frozenset[str]) -> list[OfficeItem]:
    """Every item of the office pass up to `until` (`office_items`), read ahead: they are
    few beside the log (the terms, and the facts of the office channels and of anyone
    who held a term), and the read can run while the bulk load does."""
    return list(office_items(app, until, offices, term_holders(app, until)))


def project_offices(
    settings: Settings,
    view: ChannelView,
    generation: int,
    until: int,
    offices: frozenset[str],
    actors: dict[str, ActorState],
    items: Iterable[OfficeItem],
    *,
    cache_channels: int,
) -> None:
    """Project, in log order up to `until`, what the bulk load left out (`items`, from
    `office_log`): the channels with one of `offices` on either side, and the terms
    that make others' facts count for them. The bulk load wrote every other channel's
    facts and retractions through `until`, and tracked no position. Each batch here is
    tracked; the last one, at `until`, also writes `actors` (every actor as the log
    leaves them at `until`)."""
    projection = ChannelProjection(
        view,
        generation=generation,
        window=settings.window,
        cache_channels=cache_channels,
        settled=lambda channel: offices.isdisjoint(channel_actors(channel)),
    )
    tracked = 0
    batch: list[Any] = []
    for item in items:
        if len(batch) == OFFICE_BATCH:
            projection.process(batch, batch[-1].position, tracked)
            tracked, batch = batch[-1].position, []
        batch.append(item)
    projection.process(batch, until, tracked, ChangeSet(actors=actors))
