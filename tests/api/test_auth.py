"""Bearer tokens: writes need a write token; reads are open unless read tokens are set."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import READ_TOKEN, SHOIGU, TOKEN, WRITE, assert_problem, rendered_log


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_write_without_a_token_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    answer = client.post("/v1/actors", json=SHOIGU)
    assert_problem(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/v1/actors/sergei-shoigu").status_code == 404


@pytest.mark.parametrize(
    "header",
    [f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:-1]}"],
)
def test_a_write_with_a_wrong_token_is_401(client: TestClient, header: str) -> None:
    answer = client.post("/v1/actors", json=SHOIGU, headers={"Authorization": header})
    assert_problem(answer, 401)


def test_a_read_token_on_a_write_is_403(make_client: Any) -> None:
    client = make_client(read_tokens=READ_TOKEN)
    answer = client.post("/v1/actors", json=SHOIGU, headers=bearer(READ_TOKEN))
    assert_problem(answer, 403)


def test_every_write_route_needs_the_write_token(client: TestClient) -> None:
    some_id = "6f1c2a4e-0b7d-4c55-9a3e-2d8f1b7c9e01"
    writes = [
        ("POST", "/v1/actors"),
        ("PATCH", "/v1/actors/lloyd-austin"),
        ("POST", "/v1/events"),
        ("POST", "/v1/events/batch"),
        ("POST", f"/v1/events/{some_id}/retract"),
    ]
    for method, path in writes:
        assert_problem(client.request(method, path, json={}), 401)


def test_reads_are_open_while_no_read_tokens_are_set(client: TestClient) -> None:
    assert client.get("/v1/actors").status_code == 200


def test_reads_need_a_read_or_write_token_once_read_tokens_are_set(make_client: Any) -> None:
    client = make_client(read_tokens=f"{READ_TOKEN}, another-reader")
    assert_problem(client.get("/v1/actors"), 401)
    assert_problem(client.get("/v1/actors", headers=bearer("guess")), 401)
    assert client.get("/v1/actors", headers=bearer(READ_TOKEN)).status_code == 200
    assert client.get("/v1/actors", headers=bearer("another-reader")).status_code == 200
    assert client.get("/v1/actors", headers=WRITE).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_writes_are_refused_when_no_write_token_is_configured(make_client: Any) -> None:
    client = make_client(write_tokens="")
    assert_problem(client.post("/v1/actors", json=SHOIGU, headers=bearer("")), 401)
    assert_problem(client.post("/v1/actors", json=SHOIGU, headers=WRITE), 401)


def test_tokens_never_reach_the_log(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    client.post("/v1/actors", json=SHOIGU, headers=WRITE)
    client.post("/v1/actors", json=SHOIGU, headers=bearer("wrong-secret"))
    written = "\n".join(rendered_log(caplog))
    assert written.count('"event": "request"') == 2
    assert TOKEN not in written
    assert "wrong-secret" not in written
