"""The status rule and the timeline: pure functions of a channel's events.

`judge` is the rule of domain.md read literally at one instant. `timeline`
sweeps valid time once and yields the intervals over which the rule's answer
is constant, including the transitions no event marks (`open` lapsing W after
the last contact, `standby` lapsing W after the last hotline test).
`channel_status` answers with both: the rule at `as_of`, and `since` from the
interval that contains it. The two readings must always agree; the property
tests hold them to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import groupby
from typing import NamedTuple
from uuid import UUID

from domain.events import (
    CONTACTS,
    REFUSALS,
    REQUESTS,
    SORT_KEY,
    VALID_FROM,
    EventType,
    RecordedContact,
    Retraction,
    channel_actors,
)
from domain.known import KnownFacts, Resumption, lapses

DEFAULT_WINDOW = timedelta(days=30)
LAPSING = CONTACTS | {EventType.HOTLINE_TEST}  # their facts leave the window W after they occur
DECIDING = CONTACTS | REQUESTS | REFUSALS | {EventType.HOTLINE_TEST}  # what the verdict reads


class Status(StrEnum):
    """The state of a channel, in the order the rule tries them."""

    REFUSED = "refused"
    PENDING = "pending"
    OPEN = "open"
    STANDBY = "standby"
    DORMANT = "dormant"
    NO_CONTACT = "no_contact"


class Verdict(NamedTuple):
    """What the rule says at one instant, and the events that decided it.

    A named tuple, as `Phase` and `domain.known.Resumption` are: immutable like the
    frozen dataclasses elsewhere, and built several times per fact a sweep takes in,
    at a third of a frozen dataclass's cost."""

    status: Status
    evidence: tuple[UUID, ...] = ()
    last_contact: RecordedContact | None = None
    requests: tuple[RecordedContact, ...] = ()
    refusals: tuple[RecordedContact, ...] = ()


@dataclass(frozen=True)
class Interval:
    """`status` holds over valid time [start, end); None is an open end."""

    status: Status
    start: datetime | None
    end: datetime | None
    evidence: tuple[UUID, ...] = ()

    def contains(self, at: datetime) -> bool:
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)

    def overlaps(self, start: datetime | None, end: datetime | None) -> bool:
        """True if the interval shares an instant with [start, end] (None: unbounded)."""
        return (start is None or self.end is None or start < self.end) and (
            end is None or self.start is None or self.start <= end
        )


class Phase(NamedTuple):
    """The rule's whole verdict, constant over valid time [start, end); None is an open end."""

    verdict: Verdict
    start: datetime | None
    end: datetime | None

    @property
    def interval(self) -> Interval:
        return Interval(self.verdict.status, self.start, self.end, self.verdict.evidence)


@dataclass(frozen=True)
class ChannelStatus:
    """The full status answer for one channel at (as_of, known_at)."""

    channel: str
    as_of: datetime
    known_at: datetime
    status: Status
    since: datetime | None
    last_contact: RecordedContact | None
    requests_since_contact: dict[str, int]
    refusals_since_contact: dict[str, int]
    recent: dict[str, int]
    event_count: int
    evidence: tuple[UUID, ...]
    events: tuple[RecordedContact, ...] = field(default=(), repr=False)

    @property
    def actors(self) -> tuple[str, str]:
        return channel_actors(self.channel)


def known_facts(
    events: Iterable[RecordedContact],
    retractions: Iterable[Retraction],
    known_at: datetime,
) -> list[RecordedContact]:
    """The events the record held at `known_at`, in valid-time order.

    An event counts if it was recorded at or before `known_at` and no
    retraction of it was recorded at or before `known_at`.
    """
    withdrawn = {r.event_id for r in retractions if r.recorded_at <= known_at}
    kept = [e for e in events if e.recorded_at <= known_at and e.id not in withdrawn]
    return sorted(kept, key=SORT_KEY)


