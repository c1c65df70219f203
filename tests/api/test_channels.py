"""GET /v1/channels… : statuses, timeline and events of a channel (api.md, Channels)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import WRITE, assert_problem, post_event
from tests.factories import fact

ARTICLE_DAY = "2022-03-24"


def article_history(client: TestClient) -> dict[str, dict[str, Any]]:
    """The Austin-Shoigu and Biden-Putin rows of the reference article."""
    events = {
        "call": fact("call_held", "2022-02-18", precision="day"),
        "request": fact("call_requested", "2022-02-21", precision="week"),
        "refusal": fact(
            "call_refused",
            ARTICLE_DAY,
            actor="sergei-shoigu",
            counterpart="lloyd-austin",
            precision="month",
        ),
        "war_criminal": fact(
            "statement",
            "2022-03-16",
            actor="joe-biden",
            counterpart="vladimir-putin",
            details={"stance": "accusation"},
        ),
    }
    return {name: post_event(client, event) for name, event in events.items()}


def status(client: TestClient, a: str, b: str, **params: Any) -> dict[str, Any]:
    answer = client.get(f"/v1/channels/{a}/{b}", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_refusal_after_last_call_makes_channel_refused(cast: TestClient) -> None:
    stored = article_history(cast)
    answer = status(cast, "lloyd-austin", "sergei-shoigu", as_of=ARTICLE_DAY)
    assert answer["status"] == "refused"
    assert answer["channel"] == "lloyd-austin~sergei-shoigu"
    assert answer["actors"] == ["lloyd-austin", "sergei-shoigu"]
    assert answer["as_of"] == "2022-03-24T23:59:59.999999Z"
    assert answer["since"] == ARTICLE_DAY
    assert answer["last_contact"] == {
        "event_id": stored["call"]["id"],
        "type": "call_held",
        "occurred_at": "2022-02-18",
    }
    assert answer["requests_since_contact"] == {"lloyd-austin": 1}
    assert answer["refusals_since_contact"] == {"sergei-shoigu": 1}
    assert answer["event_count"] == 3
    assert answer["evidence"] == [stored["call"]["id"], stored["refusal"]["id"]]


def test_a_channel_reads_the_same_in_either_order_and_by_alias(cast: TestClient) -> None:
    article_history(cast)
    known = {"as_of": ARTICLE_DAY, "known_at": "2030-01-01T00:00:00Z"}
    forward = status(cast, "lloyd-austin", "sergei-shoigu", **known)
    backward = status(cast, "sergei-shoigu", "lloyd-austin", **known)
    by_alias = status(cast, "Sergey Shoygu", "SECRETARY AUSTIN", **known)
    assert forward == backward == by_alias


def test_as_of_a_date_before_the_refusals_shows_the_channel_open(cast: TestClient) -> None:
    article_history(cast)
    assert status(cast, "lloyd-austin", "sergei-shoigu", as_of="2022-02-20")["status"] == "open"
    at_noon = status(cast, "lloyd-austin", "sergei-shoigu", as_of="2022-02-20T12:00:00Z")
    assert at_noon["as_of"] == "2022-02-20T12:00:00Z"


def test_actors_who_never_interacted_have_no_contact(cast: TestClient) -> None:
    article_history(cast)
    answer = status(cast, "mark-milley", "ru-mfa")
    assert answer["status"] == "no_contact"
    assert answer["event_count"] == 0
    assert answer["last_contact"] is None


def test_only_statements_leave_a_channel_at_no_contact(cast: TestClient) -> None:
    article_history(cast)
    answer = status(cast, "joe-biden", "vladimir-putin", as_of=ARTICLE_DAY)
    assert answer["status"] == "no_contact"
    assert answer["recent"] == {"statement": 1}


def test_an_unknown_actor_in_a_channel_is_404_with_suggestions(cast: TestClient) -> None:
    problem = assert_problem(cast.get("/v1/channels/lloyd-austin/sergei-shoygu"), 404)
    assert "sergei-shoigu" in problem["suggestions"]
    assert_problem(cast.get("/v1/channels/lloyd-austin/lloyd-austin"), 404)
    assert_problem(cast.get("/v1/channels/lloyd-austin/sergei-shoigu/timeline?to=x"), 422)


def test_the_board_lists_every_channel_with_an_event_filtered_by_status_and_actor(
    cast: TestClient,
) -> None:
    article_history(cast)
    post_event(
        cast, fact("call_held", "2022-02-11", actor="mark-milley", counterpart="valery-gerasimov")
    )

    def board(**params: Any) -> dict[str, str]:
        answer = cast.get("/v1/channels", params={"as_of": ARTICLE_DAY, **params})
        assert answer.status_code == 200, answer.text
        return {item["channel"]: item["status"] for item in answer.json()["items"]}

    assert board() == {
        "joe-biden~vladimir-putin": "no_contact",
        "lloyd-austin~sergei-shoigu": "refused",
        "mark-milley~valery-gerasimov": "dormant",
    }
    assert board(status="refused") == {"lloyd-austin~sergei-shoigu": "refused"}
    assert board(actor="Shoigu") == {"lloyd-austin~sergei-shoigu": "refused"}
    assert board(as_of="2022-02-15") == {"mark-milley~valery-gerasimov": "open"}
    assert_problem(cast.get("/v1/channels", params={"status": "cordial"}), 422)


def test_the_timeline_agrees_with_the_status_at_every_as_of(cast: TestClient) -> None:
    article_history(cast)
    answer = cast.get("/v1/channels/sergei-shoigu/lloyd-austin/timeline")
    assert answer.status_code == 200, answer.text
    timeline = answer.json()
    assert timeline["channel"] == "lloyd-austin~sergei-shoigu"
    intervals = timeline["items"]
    assert [i["status"] for i in intervals] == ["no_contact", "open", "pending", "refused"]
    assert intervals[0]["from"] is None and intervals[-1]["to"] is None
    assert intervals[1]["from"] == "2022-02-18"
    for interval in intervals[1:]:
        answer = status(cast, "lloyd-austin", "sergei-shoigu", as_of=interval["from"])
        assert answer["status"] == interval["status"]
        assert answer["since"] == interval["from"]


def test_the_timeline_keeps_the_intervals_overlapping_from_and_to(cast: TestClient) -> None:
    article_history(cast)
    answer = cast.get(
        "/v1/channels/lloyd-austin/sergei-shoigu/timeline",
        params={"from": "2022-02-19", "to": "2022-02-21"},
    )
    assert [i["status"] for i in answer.json()["items"]] == ["open", "pending"]


def test_a_channels_events_are_listed_in_valid_time_order(cast: TestClient) -> None:
    stored = article_history(cast)
    answer = cast.get("/v1/channels/sergei-shoigu/lloyd-austin/events")
    assert answer.status_code == 200, answer.text
    ids = [e["id"] for e in answer.json()["items"]]
    assert ids == [stored[name]["id"] for name in ("call", "request", "refusal")]
    assert_problem(cast.get("/v1/channels/sergei-shoigu/nobody/events"), 404)


def test_writes_answer_their_position_and_min_position_reads_them(cast: TestClient) -> None:
    stored = post_event(cast, fact("call_held", "2022-02-18"))
    answer = cast.get(
        "/v1/channels/lloyd-austin/sergei-shoigu",
        params={"min_position": stored["position"], "as_of": "2022-02-18"},
    )
    assert answer.status_code == 200
    assert answer.json()["evidence"] == [stored["id"]]


def test_a_position_not_reached_in_time_is_503_with_retry_after(make_client: Any) -> None:
    client = make_client(min_position_wait_seconds=0.2)
    answer = client.get("/v1/channels", params={"min_position": 10**6})
    problem = assert_problem(answer, 503)
    assert answer.headers["retry-after"] == "1"
    assert problem["position"] == 0


def test_recent_counts_the_events_within_the_window_before_as_of(cast: TestClient) -> None:
    # W is 30 days: as of 2022-01-31T00:00Z the window is (2022-01-01T00:00Z, as_of].
    for kind, at in [
        ("statement", "2022-01-01T00:00:00Z"),  # exactly W before: out
        ("call_requested", "2022-01-01T00:00:01Z"),
        ("statement", "2022-01-15T00:00:00Z"),
        ("call_held", "2022-01-31T00:00:00Z"),  # at as_of: in
        ("statement", "2022-01-31T00:00:01Z"),  # after as_of: not yet
    ]:
        post_event(cast, fact(kind, at))
    as_of = "2022-01-31T00:00:00Z"
    expected = {"call_held": 1, "call_requested": 1, "statement": 1}
    assert status(cast, "lloyd-austin", "sergei-shoigu", as_of=as_of)["recent"] == expected
    board = cast.get("/v1/channels", params={"as_of": as_of})
    assert board.status_code == 200, board.text
    (row,) = [c for c in board.json()["items"] if c["channel"] == "lloyd-austin~sergei-shoigu"]
    assert row["recent"] == expected
    retracted = post_event(cast, fact("statement", "2022-01-20T00:00:00Z"))
    gone = cast.post(
        f"/v1/events/{retracted['id']}/retract", json={"reason": "misdated"}, headers=WRITE
    )
    assert gone.status_code == 201, gone.text
    assert status(cast, "lloyd-austin", "sergei-shoigu", as_of=as_of)["recent"] == expected
