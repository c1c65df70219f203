"""The channel read model agrees with replaying the log, on both stores, for any history.

Random histories — backdated facts, atomic batches, retractions, two writers
racing (transaction times out of log order), the projector catching up at
random moments — go through the real application and the real projector; then
every status, board and timeline the read model answers, at random
(as_of, known_at) pairs including instants between writes, must equal what the
pure domain functions say over the log (domain.record.Record).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.contacts import Contact
from domain.errors import Conflict
from domain.events import EventType, channel_id
from domain.status import Status
from service.application import Backchannel
from service.projector import Projector
from service.queries import ReadModel
from tests.factories import typed

EPOCH = datetime(2022, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ROLES = ("a", "b", "c")
PAIRS = list(itertools.combinations(ROLES, 2))
_examples = itertools.count()


@st.composite
def facts(draw: st.DrawFn) -> dict[str, Any]:
    """One fact between two of the example's three actors, at a day or an exact instant."""
    when = EPOCH + timedelta(days=draw(st.integers(min_value=0, max_value=120)))
    if draw(st.booleans()):
        when += timedelta(seconds=draw(st.integers(min_value=0, max_value=86_399)))
        occurred = when.isoformat().replace("+00:00", "Z")
    else:
        occurred = when.date().isoformat()
    actor, counterpart = draw(st.permutations(list(draw(st.sampled_from(PAIRS)))))
    return {
        "type": draw(st.sampled_from(list(EventType))).value,
        "occurred_at": occurred,
        "actor": actor,
        "counterpart": counterpart,
    }


steps = st.one_of(
    st.tuples(st.just("fact"), facts()),
    st.tuples(st.just("batch"), st.lists(facts(), min_size=2, max_size=4)),
    st.tuples(st.just("race"), st.tuples(facts(), facts())),
    st.tuples(st.just("retract"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("project"), st.integers(min_value=1, max_value=7)),
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


class History:
    """One example's actors and what it wrote, in its own corner of the shared store."""

    def __init__(self, app: Backchannel) -> None:
        self.app = app
        prefix = f"e{next(_examples)}"
        self.ids = {role: f"{prefix}-{role}" for role in ROLES}
        for actor_id in self.ids.values():
            self.app.register_actor(
                {"id": actor_id, "name": actor_id, "kind": "person", "country": "US"}
            )
        self.event_ids: list[UUID] = []
        self.times: list[datetime] = []

    def named(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            **item,
            "id": str(uuid4()),
            "actor": self.ids[item["actor"]],
            "counterpart": self.ids[item["counterpart"]],
        }

    def write(self, step: tuple[str, Any], projector: Projector) -> None:
        kind, value = step
        if kind in ("fact", "batch"):
            items = [value] if kind == "fact" else value
            for written in self.app.record_facts([self.named(i) for i in items]):
                self.event_ids.append(written.contact.id)
                self.times.append(written.contact.recorded_at)
        elif kind == "race":
            # Two writers: the first fact is stamped first, the second is stored first.
            first, second = (Contact(fact=typed(self.named(i))) for i in value)
            self.app.save(second)
            self.app.save(first)
            for contact in (second, first):
                self.event_ids.append(contact.id)
                self.times.append(contact.created_on)
        elif kind == "retract" and self.event_ids:
            try:
                done = self.app.retract(self.event_ids[value % len(self.event_ids)], "wrong")
            except Conflict:
                return
            self.times.append(done.retraction.recorded_at)
        elif kind == "project":
            for _ in range(value):
                projector.step()

    def channels(self) -> list[tuple[str, str]]:
        return [(self.ids[x], self.ids[y]) for x, y in PAIRS]


def known_ats(history: History) -> list[datetime]:
    """Before the first write, at and just before every write, and now."""
    times = sorted(history.times)
    around = [t + d for t in times for d in (-MICROSECOND, timedelta(0))]
    return [times[0] - timedelta(seconds=1), *around, datetime.now(UTC)] if times else []


as_of_days = st.integers(min_value=-5, max_value=160)
offsets = st.sampled_from([0, 1, 43_200_000_000, 86_400_000_000 - 1])  # microseconds into a day


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history_steps=st.lists(steps, min_size=1, max_size=20), data=st.data())
def test_read_model_answers_every_question_as_replaying_the_log_does(
    backchannel, projector, read_model, history_steps, data
):
    history = History(backchannel)
    for step in history_steps:
        history.write(step, projector)
    projector.catch_up()
    assert read_model.position() == backchannel.head()
    record = backchannel.refresh()
    window = backchannel.window
    moments = known_ats(history)
    if not moments:
        return
    for known_at in data.draw(st.lists(st.sampled_from(moments), min_size=1, max_size=6)):
        for a, b in history.channels():
            assert read_model.timeline(a, b, known_at=known_at) == record.timeline(
                a, b, known_at=known_at, window=window
            )
        for day, offset in data.draw(st.lists(st.tuples(as_of_days, offsets), max_size=5)):
            as_of = EPOCH + timedelta(days=day, microseconds=offset)
            for a, b in history.channels():
                expected = record.status(a, b, as_of=as_of, known_at=known_at, window=window)
                got = read_model.status(a, b, as_of=as_of, known_at=known_at)
                assert got == dataclasses.replace(expected, events=()), channel_id(a, b)
            actor = history.ids[data.draw(st.sampled_from(ROLES))]
            status = data.draw(st.none() | st.sampled_from(list(Status)))
            expected_board = [
                dataclasses.replace(s, events=())
                for s in record.board(
                    as_of=as_of, known_at=known_at, window=window, actor=actor, status=status
                )
            ]
            board = list(
                read_model.board(as_of=as_of, known_at=known_at, actor=actor, status=status)
            )
            assert board == expected_board
            if len(board) > 1:  # and page by page
                first = list(read_model.board(as_of=as_of, known_at=known_at, actor=actor, limit=1))
                rest = list(
                    read_model.board(
                        as_of=as_of, known_at=known_at, actor=actor, after=first[0].channel
                    )
                )
                unfiltered = [
                    dataclasses.replace(s, events=())
                    for s in record.board(
                        as_of=as_of, known_at=known_at, window=window, actor=actor
                    )
                ]
                assert first + rest == unfiltered
