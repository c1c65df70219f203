"""Offices and their holders: the office rule in the read model, on both stores.

The example is domain.md's: as of 2024-07-01 the US defence secretary and the
Russian defence minister are talking (Austin called Belousov on 25 June 2024),
while Austin and Shoigu are not, whatever order the facts and terms arrive in.
Then random people, offices, terms (retracted and backdated ones too) and events:
every office channel's status and timeline from the read model equals the pure
office rule (domain.offices) applied to the log, at random (as_of, known_at), and so
does the list of the pairs of offices with an event under that rule.
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

from domain.errors import Conflict
from domain.events import EventType, channel_actors, channel_id
from domain.status import Status
from service.application import Backchannel
from service.projector import Projector
from service.queries import ReadModel

AS_OF = datetime(2024, 7, 1, 23, 59, 59, 999999, tzinfo=UTC)
PEOPLE = [
    ("lloyd-austin", "Lloyd Austin", "US"),
    ("sergei-shoigu", "Sergei Shoigu", "RU"),
    ("andrei-belousov", "Andrei Belousov", "RU"),
]
OFFICES = [
    ("us-secretary-of-defense", "US Secretary of Defense", "US"),
    ("ru-minister-of-defence", "Russian Minister of Defence", "RU"),
]
TERMS = [
    ("us-secretary-of-defense", "lloyd-austin", "2021-01-22", "2025-01-20"),
    ("ru-minister-of-defence", "sergei-shoigu", "2012-11-06", "2024-05-12"),
    ("ru-minister-of-defence", "andrei-belousov", "2024-05-14", None),
]
CALLS = [
    ("lloyd-austin", "sergei-shoigu", "2022-05-13"),
    ("lloyd-austin", "sergei-shoigu", "2022-10-21"),
    ("lloyd-austin", "andrei-belousov", "2024-06-25"),
]


@pytest.fixture
def projector(settings, backchannel) -> Iterator[Projector]:
    runner = Projector(settings, app=backchannel, batch_size=3)
    yield runner
    runner.stop()


@pytest.fixture
def read_model(settings) -> Iterator[ReadModel]:
    model = ReadModel.open(settings)
    yield model
    model.close()


def _register(app: Backchannel, prefix: str = "") -> None:
    for actor_id, name, country in PEOPLE:
        app.register_actor(
            {"id": prefix + actor_id, "name": name, "kind": "person", "country": country}
        )
    for actor_id, name, country in OFFICES:
        app.register_actor(
            {"id": prefix + actor_id, "name": name, "kind": "office", "country": country}
        )


def _terms(app: Backchannel, prefix: str = "") -> None:
    for office, person, start, end in TERMS:
        app.record_term(prefix + office, {"person": prefix + person, "from": start, "to": end})


def _calls(app: Backchannel, prefix: str = "") -> None:
    for actor, counterpart, day in CALLS:
        app.record_fact(
            {
                "type": "call_held",
                "occurred_at": day,
                "actor": prefix + actor,
                "counterpart": prefix + counterpart,
            }
        )


@pytest.mark.parametrize("terms_first", [True, False], ids=["terms-first", "calls-first"])
def test_the_defence_posts_are_talking_as_of_july_2024_whatever_arrived_first(
    backchannel, projector, read_model, terms_first
):
    _register(backchannel)
    if terms_first:
        _terms(backchannel)
        _calls(backchannel)
    else:
        _calls(backchannel)
        _terms(backchannel)
    projector.catch_up()
    now = datetime.now(UTC)
    posts = read_model.status(
        "us-secretary-of-defense", "ru-minister-of-defence", as_of=AS_OF, known_at=now
    )
    assert posts.status is Status.OPEN
    assert posts.event_count == 3  # two with Shoigu in the post, one with Belousov
    assert posts.last_contact is not None and posts.last_contact.fact.counterpart == (
        "andrei-belousov"
    )
    men = read_model.status("lloyd-austin", "sergei-shoigu", as_of=AS_OF, known_at=now)
    assert men.status is Status.DORMANT
    assert men.event_count == 2
    record = backchannel.refresh()
    for a, b in [
        ("us-secretary-of-defense", "ru-minister-of-defence"),
        ("us-secretary-of-defense", "andrei-belousov"),
        ("lloyd-austin", "ru-minister-of-defence"),
        ("lloyd-austin", "sergei-shoigu"),
    ]:
        expected = record.status(a, b, as_of=AS_OF, known_at=now, window=backchannel.window)
        assert read_model.status(a, b, as_of=AS_OF, known_at=now) == dataclasses.replace(
            expected, events=()
        )
        assert read_model.timeline(a, b, known_at=now) == record.timeline(
            a, b, known_at=now, window=backchannel.window
        )


# -- random histories -------------------------------------------------------------------

EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ROLES = ("p0", "p1", "p2", "o0", "o1")
_examples = itertools.count()
days = st.integers(min_value=0, max_value=40)


def _day(n: int) -> str:
    return (EPOCH + timedelta(days=n)).date().isoformat()


events = st.tuples(
    st.just("event"),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(list(EventType)).map(lambda t: t.value),
            "day": days,
            "pair": st.permutations(list(ROLES)).map(lambda p: (p[0], p[1])),
        }
    ),
)
terms = st.tuples(
    st.just("term"),
    st.fixed_dictionaries(
        {
            "office": st.sampled_from(["o0", "o1"]),
            "person": st.sampled_from(["p0", "p1", "p2"]),
            "from": days,
            "length": st.none() | st.integers(min_value=1, max_value=40),
        }
    ),
)
steps = st.one_of(
    events,
    events,
    terms,
    terms,
    st.tuples(st.just("retract_term"), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("retract_event"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("retract_event"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("project"), st.integers(min_value=1, max_value=5)),
)


class OfficeHistory:
    """One example's people, offices, terms and events, in its own corner of the store."""

    def __init__(self, app: Backchannel) -> None:
        self.app = app
        prefix = f"x{next(_examples)}"
        self.ids = {role: f"{prefix}-{role}" for role in ROLES}
        for role, actor_id in self.ids.items():
            kind = "office" if role.startswith("o") else "person"
            app.register_actor({"id": actor_id, "name": actor_id, "kind": kind, "country": "US"})
        self.event_ids: list[UUID] = []
        self.term_ids: list[UUID] = []
        self.times: list[datetime] = []

    def write(self, step: tuple[str, Any], projector: Projector) -> None:
        kind, value = step
        try:
            if kind == "event":
                x, y = value["pair"]
                done = self.app.record_fact(
                    {
                        "id": str(uuid4()),
                        "type": value["type"],
                        "occurred_at": _day(value["day"]),
                        "actor": self.ids[x],
                        "counterpart": self.ids[y],
                    }
                )
                self.event_ids.append(done.contact.id)
                self.times.append(done.contact.recorded_at)
            elif kind == "term":
                length = value["length"]
                term = self.app.record_term(
                    self.ids[value["office"]],
                    {
                        "person": self.ids[value["person"]],
                        "from": _day(value["from"]),
                        "to": None if length is None else _day(value["from"] + length),
                    },
                )
                self.term_ids.append(term.term.id)
                self.times.append(term.term.recorded_at)
            elif kind == "retract_term" and self.term_ids:
                gone = self.app.retract_term(self.term_ids[value % len(self.term_ids)], "wrong")
                self.times.append(gone.retraction.recorded_at)
            elif kind == "retract_event" and self.event_ids:
                withdrawn = self.app.retract(self.event_ids[value % len(self.event_ids)], "wrong")
                self.times.append(withdrawn.retraction.recorded_at)
            elif kind == "project":
                for _ in range(value):
                    projector.step()
        except Conflict:  # an overlapping term, a second retraction: refused, nothing stored
            pass

    def office_pairs(self) -> set[str]:
        """The ids of the channels between two of this example's offices."""
        offices = [self.ids[role] for role in ROLES if role.startswith("o")]
        return {channel_id(a, b) for a, b in itertools.combinations(offices, 2)}

    def channels(self) -> list[tuple[str, str]]:
        """Every pair with an office on either side."""
        return [
            (self.ids[a], self.ids[b])
            for a, b in itertools.combinations(ROLES, 2)
            if a.startswith("o") or b.startswith("o")
        ]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history_steps=st.lists(steps, min_size=1, max_size=24), data=st.data())
