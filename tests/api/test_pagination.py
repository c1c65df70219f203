"""Lists: `limit` (default 100, max 1000), opaque `cursor`, `next_cursor` (api.md, Conventions)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import WRITE, assert_problem, post_event
from tests.factories import fact


def every_page(client: TestClient, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        answer = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def seven_events(client: TestClient) -> list[dict[str, Any]]:
    events = [fact("statement", f"2022-03-{day:02d}") for day in (5, 1, 3, 7, 2, 6, 4)]
    answer = client.post("/v1/events/batch", json={"events": events}, headers=WRITE)
    assert answer.status_code == 201, answer.text
    return list(answer.json()["events"])


def test_events_come_in_pages_of_limit_that_together_list_each_once(cast: TestClient) -> None:
    seven_events(cast)
    pages = every_page(cast, "/v1/events", limit=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    whole = cast.get("/v1/events").json()
    assert [e["id"] for page in pages for e in page] == [e["id"] for e in whole["items"]]
    assert whole["next_cursor"] is None


def test_an_event_recorded_between_pages_does_not_shift_them(cast: TestClient) -> None:
    seven_events(cast)
    first = cast.get("/v1/events", params={"limit": 3}).json()
    post_event(cast, fact("statement", "2022-03-01"))  # sorts before the cursor, and is later
    rest = every_page(cast, "/v1/events", limit=3, cursor=first["next_cursor"])
    seen = [e["id"] for e in first["items"]] + [e["id"] for page in rest for e in page]
    assert len(seen) == len(set(seen)) == 7  # the pages answer as of the first one


def test_actors_channels_timeline_and_channel_events_are_paginated(cast: TestClient) -> None:
    seven_events(cast)
    post_event(
        cast, fact("call_held", "2022-02-11", actor="mark-milley", counterpart="valery-gerasimov")
    )
    post_event(cast, fact("call_held", "2022-02-18"))
    actors = every_page(cast, "/v1/actors", limit=2)
    assert [len(p) for p in actors] == [2, 2, 2, 1]
    assert [len(p) for p in every_page(cast, "/v1/channels", limit=1)] == [1, 1]
    timeline = every_page(cast, "/v1/channels/lloyd-austin/sergei-shoigu/timeline", limit=1)
    assert [i[0]["status"] for i in timeline] == ["no_contact", "open", "dormant"]
    events = every_page(cast, "/v1/channels/lloyd-austin/sergei-shoigu/events", limit=5)
    assert [len(p) for p in events] == [5, 3]


@pytest.mark.parametrize("limit", [0, -1, 1001, "ten"])
def test_a_limit_outside_1_to_1000_is_422(client: TestClient, limit: Any) -> None:
    problem = assert_problem(client.get("/v1/events", params={"limit": limit}), 422)
    assert problem["errors"][0]["loc"] == ["query", "limit"]


def forged(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        forged([1, 2]),
        forged({"l": "events"}),
        forged({"l": "actors", "a": "lloyd-austin", "p": {}}),
        forged({"l": "events", "a": "lloyd-austin", "p": {}}),
        forged({"l": "events", "a": [1, True], "p": {}}),
        forged({"l": "events", "a": [1, 2], "p": {"known_at": "yesterday"}}),
    ],
)
def test_a_malformed_or_foreign_cursor_is_422(cast: TestClient, cursor: str) -> None:
    seven_events(cast)
    problem = assert_problem(cast.get("/v1/events", params={"cursor": cursor}), 422)
    assert problem["errors"][0]["loc"] == ["query", "cursor"]
