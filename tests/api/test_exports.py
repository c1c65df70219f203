"""Exports: the `format` parameter turns a read into a file, on both stores."""

from __future__ import annotations

import csv
import io
import json

import networkx as nx
import pytest
from fastapi.testclient import TestClient

from service.application import Backchannel
from service.transfer import seed
from tests.api.conftest import WRITE

PLOVER = {
    "call_requested": ("REQUEST", "meet"),
    "meeting_requested": ("REQUEST", "meet"),
    "call_refused": ("REJECT", "meet"),
    "meeting_refused": ("REJECT", "meet"),
    "call_held": ("CONSULT", "phone"),
    "meeting_held": ("CONSULT", "visit"),
    "summons": ("ACCUSE", "disapprove"),
    "hotline_use": ("CONSULT", "phone"),
}


@pytest.fixture
def seeded(client: TestClient, backchannel: Backchannel) -> TestClient:
    seed(backchannel)
    client.get("/v1/channels", params={"min_position": backchannel.head()})
    return client


def download(client: TestClient, path: str, **params: str) -> str:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    return answer.text


def every_event(client: TestClient) -> list[dict]:
    return client.get("/v1/events", params={"limit": 1000}).json()["items"]


def test_the_board_as_csv_round_trips_through_dictreader(seeded):
    rows = list(csv.DictReader(io.StringIO(download(seeded, "/v1/channels", format="csv"))))
    board = seeded.get("/v1/channels", params={"limit": 1000}).json()["items"]
    assert [r["channel"] for r in rows] == [s["channel"] for s in board]
    for row, status in zip(rows, board, strict=True):
        assert row["status"] == status["status"]
        assert row["actors"].split(" ") == status["actors"]
        assert row["evidence"].split(" ") == status["evidence"] or not status["evidence"]
        assert int(row["event_count"]) == status["event_count"]
        assert row["since"] == (status["since"] or "")
        refusals = dict(p.split(":") for p in row["refusals_since_contact"].split(";") if p)
        assert {k: int(v) for k, v in refusals.items()} == status["refusals_since_contact"]
        last = status["last_contact"] or {}
        assert row["last_contact_event_id"] == last.get("event_id", "")


def test_events_as_csv_and_json_lines_hold_every_event_as_the_api_shows_it(seeded):
    events = every_event(seeded)
    rows = list(csv.DictReader(io.StringIO(download(seeded, "/v1/events", format="csv"))))
    assert [r["id"] for r in rows] == [e["id"] for e in events]
    assert all(
        r["type"] == e["type"] and r["channel"] == e["channel"] for r, e in zip(rows, events)
    )
    lines = download(seeded, "/v1/events", format="jsonl").splitlines()
    assert [json.loads(line) for line in lines] == events


def test_plover_maps_every_type_as_domain_md_says(seeded):
    events = {e["id"]: e for e in every_event(seeded)}
    kept = [e for e in events.values() if e["type"] not in ("statement", "hotline_test")]
    retracted = kept[0]
    seeded.post(f"/v1/events/{retracted['id']}/retract", json={"reason": "x"}, headers=WRITE)
    lines = download(seeded, "/v1/events", format="plover").splitlines()
    records = [json.loads(line) for line in lines]
    assert {r["id"] for r in records} == {e["id"] for e in kept} - {retracted["id"]}
    for record in records:
        assert {"id", "date", "actor", "event"} <= record.keys()
        source = events[record["id"]]
        assert (record["event"], record["mode"]) == PLOVER[source["type"]]
        assert record["date"] == source["occurred_at"][:10]
        assert ("time" in record) == (source["precision"] == "exact")
        assert record["coder"] == "backchannel"
        assert record["precision"] == source["precision"]
        first, second = record["actor"][0], record["recipient"][0]
        assert len(first["code"]) == 3 and len(second["code"]) == 3
        named = {first["identifier_text"], second["identifier_text"]}
        assert len(named) == 2
        if source["type"] == "meeting_held":  # the guest is PLOVER's actor
            assert record["recipient"][0]["identifier_text"] != source["actor"]
        if source["type"] == "hotline_use":
            assert record["context"] == "military"
        else:
            assert record["context"] in ("military", "diplomatic")
    seen = {events[r["id"]]["type"] for r in records}
    assert {"call_held", "call_refused", "call_requested", "summons"} <= seen


