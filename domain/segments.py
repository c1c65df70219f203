"""Segments: a channel's status answer cut into the stretches of valid time where it holds.

A segment is a run of the sweep's phases (domain.status.sweep) over which
everything a status answer says — status, since, evidence, last contact,
requests and refusals since it, event count — stays the same; only `recent`
slides with `as_of`. The read model stores a channel's segments for every
transaction time; reading one answer is then a lookup, and the timeline is the
segments merged by status. Nothing here decides a status: the sweep does.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from domain.events import RecordedContact
from domain.status import (
    ChannelStatus,
    Interval,
    Status,
    by_actor,
    channel_status,
    merge,
    recent,
    sweep,
)

Counts = tuple[tuple[str, int], ...]


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

    def contains(self, at: datetime) -> bool:
        return self.interval.contains(at)

    def answers_like(self, other: Segment) -> bool:
        """True if both say the same thing (wherever they lie in valid time)."""
        return replace(self, start=None, end=None) == replace(other, start=None, end=None)


def segments(facts: Sequence[RecordedContact], window: timedelta) -> list[Segment]:
    """A channel's segments over all of valid time, for the facts known at one instant.

    `facts` are what the record held then (see domain.status.known_facts).
    Adjacent phases with the same answer are joined: a contact leaving the
    window while a refusal stands, say, changes no answer and starts no segment.
    """
    phases = list(sweep(facts, window))
    runs = merge(phase.interval for phase in phases)
    starts = sorted(f.valid_from for f in facts)
    joined: list[Segment] = []
    run = 0
    for phase in phases:
        if run + 1 < len(runs) and phase.start == runs[run + 1].start:
            run += 1
        verdict = phase.verdict
        segment = Segment(
            start=phase.start,
            end=phase.end,
            status=verdict.status,
            since=runs[run].start,
            evidence=verdict.evidence,
            last_contact=verdict.last_contact.id if verdict.last_contact else None,
            requests=tuple(by_actor(verdict.requests).items()),
            refusals=tuple(by_actor(verdict.refusals).items()),
            event_count=0 if phase.start is None else bisect_right(starts, phase.start),
        )
        if joined and joined[-1].answers_like(segment):
            joined[-1] = replace(joined[-1], end=segment.end)
        else:
            joined.append(segment)
    return joined


def timeline_of(parts: Iterable[Segment]) -> list[Interval]:
    """The timeline (domain.status.timeline) read back from a channel's segments."""
    return merge(part.interval for part in parts)


def answer(
    channel: str,
    segment: Segment | None,
    *,
    as_of: datetime,
    known_at: datetime,
    window: timedelta,
    last_contact: RecordedContact | None,
    window_facts: Iterable[RecordedContact],
) -> ChannelStatus:
    """The status answer at (as_of, known_at) from the segment that contains `as_of`.

    `segment` is None when nothing about the channel was known at `known_at`.
    `last_contact` is the fact the segment names; `window_facts` are the facts
    known at `known_at` that occurred within the window up to `as_of` (a
    superset is fine: `recent` picks its own). `events` is left empty: the
    read model answers without loading a channel's whole history.
    """
    if segment is None:
        return channel_status(channel, [], [], as_of=as_of, known_at=known_at, window=window)
    visible = [f for f in window_facts if f.valid_from <= as_of]
    return ChannelStatus(
        channel=channel,
        as_of=as_of,
        known_at=known_at,
        status=segment.status,
        since=segment.since,
        last_contact=last_contact,
        requests_since_contact=dict(segment.requests),
        refusals_since_contact=dict(segment.refusals),
        recent=recent(visible, as_of, window),
        event_count=segment.event_count,
        evidence=segment.evidence,
    )
