"""The schema: migrations and the read model's metadata never drift apart, and a store
made before the read model held actors and events is upgraded in place and rebuilt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from fastapi.testclient import TestClient

from infra import schema
from infra.readmodel import ChannelView, open_view
from infra.readmodel.rows import EPOCH
from infra.readmodel.writes import Rows
from infra.settings import Settings
from infra.store import eventsourcing_env
from service.api import create_app
from service.application import Backchannel
from service.bootstrap import bootstrap, migrate
from service.projector import Projector
from service.replay import Replay, ReplayingBackchannel
from service.transfer import seed
from service.views import actor_view, event_view
from tests.factories import fact


def test_the_migrated_schema_is_exactly_the_read_model_metadata(settings: Settings) -> None:
    command.check(schema.alembic_config(settings))  # raises on any difference


def test_a_store_at_revision_0002_migrates_and_rebuilds_every_answer_from_its_log(
    store_url: str,
) -> None:
    settings = Settings(database_url=store_url, log_format="console")
    Backchannel(eventsourcing_env(settings, create_table=True)).close()
    open_view(settings, create_table=True).close()
    command.upgrade(schema.alembic_config(settings), "0002")
    view = open_view(settings)
    view.create_generation(timedelta(days=30), EPOCH, live=True)  # the old read model's
    view.close()
    writer = bootstrap(settings, check_schema=False)
    try:
        seed(writer)
        writer.update_actor("sergei-shoigu", aliases=["Шойгу"])
        call = writer.record_fact(fact("call_held", "2022-04-01"))
        writer.retract(call.contact.id, "misreported")
    finally:
        writer.close()

    assert migrate(settings) == "0007"
    assert [g.state for g in open_view(settings).generations()] == []  # the old one is gone
    app = bootstrap(settings, application=ReplayingBackchannel)
    projector = Projector(settings, app=app)
    try:
        projector.catch_up()
        record = Replay(app).refresh()
        with TestClient(create_app(Settings(database_url=store_url, log_format="json"), app)) as c:
            actors = c.get("/v1/actors", params={"limit": 1000}).json()["items"]
            assert actors == [
                actor_view(a, record.actor_positions[a.id]) for a in record.find_actors()
            ]
            assert c.get("/v1/actors/SHOYGU").json()["id"] == "sergei-shoigu"
            assert c.get("/v1/actors/шойгу").json()["id"] == "sergei-shoigu"
            now = datetime.now(UTC)
            events = c.get("/v1/events", params={"limit": 1000}).json()["items"]
            expected = record.events(known_at=now, retracted=True)
            assert events == [event_view(e, record.retraction(e.id)) for e in expected]
            one = c.get(f"/v1/events/{call.contact.id}").json()
            assert one["retracted"]["reason"] == "misreported"
            board = c.get("/v1/channels", params={"as_of": "2022-03-24"}).json()["items"]
            assert [s["channel"] for s in board] == [
                s.channel
                for s in record.board(
                    as_of=datetime(2022, 3, 24, 23, 59, 59, 999999, tzinfo=UTC), known_at=now
                )
            ]
    finally:
        projector.stop()
        app.close()


def test_before_revision_0007_a_generation_goes_into_the_tables_as_it_did(store_url: str) -> None:
    """A store not migrated yet (PostgreSQL's tables not partitioned) still takes a bulk
    load and deletes a retired generation row by row."""
    settings = Settings(database_url=store_url, log_format="console")
    Backchannel(eventsourcing_env(settings, create_table=True)).close()
    open_view(settings, create_table=True).close()
    command.upgrade(schema.alembic_config(settings), "0006")
    view = open_view(settings)
    try:
        first = view.create_generation(timedelta(days=30), EPOCH, live=False, detached=True)
        row = {"generation": first, "channel": "a~b", "actor_a": "a", "actor_b": "b"}
        view.insert_rows(first, Rows(channels=[row]))
        view.attach(first)
        assert channel_rows(view) == [(first, "a~b")]
        view.create_generation(timedelta(days=30), EPOCH, live=False)  # retires the first
        assert view.drop_retired() == 1
        assert channel_rows(view) == []
    finally:
        view.close()


def channel_rows(view: ChannelView) -> list[tuple[int, str]]:
    with view._reading() as c:
        c.execute("SELECT generation, channel FROM channels ORDER BY generation, channel")
        return [(row["generation"], row["channel"]) for row in c.fetchall()]
