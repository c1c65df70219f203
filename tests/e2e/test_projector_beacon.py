"""`backchannel serve` on PostgreSQL: the API in a worker process, the projector in `serve`'s
own, and the worker's `/readyz` telling how that projector is doing (service.beacon)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from infra.settings import Settings
from service.bootstrap import bootstrap
from service.transfer import seed
from tests.e2e.processes import serving
from tests.e2e.test_serve import environment

pytestmark = pytest.mark.e2e


@pytest.fixture
def postgres_settings(postgres_database: str) -> Settings:
    from service.bootstrap import migrate

    settings = Settings(database_url=postgres_database, log_format="console")
    migrate(settings)
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    return settings


def readiness(url: str) -> tuple[int, dict[str, object]]:
    answer = httpx.get(f"{url}/readyz", timeout=5)
    return answer.status_code, answer.json()


def wait_for(url: str, status: int, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        code, body = readiness(url)
        if code == status:
            return body
        assert time.monotonic() < deadline, f"/readyz stayed {code} {body}"
        time.sleep(0.2)


def test_a_worker_reports_the_projector_of_its_supervisor_and_when_it_stops_reporting(
    postgres_settings: Settings, tmp_path: Path
) -> None:
    env = environment(postgres_settings.database_url)
    with serving(env, tmp_path / "serve.log") as served:
        supervisor = psutil.Process(served.process.pid)
        workers = [
            c for c in supervisor.children(recursive=True) if "spawn_main" in " ".join(c.cmdline())
        ]
        assert len(workers) == 1, served.output()  # the API runs apart from the projector
        body = wait_for(served.url, 200, 30)
        assert body["projector"] == "running"
        os.kill(served.process.pid, signal.SIGSTOP)  # the projector's process hangs
        try:
            stopped = wait_for(served.url, 503, 15)
            assert stopped["reason"] == "projector_not_running", stopped
        finally:
            os.kill(served.process.pid, signal.SIGCONT)
        again = wait_for(served.url, 200, 15)
        assert again["projector"] == "running"
