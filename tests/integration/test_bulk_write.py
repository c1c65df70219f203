"""A large append (written with COPY on PostgreSQL) reads back through the library
exactly as an append of one event does, and the projector projects it."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import Mapper

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
        # The bytes are the library's own encoding of the event: its plain mapper's,
        # which the application's short way for recorded facts must match exactly.
        again = backchannel.mapper.to_stored_event(event)
        assert (again.topic, again.state) == (notification.topic, notification.state)
        library = Mapper.to_stored_event(backchannel.mapper, event)
        assert (library.topic, library.state) == (notification.topic, notification.state)

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


def test_recorded_facts_are_encoded_exactly_as_the_library_encodes_them():
    from datetime import UTC, date, datetime
    from uuid import uuid4

    from domain.events import ContactFact, EventType, Precision, Source
    from service.application import Backchannel, RecordedMapper, recorded_event

    app = Backchannel({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    assert isinstance(app.mapper, RecordedMapper)
    facts = [
        ContactFact(uuid4(), EventType.STATEMENT, date(2022, 1, 1), Precision.DAY, "a", "b"),
        ContactFact(
            uuid4(),
            EventType.CALL_REFUSED,
            datetime(2022, 1, 1, 3, 4, 5, 678, tzinfo=UTC),
            Precision.EXACT,
            "añ",
            "b\u2028",
            'a "quoted" summary, é',
            (Source("wire", "https://example.org/x", date(2022, 1, 2)), Source("b", None, None)),
            {"in_response_to": str(uuid4()), "extra": [1.5, None, {"z": "ü"}]},
        ),
        # Details the library's transcoder marks its own way: the mapper leaves them to it.
        ContactFact(
            uuid4(),
            EventType.STATEMENT,
            date(2022, 1, 1),
            Precision.DAY,
            "a",
            "b",
            "",
            (),
            {"u": uuid4()},
        ),
    ]
    for one in facts:
        for event in (
            recorded_event(one, datetime.now(UTC)),
            Contact(fact=one).collect_events()[0],
        ):
            ours = app.mapper.to_stored_event(event)
            assert ours == Mapper.to_stored_event(app.mapper, event)
            assert app.mapper.to_domain_event(ours).fact == one
