"""`backchannel serve` through a PostgreSQL restart and a 10 s outage, under load.

The database is a throwaway server of the test's own. Writers (unique ids, a 503
retried with the same id) and readers run from threads the whole time, and a
poller watches `/readyz`. The server is restarted once and stopped for 10 s once.
Every request must be answered, within the store's timeouts: 503 while the store
is away, and a success from the moment it is back. Afterwards every acknowledged
write is in the log, and the read model equals a replay of the log. Run with the
projector inside `serve` and as its own `backchannel projector` process.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.time import end_of
from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.replay import ReplayingBackchannel
from service.transfer import seed
from service.views import interval_view, status_view
from tests.e2e.processes import command, free_port, stop, tail, wait_until_ready
from tests.postgres_server import ThrowawayServer, server_url

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

TOKEN = "outage-" + uuid.uuid4().hex
CONNECT_TIMEOUT = 2.0
STATEMENT_TIMEOUT = 3.0
# The longest any answer may take. One use of the store gives up after the connect
# timeout; requests queued behind the application's fold lock each wait for it in
# turn, so a few concurrent requests can take a multiple of it.
BOUND = 2 * (CONNECT_TIMEOUT + STATEMENT_TIMEOUT)
OUTAGE = 10.0
PAIRS = [
    ("lloyd-austin", "sergei-shoigu"),
    ("mark-milley", "valery-gerasimov"),
    ("jake-sullivan", "nikolai-patrushev"),
]
TYPES = ["call_requested", "call_held", "meeting_held"]


@dataclass(frozen=True)
class Answer:
    kind: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all
    error: str = ""

    @property
    def latency(self) -> float:
        return self.ended - self.started


@dataclass
class Load:
    """Writers, readers and a /readyz poller against one served URL."""

    url: str
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)  # id -> the status it got
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, client: httpx.Client, kind: str, method: str, path: str, **kw: Any) -> Answer:
        started = time.monotonic()
        try:
            response = client.request(method, path, **kw)
            answer = Answer(kind, started, time.monotonic(), response.status_code)
            if response.status_code == 503:
                assert response.headers["content-type"] == "application/problem+json"
                assert "Retry-After" in response.headers
        except httpx.HTTPError as error:
            answer = Answer(kind, started, time.monotonic(), None, repr(error))
        with self.lock:
            self.answers.append(answer)
        return answer

    def writer(self, seed_: int) -> None:
        rng = random.Random(seed_)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.done.is_set():
                actor, counterpart = rng.choice(PAIRS)
                event = {
                    "id": str(uuid.uuid4()),
                    "type": rng.choice(TYPES),
                    "occurred_at": f"2022-0{rng.randint(4, 9)}-{rng.randint(10, 28)}",
                    "actor": actor,
                    "counterpart": counterpart,
                    "summary": "written during the outage test",
                }
                while True:  # the same id until it is acknowledged
                    answer = self.call(
                        client, "write", "POST", "/v1/events", json=event, headers=headers
                    )
                    if answer.status in (200, 201):
                        with self.lock:
                            self.acknowledged[event["id"]] = answer.status
                        break
                    if answer.status != 503 or self.done.is_set():
                        break
                    time.sleep(0.2)
                time.sleep(0.05)

    def reader(self, seed_: int) -> None:
        rng = random.Random(seed_)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.done.is_set():
                actor, counterpart = rng.choice(PAIRS)
                path = rng.choice(
                    ["/v1/channels", f"/v1/channels/{actor}/{counterpart}", "/v1/actors"]
                )
                self.call(client, "read", "GET", path)
                time.sleep(0.05)

    def poller(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.done.is_set():
                self.call(client, "readyz", "GET", "/readyz")
                time.sleep(0.25)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Writers, readers and the poller, for the `with` block; stopped and joined after."""
        threads = [
            *(threading.Thread(target=self.writer, args=(i,)) for i in range(2)),
            *(threading.Thread(target=self.reader, args=(i,)) for i in range(2)),
            threading.Thread(target=self.poller),
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.done.set()
            for thread in threads:
                thread.join(60)
        assert not any(t.is_alive() for t in threads), "a load thread is stuck"

    def between(self, start: float, end: float, kind: str | None = None) -> list[Answer]:
        """The answers to requests sent and answered within [start, end]."""
        return [
            a
            for a in self.answers
            if start <= a.started and a.ended <= end and (kind is None or a.kind == kind)
        ]


def environment(url: str, *, embedded: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKCHANNEL_")}
    return env | {
        "BACKCHANNEL_DATABASE_URL": url,
        "BACKCHANNEL_WRITE_TOKENS": TOKEN,
        "BACKCHANNEL_LOG_FORMAT": "json",
        "BACKCHANNEL_EMBEDDED_PROJECTOR": "true" if embedded else "false",
        "BACKCHANNEL_DB_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
        "BACKCHANNEL_DB_STATEMENT_TIMEOUT_SECONDS": str(STATEMENT_TIMEOUT),
    }


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [*command(), *args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture
def store(throwaway_postgres: ThrowawayServer) -> Settings:
    settings = Settings(database_url=server_url(throwaway_postgres), log_format="console")
    migrate(settings)
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    return settings


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait until `condition()` holds; return how long that took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what} not within {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - started


def up_to_date(url: str) -> bool:
    answer = httpx.get(f"{url}/readyz", timeout=5)
    return answer.status_code == 200 and answer.json().get("lag") == 0


@pytest.mark.parametrize("embedded", [True, False], ids=["inside-serve", "standalone"])
def test_service_answers_503_through_an_outage_and_recovers_without_losing_a_write(
    store: Settings, throwaway_postgres: ThrowawayServer, tmp_path: Path, embedded: bool
) -> None:
    env = environment(store.database_url, embedded=embedded)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    processes = []
    if not embedded:
        processes.append(start(["projector"], env, tmp_path / "projector.log"))
    serve = start(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log)
    processes.append(serve)
    load = Load(url)
    try:
        wait_until_ready(serve, url, log)
        with load.running():
            time.sleep(3)
            throwaway_postgres.stop()
            throwaway_postgres.start()
            restarted = time.monotonic()
            time.sleep(3)
            # The server shuts down while stop() runs: a request answered after this
            # instant may have met it going away.
            stopping = time.monotonic()
            throwaway_postgres.stop()
            stopped = time.monotonic()
            time.sleep(OUTAGE)
            # From here the server may answer again before start() has seen it ready.
            returning = time.monotonic()
            throwaway_postgres.start()
            back = time.monotonic()
            time.sleep(4)
        ended = time.monotonic()
        for process in processes:
            assert process.poll() is None, tail(log)
        caught_up = wait_for(lambda: up_to_date(url), 60, "the read model up to date")

        answers = load.answers
        unanswered = [a for a in answers if a.status is None]
        assert not unanswered, unanswered[:5]  # the service itself stays reachable
        assert not [a for a in answers if (a.status or 0) >= 500 and a.status != 503], tail(log)
        slowest = max(a.latency for a in answers)
        slow = [a for a in answers if a.latency > BOUND]
        assert not slow, [
            (a.kind, a.status, round(a.started - stopped, 1), round(a.latency, 1)) for a in slow
        ]

        # The store away (once the connections in flight have failed): 503, every one.
        # (One answered after the store came back may have succeeded.)
        sent = [a for a in answers if stopped + CONNECT_TIMEOUT <= a.started < returning]
        assert {"write", "read", "readyz"} <= {a.kind for a in sent}
        during = [a for a in sent if a.ended <= returning]
        assert {a.status for a in during} == {503}, sorted({a.status or 0 for a in during})
        # The store back: every request succeeds, the first one too (readiness may
        # wait for the projector's next retry).
        for since, until in ((restarted, stopping), (back, ended)):
            after = [a for a in load.between(since, until) if a.kind != "readyz"]
            assert after, "no requests after the store came back"
            failed = [a for a in after if a.status not in (200, 201)]
            assert not failed, failed[:5]
        readiness = load.between(stopped + 1.0, returning, "readyz")
        assert readiness and {a.status for a in readiness} == {503}
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200

        failing = [a for a in answers if a.status == 503 and a.kind != "readyz"]
        report = (
            f"{len(answers)} answers; 503 from {min(a.started for a in failing) - stopped:+.1f}s"
            f" to {max(a.ended for a in failing) - back:+.1f}s around the outage"
            f" ({len(failing)} answers), slowest answer {slowest:.2f}s,"
            f" caught up {caught_up:.1f}s after the load"
        )
        print(report)

        # Nothing acknowledged is lost, and the read model is a replay of the log.
        app = bootstrap(store, application=ReplayingBackchannel)
        try:
            record = app.refresh()
            head = app.head()
        finally:
            app.close()
        assert len(load.acknowledged) > 20
        missing = [i for i in load.acknowledged if uuid.UUID(i) not in record.contacts]
        assert not missing, missing[:5]
        now = datetime.now(UTC)
        with httpx.Client(base_url=url, timeout=10) as client:
            for day in ("2022-03-24", "2022-06-30", "2022-12-31"):
                answer = client.get(
                    "/v1/channels",
                    params={"as_of": day, "known_at": now.isoformat(), "min_position": head},
                )
                assert answer.status_code == 200, answer.text
                replayed = record.board(as_of=end_of(date.fromisoformat(day)), known_at=now)
                assert answer.json()["items"] == [status_view(s) for s in replayed], day
            for actor, counterpart in PAIRS:
                timeline = client.get(
                    f"/v1/channels/{actor}/{counterpart}/timeline",
                    params={"known_at": now.isoformat(), "min_position": head},
                )
                assert timeline.status_code == 200, timeline.text
                replayed_timeline = record.timeline(actor, counterpart, known_at=now)
                assert timeline.json()["items"] == [interval_view(i) for i in replayed_timeline]
    finally:
        load.done.set()
        for process in reversed(processes):
            stop(process)
    assert "Traceback" not in tail(log)
