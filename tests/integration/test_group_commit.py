"""Group commit on both stores: writers that arrive while a commit is under way share
the next transaction, and each is answered for itself."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Recording

from domain.errors import Conflict, InvalidFact, UnknownActor
from infra.settings import Settings
from service.bootstrap import bootstrap
from service.replay import ReplayingBackchannel
from service.transfer import SEEDS, import_actors, read_lines
from tests.factories import fact


class HeldBackchannel(ReplayingBackchannel):
    """The application whose first group waits for `release` before it is stored, so a
    test can queue writers behind it."""

    name = ReplayingBackchannel.name

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holding = threading.Event()  # the first group is being stored, held
        self.release = threading.Event()
        self.held = False

    def _store_group(self, events: Sequence[Any]) -> list[Recording[UUID]]:
        if not self.held and self.holding.is_set():
            self.held = True
            self.release.wait()
        return super()._store_group(events)


@pytest.fixture
def held(settings: Settings) -> Iterator[HeldBackchannel]:
    app = bootstrap(settings, application=HeldBackchannel)
    with (SEEDS / "actors.jsonl").open() as stream:
        import_actors(app, read_lines(stream))
    try:
        yield app
    finally:
        app.close()


def _group_sizes(app: HeldBackchannel) -> list[int]:
    sizes: list[int] = []
    app.committer.hooks.append(sizes.append)
    return sizes


def _queue_behind_a_held_group(
    app: HeldBackchannel,
    first: Callable[[], Any],
    others: list[Callable[[], Any]],
    *,
    queued: int | None = None,
) -> tuple[Any, list[Any]]:
    """Run `first`, hold its group, queue `others` behind it (`queued` of them reach the
    committer; the rest are refused before), then let everything go; each call's
    result, or the exception it raised."""

    def outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as error:  # each writer's own answer
            return error

    app.holding.set()
    with ThreadPoolExecutor(len(others) + 1) as pool:
        leader = pool.submit(outcome, first)
        while not app.held:  # the leader is inside its commit, holding the log
            threading.Event().wait(0.01)
        try:
            followers = [pool.submit(outcome, call) for call in others]
            while app.committer.waiting() < (len(others) if queued is None else queued):
                threading.Event().wait(0.01)
        finally:
            app.release.set()
        return leader.result(), [f.result() for f in followers]


def test_writers_queued_behind_a_commit_are_stored_in_one_transaction(held):
    sizes = _group_sizes(held)
    events = [fact("statement", f"2022-03-{day:02d}") for day in range(1, 7)]
    first, rest = _queue_behind_a_held_group(
        held,
        lambda: held.record_fact(events[0]),
        [lambda e=e: held.record_fact(e) for e in events[1:]],
    )
    written = [first, *rest]
    assert all(w.created for w in written)
    assert sizes == [1, 5]
    log = held.notifications(start=1, limit=1000)
    stored = [n for n in log if n.originator_id in {UUID(e["id"]) for e in events}]
    assert len(stored) == 6
    # The five queued writes took consecutive positions, in one transaction.
    positions = sorted(w.position for w in rest)
    assert positions == list(range(positions[0], positions[0] + 5))


def test_a_duplicate_in_a_group_is_answered_alone_and_its_neighbours_stored_on_one_retry(held):
    sizes = _group_sizes(held)
    twin = fact("call_held", "2022-02-18")
    other_content = {**twin, "occurred_at": "2022-02-17"}
    fresh = [fact("statement", f"2022-03-{day:02d}") for day in (1, 2, 3)]
    calls = [
        lambda: held.record_fact(twin),  # passes its check: the twin is not stored yet
        lambda: held.record_fact(other_content),
        *[lambda e=e: held.record_fact(e) for e in fresh],
        lambda: held.record_fact(fact("statement", "2022-03-04", counterpart="nobody-known")),
        lambda: held.record_fact(fact("statement", "2999-01-01")),
    ]
    first, rest = _queue_behind_a_held_group(
        held, lambda: held.record_fact(twin), calls, queued=len(fresh) + 2
    )
    replay, conflict, *stored, unknown, future = rest
    assert first.created
    assert not replay.created and replay.position == first.position
    assert isinstance(conflict, Conflict)
    assert all(w.created for w in stored)
    assert isinstance(unknown, UnknownActor)
    assert isinstance(future, InvalidFact)
    # The held group, then the queued one refused for the twins and stored again without.
    assert sizes == [1, len(fresh)]
    record = held.refresh()
    ids = {UUID(e["id"]) for e in [twin, *fresh]}
    assert set(record.contacts) == ids
    assert record.contacts[UUID(twin["id"])].fact == first.contact.fact


def test_retractions_and_actor_changes_share_groups_with_facts(held):
    sizes = _group_sizes(held)
    target = held.record_fact(fact("call_held", "2022-02-18"))
    calls = [
        lambda: held.retract(target.contact.id, "wrong date"),
        lambda: held.retract(target.contact.id, "said twice"),
        lambda: held.update_actor("lloyd-austin", role="Former Secretary"),
        lambda: held.register_actor(
            {"id": "new-actor", "name": "New Actor", "kind": "person", "country": "US"}
        ),
        lambda: held.record_fact(fact("statement", "2022-03-01")),
    ]
    _, (one, other, updated, registered, recorded) = _queue_behind_a_held_group(
        held, lambda: held.record_fact(fact("statement", "2022-03-02")), calls
    )
    # Whichever retraction reached the group first is stored; the other is refused.
    retracted, twice = (one, other) if isinstance(other, Conflict) else (other, one)
    assert retracted.created and retracted.retraction.event_id == target.contact.id
    assert isinstance(twice, Conflict)
    assert updated.actor.role == "Former Secretary"
    assert registered.created and recorded.created
    assert sizes[-2:] == [1, 4]
    record = held.refresh()
    assert set(record.retractions) == {target.contact.id}


WRITERS = 12


def test_many_concurrent_writers_each_get_their_own_answer(backchannel):
    with (SEEDS / "actors.jsonl").open() as stream:
        import_actors(backchannel, read_lines(stream))
    shared = fact("call_held", "2022-02-18")
    contested = fact("call_requested", "2022-02-10")
    start = threading.Barrier(WRITERS)

    def writer(n: int) -> list[tuple[str, Any]]:
        start.wait()
        answers: list[tuple[str, Any]] = []
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("new", fact("statement", f"2022-03-{1 + n % 28:02d}")),
            ("same", shared),
            ("different", {**contested, "occurred_at": f"2022-01-{1 + n:02d}"}),
            ("unknown", fact("statement", "2022-03-01", counterpart="nobody-known")),
            ("new", fact("statement", f"2022-04-{1 + n % 28:02d}")),
        ]
        for kind, item in attempts:
            try:
                answers.append((kind, backchannel.record_fact(item)))
            except (Conflict, UnknownActor) as error:
                answers.append((kind, error))
        return answers

    with ThreadPoolExecutor(WRITERS) as pool:
        answers = [a for batch in pool.map(writer, range(WRITERS)) for a in batch]

    new = [w for kind, w in answers if kind == "new"]
    assert all(w.created for w in new) and len(new) == 2 * WRITERS
    same = [w for kind, w in answers if kind == "same"]
    assert sum(w.created for w in same) == 1
    assert len({w.position for w in same}) == 1
    different = [w for kind, w in answers if kind == "different"]
    won = [w for w in different if not isinstance(w, Conflict)]
    assert len(won) == 1 and won[0].created
    assert sum(isinstance(w, Conflict) for w in different) == WRITERS - 1
    assert all(isinstance(w, UnknownActor) for kind, w in answers if kind == "unknown")

    record = backchannel.refresh()
    expected = {w.contact.id for w in new} | {UUID(shared["id"]), UUID(contested["id"])}
    assert set(record.contacts) == expected
    log = backchannel.notifications(start=1, limit=10_000)
    facts = [n for n in log if n.originator_id in expected]
    assert len(facts) == len(expected)
    times = [c.recorded_at for c in sorted(record.contacts.values(), key=lambda c: c.position)]
    # Strictly increasing along the log: no two writes of a process share an instant.
    assert all(a < b for a, b in pairwise(times))


def test_awaited_writers_share_a_transaction_and_a_stored_id_is_answered_as_a_retry(held):
    """`record_fact_async` (the single-event POST): facts between actors already seen are
    queued to the committer's thread while the loop waits, stored together behind a held
    group, each answered for itself; the same id and content again is a replay, the same
    id with other content a conflict, whichever way the write went."""
    import asyncio

    sizes = _group_sizes(held)
    seen = fact("statement", "2022-03-01")
    held.record_fact(seen)  # a read of the log by key: both actors are now known registered
    events = [fact("statement", f"2022-03-{day:02d}") for day in range(2, 8)]
    changed = {**seen, "summary": "Other words for the same event id."}

    async def writes() -> list[Any]:
        first = asyncio.ensure_future(held.record_fact_async(events[0]))
        while not held.held:  # the committer's thread is storing the first, held
            await asyncio.sleep(0.01)
        rest = [asyncio.ensure_future(held.record_fact_async(e)) for e in [*events[1:], dict(seen)]]
        while held.committer.waiting() < len(rest):
            await asyncio.sleep(0.01)
        held.release.set()
        done = await asyncio.gather(first, *rest, return_exceptions=True)
        try:
            await held.record_fact_async(changed)
        except Conflict as conflict:
            done.append(conflict)
        return done

    held.holding.set()
    outcomes = asyncio.run(writes())
    *fresh, replay, conflict = outcomes
    assert all(w.created for w in fresh), fresh
    assert not replay.created and replay.contact.id == UUID(seen["id"])
    assert isinstance(conflict, Conflict)
    # The held first, then the five queued behind it and the replay's refused twin (its id
    # is stored: the group is stored again without it), then the replay read and answered.
    assert sizes[:3] == [1, 1, 5], sizes
    positions = sorted(w.position for w in fresh[1:])
    assert positions == list(range(positions[0], positions[0] + 5))
    ids = {n.originator_id for n in held.notifications(start=1, limit=1000)}
    assert {UUID(e["id"]) for e in events} <= ids
