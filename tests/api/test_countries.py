"""GET /v1/countries, /v1/countries/{a}/{b} and /v1/channels?countries= (api.md, Countries)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.countries import tally
from domain.time import end_of, parse_instant, start_of
from service.application import Backchannel
from service.views import pair_view
from tests.api.conftest import WRITE, assert_problem, post_event
from tests.factories import fact

MACRON = {"id": "emmanuel-macron", "name": "Emmanuel Macron", "kind": "person", "country": "FR"}
SCHOLZ = {"id": "olaf-scholz", "name": "Olaf Scholz", "kind": "person", "country": "DE"}
BENNETT = {"id": "naftali-bennett", "name": "Naftali Bennett", "kind": "person", "country": "IL"}
US_SECDEF = {
    "id": "us-secretary-of-defense",
    "name": "US Secretary of Defense",
    "kind": "office",
    "country": "US",
}
RU_MINDEF = {
    "id": "ru-minister-of-defence",
    "name": "Minister of Defence of Russia",
    "kind": "office",
    "country": "RU",
}
STATUSES = ("refused", "pending", "open", "standby", "dormant", "no_contact")
NOW = "2030-01-01T00:00:00Z"
World = dict[str, dict[str, Any]]  # the events of `world` by name, as stored


def register(client: TestClient, *actors: dict[str, Any]) -> None:
    for actor in actors:
        answer = client.post("/v1/actors", json=actor, headers=WRITE)
        assert answer.status_code == 201, answer.text


def every_item(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
def world(cast: TestClient) -> World:
    """Channels in four pairs (US~US among them) in every status, and one retraction."""
    register(cast, MACRON, SCHOLZ, BENNETT)
    events = {
        "call": fact("call_held", "2022-02-18", precision="day"),
        "request": fact("call_requested", "2022-02-21", precision="week"),
        "refusal": fact(
            "call_refused", "2022-03-24", actor="sergei-shoigu", counterpart="lloyd-austin"
        ),
        "milley": fact(
            "call_held", "2022-02-11", actor="mark-milley", counterpart="valery-gerasimov"
        ),
        "mfa": fact("call_requested", "2022-03-10", actor="lloyd-austin", counterpart="ru-mfa"),
        "statement": fact(
            "statement", "2022-03-16", actor="joe-biden", counterpart="vladimir-putin"
        ),
        "macron": fact(
            "call_held", "2022-03-20", actor="emmanuel-macron", counterpart="vladimir-putin"
        ),
        "scholz": fact(
            "call_held", "2022-03-04", actor="olaf-scholz", counterpart="vladimir-putin"
        ),
        "cabinet": fact(
            "meeting_held", "2022-03-01", actor="joe-biden", counterpart="lloyd-austin"
        ),
    }
    stored = {name: post_event(cast, event) for name, event in events.items()}
    answer = cast.post(
        f"/v1/events/{stored['macron']['id']}/retract", json={"reason": "wrong day"}, headers=WRITE
    )
    assert answer.status_code == 201, answer.text
    stored["retraction"] = answer.json()
    return stored


def expected_pairs(client: TestClient, **at: str) -> list[dict[str, Any]]:
    """The pairs as the board's channels at `at` give them, worked out here from
    /v1/channels, /v1/actors and /v1/events."""
    actors = {a["id"]: a for a in every_item(client, "/v1/actors")}
    events = {e["id"]: e for e in every_item(client, "/v1/events")}
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    contacts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for channel in every_item(client, "/v1/channels", **at):
        a, b = (actors[i] for i in channel["actors"])
        if "office" in (a["kind"], b["kind"]):
            continue
        first, second = sorted((a["country"], b["country"]))
        counts[first, second][channel["status"]] += 1
        if channel["last_contact"]:
            contacts[first, second].append(
                {**channel["last_contact"], "channel": channel["channel"]}
            )

    def happened(contact: dict[str, Any]) -> tuple[datetime, int]:
        return start_of(parse_instant(contact["occurred_at"])), events[contact["event_id"]][
            "position"
        ]

    return [
        {
            "pair": f"{first}~{second}",
            "countries": [first, second],
            "channel_count": sum(counts[first, second].values()),
            "counts": {s: counts[first, second][s] for s in STATUSES if counts[first, second][s]},
            "last_contact": max(contacts[first, second], key=happened, default=None),
        }
        for first, second in sorted(counts)
    ]


def times(stored: World) -> list[dict[str, str]]:
    """Several (as_of, known_at): before and after the retraction was recorded."""
    before_retraction = stored["cabinet"]["recorded_at"]  # the Macron call known, not retracted
    return [
        {"as_of": as_of, "known_at": known_at}
        for as_of in ("2022-02-20", "2022-03-15", "2022-03-24", "2022-06-01")
        for known_at in (before_retraction, NOW)
    ]


def test_counts_are_what_the_boards_channels_give_per_pair(world: World, cast: TestClient) -> None:
    for at in times(world):
        assert every_item(cast, "/v1/countries", **at) == expected_pairs(cast, **at), at


def test_the_article_day_counts_every_status_of_the_russian_american_pair(
    world: World, cast: TestClient
) -> None:
    pair = cast.get("/v1/countries/RU/US", params={"as_of": "2022-03-24"}).json()
    assert pair["pair"] == "RU~US" and pair["countries"] == ["RU", "US"]
    assert pair["counts"] == {"refused": 1, "pending": 1, "dormant": 1, "no_contact": 1}
    assert pair["channel_count"] == 4
    assert pair["last_contact"] == {
        "event_id": world["call"]["id"],
        "type": "call_held",
        "occurred_at": "2022-02-18",
        "channel": "lloyd-austin~sergei-shoigu",
    }


def test_a_known_at_before_the_retraction_still_counts_the_retracted_call(
    world: World, cast: TestClient
) -> None:
    before = {"as_of": "2022-03-24", "known_at": world["cabinet"]["recorded_at"]}
    pairs = {p["pair"]: p for p in every_item(cast, "/v1/countries", **before)}
    assert pairs["FR~RU"]["counts"] == {"open": 1}
    assert pairs["FR~RU"]["last_contact"]["event_id"] == world["macron"]["id"]
    now = {p["pair"]: p for p in every_item(cast, "/v1/countries", as_of="2022-03-24")}
    assert "FR~RU" not in now  # its one channel has no event left on the board
    assert set(now) == {"DE~RU", "RU~US", "US~US"}
    assert now["US~US"]["counts"] == {"open": 1}


def test_the_pairs_are_the_replayed_boards_tally(
    world: World, cast: TestClient, backchannel: Backchannel
) -> None:
    record = backchannel.refresh()
    for at in times(world):
        as_of, known_at = (
            end_of(parse_instant(at["as_of"])),
            start_of(parse_instant(at["known_at"])),
        )
        board = record.board(as_of=as_of, known_at=known_at)
        expected = [pair_view(p) for p in tally(board, record.actors)]
        assert every_item(cast, "/v1/countries", **at) == expected, at


def test_pairs_come_in_pages_that_together_list_each_once(world: World, cast: TestClient) -> None:
    at = {"as_of": "2022-03-24", "known_at": world["cabinet"]["recorded_at"]}
    whole = cast.get("/v1/countries", params=at).json()
    assert whole["next_cursor"] is None
    assert [p["pair"] for p in whole["items"]] == ["DE~RU", "FR~RU", "RU~US", "US~US"]
    first = cast.get("/v1/countries", params={**at, "limit": 3}).json()
    assert len(first["items"]) == 3
    # The next page answers as of the first: its times travel in the cursor.
    rest = every_item(cast, "/v1/countries", limit=1, cursor=first["next_cursor"])
    assert first["items"] + rest == whole["items"]


def test_one_pair_reads_the_same_in_either_order_and_case(world: World, cast: TestClient) -> None:
    at = {"as_of": "2022-03-15"}
    listed = {p["pair"]: p for p in every_item(cast, "/v1/countries", **at)}
    for a, b in (("RU", "US"), ("us", "ru"), ("Us", "rU")):
        answer = cast.get(f"/v1/countries/{a}/{b}", params=at)
        assert answer.status_code == 200, answer.text
        assert answer.json() == listed["RU~US"]
        assert int(answer.headers["X-Backchannel-Position"]) >= world["retraction"]["position"]
    assert cast.get("/v1/countries/us/us", params=at).json() == listed["US~US"]


def test_known_countries_without_a_channel_give_an_empty_pair(
    world: World, cast: TestClient
) -> None:
    answer = cast.get("/v1/countries/IL/us")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "pair": "IL~US",
        "countries": ["IL", "US"],
        "channel_count": 0,
        "counts": {},
        "last_contact": None,
    }


def test_a_country_no_actor_has_is_404(world: World, cast: TestClient) -> None:
    problem = assert_problem(cast.get("/v1/countries/RU/ZZ"), 404)
    assert "ZZ" in problem["detail"] and "RU" not in problem["detail"]
    problem = assert_problem(cast.get("/v1/countries/xx/yy"), 404)
    assert "XX" in problem["detail"] and "YY" in problem["detail"]


def test_office_channels_are_not_counted(world: World, cast: TestClient) -> None:
    register(cast, US_SECDEF, RU_MINDEF)
    before = cast.get("/v1/countries/RU/US").json()
    post_event(
        cast, fact("call_held", "2022-03-22", actor=US_SECDEF["id"], counterpart=RU_MINDEF["id"])
    )
    written = post_event(
        cast, fact("call_held", "2022-03-23", actor=US_SECDEF["id"], counterpart="sergei-shoigu")
    )
    read = {"min_position": written["position"]}
    board = {c["channel"] for c in every_item(cast, "/v1/channels", **read)}
    assert f"{RU_MINDEF['id']}~{US_SECDEF['id']}" in board  # on the board, as recorded
    assert cast.get("/v1/countries/RU/US", params=read).json() == before
    between = every_item(cast, "/v1/channels", countries="RU,US", **read)
    kinds = {a["id"]: a["kind"] for a in every_item(cast, "/v1/actors")}
    assert between and all(kinds[a] != "office" for c in between for a in c["actors"])
    assert every_item(cast, "/v1/countries") == expected_pairs(cast)


def test_the_board_filtered_by_countries_is_the_pairs_channels(
    world: World, cast: TestClient
) -> None:
    actors = {a["id"]: a for a in every_item(cast, "/v1/actors")}
    for at in times(world):
        board = every_item(cast, "/v1/channels", **at)
        for pair in every_item(cast, "/v1/countries", **at):
            expected = [
                c
                for c in board
                if sorted(actors[i]["country"] for i in c["actors"]) == pair["countries"]
            ]
            a, b = pair["countries"]
            between = every_item(cast, "/v1/channels", countries=f"{b.lower()},{a}", limit=1, **at)
            assert between == expected, (at, pair["pair"])
            assert len(between) == pair["channel_count"]
            assert Counter(c["status"] for c in between) == pair["counts"]


def test_the_countries_filter_combines_with_status_and_actor(
    world: World, cast: TestClient
) -> None:
    def channels(**params: Any) -> list[str]:
        return [
            c["channel"] for c in every_item(cast, "/v1/channels", as_of="2022-03-24", **params)
        ]

    assert channels(countries="RU,US", status="refused") == ["lloyd-austin~sergei-shoigu"]
    assert channels(countries="RU,US", actor="Secretary Austin") == [
        "lloyd-austin~ru-mfa",
        "lloyd-austin~sergei-shoigu",
    ]
    assert channels(countries="US,US", actor="lloyd-austin") == ["joe-biden~lloyd-austin"]
    assert channels(countries="DE,FR") == []
    csv = cast.get("/v1/channels", params={"countries": "de,ru", "format": "csv"}).text
    assert [line.split(",")[0] for line in csv.splitlines()[1:]] == ["olaf-scholz~vladimir-putin"]


@pytest.mark.parametrize("countries", ["RUS,US", "RU", "RU,", "R1,US", "RU;US", "RU,US,FR", ""])
def test_a_countries_filter_that_is_not_two_codes_is_422(cast: TestClient, countries: str) -> None:
    for path in ("/v1/channels", "/v1/transitions"):
        problem = assert_problem(cast.get(path, params={"countries": countries}), 422)
        assert problem["errors"][0]["loc"] == ["query", "countries"]


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/v1/countries/RUS/US", ["path", "a"]),
        ("/v1/countries/RU/1S", ["path", "b"]),
        ("/v1/countries/RU/US?as_of=banana", ["query", "as_of"]),
        ("/v1/countries?known_at=2022-03-24", ["query", "known_at"]),
        ("/v1/countries?limit=0", ["query", "limit"]),
        ("/v1/countries?cursor=nonsense", ["query", "cursor"]),
    ],
)
def test_bad_input_to_the_country_routes_is_422(
    cast: TestClient, path: str, where: list[str]
) -> None:
    problem = assert_problem(cast.get(path), 422)
    assert problem["errors"][0]["loc"] == where


def test_a_cursor_of_another_list_is_422(world: World, cast: TestClient) -> None:
    channels = cast.get("/v1/channels", params={"limit": 1}).json()["next_cursor"]
    problem = assert_problem(cast.get("/v1/countries", params={"cursor": channels}), 422)
    assert problem["errors"][0]["loc"] == ["query", "cursor"]


def test_the_latest_contact_of_a_pair_breaks_ties_by_position(cast: TestClient) -> None:
    first = post_event(
        cast, fact("call_held", "2022-03-01", actor="mark-milley", counterpart="valery-gerasimov")
    )
    second = post_event(cast, fact("call_held", "2022-03-01"))
    pair = cast.get("/v1/countries/US/RU", params={"min_position": second["position"]}).json()
    assert pair["last_contact"]["event_id"] == second["id"]
    assert first["position"] < second["position"]
    older = post_event(
        cast, fact("meeting_held", "2022-02-01", actor="joe-biden", counterpart="ru-mfa")
    )
    pair = cast.get("/v1/countries/US/RU", params={"min_position": older["position"]}).json()
    assert pair["last_contact"]["event_id"] == second["id"]
    assert pair["channel_count"] == 3


def test_an_empty_record_has_no_pairs(client: TestClient) -> None:
    assert client.get("/v1/countries").json() == {"items": [], "next_cursor": None}
    assert_problem(client.get("/v1/countries/RU/US"), 404)
