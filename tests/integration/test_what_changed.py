"""Transitions and revisions from the read model agree with replaying the log, on both stores.

Random histories (backdated facts, batches, retractions, racing writers, the
projector catching up at random moments; see test_projection.py) go through
the real application and projector. Then the read model's transitions over a
valid-time range must be exactly the boundaries of every channel's replayed
timeline in that range, and its revisions between two transaction times
exactly the channels whose replayed answers at those two times differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.changes import Revision, Transition, in_order, revision, transitions
from domain.events import channel_id
from domain.record import Record
from infra.readmodel import transition_key
from service.projector import Projector
from service.queries import ReadModel
from tests.integration.test_projection import EPOCH, ROLES, History, known_ats, steps

days = st.integers(min_value=-5, max_value=170)
offsets = st.sampled_from([0, 1, 43_200_000_000, 86_400_000_000 - 1])  # microseconds into a day
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def projector(settings, backchannel) -> Iterator[Projector]:
    runner = Projector(settings, app=backchannel, batch_size=5)
    yield runner
    runner.stop()


@pytest.fixture
def read_model(settings) -> Iterator[ReadModel]:
    model = ReadModel.open(settings)
    yield model
    model.close()


def replayed_transitions(
    record: Record, history: History, start: datetime, end: datetime, known_at: datetime, window
) -> list[Transition]:
    found: list[Transition] = []
    for a, b in history.channels():
        intervals = record.timeline(a, b, known_at=known_at, window=window)
        found += transitions(channel_id(a, b), intervals, start, end)
    return in_order(found)


def replayed_revisions(
    record: Record, history: History, since: datetime, until: datetime, as_of: datetime, window
) -> list[Revision]:
    found: list[Revision] = []
    for a, b in sorted(history.channels(), key=lambda pair: channel_id(*pair)):
        before = record.status(a, b, as_of=as_of, known_at=since, window=window)
        after = record.status(a, b, as_of=as_of, known_at=until, window=window)
        channel = channel_id(a, b)
        learned = revision(
            before,
            after,
            record.channel_events(channel),
            record.channel_retractions(channel),
            since,
            until,
        )
        if learned is not None:
            found.append(learned)
    return found


def mine(history: History, found: list) -> list:
    """The items about this example's channels (the store holds every example's)."""
    channels = {channel_id(a, b) for a, b in history.channels()}
    return [item for item in found if item.channel in channels]


def instant(day: int, offset: int) -> datetime:
    return EPOCH + timedelta(days=day, microseconds=offset)


@HYPOTHESIS
@given(history_steps=st.lists(steps, min_size=1, max_size=20), data=st.data())
def test_transitions_are_exactly_the_boundaries_of_every_replayed_timeline(
    backchannel, projector, read_model, history_steps, data
):
    history = History(backchannel)
    for step in history_steps:
        history.write(step, projector)
    projector.catch_up()
    record = backchannel.refresh()
    window = backchannel.window
    moments = known_ats(history)
    if not moments:
        return
    for known_at in data.draw(st.lists(st.sampled_from(moments), min_size=1, max_size=4)):
        ranges = [(EPOCH - timedelta(days=10), EPOCH + timedelta(days=400))]  # every boundary
        for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
            start = instant(data.draw(days), data.draw(offsets))
            end = start + timedelta(days=data.draw(st.integers(min_value=0, max_value=90)))
            ranges.append((start, end))
        for start, end in ranges:
            expected = replayed_transitions(record, history, start, end, known_at, window)
            got = read_model.transitions(start=start, end=end, known_at=known_at)
            assert mine(history, got) == expected
            # Filtered by actor, and page by page.
            actor = history.ids[data.draw(st.sampled_from(ROLES))]
            theirs = [t for t in expected if actor in t.channel.split("~")]
            pages: list[Transition] = []
            after = None
            while True:
                page = read_model.transitions(
                    start=start, end=end, known_at=known_at, actor=actor, after=after, limit=2
                )
                pages += page
                if len(page) < 2:
                    break
                after = transition_key(page[-1])
            assert pages == theirs


@HYPOTHESIS
@given(history_steps=st.lists(steps, min_size=1, max_size=20), data=st.data())
def test_revisions_are_the_channels_whose_replayed_answers_differ_between_two_known_ats(
    backchannel, projector, read_model, history_steps, data
):
    history = History(backchannel)
    for step in history_steps:
        history.write(step, projector)
    projector.catch_up()
    record = backchannel.refresh()
    window = backchannel.window
    moments = known_ats(history)
    if not moments:
        return
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        since, until = sorted(data.draw(st.lists(st.sampled_from(moments), min_size=2, max_size=2)))
        as_of = instant(data.draw(days), data.draw(offsets))
        expected = replayed_revisions(record, history, since, until, as_of, window)
        got = read_model.revisions(since=since, until=until, as_of=as_of)
        assert mine(history, got) == expected
        actor = history.ids[data.draw(st.sampled_from(ROLES))]
        theirs = [r for r in expected if actor in r.channel.split("~")]
        pages: list[Revision] = []
        after = None
        while True:
            page = read_model.revisions(
                since=since, until=until, as_of=as_of, actor=actor, after=after, limit=1
            )
            pages += page
            if not page:
                break
            after = page[-1].channel
        assert pages == theirs
