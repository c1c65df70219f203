"""GET /v1/stream from a real `backchannel serve`, on both stores: 100 subscribers at once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.settings import Settings
from service.application import POST_TOPIC, Backchannel
from service.bootstrap import bootstrap
from service.transfer import seed
from tests.e2e import processes
from tests.e2e.processes import Served, serving

pytestmark = pytest.mark.e2e

TOKEN = "e2e-" + uuid.uuid4().hex
WRITE = {"Authorization": f"Bearer {TOKEN}"}
SUBSCRIBERS = 100
READ_SECONDS = 120  # a bound for a broken test, not a measurement


def bookkeeping(app: Backchannel) -> set[int]:
    """The log's positions that are no entry of their own: an office's list of its terms,
    appended beside each term (the term itself is the stream's `term` message)."""
    return {
        n.id
        for n in app.notifications(start=1, limit=1_000_000)
        if n.topic.startswith(POST_TOPIC + ".")
    }


@pytest.fixture
def skipped(settings: Settings, server: Served) -> set[int]:
    """The seeded log's bookkeeping positions (read once the server has been seeded)."""
    app = bootstrap(settings)
    try:
        return bookkeeping(app)
    finally:
        app.close()


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    env = processes.environment(settings.database_url, write_tokens=TOKEN)
    with serving(env, tmp_path / "serve.log") as served:
        yield served


async def subscribe(
    client: httpx.AsyncClient, until: int, headers: dict[str, str] | None = None, **params: str
) -> list[tuple[int, str, dict]]:
    """Read the stream until the message with id `until`; every (id, event, data) seen."""
    seen: list[tuple[int, str, dict]] = []
    fields: dict[str, str] = {}
    async with client.stream("GET", "/v1/stream", params=params, headers=headers) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        async for line in answer.aiter_lines():
            if line == "":
                if "id" in fields:
                    seen.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                    if seen[-1][0] >= until:
                        return seen
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    return seen


def write(server: Served) -> int:
    """Post events, a batch, a retraction and an actor; the log's head after them."""
    with httpx.Client(base_url=server.url, headers=WRITE, timeout=30) as client:
        event = {
            "type": "call_requested",
            "occurred_at": "2022-03-20",
            "actor": "lloyd-austin",
            "counterpart": "sergei-shoigu",
        }
        first = client.post("/v1/events", json=event).json()
        batch = [{**event, "id": str(uuid.uuid4())} for _ in range(5)]
        client.post("/v1/events/batch", json={"events": batch})
        client.post(f"/v1/events/{first['id']}/retract", json={"reason": "duplicate"})
        actor = {"id": "wang-yi", "name": "Wang Yi", "kind": "person", "country": "CN"}
        return int(client.post("/v1/actors", json=actor).json()["position"])


def test_a_hundred_subscribers_each_get_every_entry_once_in_log_order(
    server: Served, skipped: set[int]
) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        seeded = int(client.get("/readyz").json()["head"])

    async def scenario() -> list[list[tuple[int, str, dict]]]:
        limits = httpx.Limits(max_connections=SUBSCRIBERS + 10)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as client:
            readers = [
                asyncio.ensure_future(subscribe(client, seeded + 8, after="0"))
                for _ in range(SUBSCRIBERS)
            ]
            await asyncio.sleep(1)  # the subscribers are connected, reading the seeded log
            head = await asyncio.to_thread(write, server)
            assert head == seeded + 8
            return await asyncio.wait_for(asyncio.gather(*readers), READ_SECONDS)

    results = asyncio.run(scenario())
    assert skipped, "the seeds' terms each list themselves under their office"
    expected = [p for p in range(1, seeded + 9) if p not in skipped]
    for seen in results:
        assert [position for position, _, _ in seen] == expected
    kinds = [kind for _, kind, _ in results[0]]
    assert kinds[-8:] == ["event"] * 6 + ["retraction", "actor"]
    assert "term" in kinds[:-8]  # the seeds' terms
    _, kind, data = results[0][-8]  # the first write: an event, with its channel's status
    assert kind == "event"
    assert data["position"] == seeded + 1
    assert [s["channel"] for s in data["statuses"]] == ["lloyd-austin~sergei-shoigu"]


def test_a_client_resumes_after_its_last_event_id_and_filters_by_channel(server: Served) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        events = client.get("/v1/events", params={"channel": "lloyd-austin~sergei-shoigu"})
        positions = sorted(e["position"] for e in events.json()["items"])

    async def scenario() -> tuple[list, list, list]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            first = await subscribe(client, 10, after="0")
            rest = await subscribe(client, 20, headers={"Last-Event-ID": "10"})
            channel = await asyncio.wait_for(
                subscribe(client, positions[-1], after="0", channel="Shoigu~lloyd-austin"),
                READ_SECONDS,
            )
            return first, rest, channel

    first, rest, channel = asyncio.run(scenario())
    assert [p for p, _, _ in first] == list(range(1, 11))
    assert [p for p, _, _ in rest] == list(range(11, 21))
    assert [p for p, _, _ in channel] == positions
    assert {d["channel"] for _, _, d in channel} == {"lloyd-austin~sergei-shoigu"}


OFFICE = "us-secretary-of-defense"


def test_a_term_and_its_retraction_are_term_messages_with_their_offices_statuses(
    server: Served,
) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        head = int(client.get("/readyz").json()["head"])
        # the days between two seeded secretaries, given to one of them
        term = {"person": "lloyd-austin", "from": "2025-01-20", "to": "2025-01-25"}
        written = client.post(f"/v1/actors/{OFFICE}/terms", json=term, headers=WRITE)
        assert written.status_code == 201, written.text
        term_id = written.json()["id"]
        retracted = client.post(
            f"/v1/terms/{term_id}/retract", json={"reason": "never appointed"}, headers=WRITE
        )
        assert retracted.status_code == 201, retracted.text
        last = int(retracted.json()["position"])

    async def scenario() -> list[tuple[int, str, dict]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            return await asyncio.wait_for(
                subscribe(client, last, after=str(head), actor=OFFICE),
                READ_SECONDS,
            )

    seen = asyncio.run(scenario())
    assert [kind for _, kind, _ in seen] == ["term", "term"]
    (_, _, recorded), (position, _, withdrawn) = seen
    assert position == last
    assert recorded["id"] == withdrawn["id"] == term_id
    assert recorded["retracted"] is None
    assert withdrawn["retracted"]["reason"] == "never appointed"
    for data in (recorded, withdrawn):
        assert data["office"] == OFFICE and data["person"] == "lloyd-austin"
        channels = [s["channel"] for s in data["statuses"]]
        assert "ru-minister-of-defence~us-secretary-of-defense" in channels
        assert all(OFFICE in channel for channel in channels)
