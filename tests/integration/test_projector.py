"""The projector and its generations on both stores: following, waiting, rebuilding, sharing."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest
from typer.testing import CliRunner

from infra.logging import configure_logging
from infra.readmodel import GenerationRetired, open_view
from infra.readmodel.rows import EPOCH
from infra.settings import Settings
from service.projections_cli import projections
from service.projector import Projector, WindowMismatch
from service.queries import ReadModel, ReadModelUnavailable
from service.rebuild import rebuild
from service.transfer import seed
from tests.e2e.test_projector_crash import TABLES, rows
from tests.factories import fact

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def answers(model: ReadModel) -> dict[str, str]:
    return {s.channel: s.status.value for s in model.board(as_of=NOW, known_at=NOW)}


def project_to(settings: Settings, app, position: int) -> None:
    """Move the live read model to exactly `position` (one log position per batch)."""
    projector = Projector(settings, app=app, batch_size=1)
    try:
        assert projector.catch_up(until=position) == position
    finally:
        projector.stop()


@pytest.fixture
def seeded(backchannel):
    seed(backchannel)
    return backchannel


def test_projector_in_a_thread_follows_writes_and_wait_says_when_they_are_readable(
    settings, seeded
):
    projector = Projector(settings, app=seeded, poll_interval=0.05)
    model = ReadModel.open(settings)
    projector.start()
    try:
        assert projector.wait(seeded.head(), timeout=30)
        written = seeded.record_fact(fact("call_held", "2022-03-30"))
        projector.poke()
        assert model.wait(written.position, timeout=30)
        answer = model.status(
            "lloyd-austin", "sergei-shoigu", as_of=datetime.now(UTC), known_at=datetime.now(UTC)
        )
        assert answer.last_contact is not None and answer.last_contact.id == written.contact.id
        assert projector.lag() == 0
        assert not model.wait(seeded.head() + 1, timeout=0.05)
    finally:
        projector.stop()
        model.close()


def test_rebuild_builds_a_new_generation_aside_and_switches_only_once_caught_up(settings, seeded):
    live = Projector(settings, app=seeded)
    live.catch_up()
    model = ReadModel.open(settings)
    view = open_view(settings)
    try:
        before = answers(model)
        window = settings.window
        building = view.create_generation(window, EPOCH, live=False)
        half = Projector(settings, app=seeded, view=view, generation=building, batch_size=5)
        half.step()
        assert answers(model) == before  # readers still read the live generation
        assert not view.promote(building, EPOCH)  # behind the live one: no switch
        half.catch_up()
        seeded.record_fact(fact("statement", "2022-03-30"))
        live.catch_up()
        assert not view.promote(building, EPOCH)  # the live one moved on meanwhile
        half.catch_up()
        assert view.promote(building, EPOCH)
        assert [(g.number, g.state) for g in view.generations()] == [
            (building, "live"),
            (1, "retired"),
        ]
        assert answers(model) == before
        seeded.record_fact(fact("call_held", "2022-03-31"))
        retired_at = next(g.position for g in view.generations() if g.number == 1)
        assert live.step() == 0  # the retired generation takes no more writes...
        live.catch_up()  # ...and its projector follows the live one instead
        assert view.live().position == seeded.head()
        assert next(g.position for g in view.generations() if g.number == 1) == retired_at
        with pytest.raises(GenerationRetired):  # a projector bound to it stops
            Projector(settings, app=seeded, view=view, generation=1).step()
        assert view.drop_retired() > 0
        assert [g.number for g in view.generations()] == [building]
    finally:
        view.close()
        model.close()


def test_rebuild_command_reports_the_new_generation_and_status_shows_no_lag(
    settings, seeded, monkeypatch
):
    monkeypatch.setenv("BACKCHANNEL_DATABASE_URL", settings.database_url)
    Projector(settings, app=seeded).catch_up()
    runner = CliRunner()
    rebuilt = runner.invoke(projections, ["rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Generation 2 is live" in rebuilt.output
    shown = runner.invoke(projections, ["status"])
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.output.splitlines() if "live" in x)
    assert f"{seeded.head():,}" in line and line.rstrip(" │").endswith(" 0")


def test_a_read_model_built_for_another_window_refuses_to_answer(settings, seeded):
    Projector(settings, app=seeded).catch_up()
    other = Settings(database_url=settings.database_url, window_days=14)
    model = ReadModel.open(other)
    try:
        with pytest.raises(ReadModelUnavailable):
            model.status("lloyd-austin", "sergei-shoigu", as_of=NOW, known_at=NOW)
        with pytest.raises(WindowMismatch):
            Projector(other, app=seeded).step()
    finally:
        model.close()
    done = rebuild(other)
    assert done.position == seeded.head()
    model = ReadModel.open(other)
    try:
        model.status("lloyd-austin", "sergei-shoigu", as_of=NOW, known_at=NOW)
    finally:
        model.close()


def test_two_projectors_sharing_a_generation_apply_every_batch_once(settings, seeded):
    for day in range(1, 29):
        seeded.record_fact(fact("call_requested" if day % 3 else "call_held", f"2022-04-{day:02d}"))
    first = Projector(settings, app=seeded, batch_size=3)
    second = Projector(settings, app=seeded, batch_size=4)
    first.attach()
    threads = [threading.Thread(target=p.catch_up) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    view = open_view(settings)
    try:
        reference = view.create_generation(settings.window, EPOCH, live=False)
        Projector(settings, app=seeded, view=view, generation=reference).catch_up()
        shared, alone = rows(view, 1), rows(view, reference)
        for table in TABLES:
            assert shared[table] == alone[table], table
    finally:
        view.close()


def test_projector_survives_its_connections_being_terminated_and_listens_again(
    settings, seeded, capfd
):
    if not settings.is_postgres:
        pytest.skip("LISTEN and pg_terminate_backend are PostgreSQL's")
    configure_logging("json", "INFO")
    # A long poll: once recovered, only a NOTIFY can make it see a write quickly.
    projector = Projector(settings, app=seeded, poll_interval=30.0)
    projector.start()
    try:
        assert projector.wait(seeded.head(), timeout=30)
        assert projector.health().listening
        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert ended is not None and ended[0] >= 2  # the listener and the pools' connections
        deadline = time.monotonic() + 30
        while projector.health().failures == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert projector.running  # the thread lives on through the failure
        while not (projector.health().state == "running" and projector.health().listening):
            assert time.monotonic() < deadline, projector.health()
            time.sleep(0.02)
        written = seeded.record_fact(fact("call_held", "2022-03-30"))
        assert projector.wait(written.position, timeout=5)  # woken by NOTIFY, not the poll
        assert projector.running
    finally:
        projector.stop()
    said = [line for line in capfd.readouterr().err.splitlines() if "backchannel.projector" in line]
    lost = [line for line in said if "lost the store" in line]
    recovered = [line for line in said if "projector recovered" in line]
    assert 1 <= len(lost) == len(recovered) <= 2  # a line per change of state, not per retry
