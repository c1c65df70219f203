"""Properties of the status rule over random histories (hypothesis)."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import EventType, RecordedContact, Retraction
from domain.status import channel_status, known_facts, timeline
from tests.factories import typed

EPOCH = datetime(2022, 1, 1, tzinfo=UTC)
RECORDING_STARTS = datetime(2026, 1, 1, tzinfo=UTC)
CHANNEL = "aa~bb"


@st.composite
def facts(draw: st.DrawFn) -> dict:
    """One fact on the channel aa~bb in the API's shape, with a random id."""
    day = draw(st.integers(min_value=0, max_value=90))
    exact = draw(st.booleans())
    when = EPOCH + timedelta(days=day)
    if exact:
        when += timedelta(seconds=draw(st.integers(min_value=0, max_value=86399)))
        occurred = when.isoformat().replace("+00:00", "Z")
    else:
        occurred = when.date().isoformat()
    actor, counterpart = draw(st.permutations(["aa", "bb"]))
    return {
        "id": str(UUID(int=draw(st.integers(min_value=1, max_value=2**64)))),
        "type": draw(st.sampled_from(list(EventType))).value,
        "occurred_at": occurred,
        "actor": actor,
        "counterpart": counterpart,
    }


def arrive(items: list[dict], start: datetime = RECORDING_STARTS) -> list[RecordedContact]:
    """Record `items` in the order given, one second apart."""
    return [
        RecordedContact(typed(item), start + timedelta(seconds=i), i + 1)
        for i, item in enumerate(items)
    ]


def instants() -> st.SearchStrategy[datetime]:
    return st.integers(min_value=-10 * 86400, max_value=150 * 86400).map(
        lambda s: EPOCH + timedelta(seconds=s)
    )


windows = st.integers(min_value=1, max_value=40).map(lambda d: timedelta(days=d))
histories = st.lists(facts(), max_size=25, unique_by=lambda f: f["id"])


def answer(events, retractions, as_of, known_at, window):
    return channel_status(
        CHANNEL, events, retractions, as_of=as_of, known_at=known_at, window=window
    )


@settings(max_examples=300, deadline=None)
@given(
    items=histories,
    as_of=instants(),
    window=windows,
    known_offset=st.integers(min_value=-1, max_value=40),
    retracted=st.sets(st.integers(min_value=0, max_value=24), max_size=5),
)
def test_status_at_any_as_of_equals_the_timeline_interval_containing_it(
    items, as_of, window, known_offset, retracted
):
    events = arrive(items)
    retractions = [
        Retraction(
            UUID(int=i + 1), events[i].id, "x", events[-1].recorded_at + timedelta(seconds=i), 0
        )
        for i in sorted(retracted)
        if i < len(events)
    ]
    known_at = RECORDING_STARTS + timedelta(seconds=known_offset)
    result = answer(events, retractions, as_of, known_at, window)
    intervals = timeline(known_facts(events, retractions, known_at), window)
    containing = [i for i in intervals if i.contains(as_of)]
    assert len(containing) == 1
    assert containing[0].status == result.status
    assert containing[0].start == result.since
    # Adjacent intervals differ and tile valid time without gaps.
    assert intervals[0].start is None and intervals[-1].end is None
    for left, right in itertools.pairwise(intervals):
        assert left.end == right.start and left.status != right.status


@settings(max_examples=200, deadline=None)
@given(items=histories, as_of=instants(), window=windows, seed=st.integers(0, 2**32))
def test_the_order_in_which_events_arrive_never_changes_any_answer(items, as_of, window, seed):
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    first, second = arrive(items), arrive(shuffled)
    known_at = RECORDING_STARTS + timedelta(days=1)
    one = answer(first, [], as_of, known_at, window)
    other = answer(second, [], as_of, known_at, window)
    assert (one.status, one.since, one.evidence, one.recent, one.event_count) == (
        other.status,
        other.since,
        other.evidence,
        other.recent,
        other.event_count,
    )
    assert (one.requests_since_contact, one.refusals_since_contact) == (
        other.requests_since_contact,
        other.refusals_since_contact,
    )
    assert (
        one.last_contact and other.last_contact and one.last_contact.id == other.last_contact.id
    ) or (one.last_contact is None and other.last_contact is None)
    assert timeline(known_facts(first, [], known_at), window) == timeline(
        known_facts(second, [], known_at), window
    )


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(facts(), min_size=1, max_size=20, unique_by=lambda f: f["id"]),
    pick=st.integers(min_value=0, max_value=19),
    as_of=instants(),
    window=windows,
)
def test_retraction_then_the_same_fact_under_a_new_id_restores_earlier_answers(
    items, pick, as_of, window
):
    events = arrive(items)
    target = events[pick % len(events)]
    later = events[-1].recorded_at
    withdrawn = Retraction(UUID(int=1), target.id, "wrong id", later + timedelta(seconds=1), 0)
    again = {**target.fact.to_dict(), "id": str(UUID(int=2**70))}
    restored = RecordedContact(typed(again), later + timedelta(seconds=2), len(events) + 1)
    known_at = later + timedelta(seconds=3)

    before = answer(events, [], as_of, known_at, window)
    after = answer([*events, restored], [withdrawn], as_of, known_at, window)

    def summary(a):
        return (
            a.status,
            a.since,
            a.recent,
            a.event_count,
            a.requests_since_contact,
            a.refusals_since_contact,
        )

    assert summary(before) == summary(after)
    strip = lambda intervals: [(i.status, i.start, i.end) for i in intervals]  # noqa: E731
    assert strip(timeline(known_facts(events, [], known_at), window)) == strip(
        timeline(known_facts([*events, restored], [withdrawn], known_at), window)
    )
    # And as the record stood between the two, the fact was simply gone.
    between = answer([*events, restored], [withdrawn], as_of, later + timedelta(seconds=1), window)
    assert between.event_count == before.event_count - (target.valid_from <= as_of)
