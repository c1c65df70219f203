"""Offices and their terms over HTTP: POST /v1/actors/{office}/terms, GET …/terms,
POST /v1/terms/{id}/retract, and an office pair's channel under the office rule."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import WRITE, assert_problem, post_event
from tests.factories import fact

OFFICES = [
    {"id": "us-secretary-of-defense", "name": "US Secretary of Defense", "country": "US"},
    {"id": "ru-minister-of-defence", "name": "Russian Minister of Defence", "country": "RU"},
]


def _offices(client: TestClient) -> None:
    for office in OFFICES:
        answer = client.post("/v1/actors", json={**office, "kind": "office"}, headers=WRITE)
        assert answer.status_code == 201, answer.text
    belousov = {"id": "andrei-belousov", "name": "Andrei Belousov", "kind": "person"}
    answer = client.post("/v1/actors", json={**belousov, "country": "RU"}, headers=WRITE)
    assert answer.status_code == 201, answer.text


def term(
    client: TestClient, office: str, body: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    answer = client.post(f"/v1/actors/{office}/terms", json=body, headers=WRITE)
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def _the_record(client: TestClient) -> dict[str, dict[str, Any]]:
    _offices(client)
    return {
        "austin": term(
            client,
            "us-secretary-of-defense",
            {"person": "lloyd-austin", "from": "2021-01-22", "to": "2025-01-20"},
        ),
        "shoigu": term(
            client,
            "ru-minister-of-defence",
            {"person": "sergei-shoigu", "from": "2012-11-06", "to": "2024-05-12"},
        ),
    }


def test_a_term_is_stored_and_listed_for_the_office_and_for_the_person(cast: TestClient) -> None:
    terms = _the_record(cast)
    austin = terms["austin"]
    assert austin["office"] == "us-secretary-of-defense"
    assert (austin["person"], austin["from"], austin["to"]) == (
        "lloyd-austin",
        "2021-01-22",
        "2025-01-20",
    )
    assert austin["position"] > 0 and austin["recorded_at"]
    holders = cast.get(
        "/v1/actors/ru-minister-of-defence/terms",
        params={"min_position": terms["shoigu"]["position"]},
    ).json()["items"]
    assert [h["person"] for h in holders] == ["sergei-shoigu"]
    held = cast.get("/v1/actors/lloyd-austin/terms").json()["items"]
    assert [h["office"] for h in held] == ["us-secretary-of-defense"]


def test_the_same_id_again_is_200_and_other_content_409(cast: TestClient) -> None:
    _offices(cast)
    body = {"id": str(uuid.uuid4()), "person": "andrei-belousov", "from": "2024-05-14"}
    first = term(cast, "ru-minister-of-defence", body)
    again = term(cast, "ru-minister-of-defence", body, status=200)
    assert again["position"] == first["position"]
    other = cast.post(
        "/v1/actors/ru-minister-of-defence/terms",
        json={**body, "from": "2024-05-15"},
        headers=WRITE,
    )
    assert_problem(other, 409)


def test_an_overlapping_term_is_409_naming_the_term_it_overlaps(cast: TestClient) -> None:
    terms = _the_record(cast)
    answer = cast.post(
        "/v1/actors/ru-minister-of-defence/terms",
        json={"person": "andrei-belousov", "from": "2024-05-01"},
        headers=WRITE,
    )
    problem = assert_problem(answer, 409)
    assert terms["shoigu"]["id"] in problem["detail"]
    listed = cast.get("/v1/actors/ru-minister-of-defence/terms").json()["items"]
    assert len(listed) == 1  # nothing stored


def test_bad_terms_are_refused_and_store_nothing(cast: TestClient) -> None:
    _offices(cast)
    office = "/v1/actors/ru-minister-of-defence/terms"
    backwards = {"person": "andrei-belousov", "from": "2024-05-14", "to": "2024-05-14"}
    assert_problem(cast.post(office, json=backwards, headers=WRITE), 422)
    not_an_office = cast.post(
        "/v1/actors/lloyd-austin/terms",
        json={"person": "andrei-belousov", "from": "2024-05-14"},
        headers=WRITE,
    )
    assert_problem(not_an_office, 422)
    not_a_person = cast.post(
        office, json={"person": "us-secretary-of-defense", "from": "2024-05-14"}, headers=WRITE
    )
    assert_problem(not_a_person, 422)
    unknown = cast.post(
        office, json={"person": "andrei-belousow", "from": "2024-05-14"}, headers=WRITE
    )
    problem = assert_problem(unknown, 422)
    assert "andrei-belousov" in problem["detail"]
    unknown_field = cast.post(
        office,
        json={"person": "andrei-belousov", "from": "2024-05-14", "until": "x"},
        headers=WRITE,
    )
    assert_problem(unknown_field, 422)
    no_office = cast.post(
        "/v1/actors/nobody-at-all/terms",
        json={"person": "andrei-belousov", "from": "2024-05-14"},
        headers=WRITE,
    )
    assert_problem(no_office, 404)
    assert cast.get("/v1/actors/ru-minister-of-defence/terms").json()["items"] == []


def test_a_term_is_retracted_once_and_earlier_known_at_still_sees_it(cast: TestClient) -> None:
    terms = _the_record(cast)
    shoigu = terms["shoigu"]
    url = f"/v1/terms/{shoigu['id']}/retract"
    done = cast.post(url, json={"reason": "wrong dates"}, headers=WRITE)
    assert done.status_code == 201, done.text
    assert done.json()["term_id"] == shoigu["id"]
    assert_problem(cast.post(url, json={"reason": "again"}, headers=WRITE), 409)
    assert_problem(
        cast.post(f"/v1/terms/{uuid.uuid4()}/retract", json={"reason": "x"}, headers=WRITE), 404
    )
    now = cast.get("/v1/actors/ru-minister-of-defence/terms").json()["items"]
    assert now[0]["retracted"]["reason"] == "wrong dates"
    before = cast.get(
        "/v1/actors/ru-minister-of-defence/terms", params={"known_at": shoigu["recorded_at"]}
    ).json()["items"]
    assert before[0]["retracted"] is None


def test_an_office_pair_counts_its_holders_events_and_lists_them(cast: TestClient) -> None:
    _the_record(cast)
    call = post_event(cast, fact("call_held", "2022-02-18"))  # Austin and Shoigu
    posts = "/v1/channels/us-secretary-of-defense/ru-minister-of-defence"
    status = cast.get(posts, params={"as_of": "2022-03-01", "min_position": call["position"]})
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "open"
    assert status.json()["last_contact"]["event_id"] == call["id"]
    listed = cast.get(f"{posts}/events").json()["items"]
    assert [e["id"] for e in listed] == [call["id"]]
    men = cast.get("/v1/channels/lloyd-austin/sergei-shoigu", params={"as_of": "2022-03-01"})
    assert men.json()["event_count"] == 1  # the call is the men's too; nothing else is
