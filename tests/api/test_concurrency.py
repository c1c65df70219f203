"""Concurrent writers over HTTP never lose or duplicate an event, on either store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import WRITE
from tests.factories import fact

THREADS = 8
POSTS_PER_THREAD = 10
CHANNEL = "/v1/channels/lloyd-austin/sergei-shoigu"


def test_threads_posting_to_one_channel_store_every_event_once(cast: TestClient) -> None:
    start = threading.Barrier(THREADS)

    def writer(n: int) -> list[tuple[int, dict[str, Any]]]:
        start.wait()
        answers = []
        for i in range(POSTS_PER_THREAD):
            event = fact("call_requested", f"2022-03-{1 + (n + i) % 28:02d}")
            answer = cast.post("/v1/events", json=event, headers=WRITE)
            answers.append((answer.status_code, answer.json()))
        return answers

    with ThreadPoolExecutor(THREADS) as pool:
        results = [a for answers in pool.map(writer, range(THREADS)) for a in answers]

    assert {status for status, _ in results} == {201}
    positions = [body["position"] for _, body in results]
    assert len(set(positions)) == THREADS * POSTS_PER_THREAD
    listed = cast.get(f"{CHANNEL}/events", params={"limit": 1000}).json()["items"]
    assert sorted(e["id"] for e in listed) == sorted(body["id"] for _, body in results)
    status = cast.get(CHANNEL, params={"min_position": max(positions)}).json()
    assert status["event_count"] == THREADS * POSTS_PER_THREAD


def test_threads_posting_the_same_event_store_it_once(cast: TestClient) -> None:
    event = fact("call_held", "2022-02-18")
    start = threading.Barrier(THREADS)

    def writer(_: int) -> tuple[int, dict[str, Any]]:
        start.wait()
        answer = cast.post("/v1/events", json=event, headers=WRITE)
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(writer, range(THREADS)))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (THREADS - 1) + [201]
    assert len({body["position"] for _, body in results}) == 1
    listed = cast.get("/v1/events").json()["items"]
    assert [e["id"] for e in listed] == [event["id"]]


def test_reads_during_writes_always_answer(cast: TestClient) -> None:
    stop = threading.Event()
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            for path in ("/v1/channels", "/v1/events", f"{CHANNEL}/timeline"):
                answer = cast.get(path, params={"limit": 1000})
                if answer.status_code != 200:
                    failures.append(answer.text)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for day in range(1, 29):
            events = [fact("statement", f"2022-03-{day:02d}") for _ in range(20)]
            answer = cast.post("/v1/events/batch", json={"events": events}, headers=WRITE)
            assert answer.status_code == 201, answer.text
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert failures == []