def judge(facts: Sequence[RecordedContact], as_of: datetime, window: timedelta) -> Verdict:
    """The status rule at `as_of`, applied to facts already filtered by `known_at`."""
    visible = [f for f in facts if f.valid_from <= as_of]
    contacts = [f for f in visible if f.type in CONTACTS]
    last = max(contacts, key=lambda f: f.sort_key) if contacts else None
    after = [f for f in visible if last is None or f.valid_from > last.valid_from]
    requests = tuple(f for f in after if f.type in REQUESTS)
    refusals = tuple(f for f in after if f.type in REFUSALS)
    tests = [f for f in visible if f.type == EventType.HOTLINE_TEST]
    latest = max(tests, key=lambda f: f.sort_key) if tests else None
    return decide(as_of, window, last, requests, refusals, latest)


def decide(
    at: datetime,
    window: timedelta,
    last: RecordedContact | None,
    requests: Sequence[RecordedContact],
    refusals: Sequence[RecordedContact],
    latest_test: RecordedContact | None,
) -> Verdict:
    """The rule's decision at `at`, from the last contact, the requests and refusals since
    it, and the latest hotline test: the one place the order of the statuses is written."""
    anchor = (last.id,) if last else ()
    if refusals:
        return Verdict(
            Status.REFUSED, anchor + _ids(refusals), last, tuple(requests), tuple(refusals)
        )
    if requests:
        return Verdict(Status.PENDING, anchor + _ids(requests), last, tuple(requests))
    if last is not None and at - last.valid_from < window:
        return Verdict(Status.OPEN, anchor, last)
    if latest_test is not None and at - latest_test.valid_from < window:
        return Verdict(Status.STANDBY, (latest_test.id,), last)
    if last is not None:
        return Verdict(Status.DORMANT, anchor, last)
    return Verdict(Status.NO_CONTACT)


def timeline(facts: Sequence[RecordedContact], window: timedelta) -> list[Interval]:
    """The status over all of valid time, as maximal intervals of one status.

    One sweep over the facts in valid-time order; the status can change only
    where an event occurs or where a contact or hotline test falls out of the
    window, so those instants bound the intervals.
    """
    return merge(phase.interval for phase in sweep(facts, window))


def merge(pieces: Iterable[Interval]) -> list[Interval]:
    """Join adjacent pieces of one status into one interval, keeping every piece's evidence."""
    merged: list[Interval] = []
    for status, group in groupby(pieces, key=lambda p: p.status):
        parts = list(group)
        evidence: dict[UUID, None] = {}
        for part in parts:
            evidence.update(dict.fromkeys(part.evidence))
        merged.append(Interval(status, parts[0].start, parts[-1].end, tuple(evidence)))
    return merged


def channel_status(
    channel: str,
    events: Iterable[RecordedContact],
    retractions: Iterable[Retraction],
    *,
    as_of: datetime,
    known_at: datetime,
    window: timedelta = DEFAULT_WINDOW,
) -> ChannelStatus:
    """The status answer for one channel at (as_of, known_at): the rule, `since` and counts."""
    facts = known_facts(events, retractions, known_at)
    verdict = judge(facts, as_of, window)
    since = None
    for interval in timeline([f for f in facts if f.valid_from <= as_of], window):
        if interval.contains(as_of):
            since = interval.start
    visible = [f for f in facts if f.valid_from <= as_of]
    return ChannelStatus(
        channel=channel,
        as_of=as_of,
        known_at=known_at,
        status=verdict.status,
        since=since,
        last_contact=verdict.last_contact,
        requests_since_contact=by_actor(verdict.requests),
        refusals_since_contact=by_actor(verdict.refusals),
        recent=recent(visible, as_of, window),
        event_count=len(visible),
        evidence=verdict.evidence,
        events=tuple(visible),
    )


def recent(facts: Iterable[RecordedContact], as_of: datetime, window: timedelta) -> dict[str, int]:
    """Events per type within the window before `as_of` (facts already visible at `as_of`)."""
    counts = Counter(f.type.value for f in facts if as_of - f.valid_from < window)
    return dict(sorted(counts.items()))


def by_actor(facts: Iterable[RecordedContact]) -> dict[str, int]:
    """How many of `facts` each actor stated (who is reaching out, who is refusing)."""
    counts: dict[str, int] = {}
    for fact in facts:  # a plain loop: a Counter costs more than the few facts it counts
        actor = fact.fact.actor
        counts[actor] = counts.get(actor, 0) + 1
    return counts


