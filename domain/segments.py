"""Segments: a channel's status answer cut into the stretches of valid time where it holds.

A segment is a run of the sweep's phases (domain.status.sweep) over which
everything a status answer says — status, since, evidence, last contact,
requests and refusals since it, event count — stays the same; only `recent`
slides with `as_of`. The read model stores a channel's segments for every
transaction time; reading one answer is then a lookup, and the timeline is the
segments merged by status. Nothing here decides a status: the sweep does.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.events import SORT_KEY, VALID_FROM, RecordedContact
from domain.known import KnownFacts
from domain.status import (
    ChannelStatus,
    Interval,
    Phase,
    Status,
    Verdict,
    by_actor,
    channel_status,
    merge,
    sweep_ordered,
)

Counts = tuple[tuple[str, int], ...]
EARLIEST_INSTANT = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Segment:
    """The answer that holds over valid time [start, end); None is an open end.

    `requests` and `refusals` are per-actor counts since the last contact,
    in the order the actors first appear.
    """

    start: datetime | None
    end: datetime | None
    status: Status
    since: datetime | None
    evidence: tuple[UUID, ...]
    last_contact: UUID | None
    requests: Counts
    refusals: Counts
    event_count: int

    @property
    def interval(self) -> Interval:
        return Interval(self.status, self.start, self.end, self.evidence)

    @property
    def says(self) -> tuple[object, ...]:
        """Everything the segment answers, but where it lies in valid time."""
        return (
            self.status,
            self.since,
            self.evidence,
            self.last_contact,
            self.requests,
            self.refusals,
            self.event_count,
        )

    def contains(self, at: datetime) -> bool:
        return self.interval.contains(at)

    def ending(self, end: datetime | None) -> Segment:
        """The same answer, ending at `end` (`dataclasses.replace`, without its cost:
        sweeps call it for every segment they cut or extend)."""
        return Segment(
            self.start,
            end,
            self.status,
            self.since,
            self.evidence,
            self.last_contact,
            self.requests,
            self.refusals,
            self.event_count,
        )

    def answers_like(self, other: Segment) -> bool:
        """True if both say the same thing (wherever they lie in valid time)."""
        return self.says == other.says


def segments(facts: Sequence[RecordedContact], window: timedelta) -> list[Segment]:
    """A channel's segments over all of valid time, for the facts known at one instant.

    `facts` are what the record held then (see domain.status.known_facts).
    Adjacent phases with the same answer are joined: a contact leaving the
    window while a refusal stands, say, changes no answer and starts no segment.
    """
    return resegment([], sorted(facts, key=SORT_KEY), window, None)[1]


def resegment(
    before: Sequence[Segment],
    facts: Sequence[RecordedContact],
    window: timedelta,
    changed_at: datetime | None,
) -> tuple[int, list[Segment]]:
    """The segments after the facts changed only at valid time `changed_at` and later.

    `facts` are in valid-time order, as domain.status.known_facts returns them;
    `before` are the segments of the facts as they were. The verdict only
    looks back, so the segments that end before `changed_at` cannot change:
    only the rest is swept into segments. Returns how many of `before` are
    kept as they are, and the segments that follow them; together they are
    exactly `segments(facts, window)`. With no `before` or no `changed_at`,
    everything is computed. The sweep resumes at `changed_at` (see
    domain.status.sweep_ordered): given `facts` as a `KnownFacts`, what it costs
    depends on the facts after `changed_at`, the contacts and tests of the window
    before it and the requests and refusals since the last contact, and on the
    channel's length only through bisects.
    """
    at = changed_at if before else None
    phases = list(sweep_ordered(facts, window, start=at))
    ordered = facts.ordered if isinstance(facts, KnownFacts) else facts
    first = phases[0].start
    kept = 0
    joined: list[Segment] = []
    status: Status | None = None
    since: datetime | None = None
    if at is not None and first is not None:
        # The segment that holds just before the first recomputed phase, cut there.
        kept = bisect_left(before, first, key=_start) - 1
        straddler = before[kept]
        joined.append(straddler.ending(first))
        status, since = straddler.status, straddler.since
    for start, end, verdict, visible in _runs(phases, ordered):
        if verdict.status != status:
            status, since = verdict.status, start
        segment = Segment(
            start=start,
            end=end,
            status=verdict.status,
            since=since,
            evidence=verdict.evidence,
            last_contact=verdict.last_contact.id if verdict.last_contact else None,
            requests=_counts(verdict.requests),
            refusals=_counts(verdict.refusals),
            event_count=visible,
        )
        if joined and joined[-1].says == segment.says:
            joined[-1] = joined[-1].ending(segment.end)
        else:
            joined.append(segment)
    return kept, joined


Run = tuple[datetime | None, datetime | None, Verdict, int]


def _runs(phases: Sequence[Phase], ordered: Sequence[RecordedContact]) -> Iterator[Run]:
    """The phases as (start, end, verdict, facts visible), adjacent ones joined where both
    are the same: a test lapsing while a later one stands, say, changes nothing."""
    run: Run | None = None
    index: int | None = None  # of the first fact after the phase's start
    for phase in phases:
        if phase.start is None:
            visible = 0
        else:
            # A bisect from the last phase's place: a run of statements costs its log.
            index = visible = bisect_right(ordered, phase.start, lo=index or 0, key=VALID_FROM)
        if run is not None and run[3] == visible and run[2] == phase.verdict:
            run = (run[0], phase.end, run[2], visible)
            continue
        if run is not None:
            yield run
        run = (phase.start, phase.end, phase.verdict, visible)
    if run is not None:
        yield run


def timeline_of(parts: Iterable[Segment]) -> list[Interval]:
    """The timeline (domain.status.timeline) read back from a channel's segments."""
    return merge(part.interval for part in parts)


def _start(segment: Segment) -> datetime:
    return EARLIEST_INSTANT if segment.start is None else segment.start


def _counts(facts: Sequence[RecordedContact]) -> Counts:
    return tuple(by_actor(facts).items()) if facts else ()


def answer(
    channel: str,
    segment: Segment | None,
    *,
    as_of: datetime,
    known_at: datetime,
    window: timedelta,
    last_contact: RecordedContact | None,
    recent_counts: Mapping[str, int],
) -> ChannelStatus:
    """The status answer at (as_of, known_at) from the segment that contains `as_of`.

    `segment` is None when nothing about the channel was known at `known_at`.
    `last_contact` is the fact the segment names; `recent_counts` the events per
    type known at `known_at` that occurred within the window up to `as_of`, as
    domain.status.recent counts them (the read model counts them in the database).
    `events` is left empty: the read model answers without loading a channel's
    whole history.
    """
    if segment is None:
        return channel_status(channel, [], [], as_of=as_of, known_at=known_at, window=window)
    return ChannelStatus(
        channel=channel,
        as_of=as_of,
        known_at=known_at,
        status=segment.status,
        since=segment.since,
        last_contact=last_contact,
        requests_since_contact=dict(segment.requests),
        refusals_since_contact=dict(segment.refusals),
        recent=dict(sorted(recent_counts.items())),
        event_count=segment.event_count,
        evidence=segment.evidence,
    )
