"""Projected reads say which log position they reflect, and a lagging read says so."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from infra.settings import Settings
from service.application import Backchannel
from tests.api.conftest import CAST, assert_problem
from tests.factories import fact
from tests.integration.test_projector import project_to

PROJECTED = ("/v1/channels", "/v1/channels/{a}/{b}", "/v1/channels/{a}/{b}/timeline")
STATUS = "/v1/channels/lloyd-austin/sergei-shoigu"


def test_the_position_header_is_the_position_the_answer_reflects(
    make_client: Any, settings: Settings, backchannel: Backchannel
) -> None:
    client = make_client(embedded_projector=False)  # the test moves the read model itself
    for actor in CAST[:2]:
        backchannel.register_actor(actor)
    called = backchannel.record_fact(fact("call_held", "2022-02-18")).position
    refused = backchannel.record_fact(fact("call_refused", "2022-03-01")).position
    project_to(settings, backchannel, called)

    behind = client.get(STATUS, params={"as_of": "2022-03-24"})
    assert behind.status_code == 200, behind.text
    assert behind.headers["X-Backchannel-Position"] == str(called)
    assert behind.headers["X-Backchannel-Lag"] == str(refused - called)
    assert behind.json()["status"] != "refused"  # the refusal is past the position

    project_to(settings, backchannel, refused)
    current = client.get(STATUS, params={"as_of": "2022-03-24"})
    assert current.headers["X-Backchannel-Position"] == str(refused)
    assert current.headers["X-Backchannel-Lag"] == "0"
    assert current.json()["status"] == "refused"
    for path in ("/v1/channels", f"{STATUS}/timeline"):
        assert client.get(path).headers["X-Backchannel-Position"] == str(refused), path


def test_a_read_while_the_read_model_catches_up_after_start_is_a_503_with_the_lag(
    make_client: Any, settings: Settings, backchannel: Backchannel
) -> None:
    for actor in CAST[:2]:
        backchannel.register_actor(actor)
    backchannel.record_fact(fact("call_held", "2022-02-18"))
    client = make_client(embedded_projector=False)  # started with 3 events not yet projected
    answer = client.get(STATUS)
    problem = assert_problem(answer, 503)
    assert (problem["position"], problem["lag"]) == (0, 3)
    assert answer.headers["Retry-After"] == "1"
    assert answer.headers["X-Backchannel-Lag"] == "3"
    assert_problem(client.get("/v1/channels"), 503)

    project_to(settings, backchannel, 2)  # a client's min_position, once reached, is served
    asked = client.get(STATUS, params={"min_position": 2})
    assert asked.status_code == 200, asked.text
    assert (asked.headers["X-Backchannel-Position"], asked.headers["X-Backchannel-Lag"]) == (
        "2",
        "1",
    )
    assert_problem(client.get(STATUS), 503)  # still behind the start-up head

    project_to(settings, backchannel, 3)
    assert client.get(STATUS).headers["X-Backchannel-Lag"] == "0"


def test_event_and_actor_reads_carry_the_position_they_reflect_too(cast: TestClient) -> None:
    for path in (f"{STATUS}/events", "/v1/events", "/v1/actors"):
        answer = cast.get(path)
        assert answer.status_code == 200
        assert answer.headers["X-Backchannel-Position"] == "7", path  # the seven actors


def test_the_openapi_document_names_the_position_and_lag_headers_of_projected_reads(
    client: TestClient,
) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in PROJECTED:
        ok = paths[path]["get"]["responses"]["200"]
        assert {"X-Backchannel-Position", "X-Backchannel-Lag"} <= ok["headers"].keys(), path
        assert "application/json" in ok["content"], path
        assert "X-Backchannel-Lag" in paths[path]["get"]["description"], path
