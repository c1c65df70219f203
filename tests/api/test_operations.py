"""GET /healthz, /readyz and /metrics (api.md, Operations)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from alembic import command
from fastapi.testclient import TestClient

from infra.schema import alembic_config
from infra.settings import Settings
from service.application import Backchannel
from service.projector import Projector
from service.transfer import seed
from tests.api.conftest import CAST, WRITE, assert_problem, post_event
from tests.factories import fact


def test_healthz_says_the_process_is_up(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_reports_the_schema_and_the_projection_lag(cast: TestClient) -> None:
    # The read model follows the log in the background: ask once it has the seven actors.
    assert cast.get("/v1/channels", params={"min_position": 7}).status_code == 200
    answer = cast.get("/readyz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready"
    assert body["schema_revision"]
    assert body["lag"] == 0
    assert body["position"] == body["head"] == 7  # the seven actors


def test_readyz_reports_as_lag_what_the_read_model_has_not_yet_projected(
    make_client, settings: Settings
) -> None:
    from service.bootstrap import bootstrap
    from service.projector import Projector

    client = make_client(embedded_projector=False)  # as when a separate projector runs
    other = bootstrap(settings)
    try:
        for actor in CAST[:2]:
            other.register_actor(actor)
        other.record_fact(fact("call_held", "2022-02-18"))
        assert client.get("/readyz").json()["lag"] == 3
        projector = Projector(settings, app=other)
        try:
            projector.catch_up()
        finally:
            projector.stop()
        assert client.get("/readyz").json()["lag"] == 0
    finally:
        other.close()


def test_readyz_is_503_when_the_schema_is_behind(client: TestClient, settings: Settings) -> None:
    command.downgrade(alembic_config(settings), "base")
    problem = assert_problem(client.get("/readyz"), 503)
    assert "migrate" in problem["detail"]


def test_readyz_is_503_without_details_when_the_store_is_unreachable(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    backchannel = client.app.state.backchannel  # type: ignore[attr-defined]

    def unreachable() -> Any:
        raise ConnectionError("connection to server at 10.0.0.1 port 5432 failed: password")

    monkeypatch.setattr(backchannel, "head", unreachable)
    answer = client.get("/readyz")
    assert_problem(answer, 503)
    assert "password" not in answer.text and "10.0.0.1" not in answer.text


def test_metrics_count_requests_by_route_template_events_by_type_and_lag(
    cast: TestClient,
) -> None:
    stored = post_event(cast, fact("call_held", "2022-02-18"))
    cast.get(f"/v1/events/{stored['id']}")
    last = cast.post("/v1/events", json=fact("statement", "2022-02-19"), headers=WRITE).json()
    cast.get("/no/such/path")
    # The read model follows the log in the background: read once it has the last write.
    assert cast.get("/v1/channels", params={"min_position": last["position"]}).status_code == 200
    answer = cast.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert (
        'backchannel_http_requests_total{method="GET",route="/v1/events/{event_id}",status="200"}'
        " 1.0" in text
    )
    assert 'route="<unmatched>",status="404"' in text
    assert 'backchannel_events_appended_total{type="call_held"} 1.0' in text
    assert 'backchannel_events_appended_total{type="statement"} 1.0' in text
    assert "backchannel_http_request_duration_seconds_bucket" in text
    assert "backchannel_projection_position 9.0" in text
    assert "backchannel_projection_lag 0.0" in text


def test_two_apps_in_one_process_keep_their_own_metrics(make_client: Any) -> None:
    first, second = make_client(), make_client()
    first.get("/healthz")
    assert 'route="/healthz"' in first.get("/metrics").text
    assert 'route="/healthz"' not in second.get("/metrics").text


# -- readiness: the read model, the projector, a store that hangs ------------------------


def test_readyz_is_503_with_the_lag_while_the_read_model_catches_up_after_start_then_200(
    make_client: Any, settings: Settings, backchannel: Backchannel
) -> None:
    seed(backchannel)
    head = backchannel.head()
    client = make_client(embedded_projector=False)  # nothing projects until the test does
    answer = client.get("/readyz")
    problem = assert_problem(answer, 503)
    assert problem["reason"] == "catching_up"
    assert (problem["position"], problem["head"], problem["lag"]) == (0, head, head)
    assert f"{head} behind" in problem["detail"]
    assert answer.headers["Retry-After"] == "1"
    projector = Projector(settings, app=backchannel)
    try:
        projector.catch_up()
    finally:
        projector.stop()
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["position"], body["head"], body["lag"]) == ("ready", head, head, 0)
    assert body["projector"] == "external"
    assert body["last_progress"] is not None


def test_readyz_is_503_when_the_in_process_projector_is_not_running(client: TestClient) -> None:
    assert client.get("/readyz").status_code == 200
    client.app.state.projector.stop()  # type: ignore[attr-defined]
    problem = assert_problem(client.get("/readyz"), 503)
    assert problem["reason"] == "projector_not_running"
    assert "projector is not running" in problem["detail"]


def test_readyz_is_503_while_the_projector_fails_and_its_thread_keeps_retrying(
    cast: TestClient, settings: Settings
) -> None:
    projector = cast.app.state.projector  # type: ignore[attr-defined]
    assert projector.wait(7, timeout=30)
    with readmodel_connection(settings) as connection:
        connection.execute("DROP TABLE channel_segments")  # every batch now fails in the store
    post_event(cast, fact("call_held", "2022-02-18"))
    deadline = time.monotonic() + 30
    while projector.health().state != "lost" and time.monotonic() < deadline:
        time.sleep(0.05)
    problem = assert_problem(cast.get("/readyz"), 503)
    assert problem["reason"] == "projector_lost"
    assert "retrying" in problem["detail"]
    first = projector.health().failures
    time.sleep(0.5)
    assert projector.running  # the thread did not die...
    assert projector.health().failures > first  # ...it keeps trying, backing off
    assert 'backchannel_projector_state{state="lost"} 1.0' in cast.get("/metrics").text


def test_readyz_is_503_when_the_read_model_is_behind_and_has_not_advanced_for_the_stall_time(
    make_client: Any, settings: Settings, backchannel: Backchannel
) -> None:
    client = make_client(embedded_projector=False, projector_stall_seconds=0.5)
    for actor in CAST[:2]:
        backchannel.register_actor(actor)
    backchannel.record_fact(fact("call_held", "2022-02-18"))
    assert client.get("/readyz").json()["lag"] == 3  # behind, but not for long yet: ready
    time.sleep(0.7)
    problem = assert_problem(client.get("/readyz"), 503)
    assert problem["reason"] == "projector_stalled"
    assert problem["lag"] == 3
    projector = Projector(settings, app=backchannel)
    try:
        projector.catch_up()
    finally:
        projector.stop()
    assert client.get("/readyz").json()["lag"] == 0


def test_readyz_with_read_tokens_set_is_open_but_gives_no_head_or_positions(
    make_client: Any, settings: Settings, backchannel: Backchannel
) -> None:
    seed(backchannel)
    client = make_client(read_tokens="reader", embedded_projector=False)
    problem = assert_problem(client.get("/readyz"), 503)
    assert problem["reason"] == "catching_up"
    assert not {"position", "head", "lag"} & problem.keys()
    assert str(backchannel.head()) not in problem["detail"]
    projector = Projector(settings, app=backchannel)
    try:
        projector.catch_up()
    finally:
        projector.stop()
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_answers_503_within_two_seconds_while_the_store_hangs(
    client: TestClient, settings: Settings
) -> None:
    if not settings.is_postgres:
        pytest.skip("a lock that blocks readers needs PostgreSQL")
    assert client.get("/readyz").status_code == 200
    with psycopg.connect(settings.database_url) as locker:
        locker.execute("LOCK TABLE backchannel_events IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        answer = client.get("/readyz")
        took = time.monotonic() - started
        problem = assert_problem(answer, 503)
        assert took < 2.0, took
        assert problem["reason"] == "store_unreachable"
        assert "did not answer" in problem["detail"]
        second = time.monotonic()
        assert_problem(client.get("/readyz"), 503)  # the hung check is waited on, not doubled
        assert time.monotonic() - second < 2.0
        locker.rollback()
    deadline = time.monotonic() + 10
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "readyz did not recover once the lock went"
        time.sleep(0.1)


@contextmanager
def readmodel_connection(settings: Settings) -> Iterator[Any]:
    """A connection of the test's own to the store (autocommit), SQLite or PostgreSQL."""
    if settings.is_postgres:
        with psycopg.connect(settings.database_url, autocommit=True) as connection:
            yield connection
    else:
        path = settings.database_url.removeprefix("sqlite:///")
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            yield connection
        finally:
            connection.close()