def sweep(
    facts: Sequence[RecordedContact], window: timedelta, *, start: datetime | None = None
) -> Iterator[Phase]:
    """Yield the rule's verdict over [t_i, t_i+1) for every instant where it may change.

    The first phase, from the open start of valid time, holds before any event.
    Within a phase the visible facts, and so the whole verdict, are constant.
    With `start`, only the phases from the one containing `start` on are yielded,
    and only the facts their verdicts can depend on are swept (see `sweep_ordered`).
    """
    return sweep_ordered(sorted(facts, key=SORT_KEY), window, start=start)


def sweep_ordered(
    ordered: Sequence[RecordedContact], window: timedelta, *, start: datetime | None = None
) -> Iterator[Phase]:
    """`sweep`, for facts already in valid-time order (as `known_facts` returns them).

    With `start`, the sweep resumes at p0, the last instant at or before
    `start` where the verdict may change, from its state there
    (domain.known.KnownFacts.resume): it visits the facts after p0 and the
    contacts and tests of the window before it, however long the channel.
    Given a `KnownFacts`, the state is read from its indexes; given a list,
    they are built first.
    """
    if start is not None:
        known = ordered if isinstance(ordered, KnownFacts) else KnownFacts(ordered)
        resumed = known.resume(start, window)
        if resumed is not None:
            return _resumed(known, window, resumed)
    return _from_the_start(ordered, window)


def _from_the_start(ordered: Sequence[RecordedContact], window: timedelta) -> Iterator[Phase]:
    contacts = [f for f in ordered if f.type in CONTACTS]
    tests = [f for f in ordered if f.type == EventType.HOTLINE_TEST]
    instants = sorted(
        {*map(VALID_FROM, ordered), *lapses(contacts, window), *lapses(tests, window)}
    )
    yield Phase(Verdict(Status.NO_CONTACT), None, instants[0] if instants else None)
    deciding = [f for f in ordered if f.type in DECIDING]
    yield from _phases(deciding, instants, window, None, [], [], None)


def _resumed(known: KnownFacts, window: timedelta, resumed: Resumption) -> Iterator[Phase]:
    # Every fact after p0 starts a phase (it changes the event count), but only the
    # contacts, requests, refusals and tests among them are swept: read from their own
    # indexes, they cost what they are, not what the channel's statements are.
    after = {*map(VALID_FROM, known.ordered[resumed.following :]), *resumed.lapses}
    instants = [resumed.at, *sorted(after)]
    return _phases(
        known.deciding_after(resumed.at),
        instants,
        window,
        resumed.last,
        resumed.requests,
        resumed.refusals,
        resumed.latest_test,
    )


def _phases(
    deciding: Sequence[RecordedContact],
    instants: Sequence[datetime],
    window: timedelta,
    last: RecordedContact | None,
    requests: list[RecordedContact],
    refusals: list[RecordedContact],
    latest_test: RecordedContact | None,
) -> Iterator[Phase]:
    """The phases that begin at `instants`, from the sweep's state with every fact before
    `deciding` taken in; each of `deciding` (the facts after, in valid-time order, of the
    kinds the verdict depends on) is taken in at the phase where it occurs."""
    requests, refusals = list(requests), list(refusals)  # the caller's stay as they were
    groups = groupby(deciding, key=VALID_FROM)
    pending_group = next(groups, None)
    for index, at in enumerate(instants):
        while pending_group is not None and pending_group[0] <= at:
            group = list(pending_group[1])
            contacts = [f for f in group if f.type in CONTACTS]
            if contacts:
                # A contact answers every request and refusal of its own day or earlier.
                last, requests, refusals = contacts[-1], [], []
            else:
                requests += [f for f in group if f.type in REQUESTS]
                refusals += [f for f in group if f.type in REFUSALS]
            tests = [f for f in group if f.type == EventType.HOTLINE_TEST]
            if tests:
                latest_test = tests[-1]
            pending_group = next(groups, None)
        end = instants[index + 1] if index + 1 < len(instants) else None
        yield Phase(decide(at, window, last, requests, refusals, latest_test), at, end)


def _ids(facts: Iterable[RecordedContact]) -> tuple[UUID, ...]:
    return tuple(f.id for f in facts)