def test_every_office_channel_answers_as_the_office_rule_over_the_log(
    backchannel, projector, read_model, history_steps, data
):
    history = OfficeHistory(backchannel)
    for step in history_steps:
        history.write(step, projector)
    projector.catch_up()
    assert read_model.position() == backchannel.head()
    record = backchannel.refresh()
    window = backchannel.window
    times = sorted(history.times)
    if not times:
        return
    moments = [
        times[0] - MICROSECOND,
        *(t + d for t in times for d in (-MICROSECOND, 0 * MICROSECOND)),
    ]
    moments.append(datetime.now(UTC))
    for known_at in data.draw(st.lists(st.sampled_from(moments), min_size=1, max_size=5)):
        for a, b in history.channels():
            assert read_model.timeline(a, b, known_at=known_at) == record.timeline(
                a, b, known_at=known_at, window=window
            ), channel_id(a, b)
        for day in data.draw(st.lists(st.integers(min_value=-2, max_value=160), max_size=4)):
            as_of = EPOCH + timedelta(days=day, hours=12)
            for a, b in history.channels():
                expected = record.status(a, b, as_of=as_of, known_at=known_at, window=window)
                got = read_model.status(a, b, as_of=as_of, known_at=known_at)
                assert got == dataclasses.replace(expected, events=()), channel_id(a, b)
            # The list of office pairs (GET /v1/channels?kind=office) holds exactly the
            # pairs of this example's offices with an event counted then.
            listed = [
                answer
                for answer in read_model.board(as_of=as_of, known_at=known_at, offices=True)
                if answer.channel in history.office_pairs()
            ]
            expected_list = [
                dataclasses.replace(answer, events=())
                for channel in record.office_channels(known_at)
                if channel in history.office_pairs()
                for answer in [
                    record.status(
                        *channel_actors(channel), as_of=as_of, known_at=known_at, window=window
                    )
                ]
                if answer.event_count
            ]
            assert listed == expected_list
