"""GET /healthz, /readyz and /metrics (api.md, Operations)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient

from infra.schema import alembic_config
from infra.settings import Settings
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
