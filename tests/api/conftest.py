"""The API in-process (httpx through Starlette's TestClient), on both stores.

Every client here talks to an app built over the `backchannel` fixture, so each
test runs once on SQLite and once on a fresh PostgreSQL database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from infra.settings import Settings
from service.api import create_app
from service.application import Backchannel

TOKEN = "test-token"
READ_TOKEN = "read-only-token"
WRITE = {"Authorization": f"Bearer {TOKEN}"}

AUSTIN = {
    "id": "lloyd-austin",
    "name": "Lloyd Austin",
    "kind": "person",
    "country": "US",
    "role": "Secretary of Defense",
    "aliases": ["Secretary Austin"],
}
SHOIGU = {
    "id": "sergei-shoigu",
    "name": "Sergei Shoigu",
    "kind": "person",
    "country": "RU",
    "role": "Minister of Defence",
    "aliases": ["Sergey Shoygu", "Shoigu"],
}
MILLEY = {"id": "mark-milley", "name": "Mark Milley", "kind": "person", "country": "US"}
GERASIMOV = {
    "id": "valery-gerasimov",
    "name": "Valery Gerasimov",
    "kind": "person",
    "country": "RU",
}
BIDEN = {"id": "joe-biden", "name": "Joe Biden", "kind": "person", "country": "US"}
PUTIN = {"id": "vladimir-putin", "name": "Vladimir Putin", "kind": "person", "country": "RU"}
MFA = {
    "id": "ru-mfa",
    "name": "Russian Ministry of Foreign Affairs",
    "kind": "institution",
    "country": "RU",
    "aliases": ["Russian Foreign Ministry"],
}
CAST = [AUSTIN, SHOIGU, MILLEY, GERASIMOV, BIDEN, PUTIN, MFA]


def api_settings(settings: Settings, **changes: Any) -> Settings:
    """The store's settings with the test's tokens (and any other changes)."""
    given: dict[str, Any] = {"log_format": "json", "write_tokens": TOKEN, **changes}
    return Settings(database_url=settings.database_url, **given)


@pytest.fixture
def make_client(
    settings: Settings, backchannel: Backchannel
) -> Iterator[Callable[..., TestClient]]:
    """Build a client for an app over the test's store, with settings changed as asked."""
    clients: list[TestClient] = []

    def build(**changes: Any) -> TestClient:
        client = TestClient(create_app(api_settings(settings, **changes), backchannel))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """A client of the app over an empty store; writes need `WRITE` headers."""
    return make_client()


@pytest.fixture
def app(client: TestClient) -> FastAPI:
    return client.app  # type: ignore[return-value]


@pytest.fixture
def cast(client: TestClient) -> TestClient:
    """The client, with the reference article's actors registered."""
    for actor in CAST:
        answer = client.post("/v1/actors", json=actor, headers=WRITE)
        assert answer.status_code == 201, answer.text
    return client


def post_event(client: TestClient, event: dict[str, Any], status: int = 201) -> dict[str, Any]:
    """Post one event, assert the status, return the answer's JSON."""
    answer = client.post("/v1/events", json=event, headers=WRITE)
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def rendered_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The captured log records as the configured handler writes them (JSON lines)."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    return [handler.format(record) for record in caplog.records]


def assert_problem(answer: Any, status: int) -> dict[str, Any]:
    """The answer is an RFC 9457 problem document with this status; return it."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = dict(answer.json())
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert "Traceback" not in answer.text
    return body
