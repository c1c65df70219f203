"""What one batch of the log changes in the read model, net of itself.

The projector says, event by event, which segments stop being believed and
which start; a `ChangeSet` folds that into the fewest writes: a row opened and
closed within the batch is written once, already closed. A `Rewind` (a
transaction time that arrived out of order) is a barrier: what came before it
is written before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.events import RecordedContact, Retraction
from domain.offices import RecordedTerm, TermRetraction
from domain.segments import EARLIEST_INSTANT, Segment
from infra.readmodel.rows import MAX_TIME, ActorState, lower, micros

SegmentKey = tuple[str, int]  # (channel, valid_from)


@dataclass
class Opened:
    """A segment row written by this batch."""

    channel: str
    segment: Segment
    known_from: int
    known_to: int = MAX_TIME


@dataclass
class SegmentWrites:
    """Rows believed before this step that stop being believed, and new rows."""

    closes: dict[SegmentKey, int] = field(default_factory=dict)
    opened: list[Opened] = field(default_factory=list)
    _open: dict[SegmentKey, Opened] = field(default_factory=dict)
    # Per channel, the transaction time of its last change in this step: the rows that
    # change then are still unwritten, so another change at that instant folds into them.
    latest: dict[str, int] = field(default_factory=dict)

    def close(self, channel: str, segment: Segment, at: int) -> None:
        key = (channel, lower(segment.start))
        mine = self._open.pop(key, None)
        if mine is not None:
            mine.known_to = at
        else:
            self.closes[key] = at

    def open(self, channel: str, segment: Segment, at: int) -> None:
        row = Opened(channel, segment, at)
        self.opened.append(row)
        self._open[(channel, lower(segment.start))] = row

    def rows(self) -> list[Opened]:
        """The rows to insert; a row believed for no time at all is none."""
        return [row for row in self.opened if row.known_to > row.known_from]


@dataclass(frozen=True)
class Rewind:
    """Forget what `channel`'s rows say from transaction time `at` on (it is re-told)."""

    channel: str
    at: int


@dataclass
class ChangeSet:
    """Every write of one batch, in the order the view must apply them."""

    channels: set[str] = field(default_factory=set)
    actors: dict[str, ActorState] = field(default_factory=dict)  # by actor id, as they now are
    facts: list[RecordedContact] = field(default_factory=list)
    retractions: list[Retraction] = field(default_factory=list)
    steps: list[SegmentWrites | Rewind] = field(default_factory=list)
    # The office rule (domain.offices): terms, and the facts of others a channel counts.
    terms: list[RecordedTerm] = field(default_factory=list)
    term_retractions: list[TermRetraction] = field(default_factory=list)
    office_channels: set[str] = field(default_factory=set)
    members: list[dict[str, Any]] = field(default_factory=list)  # rows.member_row
    member_closes: list[tuple[str, UUID, datetime, datetime]] = field(default_factory=list)

    def _writes(self) -> SegmentWrites:
        if not self.steps or isinstance(self.steps[-1], Rewind):
            self.steps.append(SegmentWrites())
        last = self.steps[-1]
        assert isinstance(last, SegmentWrites)
        return last

    def replace(
        self, channel: str, at: datetime, before: list[Segment], after: list[Segment]
    ) -> None:
        """From `at` on, `after` is believed instead of `before`; only differences are written."""
        kept_before, kept_after = _unchanged(before, after)
        since = micros(at)
        writes = self._writes()
        writes.latest[channel] = since
        for index, segment in enumerate(before):
            if index not in kept_before:
                writes.close(channel, segment, since)
        for index, segment in enumerate(after):
            if index not in kept_after:
                writes.open(channel, segment, since)

    def pending_at(self, channel: str, at: datetime) -> bool:
        """Whether `channel`'s rows from transaction time `at` on are all unwritten yet
        (its last change was at `at`, in the step now being filled)."""
        last = self.steps[-1] if self.steps else None
        return isinstance(last, SegmentWrites) and last.latest.get(channel) == micros(at)

    def rewind(self, channel: str, at: datetime) -> None:
        self.steps.append(Rewind(channel, micros(at)))


def _unchanged(before: list[Segment], after: list[Segment]) -> tuple[set[int], set[int]]:
    """The indexes, in `before` and in `after`, of the segments both hold unchanged.

    Each list is one channel's segments from some valid time on: their starts are
    distinct and ascending, so a segment can only be kept by the one of the other list
    that starts where it does. Comparing those pairs (the event count first: a
    backdated fact changes it for every later segment) costs what the lists are long,
    without hashing a segment and its evidence.
    """
    kept_before: set[int] = set()
    kept_after: set[int] = set()
    i = j = 0
    while i < len(before) and j < len(after):
        old, new = before[i], after[j]
        old_start, new_start = _start(old), _start(new)
        if old_start < new_start:
            i += 1
        elif new_start < old_start:
            j += 1
        else:
            if old.event_count == new.event_count and old == new:
                kept_before.add(i)
                kept_after.add(j)
            i += 1
            j += 1
    return kept_before, kept_after


def _start(segment: Segment) -> datetime:
    return EARLIEST_INSTANT if segment.start is None else segment.start
