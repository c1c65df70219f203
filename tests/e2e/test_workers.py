"""`backchannel serve --workers 2`: two stateless API workers and one projector for both."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from infra.settings import Settings
from service.bootstrap import bootstrap
from service.transfer import seed
from tests.e2e.processes import command, free_port, stop, tail
from tests.e2e.test_serve import TOKEN, environment
from tests.factories import fact

pytestmark = pytest.mark.e2e
STARTUP_SECONDS = 120  # two fresh interpreters import the whole service


def wait_for_workers(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, tail(log)
        started = tail(log).count("Application startup complete") >= 2
        if started and httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
            return
        time.sleep(0.5)
    pytest.fail(f"the workers did not start within {STARTUP_SECONDS}s:\n{tail(log)}")


def test_two_workers_share_one_projector_and_answer_every_write(
    settings: Settings, tmp_path: Path
) -> None:
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command(), "serve", "--port", str(port), "--workers", "2"],
            env=environment(settings.database_url),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_workers(process, url, log)
        children = psutil.Process(process.pid).children(recursive=True)
        workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
        assert len(workers) == 2, tail(log)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, timeout=10) as client:
            written = []
            for day in ("2022-04-01", "2022-04-02", "2022-04-03", "2022-04-04"):
                answer = client.post("/v1/events", json=fact("call_held", day), headers=headers)
                assert answer.status_code == 201, answer.text
                written.append(answer.json())
            last = max(w["position"] for w in written)
            for w in written:  # whichever worker answers, it reads what either wrote
                got = client.get(f"/v1/events/{w['id']}", params={"min_position": last})
                assert got.status_code == 200, got.text
                assert got.json()["position"] == w["position"]
            ready = client.get("/readyz").json()
            assert ready["position"] == ready["head"] == last
        projector_logs = log.read_text(encoding="utf-8").count('"projector attached"')
        assert projector_logs == 1, tail(log)
    finally:
        stop(process)
