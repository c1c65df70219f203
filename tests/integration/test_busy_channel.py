"""A long channel projected fact by fact answers as replaying the log does, on both stores.

Long runs without a contact (statements, requests and refusals, daily hotline tests),
facts that arrive backdated, retractions, and another projector taking over halfway
(it loads the channel from the view): the read model's timeline and statuses must be
the reference replay's, at transaction times between the writes.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.events import EventType
from service.projector import Projector
from service.queries import ReadModel

A, B = "busy-a", "busy-b"
START = date(2020, 1, 1)
MICROSECOND = timedelta(microseconds=1)


@pytest.fixture
def read_model(settings) -> Iterator[ReadModel]:
    model = ReadModel.open(settings)
    yield model
    model.close()


def busy_history(rng: random.Random) -> list[dict[str, Any]]:
    """About 400 facts in valid-time order, in runs of one sort, and few contacts."""
    runs = [
        ([EventType.CALL_HELD], 1),
        ([EventType.STATEMENT], 120),
        ([EventType.CALL_REQUESTED, EventType.CALL_REFUSED, EventType.STATEMENT], 60),
        ([EventType.HOTLINE_TEST], 90),
        ([EventType.MEETING_HELD], 1),
        ([EventType.STATEMENT, EventType.HOTLINE_TEST, EventType.MEETING_REQUESTED], 120),
    ]
    day = 0
    facts = []
    for kinds, length in runs:
        for _ in range(length):
            day += rng.choice([0, 1, 1, 2])
            actor, counterpart = (A, B) if rng.random() < 0.5 else (B, A)
            facts.append(
                {
                    "id": str(UUID(int=len(facts) + 1 + (7 << 64))),
                    "type": rng.choice(kinds).value,
                    "occurred_at": (START + timedelta(days=day)).isoformat(),
                    "actor": actor,
                    "counterpart": counterpart,
                }
            )
    return facts


def test_a_long_busy_channel_projected_fact_by_fact_answers_as_the_log_does(
    settings, backchannel, read_model
):
    rng = random.Random(3)
    for actor in (A, B):
        backchannel.register_actor({"id": actor, "name": actor, "kind": "person", "country": "US"})
    facts = busy_history(rng)
    arrival = list(range(len(facts)))
    for i in range(0, len(arrival), 9):  # one fact in nine arrives a few dozen facts late
        arrival.insert(min(len(arrival) - 1, i + rng.randint(5, 40)), arrival.pop(i))
    projector = Projector(settings, app=backchannel, batch_size=7)
    times: list[datetime] = []
    written: list[UUID] = []
    try:
        for count, n in enumerate(arrival, start=1):
            (done,) = backchannel.record_facts([facts[n]])
            written.append(done.contact.id)
            times.append(done.contact.recorded_at)
            if count % 37 == 0:
                withdrawn = written.pop(rng.randrange(len(written)))
                retraction = backchannel.retract(withdrawn, "wrong channel")
                times.append(retraction.retraction.recorded_at)
            if count % 5 == 0:
                projector.step()
            if count == len(arrival) // 2:  # another projector goes on from the view
                projector.stop()
                projector = Projector(settings, app=backchannel, batch_size=7)
        projector.catch_up()
    finally:
        projector.stop()
    assert read_model.position() == backchannel.head()
    record = backchannel.refresh()
    window = backchannel.window
    moments = sorted(times)
    known_ats = [*rng.sample(moments, 12), moments[-1] + MICROSECOND, datetime.now(UTC)]
    known_ats += [t - MICROSECOND for t in rng.sample(moments, 4)]
    for known_at in known_ats:
        assert read_model.timeline(A, B, known_at=known_at) == record.timeline(
            A, B, known_at=known_at, window=window
        )
        for day in rng.sample(range(-3, 800), 10):
            as_of = datetime.combine(START, datetime.min.time(), UTC) + timedelta(days=day)
            for at in (as_of, as_of + timedelta(hours=12)):
                expected = record.status(A, B, as_of=at, known_at=known_at, window=window)
                got = read_model.status(A, B, as_of=at, known_at=known_at)
                assert got == dataclasses.replace(expected, events=())
