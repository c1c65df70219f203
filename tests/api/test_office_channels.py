"""GET /v1/channels?kind=office: every pair of offices with an event under the office rule.

Over the seeds (the article's offices and their holders 2012 to 2025) and over small
records of the test's own; the answers are also checked against the reference
replay of the log (domain.record), which applies the office rule itself.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.events import channel_actors
from domain.time import end_of
from service.replay import ReplayingBackchannel
from service.transfer import seed
from service.views import status_view
from tests.api.conftest import WRITE, assert_problem, post_event
from tests.factories import fact

DEFENCE = "ru-minister-of-defence~us-secretary-of-defense"
STAFFS = "ru-chief-of-the-general-staff~us-chairman-of-the-joint-chiefs"
DAYS = ["2022-02-17", "2022-02-20", "2022-03-24", "2023-06-01", "2024-07-01", "2025-03-01"]
# What a status says about the channel's history, whichever two actors it joins.
STORY = (
    "status",
    "since",
    "last_contact",
    "requests_since_contact",
    "refusals_since_contact",
    "recent",
    "event_count",
    "evidence",
)


@pytest.fixture
def seeded(client: TestClient, backchannel: ReplayingBackchannel) -> TestClient:
    seed(backchannel)
    head = backchannel.head()
    assert client.get("/v1/channels", params={"min_position": head}).status_code == 200
    return client


def offices(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every item of the office channels, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"kind": "office", **params, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/v1/channels", params=query)
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return items


def story(status: dict[str, Any]) -> dict[str, Any]:
    return {name: status[name] for name in STORY}


def test_the_defence_posts_read_as_austin_and_shoigu_then_talk_again_in_2024(
    seeded: TestClient,
) -> None:
    on_the_day = {c["channel"]: c for c in offices(seeded, as_of="2022-03-24")}
    assert set(on_the_day) == {DEFENCE, STAFFS}
    posts = on_the_day[DEFENCE]
    assert posts["actors"] == ["ru-minister-of-defence", "us-secretary-of-defense"]
    assert (posts["status"], posts["since"]) == ("refused", "2022-02-21")
    men = seeded.get("/v1/channels/lloyd-austin/sergei-shoigu", params={"as_of": "2022-03-24"})
    assert story(posts) == story(men.json())  # the article's table, as the posts
    assert story(on_the_day[STAFFS]) == story(
        seeded.get(
            "/v1/channels/mark-milley/valery-gerasimov", params={"as_of": "2022-03-24"}
        ).json()
    )
    before = {c["channel"]: c["status"] for c in offices(seeded, as_of="2022-02-20")}
    assert before == {DEFENCE: "open", STAFFS: "open"}

    july = {c["channel"]: c for c in offices(seeded, as_of="2024-07-01")}
    assert (july[DEFENCE]["status"], july[DEFENCE]["since"]) == ("open", "2024-06-25")
    call = seeded.get(f"/v1/events/{july[DEFENCE]['last_contact']['event_id']}").json()
    assert (call["actor"], call["counterpart"]) == ("lloyd-austin", "andrei-belousov")
    assert july[DEFENCE]["event_count"] == 4
    men = seeded.get("/v1/channels/lloyd-austin/sergei-shoigu", params={"as_of": "2024-07-01"})
    assert men.json()["status"] != "open"
    # The list says what one channel's own read says.
    one = seeded.get(
        "/v1/channels/us-secretary-of-defense/ru-minister-of-defence",
        params={"as_of": "2024-07-01", "known_at": july[DEFENCE]["known_at"]},
    ).json()
    assert one == july[DEFENCE]
    assert offices(seeded, as_of="2022-02-10") == []  # before the first call of either pair


def test_the_office_channels_are_the_replayed_office_rules_at_every_day(
    seeded: TestClient, backchannel: ReplayingBackchannel
) -> None:
    record = backchannel.refresh()
    now = datetime.now(UTC)
    for day in DAYS:
        as_of = end_of(date.fromisoformat(day))
        expected = []
        for channel in record.office_channels(now):
            answer = record.status(
                *channel_actors(channel), as_of=as_of, known_at=now, window=backchannel.window
            )
            if answer.event_count:
                expected.append(status_view(dataclasses.replace(answer, events=())))
        got = offices(seeded, as_of=day, known_at=now.isoformat())
        assert got == expected, day


def test_an_office_and_a_person_are_a_channel_but_not_a_pair_of_offices(
    seeded: TestClient,
) -> None:
    mixed = seeded.get("/v1/channels/lloyd-austin/ru-minister-of-defence").json()
    assert mixed["event_count"] == 4  # Austin's calls with both holders of the post
    envoy = seeded.get("/v1/channels/us-ambassador-to-russia/ru-mfa").json()
    assert envoy["event_count"] == 1  # the summons of John Sullivan, ambassador then
    listed = {c["channel"] for c in offices(seeded)}
    assert listed == {DEFENCE, STAFFS}
    assert mixed["channel"] not in listed and envoy["channel"] not in listed
    kinds = {
        a["id"]: a["kind"] for a in seeded.get("/v1/actors", params={"limit": 1000}).json()["items"]
    }
    assert all(kinds[a] == "office" for c in offices(seeded) for a in c["actors"])


def test_the_board_without_kind_is_unchanged_by_offices(
    seeded: TestClient, backchannel: ReplayingBackchannel
) -> None:
    record = backchannel.refresh()
    now = datetime.now(UTC)
    for day in DAYS:
        board = seeded.get(
            "/v1/channels", params={"as_of": day, "known_at": now.isoformat(), "limit": 1000}
        ).json()["items"]
        replayed = [
            status_view(s)
            for s in record.board(as_of=end_of(date.fromisoformat(day)), known_at=now)
        ]
        assert board == replayed, day
        assert not {DEFENCE, STAFFS} & {c["channel"] for c in board}  # no fact twice


def test_the_filters_pages_and_file_of_the_board_apply_to_office_channels(
    seeded: TestClient,
) -> None:
    at = {"as_of": "2024-07-01", "known_at": datetime.now(UTC).isoformat()}
    assert [c["channel"] for c in offices(seeded, status="open", **at)] == [DEFENCE]
    assert [c["channel"] for c in offices(seeded, status="refused", **at)] == [STAFFS]
    assert [c["channel"] for c in offices(seeded, actor="Pentagon chief", **at)] == [DEFENCE]
    assert offices(seeded, actor="lloyd-austin", **at) == []  # a holder is not a post
    first = seeded.get("/v1/channels", params={"kind": "office", "limit": 1, **at}).json()
    assert [c["channel"] for c in first["items"]] == [STAFFS]
    assert offices(seeded, limit=1, **at) == offices(seeded, **at)
    # A cursor belongs to its own list: the board's is refused here, and this one there.
    problem = assert_problem(
        seeded.get("/v1/channels", params={"cursor": first["next_cursor"]}), 422
    )
    assert problem["errors"][0]["loc"] == ["query", "cursor"]
    board_cursor = seeded.get("/v1/channels", params={"limit": 1}).json()["next_cursor"]
    problem = assert_problem(
        seeded.get("/v1/channels", params={"kind": "office", "cursor": board_cursor}), 422
    )
    assert problem["errors"][0]["loc"] == ["query", "cursor"]

    answer = seeded.get("/v1/channels", params={"kind": "office", "format": "csv", **at})
    assert answer.status_code == 200, answer.text
    assert "office-channels" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["channel"], r["status"]) for r in rows] == [
        (c["channel"], c["status"]) for c in offices(seeded, **at)
    ]


def test_a_later_page_keeps_the_times_of_the_first(seeded: TestClient) -> None:
    first = seeded.get("/v1/channels", params={"kind": "office", "limit": 1}).json()
    pinned = first["items"][0]["known_at"]
    written = post_event(
        seeded,
        fact(
            "call_refused",
            "2025-03-01",
            actor="ru-minister-of-defence",
            counterpart="us-secretary-of-defense",
        ),
    )
    read = {"min_position": written["position"]}
    rest = seeded.get(
        "/v1/channels", params={"kind": "office", "cursor": first["next_cursor"], **read}
    ).json()["items"]
    assert [(c["channel"], c["known_at"], c["status"]) for c in rest] == [
        (DEFENCE, pinned, "dormant")
    ]
    now = {c["channel"]: c for c in offices(seeded, **read)}
    assert now[DEFENCE]["status"] == "refused"  # the posts' own refusal counts too
    assert now[DEFENCE]["event_count"] == 5


def _pair_of_offices_with_holders(client: TestClient) -> dict[str, Any]:
    """Two offices, a holder each, one call between the holders: the ids and writes."""
    for actor in (
        {"id": "fr-foreign-minister", "name": "French Foreign Minister", "country": "FR"},
        {"id": "de-foreign-minister", "name": "German Foreign Minister", "country": "DE"},
    ):
        answer = client.post("/v1/actors", json={**actor, "kind": "office"}, headers=WRITE)
        assert answer.status_code == 201, answer.text
    for actor in (
        {"id": "jean-dupont", "name": "Jean Dupont", "country": "FR"},
        {"id": "hans-muller", "name": "Hans Müller", "country": "DE"},
    ):
        answer = client.post("/v1/actors", json={**actor, "kind": "person"}, headers=WRITE)
        assert answer.status_code == 201, answer.text
    terms = []
    for office, person in (
        ("fr-foreign-minister", "jean-dupont"),
        ("de-foreign-minister", "hans-muller"),
    ):
        answer = client.post(
            f"/v1/actors/{office}/terms",
            json={"person": person, "from": "2020-01-01"},
            headers=WRITE,
        )
        assert answer.status_code == 201, answer.text
        terms.append(answer.json())
    call = post_event(
        client, fact("call_held", "2022-05-02", actor="jean-dupont", counterpart="hans-muller")
    )
    return {"terms": terms, "call": call}


def test_a_retracted_term_takes_its_holders_facts_off_the_pair_from_then_on(
    client: TestClient,
) -> None:
    written = _pair_of_offices_with_holders(client)
    pair = "de-foreign-minister~fr-foreign-minister"
    read = {"min_position": written["call"]["position"]}
    listed = offices(client, **read)
    assert [(c["channel"], c["status"], c["event_count"]) for c in listed] == [(pair, "dormant", 1)]
    gone = client.post(
        f"/v1/terms/{written['terms'][0]['id']}/retract",
        json={"reason": "not in office then"},
        headers=WRITE,
    )
    assert gone.status_code == 201, gone.text
    after = {"min_position": gone.json()["position"]}
    assert offices(client, **after) == []
    events = client.get(f"/v1/channels/{pair.replace('~', '/')}/events", params=after).json()
    assert events["items"] == []
    # As the record stood before the retraction, the pair still had the call.
    then = {"known_at": written["call"]["recorded_at"], **after}
    assert [c["channel"] for c in offices(client, **then)] == [pair]
    assert offices(client, **then)[0]["last_contact"]["event_id"] == written["call"]["id"]
    # The holders' own channel keeps its call: terms never touch person channels.
    board = client.get("/v1/channels", params=after).json()["items"]
    assert [c["channel"] for c in board] == ["hans-muller~jean-dupont"]


def test_an_event_between_two_offices_themselves_lists_the_pair_on_both_lists(
    client: TestClient,
) -> None:
    for actor in (
        {"id": "us-secretary-of-state", "name": "US Secretary of State", "country": "US"},
        {"id": "ru-foreign-minister", "name": "Russian Foreign Minister", "country": "RU"},
    ):
        answer = client.post("/v1/actors", json={**actor, "kind": "office"}, headers=WRITE)
        assert answer.status_code == 201, answer.text
    written = post_event(
        client,
        fact(
            "meeting_requested",
            "2022-01-10",
            actor="us-secretary-of-state",
            counterpart="ru-foreign-minister",
        ),
    )
    read = {"min_position": written["position"], "as_of": "2022-03-24"}
    read["known_at"] = written["recorded_at"]
    listed = offices(client, **read)
    assert [(c["channel"], c["status"]) for c in listed] == [
        ("ru-foreign-minister~us-secretary-of-state", "pending")
    ]
    board = client.get("/v1/channels", params=read).json()["items"]
    assert board == listed  # recorded between its own two actors: on the board as well


@pytest.mark.parametrize("kind", ["person", "OFFICE", "offices", "", "institution"])
def test_a_kind_other_than_office_is_422(client: TestClient, kind: str) -> None:
    problem = assert_problem(client.get("/v1/channels", params={"kind": kind}), 422)
    assert problem["errors"][0]["loc"] == ["query", "kind"]
    assert "office" in problem["errors"][0]["msg"]


def test_kind_office_with_a_country_pair_is_422(client: TestClient) -> None:
    answer = client.get("/v1/channels", params={"kind": "office", "countries": "RU,US"})
    problem = assert_problem(answer, 422)
    assert problem["errors"] == [
        {
            "loc": ["query", "countries"],
            "msg": "not with kind=office: a country pair's channels leave office channels out",
        }
    ]


def test_the_openapi_document_names_the_one_kind_and_what_it_lists(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    parameters = document["paths"]["/v1/channels"]["get"]["parameters"]
    kind = next(p for p in parameters if p["name"] == "kind")
    assert kind["in"] == "query" and not kind.get("required", False)
    schema = kind["schema"]
    options = schema.get("anyOf", [schema])
    referenced = [o["$ref"].rsplit("/", 1)[-1] for o in options if "$ref" in o]
    enums = [o["enum"] for o in options if "enum" in o]
    enums += [document["components"]["schemas"][name]["enum"] for name in referenced]
    assert enums == [["office"]]
    assert "pair of offices" in kind["description"]
    assert "office rule" in kind["description"]
