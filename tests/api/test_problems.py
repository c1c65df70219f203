"""Every error is application/problem+json; request ids; one JSON log line per request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SHOIGU, WRITE, assert_problem, post_event, rendered_log
from tests.factories import fact

MIB = 1024 * 1024


def test_an_unknown_path_is_a_404_problem(client: TestClient) -> None:
    problem = assert_problem(client.get("/v2/nothing"), 404)
    assert problem["type"] == "about:blank"
    assert problem["title"] == "Not Found"


def test_an_unsupported_method_is_a_405_problem_with_allow(client: TestClient) -> None:
    answer = client.delete("/v1/actors")
    assert_problem(answer, 405)
    assert answer.headers["allow"] == "GET, POST"
    batch = client.get("/v1/events/batch")
    assert_problem(batch, 405)
    assert batch.headers["allow"] == "POST"


def test_malformed_json_is_a_422_problem(client: TestClient) -> None:
    answer = client.post(
        "/v1/actors",
        content=b'{"id": "x",',
        headers={**WRITE, "Content-Type": "application/json"},
    )
    problem = assert_problem(answer, 422)
    assert problem["errors"][0]["loc"][0] == "body"


def test_a_body_over_one_mib_is_413_by_its_declared_length(client: TestClient) -> None:
    body = json.dumps({**SHOIGU, "role": "x" * MIB}).encode()
    answer = client.post(
        "/v1/actors", content=body, headers={**WRITE, "Content-Type": "application/json"}
    )
    assert_problem(answer, 413)
    assert client.get("/v1/actors/sergei-shoigu").status_code == 404


def test_a_body_over_one_mib_is_413_when_streamed_without_a_length(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"events": ['
        for _ in range(2000):
            yield json.dumps(fact("statement", "2022-03-01", summary="x" * 1000)).encode() + b","
        yield b"{}]}"

    answer = client.post(
        "/v1/events/batch",
        content=chunks(),
        headers={**WRITE, "Content-Type": "application/json"},
    )
    assert "content-length" not in answer.request.headers
    assert_problem(answer, 413)


def test_a_body_just_under_the_limit_is_accepted(cast: TestClient) -> None:
    summary = "x" * 4000
    events = [fact("statement", "2022-03-01", summary=summary) for _ in range(200)]
    answer = cast.post("/v1/events/batch", json={"events": events}, headers=WRITE)
    assert len(answer.request.content) < MIB
    assert answer.status_code == 201, answer.text


def test_an_unhandled_error_is_a_bare_500_without_trace_or_sql(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    readmodel = client.app.state.readmodel  # type: ignore[attr-defined]

    def broken(**_: Any) -> Any:
        raise RuntimeError('psycopg: syntax error at "SELECT * FROM stored_events"')

    monkeypatch.setattr(readmodel, "actors", broken)
    answer = client.get("/v1/actors")
    problem = assert_problem(answer, 500)
    assert "SELECT" not in answer.text and "psycopg" not in answer.text
    assert answer.headers["x-request-id"] in problem["detail"]


def test_a_request_id_is_echoed_or_made_up(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "not safe\n to log"})
    assert made.headers["x-request-id"] != "not safe\n to log"
    assert len(made.headers["x-request-id"]) == 32
    assert client.get("/nothing").headers["x-request-id"]


def test_each_request_writes_one_json_log_line_with_its_route_template(
    cast: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    stored = post_event(cast, fact("call_held", "2022-02-18"))
    caplog.clear()
    cast.get(f"/v1/events/{stored['id']}", headers={"X-Request-ID": "trace-me"})
    lines = [json.loads(line) for line in rendered_log(caplog)]
    requests = [line for line in lines if line.get("event") == "request"]
    assert len(requests) == 1
    line = requests[0]
    assert line["method"] == "GET"
    assert line["route"] == "/v1/events/{event_id}"
    assert line["status"] == 200
    assert line["request_id"] == "trace-me"
    assert line["client"] == "testclient"
    assert isinstance(line["duration_ms"], float)
