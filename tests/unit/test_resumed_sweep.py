"""The sweep resumed from its state at an instant: the same answers, at a cost bounded by the
window, however long the channel (domain.known, domain.status.sweep_ordered)."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import CONTACTS, EventType, RecordedContact
from domain.known import KnownFacts
from domain.segments import Segment, answer, resegment, segments
from domain.status import channel_status, judge, recent, sweep, sweep_ordered
from tests.factories import typed
from tests.unit.test_status_properties import CHANNEL, EPOCH, RECORDING_STARTS

ASKING = [
    EventType.CALL_REQUESTED,
    EventType.MEETING_REQUESTED,
    EventType.CALL_REFUSED,
    EventType.MEETING_REFUSED,
    EventType.STATEMENT,
]
RUNS = {  # the sorts of run a channel's history is made of
    "statements": [EventType.STATEMENT],
    "asking": ASKING,
    "tests": [EventType.HOTLINE_TEST, EventType.HOTLINE_TEST, EventType.STATEMENT],
    "contacts": [*CONTACTS, EventType.STATEMENT],
    "anything": list(EventType),
}


def stated(n: int, kind: EventType, when: datetime, exact: bool, rng: random.Random) -> dict:
    actor, counterpart = ("aa", "bb") if rng.random() < 0.5 else ("bb", "aa")
    occurred = when.isoformat().replace("+00:00", "Z") if exact else when.date().isoformat()
    return {
        "id": str(UUID(int=(rng.getrandbits(32) << 32) + n + 1)),
        "type": kind.value,
        "occurred_at": occurred,
        "actor": actor,
        "counterpart": counterpart,
    }


@st.composite
def long_histories(draw: st.DrawFn) -> tuple[list[dict], list[tuple[str, int]]]:
    """A channel's facts, and what happens to it step by step: ("add", n) records fact n,
    ("retract", n) withdraws it. The facts come in runs of one sort (statements, requests
    and refusals, hotline tests, contacts, anything), some long, on the same day or days
    apart; most arrive in valid-time order, some later than facts that occurred after them.
    """
    runs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(RUNS)),
                st.integers(min_value=1, max_value=90),
                st.sampled_from([0, 1, 3, 6, 45]),  # days between facts, at most
            ),
            min_size=1,
            max_size=5,
        )
    )
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
    backdated = draw(st.sampled_from([0.0, 0.05, 0.3]))
    retracted = draw(st.sampled_from([0.0, 0.02, 0.1]))
    when = EPOCH
    facts: list[dict] = []
    for sort, length, gap in runs:
        for _ in range(length):
            when += timedelta(days=rng.randint(0, gap), seconds=rng.randrange(86_400))
            kind = rng.choice(RUNS[sort])
            facts.append(stated(len(facts), kind, when, rng.random() < 0.5, rng))
    order = list(range(len(facts)))
    for i in range(len(order)):
        if rng.random() < backdated:  # arrives some facts later than it should
            j = min(len(order) - 1, i + rng.randint(1, 40))
            order.insert(j, order.pop(i))
    steps: list[tuple[str, int]] = []
    for n in order:
        steps.append(("add", n))
        if rng.random() < retracted:
            steps.append(("retract", rng.choice([s[1] for s in steps if s[0] == "add"])))
    return facts, steps


def recorded(items: list[dict]) -> list[RecordedContact]:
    return [
        RecordedContact(typed(item), RECORDING_STARTS + timedelta(seconds=n), n + 1)
        for n, item in enumerate(items)
    ]


windows = st.integers(min_value=1, max_value=40).map(lambda d: timedelta(days=d))


@settings(max_examples=60, deadline=None)
@given(history=long_histories(), window=windows)
def test_resegmenting_each_change_of_a_long_history_equals_segmenting_it_afresh(history, window):
    items, steps = history
    facts = recorded(items)
    known = KnownFacts()
    believed: list[Segment] = []
    withdrawn: set[int] = set()
    held: list[RecordedContact] = []
    for count, (action, n) in enumerate(steps, start=1):
        fact = facts[n]
        if action == "add":
            known.add(fact)
            held.append(fact)
        elif n not in withdrawn:
            withdrawn.add(n)
            known.remove(fact)
            held.remove(fact)
        else:
            continue
        kept, tail = resegment(believed, known, window, fact.valid_from)
        believed[kept:] = tail
        if count % 20 == 0 or count == len(steps):
            ordered = sorted(held, key=lambda f: f.sort_key)
            assert list(known) == ordered
            assert believed == segments(ordered, window)


@settings(max_examples=60, deadline=None)
@given(
    history=long_histories(),
    window=windows,
    near=st.lists(
        st.tuples(
            st.integers(min_value=0),
            st.sampled_from([0, 1, 2]),  # windows after a fact
            st.integers(min_value=-86_400, max_value=86_400),  # seconds off that
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_a_long_history_swept_from_any_instant_answers_as_the_rule_does(history, window, near):
    items, _ = history
    facts = sorted(recorded(items), key=lambda f: f.sort_key)
    known = KnownFacts(facts)
    everything = list(sweep(facts, window))
    parts = segments(facts, window)
    by_id = {f.id: f for f in facts}
    for index, windows_after, seconds in near:
        # Instants at and about where the verdict may change: facts, and W after them.
        fact = facts[index % len(facts)]
        at = fact.valid_from + windows_after * window + timedelta(seconds=seconds)
        expected = [p for p in everything if p.end is None or p.end > at]
        resumed = list(sweep_ordered(known, window, start=at))
        assert resumed == expected
        # The phase it resumes in says what the rule says, read literally, at that instant.
        assert resumed[0].verdict == judge(facts, at, window)
        (segment,) = [s for s in parts if s.contains(at)]
        got = answer(
            CHANNEL,
            segment,
            as_of=at,
            known_at=RECORDING_STARTS + timedelta(days=1),
            window=window,
            last_contact=by_id.get(segment.last_contact) if segment.last_contact else None,
            recent_counts=recent([f for f in facts if f.valid_from <= at], at, window),
        )
        rule = channel_status(
            CHANNEL,
            facts,
            [],
            as_of=at,
            known_at=RECORDING_STARTS + timedelta(days=1),
            window=window,
        )
        assert got.status == rule.status and got.since == rule.since
        assert got.evidence == rule.evidence and got.event_count == rule.event_count


# -- the work one appended fact costs ---------------------------------------------------

TOUCHED: set[int] = set()


class Watched(RecordedContact):
    """A fact that notes, by its position, each time the sweep looks at it."""

    @property
    def valid_from(self) -> datetime:
        TOUCHED.add(self.position)
        return self.fact.valid_from

    @property
    def type(self) -> EventType:
        TOUCHED.add(self.position)
        return self.fact.type

    @property
    def sort_key(self) -> tuple[datetime, str]:
        TOUCHED.add(self.position)
        return (self.fact.valid_from, str(self.fact.id))


def channel(length: int, kind_of: dict[int, EventType], default: EventType, days: float):
    """`length` facts `days` apart, all `default` but those `kind_of` names by index."""
    rng = random.Random(length)
    items = [
        stated(
            n,
            kind_of.get(n, default),
            EPOCH + timedelta(days=days * n),
            True,
            rng,
        )
        for n in range(length)
    ]
    return [
        Watched(typed(item), RECORDING_STARTS + timedelta(seconds=n), n + 1)
        for n, item in enumerate(items)
    ]


def facts_looked_at_to_append(facts: list[RecordedContact], window: timedelta) -> int:
    """How many facts recording the last of `facts` after the others looks at: taking it
    in, and resegmenting the channel from where it occurs."""
    known = KnownFacts(facts[:-1])
    before = segments(known, window)
    TOUCHED.clear()
    known.add(facts[-1])
    kept, tail = resegment(before, known, window, facts[-1].valid_from)
    before[kept:] = tail
    looked_at = len(TOUCHED)
    assert before == segments(list(known), window)
    return looked_at


def test_appending_to_a_channel_of_statements_looks_at_a_logarithm_of_its_facts():
    # A call, then nothing but statements: every fact since the call is "since the last
    # contact", and none of them is within the window of the last.
    window = timedelta(days=30)
    looked_at = {
        length: facts_looked_at_to_append(
            channel(length, {0: EventType.CALL_HELD}, EventType.STATEMENT, days=0.5), window
        )
        for length in (500, 5_000)
    }
    # A few bisects of each index: a handful of facts per doubling of the channel.
    growth = 8 * math.ceil(math.log2(5_000 / 500))
    assert looked_at[5_000] <= looked_at[500] + growth
    assert looked_at[5_000] <= 12 * math.ceil(math.log2(5_000))
    assert looked_at[5_000] < 5_000 // 50


def test_appending_to_a_hotline_tested_daily_looks_at_the_tests_of_one_window():
    # Daily tests, a request every quarter, the hotline used once a year.
    window = timedelta(days=30)
    looked_at = {}
    for length in (500, 5_000):
        kinds = {n: EventType.CALL_REQUESTED for n in range(45, length, 91)}
        kinds |= {n: EventType.HOTLINE_USE for n in range(200, length, 365)}
        facts = channel(length, kinds, EventType.HOTLINE_TEST, days=1)
        looked_at[length] = facts_looked_at_to_append(facts, window)
    in_window = window.days + 1
    growth = 8 * math.ceil(math.log2(5_000 / 500))
    assert looked_at[5_000] <= looked_at[500] + growth
    assert looked_at[5_000] <= in_window + 12 * math.ceil(math.log2(5_000))
    assert looked_at[5_000] < 5_000 // 20
