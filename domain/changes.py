"""What changed: status transitions over valid time, and revisions over record time.

A transition is a boundary of a channel's timeline (domain.status.timeline):
the instant one status gives way to another, lapses included. A revision is a
channel whose answer at one `as_of` reads differently at two `known_at`s. Both
are defined here once, on the timeline and the status answer; the read model
answers them from its segments, and the tests hold it to these definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from uuid import UUID

from domain.events import RecordedContact, Retraction
from domain.status import ChannelStatus, Interval, Status


@dataclass(frozen=True)
class Transition:
    """On `channel`, `before` gave way to `after` at valid time `at`.

    `evidence` is that of the timeline interval beginning at `at`.
    """

    channel: str
    at: datetime
    before: Status
    after: Status
    evidence: tuple[UUID, ...]

    @property
    def key(self) -> tuple[datetime, str]:
        """The order transitions are listed in: by `at`, then channel."""
        return self.at, self.channel


@dataclass(frozen=True)
class Answer:
    """The part of a status answer a revision compares: the status and when it began."""

    status: Status
    since: datetime | None

    @classmethod
    def of(cls, status: ChannelStatus) -> Answer:
        return cls(status.status, status.since)


@dataclass(frozen=True)
class Revision:
    """What the record learned about `channel` between two transaction times.

    `before` and `after` are the answers at `as_of` as known at the two times;
    `recorded` the channel's events recorded in between, `retracted` those
    whose retraction was recorded in between (each in log order).
    """

    channel: str
    as_of: datetime
    before: Answer
    after: Answer
    recorded: tuple[UUID, ...]
    retracted: tuple[UUID, ...]


def transitions(
    channel: str, intervals: Sequence[Interval], start: datetime, end: datetime
) -> list[Transition]:
    """The boundaries of a channel's timeline at valid times `start < at <= end`."""
    return [
        Transition(channel, current.start, previous.status, current.status, current.evidence)
        for previous, current in pairwise(intervals)
        if current.start is not None and start < current.start <= end
    ]


def revised(before: ChannelStatus, after: ChannelStatus) -> bool:
    """True if the two answers (one channel, one as_of) read differently."""
    return Answer.of(before) != Answer.of(after)


def revision(
    before: ChannelStatus,
    after: ChannelStatus,
    events: Iterable[RecordedContact],
    retractions: Iterable[Retraction],
    since: datetime,
    until: datetime,
) -> Revision | None:
    """The revision of one channel (its answers at one as_of, known at `since` and at
    `until`), with its events and retractions recorded in (since, until]; None if the
    answers read alike."""
    if not revised(before, after):
        return None
    return Revision(
        after.channel,
        after.as_of,
        Answer.of(before),
        Answer.of(after),
        tuple(e.id for e in sorted(events, key=_position) if since < e.recorded_at <= until),
        tuple(
            r.event_id for r in sorted(retractions, key=_position) if since < r.recorded_at <= until
        ),
    )


def _position(item: RecordedContact | Retraction) -> int:
    return item.position


def in_order(found: Iterable[Transition]) -> list[Transition]:
    """Transitions as they are listed: by `at`, then channel."""
    return sorted(found, key=lambda t: t.key)