def test_the_network_as_gexf_parses_back_through_networkx(seeded):
    text = download(seeded, "/v1/network", format="gexf")
    assert 'version="1.3"' in text
    graph = nx.read_gexf(io.BytesIO(text.encode("utf-8")))
    network = seeded.get("/v1/network").json()
    assert {e["channel"] for e in network["edges"]} == {
        data["channel"] for _, _, data in graph.edges(data=True)
    }
    statuses = {data["channel"]: data["status"] for _, _, data in graph.edges(data=True)}
    assert statuses == {e["channel"]: e["status"] for e in network["edges"]}
    assert statuses["lloyd-austin~sergei-shoigu"] == "refused"
    assert {n["id"] for n in network["nodes"]} == set(graph.nodes)
    for edge in network["edges"]:
        assert edge["channel"] == f"{edge['source']}~{edge['target']}"


def test_a_timeline_as_timelinejs_has_the_required_fields(seeded):
    text = download(seeded, "/v1/channels/lloyd-austin/sergei-shoigu/timeline", format="timelinejs")
    document = json.loads(text)
    assert document["events"]
    for item in document["events"]:
        assert {"start_date", "text", "group"} <= item.keys()
        assert {"year", "month", "day"} <= item["start_date"].keys()
        assert "headline" in item["text"]
    timeline = seeded.get("/v1/channels/lloyd-austin/sergei-shoigu/timeline").json()["items"]
    assert [era["text"]["headline"] for era in document["eras"]] == [
        i["status"] for i in timeline if i["from"] is not None
    ]
    assert all({"start_date", "end_date"} <= era.keys() for era in document["eras"])


def test_plover_entities_carry_sector_and_wikidata_and_context_follows_the_sectors(seeded):
    actors = {a["id"]: a for a in seeded.get("/v1/actors", params={"limit": 1000}).json()["items"]}
    events = {e["id"]: e for e in every_event(seeded)}
    records = [
        json.loads(line) for line in download(seeded, "/v1/events", format="plover").splitlines()
    ]
    contexts = set()
    for record in records:
        source = events[record["id"]]
        parties = (source["counterpart"], source["actor"])
        if source["type"] != "meeting_held":
            parties = parties[::-1]
        sectors = set()
        for entity, actor_id in zip((record["actor"][0], record["recipient"][0]), parties):
            actor = actors[actor_id]
            assert entity["sector"] == actor["sector"]
            assert entity["identifier_id"] == actor["wikidata"]
            assert entity["identifier_text"] == actor["name"]
            assert entity["office"] == actor["role"]
            sectors.add(actor["sector"])
        military = "MIL" in sectors or source["type"] == "hotline_use"
        assert record["context"] == ("military" if military else "diplomatic")
        contexts.add((tuple(sorted(parties)), record["context"]))
    assert (("lloyd-austin", "sergei-shoigu"), "military") in contexts  # both MIL
    assert (("emmanuel-macron", "vladimir-putin"), "diplomatic") in contexts  # both GOV
    putin = next(r for r in records if r["recipient"][0]["identifier_text"] == "Vladimir Putin")
    assert putin["recipient"][0]["identifier_id"] == "Q7747"


def test_one_mil_side_makes_the_context_military(client: TestClient) -> None:
    for actor in (
        {"id": "ann", "name": "Ann", "kind": "person", "country": "US", "sector": "MIL"},
        {"id": "bob", "name": "Bob", "kind": "person", "country": "RU", "sector": "DIP"},
        {"id": "cy", "name": "Cy", "kind": "person", "country": "FR"},
    ):
        assert client.post("/v1/actors", json=actor, headers=WRITE).status_code == 201
    for n, (a, b) in enumerate((("bob", "ann"), ("bob", "cy"), ("cy", "ann"))):
        call = {
            "type": "call_held",
            "occurred_at": f"2022-03-0{n + 1}",
            "actor": a,
            "counterpart": b,
            "sources": [{"name": "Reuters"}],
        }
        head = client.post("/v1/events", json=call, headers=WRITE).json()["position"]
    text = download(client, "/v1/events", format="plover", min_position=str(head))
    records = [json.loads(line) for line in text.splitlines()]
    assert [(r["actor"][0]["sector"], r["recipient"][0]["sector"]) for r in records] == [
        ("DIP", "MIL"),
        ("DIP", None),
        (None, "MIL"),
    ]
    assert [r["context"] for r in records] == ["military", "diplomatic", "military"]
