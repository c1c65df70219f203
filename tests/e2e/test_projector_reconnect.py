"""The standalone projector (`backchannel projector`) outlives its connections being cut."""

from __future__ import annotations

import signal

import psycopg
import pytest

from infra.readmodel import open_view
from service.transfer import seed
from tests.e2e.test_projector_crash import position, start_projector, wait_until
from tests.factories import fact

pytestmark = pytest.mark.e2e


def test_standalone_projector_retries_when_its_connections_are_terminated(
    settings, backchannel, tmp_path
):
    if not settings.is_postgres:
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    seed(backchannel)
    view = open_view(settings)
    log = tmp_path / "projector.log"
    process = start_projector(settings.database_url, batch=100, log=log)
    try:
        wait_until(lambda: position(view) == backchannel.head(), 60, process, log)
        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        backchannel.recorder.datastore.pool.check()  # the test's own connections were cut too
        view.datastore.pool.check()
        written = backchannel.record_fact(fact("call_held", "2022-03-30"))
        wait_until(lambda: position(view) >= written.position, 60, process, log)
        assert process.poll() is None  # still following, not exited
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        view.close()
    text = log.read_text()
    assert text.count("projector lost the store") == text.count("projector recovered") >= 1
    assert "Traceback" not in text
