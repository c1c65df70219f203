"""POST /v1/events/{id}/retract and reading the record as it was (`known_at`)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.api.conftest import WRITE, assert_problem, post_event
from tests.factories import fact

CHANNEL = "/v1/channels/lloyd-austin/sergei-shoigu"


def retract(client: TestClient, event_id: str, reason: str = "misattributed") -> dict:
    answer = client.post(f"/v1/events/{event_id}/retract", json={"reason": reason}, headers=WRITE)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_retracting_answers_201_with_the_retraction_event(cast: TestClient) -> None:
    call = post_event(cast, fact("call_held", "2022-02-18"))
    retraction = retract(cast, call["id"], "it was Gerasimov")
    assert retraction["type"] == "retraction"
    assert retraction["event_id"] == call["id"]
    assert retraction["reason"] == "it was Gerasimov"
    assert retraction["channel"] == "lloyd-austin~sergei-shoigu"
    assert retraction["position"] > call["position"]
    stored = cast.get(f"/v1/events/{call['id']}").json()
    assert stored["retracted"] == {
        "at": retraction["recorded_at"],
        "reason": "it was Gerasimov",
        "by_event": retraction["id"],
    }


def test_retracting_an_unknown_event_is_404_and_a_retracted_one_409(cast: TestClient) -> None:
    missing = cast.post(f"/v1/events/{uuid.uuid4()}/retract", json={"reason": "x"}, headers=WRITE)
    assert_problem(missing, 404)
    call = post_event(cast, fact("call_held", "2022-02-18"))
    retract(cast, call["id"])
    again = cast.post(f"/v1/events/{call['id']}/retract", json={"reason": "x"}, headers=WRITE)
    assert_problem(again, 409)


def test_a_retraction_needs_a_reason(cast: TestClient) -> None:
    call = post_event(cast, fact("call_held", "2022-02-18"))
    for body in ({}, {"reason": "  "}, {"reason": "x", "by": "me"}):
        answer = cast.post(f"/v1/events/{call['id']}/retract", json=body, headers=WRITE)
        assert_problem(answer, 422)


def test_a_retracted_call_no_longer_counts_but_known_at_before_it_still_sees_it(
    cast: TestClient,
) -> None:
    call = post_event(cast, fact("call_held", "2022-02-18"))
    retraction = retract(cast, call["id"])
    after = cast.get(CHANNEL, params={"as_of": "2022-02-20"}).json()
    assert after["status"] == "no_contact"
    before = cast.get(CHANNEL, params={"as_of": "2022-02-20", "known_at": call["recorded_at"]})
    assert before.json()["status"] == "open"
    assert before.json()["evidence"] == [call["id"]]
    at_retraction = cast.get(
        CHANNEL, params={"as_of": "2022-02-20", "known_at": retraction["recorded_at"]}
    )
    assert at_retraction.json()["status"] == "no_contact"


def test_lists_mark_an_event_retracted_only_from_the_retractions_recorded_time(
    cast: TestClient,
) -> None:
    call = post_event(cast, fact("call_held", "2022-02-18"))
    retraction = retract(cast, call["id"])
    now = cast.get(f"{CHANNEL}/events").json()["items"]
    assert [e["retracted"]["by_event"] for e in now] == [retraction["id"]]
    then = cast.get("/v1/events", params={"known_at": call["recorded_at"]}).json()["items"]
    assert [(e["id"], e["retracted"]) for e in then] == [(call["id"], None)]


def test_an_events_recorded_at_as_known_at_includes_it_and_excludes_every_later_one(
    cast: TestClient,
) -> None:
    first = post_event(cast, fact("call_requested", "2022-03-01"))
    second = post_event(
        cast, fact("call_refused", "2022-02-25", actor="sergei-shoigu", counterpart="lloyd-austin")
    )
    third = post_event(cast, fact("call_held", "2022-02-18"))
    for i, event in enumerate((first, second, third)):
        known = {"known_at": event["recorded_at"]}
        listed = cast.get(f"{CHANNEL}/events", params=known).json()["items"]
        assert {e["id"] for e in listed} == {e["id"] for e in (first, second, third)[: i + 1]}
        answer = cast.get(CHANNEL, params={**known, "as_of": "2022-03-24"}).json()
        assert answer["event_count"] == i + 1
        assert answer["known_at"] == event["recorded_at"]


def test_the_timeline_as_known_before_a_retraction_still_holds_the_call(
    cast: TestClient,
) -> None:
    call = post_event(cast, fact("call_held", "2022-02-18"))
    retract(cast, call["id"])
    then = cast.get(f"{CHANNEL}/timeline", params={"known_at": call["recorded_at"]}).json()
    assert [i["status"] for i in then["items"]] == ["no_contact", "open", "dormant"]
    now = cast.get(f"{CHANNEL}/timeline").json()
    assert [i["status"] for i in now["items"]] == ["no_contact"]
