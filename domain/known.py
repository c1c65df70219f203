"""A channel's known facts in valid-time order, indexed by kind so that a sweep can resume.

The sweep (domain.status.sweep_ordered) carries a state along valid time: the
last contact, the requests and refusals since it, and the latest hotline test.
To recompute a channel's phases from some instant on, it needs that state at
the instant, and the instants after it where the verdict may change. Sweeping
the channel again from its last contact to learn them costs as much as the
channel is long when nobody has talked for a while; `KnownFacts` keeps, beside
the facts in valid-time order, the contacts, the requests and refusals, and
the hotline tests each in the same order, so that the state is found with a
few bisects and the requests and refusals since the last contact (which the
verdict lists anyway).

Adding or removing a fact is a bisect and a list insertion or deletion: the
memory moved is the facts after it, which a fact recorded in valid-time order
does not have, and whose segments a backdated one changes anyway.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from heapq import merge
from itertools import pairwise
from typing import NamedTuple, overload

from domain.events import (
    CONTACTS,
    REFUSALS,
    REQUESTS,
    SORT_KEY,
    VALID_FROM,
    EventType,
    RecordedContact,
)

ASKS = REQUESTS | REFUSALS


class Resumption(NamedTuple):
    """Where a sweep resumes: p0, the sweep's state there, and what follows.

    `at` is the last instant at or before the instant asked for where the
    verdict may change (a fact occurs there, or a contact or test lapses);
    the state is what the sweep holds once every fact up to `at` is taken in.
    `following` is the index of the first fact after `at`, `lapses` the
    instants after `at` where a contact or a test leaves the window.
    """

    at: datetime
    following: int
    last: RecordedContact | None
    requests: list[RecordedContact]
    refusals: list[RecordedContact]
    latest_test: RecordedContact | None
    lapses: list[datetime]


class KnownFacts(Sequence[RecordedContact]):
    """The facts known at one instant (domain.status.known_facts), kept in valid-time order.

    A sequence like the list `known_facts` returns; changed one fact at a time
    with `add` and `remove`, and read by the sweep through `resume`.
    """

    __slots__ = ("asks", "contacts", "ordered", "tests")

    def __init__(self, facts: Iterable[RecordedContact] = ()) -> None:
        self.ordered: list[RecordedContact] = sorted(facts, key=SORT_KEY)
        self.contacts = [f for f in self.ordered if f.type in CONTACTS]
        self.asks = [f for f in self.ordered if f.type in ASKS]
        self.tests = [f for f in self.ordered if f.type == EventType.HOTLINE_TEST]

    # -- the sequence -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ordered)

    @overload
    def __getitem__(self, index: int) -> RecordedContact: ...

    @overload
    def __getitem__(self, index: slice) -> list[RecordedContact]: ...

    def __getitem__(self, index: int | slice) -> RecordedContact | list[RecordedContact]:
        return self.ordered[index]

    def __iter__(self) -> Iterator[RecordedContact]:
        return iter(self.ordered)

    def __repr__(self) -> str:
        return f"KnownFacts({self.ordered!r})"

    # -- changes ------------------------------------------------------------------

    def add(self, fact: RecordedContact) -> None:
        """Take in a fact (one not already among them)."""
        for facts in self._lists(fact):
            insort(facts, fact, key=SORT_KEY)

    def remove(self, fact: RecordedContact) -> None:
        """Let go of a fact (one among them: a retraction withdrew it)."""
        for facts in self._lists(fact):
            index = bisect_left(facts, fact.sort_key, key=SORT_KEY)
            if index == len(facts) or facts[index].id != fact.id:
                raise ValueError(f"fact {fact.id} is not known")
            del facts[index]

    def _lists(self, fact: RecordedContact) -> list[list[RecordedContact]]:
        if fact.type in CONTACTS:
            return [self.ordered, self.contacts]
        if fact.type in ASKS:
            return [self.ordered, self.asks]
        if fact.type == EventType.HOTLINE_TEST:
            return [self.ordered, self.tests]
        return [self.ordered]

    # -- the sweep's state --------------------------------------------------------

    def resume(self, start: datetime, window: timedelta) -> Resumption | None:
        """The sweep's state at p0, the last instant at or before `start` where the verdict
        may change; None when there is none (no fact occurred by `start`).

        From p0 on, the verdict depends on the last contact at or before p0, the
        requests and refusals after it up to p0, the latest test at or before p0,
        and what occurs after p0; the instants after p0 are those facts and the
        lapses (see `lapses`) of the contacts and tests of the window before p0.
        """
        ordered = self.ordered
        index = bisect_right(ordered, start, key=VALID_FROM)
        if not index:
            return None
        p0 = ordered[index - 1].valid_from
        for kind in (self.contacts, self.tests):
            # Of the facts of a kind that lapse by `start`, only the last to occur may
            # lapse after the last fact by `start` does: an earlier one lapses before that
            # last one occurs, or while a later one of its kind stands.
            found = bisect_right(kind, start - window, key=VALID_FROM)
            if found:
                lapse = kind[found - 1].valid_from + window
                if (found == len(kind) or kind[found].valid_from > lapse) and lapse > p0:
                    p0 = lapse
        last = _latest(self.contacts, p0)
        asks = self.asks[
            bisect_right(self.asks, last.valid_from, key=VALID_FROM) if last else 0 : bisect_right(
                self.asks, p0, key=VALID_FROM
            )
        ]
        recent = [kind[bisect_right(kind, p0 - window, key=VALID_FROM) :] for kind in self.kinds]
        return Resumption(
            at=p0,
            following=bisect_right(ordered, p0, key=VALID_FROM),
            last=last,
            requests=[f for f in asks if f.type in REQUESTS],
            refusals=[f for f in asks if f.type in REFUSALS],
            latest_test=_latest(self.tests, p0),
            lapses=[t for kind in recent for t in lapses(kind, window)],
        )

    def deciding_after(self, at: datetime) -> list[RecordedContact]:
        """The facts after `at` that the verdict depends on (contacts, requests, refusals,
        tests), in valid-time order: a statement changes only the event count."""
        parts = [
            kind[bisect_right(kind, at, key=VALID_FROM) :]
            for kind in (self.contacts, self.asks, self.tests)
        ]
        found = [part for part in parts if part]
        if len(found) < 2:  # the usual case, after a fact in valid-time order: no merge
            return found[0] if found else []
        return list(merge(*found, key=SORT_KEY))

    @property
    def kinds(self) -> tuple[list[RecordedContact], list[RecordedContact]]:
        """The facts that lapse W after they occur: the contacts, and the hotline tests."""
        return self.contacts, self.tests


def lapses(kind: Sequence[RecordedContact], window: timedelta) -> list[datetime]:
    """The instants where facts of one kind that lapses (contacts, or hotline tests), in
    valid-time order, leave the window while no later one of the kind stands.

    A contact lapsing changes no verdict while a later contact stands, nor does a
    test while a later test does: the sweep need not stop there. Each fact is
    compared with the next, so the facts must run to the kind's last.
    """
    found: list[datetime] = []
    for fact, later in pairwise(kind):
        lapse = fact.valid_from + window
        if later.valid_from > lapse:
            found.append(lapse)
    if kind:
        found.append(kind[-1].valid_from + window)
    return found


def _latest(facts: Sequence[RecordedContact], at: datetime) -> RecordedContact | None:
    """The last of `facts` (in valid-time order) that occurred at or before `at`."""
    index = bisect_right(facts, at, key=VALID_FROM)
    return facts[index - 1] if index else None
