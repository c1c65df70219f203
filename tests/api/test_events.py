"""POST/GET /v1/events, the batch, idempotency and the fact rules (api.md, Events)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import WRITE, assert_problem, post_event
from tests.factories import fact

CNN = {
    "name": "CNN",
    "url": "https://www.cnn.com/2022/03/24/politics/us-russia-military-communication/index.html",
    "published_at": "2022-03-24",
}


def austin_shoigu_call() -> dict[str, Any]:
    return fact(
        "call_held",
        "2022-02-18",
        precision="day",
        summary="Last known call between Austin and Shoygu.",
        sources=[CNN],
        details={"mode": "phone"},
    )


def test_posting_an_event_answers_201_with_the_stored_event_and_its_location(
    cast: TestClient,
) -> None:
    sent = austin_shoigu_call()
    answer = cast.post("/v1/events", json=sent, headers=WRITE)
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"/v1/events/{sent['id']}"
    stored = answer.json()
    assert {k: stored[k] for k in sent} == sent
    assert stored["channel"] == "lloyd-austin~sergei-shoigu"
    assert stored["recorded_at"].endswith("Z")
    assert stored["position"] > 0
    assert stored["retracted"] is None
    assert cast.get(answer.headers["location"]).json() == stored


def test_an_event_without_id_gets_one(cast: TestClient) -> None:
    sent = austin_shoigu_call()
    del sent["id"]
    stored = post_event(cast, sent)
    assert uuid.UUID(stored["id"])


def test_posting_the_same_event_again_is_200_with_the_stored_event_and_stores_nothing(
    cast: TestClient,
) -> None:
    sent = austin_shoigu_call()
    first = post_event(cast, sent)
    again = post_event(cast, sent, status=200)
    assert again == first
    assert len(cast.get("/v1/events").json()["items"]) == 1


def test_the_same_id_with_other_content_is_409(cast: TestClient) -> None:
    sent = austin_shoigu_call()
    post_event(cast, sent)
    changed = {**sent, "occurred_at": "2022-02-19"}
    problem = assert_problem(cast.post("/v1/events", json=changed, headers=WRITE), 409)
    assert sent["id"] in problem["detail"]


def test_an_unknown_actor_is_422_naming_it_and_suggesting_the_alias_match(
    cast: TestClient,
) -> None:
    sent = fact("call_refused", "2022-03-01", actor="sergei-shoygu", counterpart="lloyd-austin")
    problem = assert_problem(cast.post("/v1/events", json=sent, headers=WRITE), 422)
    assert problem["detail"] == "unknown actor 'sergei-shoygu'; did you mean 'sergei-shoigu'?"
    assert problem["suggestions"] == ["sergei-shoigu"]
    assert problem["errors"][0]["loc"] == ["body", "actor"]


def test_the_rules_of_a_fact_are_422_each_located_in_the_body(cast: TestClient) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    broken = {
        "same actor on both sides": (
            fact("call_held", "2022-02-18", counterpart="lloyd-austin"),
            ["body", "counterpart"],
        ),
        "unknown type": (fact("telepathy", "2022-02-18"), ["body", "type"]),
        "in the future": (fact("call_held", tomorrow), ["body", "occurred_at"]),
        "before 1900": (fact("call_held", "1899-12-31"), ["body", "occurred_at"]),
        "not a date": (fact("call_held", "18/02/2022"), ["body", "occurred_at"]),
        "ftp source": (
            fact("call_held", "2022-02-18", sources=[{"name": "x", "url": "ftp://x.org/a"}]),
            ["body", "sources", 0, "url"],
        ),
        "unknown field": (fact("call_held", "2022-02-18", actors="x"), ["body", "actors"]),
    }
    for why, (sent, loc) in broken.items():
        problem = assert_problem(cast.post("/v1/events", json=sent, headers=WRITE), 422)
        assert loc in [e["loc"] for e in problem["errors"]], (why, problem)
    assert cast.get("/v1/events").json()["items"] == []


def test_a_refusal_must_answer_a_request_of_the_same_channel(cast: TestClient) -> None:
    request = post_event(
        cast,
        fact("call_requested", "2022-03-01", actor="mark-milley", counterpart="valery-gerasimov"),
    )
    refusal = fact(
        "call_refused",
        "2022-03-02",
        actor="sergei-shoigu",
        counterpart="lloyd-austin",
        details={"in_response_to": request["id"]},
    )
    problem = assert_problem(cast.post("/v1/events", json=refusal, headers=WRITE), 422)
    assert problem["errors"][0]["loc"] == ["body", "details", "in_response_to"]


def test_a_batch_is_stored_whole_and_answers_201_with_each_event(cast: TestClient) -> None:
    request = fact("call_requested", "2022-03-01")
    refusal = fact(
        "call_refused",
        "2022-03-02",
        actor="sergei-shoigu",
        counterpart="lloyd-austin",
        details={"in_response_to": request["id"]},
    )
    events = [austin_shoigu_call(), request, refusal]
    answer = cast.post("/v1/events/batch", json={"events": events}, headers=WRITE)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert [e["id"] for e in body["events"]] == [e["id"] for e in events]
    assert body["created"] == 3
    assert body["position"] == max(e["position"] for e in body["events"])
    again = cast.post("/v1/events/batch", json={"events": events}, headers=WRITE)
    assert again.status_code == 200
    assert again.json()["created"] == 0


def test_a_bad_item_at_index_3_stores_nothing_and_is_named_by_its_index(
    cast: TestClient,
) -> None:
    events = [fact("statement", f"2022-03-0{i + 1}") for i in range(5)]
    events[3]["type"] = "telepathy"
    problem = assert_problem(
        cast.post("/v1/events/batch", json={"events": events}, headers=WRITE), 422
    )
    assert ["body", "events", 3, "type"] in [e["loc"] for e in problem["errors"]]
    assert cast.get("/v1/events").json()["items"] == []


def test_an_unknown_actor_at_index_3_of_a_batch_stores_nothing(cast: TestClient) -> None:
    events = [fact("statement", f"2022-03-0{i + 1}") for i in range(5)]
    events[3]["counterpart"] = "vladimir-poutine"
    problem = assert_problem(
        cast.post("/v1/events/batch", json={"events": events}, headers=WRITE), 422
    )
    assert problem["errors"][0]["loc"] == ["body", "events", 3, "counterpart"]
    assert problem["suggestions"] == ["vladimir-putin"]
    assert cast.get("/v1/events").json()["items"] == []


def test_a_batch_reusing_a_stored_id_for_other_content_is_409_and_stores_nothing(
    cast: TestClient,
) -> None:
    stored = post_event(cast, austin_shoigu_call())
    changed = {**austin_shoigu_call(), "id": stored["id"], "occurred_at": "2022-02-17"}
    events = [fact("statement", "2022-03-01"), changed]
    assert_problem(cast.post("/v1/events/batch", json={"events": events}, headers=WRITE), 409)
    assert len(cast.get("/v1/events").json()["items"]) == 1


def test_a_batch_holds_at_most_1000_events(cast: TestClient) -> None:
    events = [fact("statement", "2022-03-01") for _ in range(1001)]
    problem = assert_problem(
        cast.post("/v1/events/batch", json={"events": events}, headers=WRITE), 422
    )
    assert problem["errors"][0]["loc"] == ["body", "events"]
    assert_problem(cast.post("/v1/events/batch", json={"events": []}, headers=WRITE), 422)


def test_an_unknown_or_malformed_event_id_is_404(client: TestClient) -> None:
    assert_problem(client.get(f"/v1/events/{uuid.uuid4()}"), 404)
    assert_problem(client.get("/v1/events/not-a-uuid"), 404)


def test_an_event_id_is_read_in_either_case(cast: TestClient) -> None:
    stored = post_event(cast, austin_shoigu_call())
    assert cast.get(f"/v1/events/{stored['id'].upper()}").json() == stored


def test_events_are_listed_by_occurred_at_then_position(cast: TestClient) -> None:
    late = post_event(
        cast, fact("call_refused", "2022-03-24", actor="sergei-shoigu", counterpart="lloyd-austin")
    )
    early = post_event(cast, austin_shoigu_call())
    same_day = post_event(cast, fact("statement", "2022-03-24"))
    listed = [e["id"] for e in cast.get("/v1/events").json()["items"]]
    assert listed == [early["id"], late["id"], same_day["id"]]


def test_events_are_filtered_by_channel_actor_type_and_valid_time(cast: TestClient) -> None:
    call = post_event(cast, austin_shoigu_call())
    refusal = post_event(
        cast, fact("call_refused", "2022-03-24", actor="sergei-shoigu", counterpart="lloyd-austin")
    )
    other = post_event(
        cast, fact("call_held", "2022-02-11", actor="mark-milley", counterpart="valery-gerasimov")
    )

    def ids(**params: Any) -> list[str]:
        answer = cast.get("/v1/events", params=params)
        assert answer.status_code == 200, answer.text
        return [e["id"] for e in answer.json()["items"]]

    assert ids(channel="sergei-shoigu~lloyd-austin") == [call["id"], refusal["id"]]
    assert ids(channel="Shoigu~Secretary Austin") == [call["id"], refusal["id"]]
    assert ids(actor="valery-gerasimov") == [other["id"]]
    assert ids(type="call_refused") == [refusal["id"]]
    assert ids(type=["call_refused", "call_held"]) == [other["id"], call["id"], refusal["id"]]
    assert ids(occurred_from="2022-02-18", occurred_to="2022-02-18") == [call["id"]]
    assert ids(occurred_from="2022-02-19T00:00:00Z") == [refusal["id"]]
    assert ids(known_at=call["recorded_at"]) == [call["id"]]
    assert_problem(cast.get("/v1/events", params={"type": "telepathy"}), 422)
    assert_problem(cast.get("/v1/events", params={"occurred_from": "yesterday"}), 422)


def test_a_detail_spelled_like_the_stores_own_markers_is_422_and_stores_nothing(
    cast: TestClient,
) -> None:
    sent = fact("statement", "2022-02-18", details={"context": {"_type_": "x", "_data_": "y"}})
    problem = assert_problem(cast.post("/v1/events", json=sent, headers=WRITE), 422)
    assert ["body", "details", "context", "_type_"] in [e["loc"] for e in problem["errors"]]
    assert cast.get("/v1/events").json()["items"] == []
