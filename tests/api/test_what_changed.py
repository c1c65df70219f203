"""GET /v1/transitions and /v1/revisions over the reference article, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from domain.changes import in_order, transitions
from domain.time import end_of
from service.application import Backchannel
from service.transfer import seed
from service.views import transition_view
from tests.api.conftest import WRITE, assert_problem

WEEK = {"from": "2022-02-20", "to": "2022-02-27"}  # the week of Monday 2022-02-21
DEFENCE = {"lloyd-austin~sergei-shoigu", "mark-milley~valery-gerasimov"}


@pytest.fixture
def seeded(client: TestClient, backchannel: Backchannel) -> TestClient:
    seed(backchannel)
    client.get("/v1/channels", params={"min_position": backchannel.head()})
    return client


def all_pages(client: TestClient, path: str, params: dict) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        answer = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_the_week_of_21_february_shows_both_defence_channels_turning_refused(seeded):
    items = seeded.get("/v1/transitions", params=WEEK).json()["items"]
    refused = {i["channel"] for i in items if i["after"] == "refused" and i["at"] == "2022-02-21"}
    assert refused >= DEFENCE
    for item in items:
        if item["channel"] in DEFENCE:
            assert (item["before"], item["after"]) == ("open", "refused")
            assert item["actors"] == item["channel"].split("~")
            assert len(item["evidence"]) >= 2  # the last call, and the refusal


def test_transitions_are_the_replayed_timelines_boundaries_page_by_page(seeded, backchannel):
    record = backchannel.refresh()
    now = datetime.now(UTC)
    start, end = end_of(datetime(2022, 1, 1).date()), end_of(datetime(2022, 6, 30).date())
    expected = in_order(
        t
        for channel in record.by_channel
        for t in transitions(
            channel, record.timeline(*channel.split("~"), known_at=now), start, end
        )
    )
    params = {"from": "2022-01-01", "to": "2022-06-30", "known_at": now.isoformat(), "limit": 2}
    got = all_pages(seeded, "/v1/transitions", params)
    assert got == [transition_view(t) for t in expected]
    assert any(t["before"] == "open" and t["after"] == "dormant" for t in got)  # a lapse


def test_transitions_filter_by_actor_alias_channel_and_countries(seeded):
    span = {"from": "2022-01-01", "to": "2022-06-30"}
    by_alias = seeded.get("/v1/transitions", params={**span, "actor": "Shoygu"}).json()["items"]
    assert by_alias and {i["channel"] for i in by_alias} == {"lloyd-austin~sergei-shoigu"}
    one = seeded.get(
        "/v1/transitions", params={**span, "channel": "sergei-shoigu~lloyd-austin"}
    ).json()["items"]
    assert one == by_alias
    between = seeded.get("/v1/transitions", params={**span, "countries": "ru,us"}).json()["items"]
    assert {i["channel"] for i in between} >= DEFENCE
    assert not any("macron" in i["channel"] for i in between)


def test_transitions_default_to_the_seven_days_before_now(seeded):
    assert seeded.get("/v1/transitions").json() == {"items": [], "next_cursor": None}


def test_a_range_that_ends_before_it_starts_holds_no_transition(seeded):
    backwards = seeded.get("/v1/transitions", params={"from": "2022-03-01", "to": "2022-02-01"})
    assert backwards.json() == {"items": [], "next_cursor": None}
    assert_problem(seeded.get("/v1/transitions", params={"countries": "RUS,US"}), 422)


def test_revisions_name_what_was_recorded_and_retracted_in_between(seeded, backchannel):
    since = datetime.now(UTC)
    record = backchannel.refresh()
    call = next(
        e
        for e in record.channel_events("lloyd-austin~sergei-shoigu")
        if e.type.value == "call_held"
    )
    retracted = seeded.post(
        f"/v1/events/{call.id}/retract", json={"reason": "date unconfirmed"}, headers=WRITE
    ).json()
    statement = seeded.post(
        "/v1/events",
        json={
            "type": "statement",
            "occurred_at": "2022-03-01",
            "actor": "joe-biden",
            "counterpart": "vladimir-putin",
        },
        headers=WRITE,
    ).json()
    params = {
        "since": since.isoformat(),
        "as_of": "2022-02-19",
        "min_position": statement["position"],
    }
    items = seeded.get("/v1/revisions", params=params).json()["items"]
    assert [i["channel"] for i in items] == ["lloyd-austin~sergei-shoigu"]  # a statement alone
    (item,) = items  # changes no answer
    assert item["before"] == {"status": "open", "since": "2022-02-18"}
    assert item["after"] == {"status": "no_contact", "since": None}
    assert item["retracted"] == [str(call.id)] and item["recorded"] == []
    assert retracted["event_id"] == str(call.id)
    later = seeded.get("/v1/revisions", params={**params, "since": retracted["recorded_at"]})
    assert later.json()["items"] == []


def test_revisions_list_every_channel_the_seed_brought_on_page_by_page(seeded, backchannel):
    before = datetime(2000, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC) + timedelta(seconds=1)
    items = all_pages(
        seeded,
        "/v1/revisions",
        {"since": before.isoformat(), "until": now.isoformat(), "as_of": "2022-03-24", "limit": 3},
    )
    record = backchannel.refresh()
    on_board = sorted(
        s.channel for s in record.board(as_of=end_of(datetime(2022, 3, 24).date()), known_at=now)
    )
    changed = [
        c
        for c in on_board
        if record.status(
            *c.split("~"), as_of=end_of(datetime(2022, 3, 24).date()), known_at=now
        ).status.value
        != "no_contact"
    ]
    assert [i["channel"] for i in items] == changed
    assert all(i["before"] == {"status": "no_contact", "since": None} for i in items)
    assert all(i["recorded"] for i in items)


def test_revisions_need_since(seeded):
    body = assert_problem(seeded.get("/v1/revisions"), 422)
    assert body["errors"][0]["loc"] == ["query", "since"]


def test_the_stream_checks_its_parameters_before_it_opens(seeded):
    assert_problem(seeded.get("/v1/stream", params={"after": "-1"}), 422)
    assert_problem(seeded.get("/v1/stream", params={"channel": "no-tilde"}), 422)
