"""The rebuild's bulk load writes, row for row, what the projector writes batch by batch.

On both stores: a synthetic workload (backdated facts, retractions), actors that
change, facts stamped with one instant or stamped out of log order, and facts
stored by version 1 of `Contact.Recorded`; then generated histories. Each is
projected by the projector into the live generation and loaded in bulk into a
generation of its own, and every table of the two is compared.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.workload import load as load_workload
from domain.contacts import Contact
from domain.errors import Conflict
from domain.events import EventType, channel_actors, channel_id
from infra.readmodel import open_view
from infra.readmodel.rows import EPOCH
from infra.readmodel.tables import GENERATION_TABLES, PARTITIONED, partition
from infra.readmodel.writes import ViewWrites
from service import bulk
from service.bulk import share
from service.projection import fold
from service.projector import Projector
from service.queries import ReadModel
from service.rebuild import actors_until, load, rebuild
from service.stored import RECORDED, RETRACTED, StoredContacts
from service.transfer import SEEDS, seed
from tests.e2e.test_projector_crash import TABLES
from tests.factories import fact, typed
from tests.integration.test_offices import OfficeHistory
from tests.integration.test_offices import steps as office_steps
from tests.integration.test_stored_versions import ACTORS, TOPIC, VERSION_1

ALL_TABLES = {
    **TABLES,
    "actors": (
        "actor_id, aggregate_id, name, kind, country, role, sector, wikidata, aliases, "
        "registered, position"
    ),
    "actor_names": "folded, actor_id",
    "terms": (
        "term_id, office, person, valid_from, valid_to, recorded_at, position, retracted_at, "
        "retraction_id, retraction_position, retraction_reason, term"
    ),
    "channel_members": "channel, event_id, valid_from, known_from, known_to",
    "office_channels": "channel, actor_a, actor_b",
}
T0 = datetime(2025, 6, 1, tzinfo=UTC)
SEED_TERMS = [json.loads(line) for line in (SEEDS / "terms.jsonl").read_text().splitlines()]
NOW = datetime(2031, 1, 1, tzinfo=UTC)


def dump(view, generation: int) -> dict[str, list[tuple]]:
    dumped = {}
    with view._reading() as c:
        for table, columns in ALL_TABLES.items():
            c.execute(
                view._sql(
                    f"SELECT {columns} FROM {table} WHERE generation = %(g)s ORDER BY {columns}"
                ),
                {"g": generation},
            )
            dumped[table] = [
                tuple(row[k.strip()] for k in columns.split(",")) for row in c.fetchall()
            ]
    return dumped


def assert_bulk_load_matches_the_projector(settings, app, *, batch: int, workers: int) -> None:
    """Project the log into the live generation, load it in bulk into a new one, compare."""
    projector = Projector(settings, app=app, batch_size=batch)
    view = open_view(settings)
    try:
        projector.catch_up()
        live = view.live()
        assert live is not None
        building = view.create_generation(settings.window, EPOCH, live=False)
        load(settings, app, view, building, app.head(), workers=workers)
        assert view.max_tracking_id(f"Backchannel/channels#{building}") == app.head()
        incremental, bulk = dump(view, live.number), dump(view, building)
        for table in ALL_TABLES:
            assert bulk[table] == incremental[table], table
    finally:
        view.close()
        projector.stop()


def stamped(app, events: list[Any]) -> None:
    """Append domain events as they are, with the timestamps they carry."""
    app.recorder.insert_events([app.mapper.to_stored_event(e) for e in events])


def recorded_event(data: dict[str, Any], at: datetime) -> Contact.Recorded:
    return Contact.Recorded(  # type: ignore[call-arg]
        originator_topic=get_topic(Contact),
        originator_id=UUID(data["id"]),
        originator_version=1,
        timestamp=at,
        fact=typed(data),
    )


def retracted_event(event_id: str, at: datetime) -> Contact.Retracted:
    return Contact.Retracted(  # type: ignore[call-arg]
        originator_id=UUID(event_id),
        originator_version=2,
        timestamp=at,
        retraction_id=uuid4(),
        reason="wrong day",
    )


@pytest.fixture
def varied(backchannel):
    """A log with everything the projection treats apart."""
    app = backchannel
    load_workload(app, events=1500, channels=30, batch=40)
    for profile in ACTORS:
        app.register_actor(profile)
    app.update_actor("lloyd-austin", name="Lloyd J. Austin III", aliases=["Austin"])
    app.update_actor("sergei-shoigu", role="Secretary of the Security Council")
    app.update_actor("sergei-shoigu", aliases=["Shoygu", "Shoigu S."])
    app.update_actor("sergei-shoigu", sector="MIL", wikidata="Q1")
    app.register_actor(
        {"id": "ru-mfa", "name": "Russian MFA", "kind": "institution", "country": "RU"}
        | {"sector": "DIP", "wikidata": "Q2"}
    )
    app.recorder.insert_events(
        [StoredEvent(i, 1, TOPIC, state.encode()) for i, state in VERSION_1.items()]
    )
    same = [fact(t, f"2025-05-{d:02d}") for t, d in (("call_held", 3), ("call_requested", 9))]
    later = [fact("call_refused", "2025-05-10"), fact("meeting_held", "2025-04-01")]
    stamped(
        app,
        [
            *(recorded_event(f, T0) for f in same),  # one instant, twice
            recorded_event(later[0], T0 + timedelta(seconds=2)),
            recorded_event(later[1], T0 + timedelta(seconds=1)),  # stamped before the last
            retracted_event(same[1]["id"], T0 + timedelta(seconds=2)),  # at an instant used
            retracted_event(str(next(iter(VERSION_1))), T0 + timedelta(seconds=3)),
        ],
    )
    app.record_fact(fact("statement", "2025-05-20"))
    return app


def test_a_bulk_load_in_one_process_writes_what_the_projector_writes(settings, varied):
    assert_bulk_load_matches_the_projector(settings, varied, batch=7, workers=1)


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_bulk_load_by_worker_processes_writes_what_the_projector_writes(settings, varied):
    assert_bulk_load_matches_the_projector(settings, varied, batch=100, workers=3)


@pytest.fixture
def seeded_then_busy(backchannel):
    """The shipped seeds (offices and their terms among the log's first positions), then
    a workload of people who hold no office, calls between holders of the posts, a
    term retracted and recorded again late, counting a meeting recorded before it and
    retracted after it."""
    app = backchannel
    seed(app)
    load_workload(app, events=1500, channels=30, batch=40)
    calls = [
        fact("call_held", "2024-07-12", actor="lloyd-austin", counterpart="andrei-belousov"),
        fact("call_requested", "2022-03-01", actor="lloyd-austin", counterpart="sergei-shoigu"),
        fact("statement", "2024-08-01", actor="us-secretary-of-defense", counterpart="ru-mfa"),
    ]
    written = [app.record_fact(c) for c in calls]
    app.retract(written[1].contact.id, "a call asked of the other side")
    tracy = next(t for t in SEED_TERMS if t["person"] == "lynne-tracy")
    app.retract_term(UUID(tracy["id"]), "recorded with the wrong dates")
    meeting = app.record_fact(
        fact("meeting_held", "2023-02-01", actor="lynne-tracy", counterpart="sergei-shoigu")
    )
    app.record_term(
        "us-ambassador-to-russia",
        {"person": "lynne-tracy", "from": "2023-01-30", "to": "2025-06-27"},
    )
    app.retract(meeting.contact.id, "it was a call")
    return app


def test_terms_early_in_the_log_leave_the_other_channels_to_the_bulk_load(seeded_then_busy):
    """Only what can count for a channel with an office side goes through the office pass:
    the terms, those channels' facts and the facts of term holders; the workload's
    channels, whose actors hold no office, are loaded whole by the bulk load."""
    app = seeded_then_busy
    head = app.head()
    offices = frozenset(i for i, a in actors_until(app, head).items() if a.profile.kind == "office")
    holders = bulk.term_holders(app, head)
    assert {"lloyd-austin", "sergei-shoigu", "andrei-belousov", "lynne-tracy"} <= holders
    items = list(bulk.office_items(app, head, offices, holders))
    positions = [i.position for i in items]
    assert positions == sorted(positions)
    kinds = {type(i).__name__ for i in items}
    assert {"RecordedTerm", "TermRetraction", "RecordedContact", "Retraction"} <= kinds
    for item in items:
        if hasattr(item, "fact"):
            assert not (offices | holders).isdisjoint(channel_actors(item.fact.channel))
    share = bulk.read_share(app, head, 0, 1, offices=offices)
    assert share.items, "the people's channels are the bulk load's"
    assert all(offices.isdisjoint(channel_actors(c)) for c in share.items)
    assert "us-secretary-of-defense~ru-mfa" not in share.items
    assert channel_id("lloyd-austin", "andrei-belousov") in share.items


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bulk_load_of_a_seeded_store_writes_what_the_projector_writes(
    settings, seeded_then_busy, workers
):
    assert_bulk_load_matches_the_projector(settings, seeded_then_busy, batch=25, workers=workers)


def test_a_bulk_load_over_its_memory_budget_loads_in_passes_what_the_projector_writes(
    settings, varied, monkeypatch
):
    held = bulk.read_share(varied, varied.head(), 0, 1).size
    small = settings.model_copy(update={"rebuild_memory_mib": held / 6 / 2**20})
    passes = []
    read_share = bulk.read_share
    monkeypatch.setattr(bulk, "read_share", lambda *a, **k: passes.append(k) or read_share(*a, **k))
    assert_bulk_load_matches_the_projector(small, varied, batch=50, workers=1)
    assert len(passes) >= 6


def test_a_share_over_its_budget_is_read_in_passes_that_hold_each_channel_once(varied):
    whole = bulk.read_share(varied, varied.head(), 1, 2)
    budget = whole.size / 5
    keys, passes = (0, bulk.HASHES), []
    while True:
        found = bulk.read_share(varied, varied.head(), 1, 2, keys=keys, budget=budget)
        assert found.size == sum(found.held.values())
        assert found.size <= budget or len(found.items) == 1
        assert found.mine == whole.mine == set(whole.items)  # every channel, in every pass
        passes.append(found)
        if found.keys[1] == keys[1]:
            break
        assert found.keys[0] == keys[0] < found.keys[1] < keys[1]
        keys = (found.keys[1], keys[1])
    assert len(passes) >= 5
    items = [i for found in passes for i in found.items.items()]
    assert len(items) == len(whole.items)
    assert dict(items) == whole.items  # the same items, in log order, retractions included
    assert {i: c for found in passes for i, c in found.channel_of.items()} == whole.channel_of


def test_every_channel_falls_to_exactly_one_worker():
    channels = [f"actor-{a:05d}~actor-{b:05d}" for a, b in itertools.combinations(range(40), 2)]
    for parts in (1, 2, 3):
        shares = [share(c, parts) for c in channels]
        assert set(shares) == set(range(parts))
        assert shares == [share(c, parts) for c in channels]  # and always the same one


# Each generated history writes to the shared store and loads the whole log again.
histories = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ROLES = ("a", "b", "c")
PAIRS = list(itertools.combinations(ROLES, 2))
_examples = itertools.count()


@st.composite
def facts(draw: st.DrawFn) -> dict[str, Any]:
    when = EPOCH.replace(year=2022) + timedelta(days=draw(st.integers(0, 90)))
    if draw(st.booleans()):
        when += timedelta(seconds=draw(st.integers(0, 86_399)))
    actor, counterpart = draw(st.permutations(list(draw(st.sampled_from(PAIRS)))))
    return {
        "type": draw(st.sampled_from(list(EventType))).value,
        "occurred_at": when.isoformat().replace("+00:00", "Z"),
        "actor": actor,
        "counterpart": counterpart,
    }


steps = st.one_of(
    st.tuples(st.just("fact"), facts()),
    st.tuples(st.just("batch"), st.lists(facts(), min_size=2, max_size=4)),
    st.tuples(st.just("race"), st.tuples(facts(), facts())),
    st.tuples(st.just("same instant"), st.lists(facts(), min_size=2, max_size=3)),
    st.tuples(st.just("retract"), st.integers(0, 40)),
    st.tuples(st.just("rename"), st.sampled_from(ROLES)),
)


class History:
    """One example's actors and writes, in its own corner of the shared store."""

    def __init__(self, app) -> None:
        self.app = app
        prefix = f"r{next(_examples)}"
        self.ids = {role: f"{prefix}-{role}" for role in ROLES}
        for actor_id in self.ids.values():
            app.register_actor(
                {"id": actor_id, "name": actor_id, "kind": "person", "country": "US"}
            )
        self.event_ids: list[UUID] = []
        self.clock = T0

    def named(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            **item,
            "id": str(uuid4()),
            "actor": self.ids[item["actor"]],
            "counterpart": self.ids[item["counterpart"]],
        }

    def write(self, step: tuple[str, Any]) -> None:
        kind, value = step
        if kind in ("fact", "batch"):
            items = [value] if kind == "fact" else value
            for written in self.app.record_facts([self.named(i) for i in items]):
                self.event_ids.append(written.contact.id)
        elif kind == "race":
            first, second = (Contact(fact=typed(self.named(i))) for i in value)
            self.app.save(second)
            self.app.save(first)
            self.event_ids += [second.id, first.id]
        elif kind == "same instant":
            self.clock += timedelta(seconds=1)
            named = [self.named(i) for i in value]
            stamped(self.app, [recorded_event(i, self.clock) for i in named])
            self.event_ids += [UUID(i["id"]) for i in named]
        elif kind == "retract" and self.event_ids:
            with contextlib.suppress(Conflict):
                self.app.retract(self.event_ids[value % len(self.event_ids)], "wrong")
        elif kind == "rename":
            self.app.update_actor(self.ids[value], name=f"{value} {len(self.event_ids)}")


@histories
@given(history_steps=st.lists(steps, min_size=1, max_size=15), batch=st.integers(1, 6))
def test_a_bulk_load_of_any_history_writes_what_the_projector_writes(
    settings, backchannel, history_steps, batch
):
    history = History(backchannel)
    for step in history_steps:
        history.write(step)
    assert_bulk_load_matches_the_projector(settings, backchannel, batch=batch, workers=1)


def test_a_rebuild_catches_up_with_what_is_appended_meanwhile_before_it_switches(settings, varied):
    Projector(settings, app=varied).catch_up()
    appended: list[int] = []

    def meanwhile(position: int, target: int) -> None:
        if not appended:  # during the bulk load: after the head it loads up to
            appended.append(varied.record_fact(fact("call_held", "2025-05-30")).position)

    done = rebuild(settings, progress=meanwhile, workers=1)
    assert appended and done.position == varied.head() >= appended[0]
    view = open_view(settings)
    try:
        assert [(g.number, g.state) for g in view.generations()] == [(done.generation, "live")]
        reference = view.create_generation(settings.window, EPOCH, live=False)
        Projector(settings, app=varied, view=view, generation=reference).catch_up()
        rebuilt, projected = dump(view, done.generation), dump(view, reference)
        for table in ALL_TABLES:
            assert rebuilt[table] == projected[table], table
    finally:
        view.close()


def test_an_interrupted_rebuild_leaves_the_live_generation_and_is_discarded_next_time(
    settings, varied, monkeypatch
):
    Projector(settings, app=varied).catch_up()
    model = ReadModel.open(settings)
    try:
        before = [s.status for s in model.board(as_of=NOW, known_at=NOW)]
        view = open_view(settings)
        live = dump(view, 1)
        writes = ViewWrites.insert_rows
        calls = []

        def interrupted(self, generation, rows):
            calls.append(generation)
            if len(calls) > 1:
                raise KeyboardInterrupt
            writes(self, generation, rows)

        monkeypatch.setattr("service.bulk.WRITE_CHANNELS", 10)
        monkeypatch.setattr(ViewWrites, "insert_rows", interrupted)
        with pytest.raises(KeyboardInterrupt):
            rebuild(settings, workers=1)
        monkeypatch.undo()
        assert [(g.number, g.state) for g in view.generations()] == [(2, "building"), (1, "live")]
        assert dump(view, 1) == live
        assert [s.status for s in model.board(as_of=NOW, known_at=NOW)] == before
        done = rebuild(settings, workers=1)
        assert [(g.number, g.state) for g in view.generations()] == [(3, "live")]
        assert dump(view, 2) == {table: [] for table in ALL_TABLES}
        if settings.is_postgres:  # the interrupted load's tables, never attached, are gone
            assert partitions(view) == {t: [(partition(t, 3), True)] for t in PARTITIONED}
        assert [s.status for s in model.board(as_of=NOW, known_at=NOW)] == before
        assert done.position == varied.head()
        view.close()
    finally:
        model.close()


def test_the_rebuild_reads_every_stored_contact_as_the_application_mapper_does(varied):
    nested = {  # a value marked deeper down: read by the mapper itself
        "timestamp": {"_type_": "datetime_iso", "_data_": "2025-06-02T00:00:00+00:00"},
        "originator_topic": "domain.contacts:Contact",
        "fact": {
            "_type_": "contact_fact",
            "_data_": {
                **fact("statement", "2025-05-21", id="6f1c1f2a-0b1e-4c3d-9a55-2f7d1e0c0a09"),
                "precision": "day",
                "summary": "",
                "sources": [],
                "details": {"ref": {"_type_": "uuid_hex", "_data_": uuid4().hex}},
            },
        },
        "class_version": 2,
    }
    varied.recorder.insert_events(
        [
            StoredEvent(
                UUID("6f1c1f2a-0b1e-4c3d-9a55-2f7d1e0c0a09"),
                1,
                TOPIC,
                json.dumps(nested).encode(),
            )
        ]
    )
    contacts = StoredContacts(varied.mapper)
    seen = set()
    for notification in varied.recorder.select_notifications(
        start=1, limit=100_000, topics=(RECORDED, RETRACTED)
    ):
        expected = fold(varied.mapper.to_domain_event(notification), notification.id)
        state = contacts.state(notification)
        if notification.topic == RECORDED:
            assert contacts.channel(state) == expected.fact.channel
            got = contacts.recorded(state, notification.id)
        else:
            got = contacts.retraction(state, UUID(str(notification.originator_id)), notification.id)
        assert got == expected
        seen.add((notification.topic, json.loads(notification.state).get("class_version", 1)))
    assert seen == {(RECORDED, 1), (RECORDED, 2), (RETRACTED, 1)}


def test_a_facts_worker_is_told_from_its_stored_bytes_only_where_that_is_sure(varied):
    ids = [UUID(int=0x5EED0001), UUID(int=0x5EED0002)]
    plain = {"precision": "day", "summary": "", "sources": [], "details": {}}
    tricky = [  # another "actor" key deeper down; a value with an escape in it
        {**fact("statement", "2025-05-22", id=str(ids[0])), **plain, "details": {"actor": "x"}},
        {**fact("statement", "2025-05-23", id=str(ids[1])), **plain, "summary": '"actor":"x"'},
    ]
    varied.recorder.insert_events(
        [
            StoredEvent(
                i,
                1,
                TOPIC,
                json.dumps(
                    {
                        "timestamp": {
                            "_type_": "datetime_iso",
                            "_data_": "2025-06-02T00:00:00+00:00",
                        },
                        "originator_topic": "domain.contacts:Contact",
                        "fact": {"_type_": "contact_fact", "_data_": f},
                        "class_version": 2,
                    },
                    separators=(",", ":"),
                ).encode(),
            )
            for i, f in zip(ids, tricky, strict=True)
        ]
    )
    contacts = StoredContacts(varied.mapper)
    quick = 0
    for notification in varied.recorder.select_notifications(
        start=1, limit=100_000, topics=(RECORDED,)
    ):
        pair = contacts.quick_channel(notification.state)
        channel = contacts.channel(contacts.state(notification))
        if notification.originator_id == ids[0]:
            assert pair is None
        if pair is not None:
            quick += 1
            assert sorted(p.decode() for p in pair) == channel.split("~")
    assert quick > 1000
    shares = [bulk.read_share(varied, varied.head(), part, 2) for part in range(2)]
    channel_of = {**shares[0].channel_of, **shares[1].channel_of}
    assert len(channel_of) == len(shares[0].channel_of) + len(shares[1].channel_of)
    assert set(ids) <= set(channel_of)
    assert not set(shares[0].items) & set(shares[1].items)


def partitions(view) -> dict[str, list[tuple[str, bool]]]:
    """Each partitioned table's partitions, and every table named like one (attached or not)."""
    found: dict[str, list[tuple[str, bool]]] = {}
    with view._reading() as c:
        for table in PARTITIONED:
            c.execute(
                "SELECT c.relname AS name, c.relispartition AS attached FROM pg_class AS c "
                "WHERE c.relkind = 'r' AND c.relname LIKE %(pattern)s "
                "AND c.relnamespace = "
                "(SELECT p.relnamespace FROM pg_class AS p WHERE p.oid = to_regclass(%(table)s)) "
                "ORDER BY c.relname",
                {"pattern": f"{table}_g%", "table": table},
            )
            found[table] = [(row["name"], row["attached"]) for row in c.fetchall()]
    return found


def test_on_postgres_a_generation_is_a_partition_loaded_unindexed_and_dropped_whole(
    settings, varied, monkeypatch
):
    if not settings.is_postgres:
        pytest.skip("SQLite's tables are not partitioned")
    Projector(settings, app=varied).catch_up()
    view = open_view(settings)
    try:
        assert partitions(view) == {t: [(partition(t, 1), True)] for t in PARTITIONED}
        seen: list[dict[str, Any]] = []
        writes = ViewWrites.insert_rows

        def watched(self, generation, rows):  # what the tables look like while loading
            with view._reading() as c:
                c.execute(
                    "SELECT count(*) AS n FROM pg_indexes WHERE tablename = %(t)s",
                    {"t": partition("channel_facts", generation)},
                )
                seen.append({"indexes": c.fetchone()["n"], "partitions": partitions(view)})
            writes(self, generation, rows)

        monkeypatch.setattr(ViewWrites, "insert_rows", watched)
        done = rebuild(settings, workers=1)
        monkeypatch.undo()
        assert done.generation == 2 and seen
        loading = seen[0]
        assert loading["indexes"] == 0  # no index to keep up while rows go in
        assert loading["partitions"]["channel_facts"] == [
            ("channel_facts_g1", True),
            ("channel_facts_g2", False),  # detached until loaded
        ]
        # Attached with every index of the parent; the replaced generation dropped whole.
        assert partitions(view) == {t: [(partition(t, 2), True)] for t in PARTITIONED}
        with view._reading() as c:
            for table in PARTITIONED:
                c.execute(
                    "SELECT (SELECT count(*) FROM pg_indexes WHERE tablename = %(p)s) AS part, "
                    "(SELECT count(*) FROM pg_indexes WHERE tablename = %(t)s) AS parent",
                    {"p": partition(table, 2), "t": table},
                )
                row = c.fetchone()
                assert row["part"] == row["parent"] > 0, table
        assert dump(view, 2) == dump_after_projecting(settings, varied, view)
    finally:
        view.close()


def dump_after_projecting(settings, app, view) -> dict[str, list[tuple]]:
    """What the projector alone writes for the log, in a generation of its own."""
    number = view.create_generation(settings.window, EPOCH, live=False)
    Projector(settings, app=app, view=view, generation=number).catch_up()
    return dump(view, number)


def test_a_rebuild_leaves_no_row_of_the_generation_it_replaced(settings, backchannel):
    seed(backchannel)  # offices and terms: every table of the read model has rows
    Projector(settings, app=backchannel).catch_up()
    done = rebuild(settings, workers=1)
    view = open_view(settings)
    try:
        with view._reading() as c:
            for table in GENERATION_TABLES:
                counts = {}
                for generation in (1, done.generation):
                    c.execute(
                        view._sql(f"SELECT count(*) AS n FROM {table} WHERE generation = %(g)s"),
                        {"g": generation},
                    )
                    counts[generation] = c.fetchone()["n"]
                assert counts[1] == 0, table
                assert counts[done.generation] > 0, table
    finally:
        view.close()


@histories
@given(history_steps=st.lists(office_steps, min_size=1, max_size=24), batch=st.integers(1, 6))
def test_a_bulk_load_of_any_history_with_offices_writes_what_the_projector_writes(
    settings, backchannel, history_steps, batch
):
    """People, offices, terms (overlapping ones refused, retracted, backdated) and events
    in any order: the bulk load and its office pass write what the projector writes."""
    history = OfficeHistory(backchannel)
    projector = Projector(settings, app=backchannel, batch_size=batch)
    try:
        for step in history_steps:
            history.write(step, projector)
    finally:
        projector.stop()
    assert_bulk_load_matches_the_projector(settings, backchannel, batch=batch, workers=1)
