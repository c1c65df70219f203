"""A large append (written with COPY on PostgreSQL) reads back through the library
exactly as an append of one event does, and the projector projects it."""

from __future__ import annotations

from uuid import UUID

from domain.contacts import Contact
from infra.store import COPY_FROM
from service.projector import Projector
from service.queries import ReadModel
from service.transfer import SEEDS, import_actors, read_lines
from tests.factories import fact


def test_a_large_batch_decodes_and_projects_like_single_appends(settings, backchannel):
    with (SEEDS / "actors.jsonl").open() as stream:
        import_actors(backchannel, read_lines(stream))
    single = [backchannel.record_fact(fact("statement", "2022-03-01")) for _ in range(2)]
    items = [fact("statement", f"2022-03-{1 + n % 28:02d}", summary=f"n{n}") for n in range(100)]
    assert len(items) >= COPY_FROM
    batch = backchannel.record_facts(items)
    assert all(w.created for w in batch)
    positions = [w.position for w in batch]
    assert positions == list(range(positions[0], positions[0] + len(items)))

    written = {w.contact.id: w for w in [*single, *batch]}
    log = backchannel.notifications(start=1, limit=10_000)
    facts = [n for n in log if n.originator_id in written]
    assert [n.id for n in facts] == sorted(w.position for w in written.values())
    for notification in facts:
        event = backchannel.mapper.to_domain_event(notification)
        assert isinstance(event, Contact.Recorded)
        expected = written[UUID(str(notification.originator_id))]
        assert event.fact == expected.contact.fact
        assert event.timestamp == expected.contact.recorded_at
        assert notification.id == expected.position
        # The bytes are the library's own encoding of the event.
        again = backchannel.mapper.to_stored_event(event)
        assert (again.topic, again.state) == (notification.topic, notification.state)

    record = backchannel.refresh()
    assert {c.id for c in record.contacts.values()} == set(written)

    Projector(settings, app=backchannel).catch_up()
    readmodel = ReadModel.open(settings)
    try:
        for contact_id, w in written.items():
            found = readmodel.event(contact_id)
            assert found is not None
            assert found[0] == w.contact
    finally:
        readmodel.close()

    # A replay of the whole batch stores nothing and answers with the stored events.
    again = backchannel.record_facts(items)
    assert [w.created for w in again] == [False] * len(items)
    assert [w.position for w in again] == positions


def test_the_same_large_batch_from_two_writers_at_once_is_stored_once(backchannel):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    with (SEEDS / "actors.jsonl").open() as stream:
        import_actors(backchannel, read_lines(stream))
    items = [fact("statement", f"2022-04-{1 + n % 28:02d}") for n in range(COPY_FROM * 2)]
    start = threading.Barrier(2)

    def writer(_: int) -> list[bool]:
        start.wait()
        return [w.created for w in backchannel.record_facts(items)]

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(writer, range(2)))
    assert outcomes == [[False] * len(items), [True] * len(items)]
    log = backchannel.notifications(start=1, limit=10_000)
    ids = {UUID(i["id"]) for i in items}
    assert len([n for n in log if n.originator_id in ids]) == len(items)
