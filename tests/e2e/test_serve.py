"""A real `backchannel serve` process, on both stores, spoken to over HTTP (api.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from infra.settings import Settings
from service.bootstrap import bootstrap
from service.transfer import seed
from tests.e2e import processes
from tests.e2e.processes import (
    Served,
    command,
    free_port,
    serving,
    wait_until_ready,
)

pytestmark = pytest.mark.e2e

TOKEN = "e2e-" + uuid.uuid4().hex


def environment(database_url: str) -> dict[str, str]:
    return processes.environment(database_url, write_tokens=TOKEN)


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    """`backchannel serve` on a free port, over a migrated and seeded store."""
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    with serving(environment(settings.database_url), tmp_path / "serve.log", ready=False) as served:
        yield served


def test_served_board_reads_like_the_article_and_takes_a_write(server: Served) -> None:
    wait_until_ready(server.process, server.url, server.log)  # the seeded log is projected
    with httpx.Client(base_url=server.url, timeout=10) as client:
        head = client.get("/readyz").json()["head"]
        answer = client.get(
            "/v1/channels/lloyd-austin/sergei-shoigu", params={"as_of": "2022-03-24"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "refused"
        assert answer.json()["channel"] == "lloyd-austin~sergei-shoigu"
        assert int(answer.headers["X-Backchannel-Position"]) >= head

        event = {
            "id": str(uuid.uuid4()),
            "type": "call_requested",
            "occurred_at": "2022-03-25",
            "precision": "day",
            "actor": "mark-milley",
            "counterpart": "valery-gerasimov",
            "summary": "Another request for a call, written by the end-to-end test.",
            "sources": [{"name": "e2e", "url": "https://example.org/e2e", "published_at": None}],
            "details": {"mode": "phone"},
        }
        assert client.post("/v1/events", json=event).status_code == 401
        written = client.post(
            "/v1/events", json=event, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert written.status_code == 201, written.text
        assert written.json()["position"] > 0

        read = client.get(f"/v1/events/{event['id']}")
        assert read.status_code == 200, read.text
        stored = read.json()
        for field in ("id", "type", "occurred_at", "actor", "counterpart", "summary"):
            assert stored[field] == event[field], field
        assert stored["channel"] == "mark-milley~valery-gerasimov"

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=15) == 0, server.output()
    assert "Traceback" not in server.output()


def test_serve_refuses_an_unmigrated_store_with_one_clear_line(store_url: str) -> None:
    finished = subprocess.run(
        [*command(), "serve", "--port", str(free_port())],
        env=environment(store_url),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert finished.returncode != 0
    assert "run `backchannel migrate`" in finished.stderr
    assert "Traceback" not in finished.stderr + finished.stdout


def readiness(url: str) -> tuple[int, dict[str, object]]:
    answer = httpx.get(f"{url}/readyz", timeout=5)
    return answer.status_code, answer.json()


def readiness_becomes(url: str, status: int, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        code, body = readiness(url)
        if code == status:
            return body
        assert time.monotonic() < deadline, f"/readyz stayed {code}: {body}"
        time.sleep(0.2)


def test_a_worker_reports_the_projector_serve_runs_beside_it(
    settings: Settings, server: Served
) -> None:
    """On PostgreSQL the API runs in a worker process and the projector in `serve`'s own;
    the worker's /readyz tells how that projector is doing (service.beacon), and a `serve`
    that stops telling (here: stopped by SIGSTOP) reads as a projector not running."""
    if not settings.is_postgres:
        pytest.skip("serve runs its projector apart from the API on PostgreSQL")
    supervisor = psutil.Process(server.process.pid)
    workers = [
        c for c in supervisor.children(recursive=True) if "spawn_main" in " ".join(c.cmdline())
    ]
    assert len(workers) == 1, server.output()
    assert readiness_becomes(server.url, 200, 30)["projector"] == "running"
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        stopped = readiness_becomes(server.url, 503, 15)
        assert stopped["reason"] == "projector_not_running", stopped
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    assert readiness_becomes(server.url, 200, 15)["projector"] == "running"
