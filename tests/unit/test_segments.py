"""Segments read back as the status rule answers: every field, every instant, any history."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import Retraction
from domain.segments import answer, resegment, segments, timeline_of
from domain.status import channel_status, known_facts, recent, sweep, timeline
from tests.unit.test_status_properties import (
    CHANNEL,
    RECORDING_STARTS,
    arrive,
    histories,
    instants,
    windows,
)


@settings(max_examples=300, deadline=None)
@given(
    items=histories,
    as_of=instants(),
    window=windows,
    known_offset=st.integers(min_value=-1, max_value=40),
    retracted=st.sets(st.integers(min_value=0, max_value=24), max_size=5),
)
def test_the_answer_read_from_segments_is_the_rules_answer(
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
    expected = channel_status(
        CHANNEL, events, retractions, as_of=as_of, known_at=known_at, window=window
    )
    facts = known_facts(events, retractions, known_at)
    parts = segments(facts, window)
    containing = [s for s in parts if s.contains(as_of)]
    assert len(containing) == 1
    (segment,) = containing
    by_id = {f.id: f for f in facts}
    got = answer(
        CHANNEL,
        segment,
        as_of=as_of,
        known_at=known_at,
        window=window,
        last_contact=by_id.get(segment.last_contact) if segment.last_contact else None,
        recent_counts=recent([f for f in facts if f.valid_from <= as_of], as_of, window),
    )
    assert got == replace(expected, events=())
    assert timeline_of(parts) == timeline(facts, window)


@settings(max_examples=100, deadline=None)
@given(items=histories, window=windows)
def test_a_segment_cut_short_is_the_segment_with_another_end(items, window):
    for segment in segments(arrive(items), window):
        for end in (segment.start, segment.end, None):
            assert segment.ending(end) == replace(segment, end=end)


@settings(max_examples=200, deadline=None)
@given(items=histories, window=windows)
def test_segments_tile_valid_time_and_adjacent_ones_answer_differently(items, window):
    parts = segments(arrive(items), window)
    assert parts[0].start is None and parts[-1].end is None
    assert parts[0].event_count == 0
    for left, right in itertools.pairwise(parts):
        assert left.end == right.start
        assert not left.answers_like(right)


def test_a_channel_nobody_knew_of_answers_no_contact():
    got = answer(
        CHANNEL,
        None,
        as_of=RECORDING_STARTS,
        known_at=RECORDING_STARTS,
        window=timedelta(days=30),
        last_contact=None,
        recent_counts={},
    )
    assert got.status.value == "no_contact" and got.event_count == 0 and got.since is None


@settings(max_examples=300, deadline=None)
@given(items=histories, window=windows, pick=st.integers(min_value=0, max_value=24))
def test_resegmenting_after_one_fact_comes_or_goes_equals_segmenting_afresh(items, window, pick):
    facts = sorted(arrive(items), key=lambda f: f.sort_key)
    if not facts:
        return
    changed = facts[pick % len(facts)]
    without = [f for f in facts if f is not changed]
    for old, new in ((without, facts), (facts, without)):  # it arrives, or it is retracted
        before = segments(old, window)
        kept, tail = resegment(before, new, window, changed.valid_from)
        assert before[:kept] + tail == segments(new, window)


@settings(max_examples=500, deadline=None)
@given(items=histories, window=windows, start=instants())
def test_sweeping_from_an_instant_yields_the_same_phases_from_the_one_containing_it(
    items, window, start
):
    facts = arrive(items)
    everything = list(sweep(facts, window))
    expected = [p for p in everything if p.end is None or p.end > start]
    assert list(sweep(facts, window, start=start)) == expected
