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


def test_workers_beside_a_projector_of_their_own_run_none_in_the_supervisor(
    settings: Settings, tmp_path: Path
) -> None:
    """The compose shape: `serve --workers 2` with BACKCHANNEL_EMBEDDED_PROJECTOR=false
    reads what a separate `backchannel projector` keeps, and starts no projector itself."""
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve_log, projector_log = tmp_path / "serve.log", tmp_path / "projector.log"
    env = environment(settings.database_url) | {"BACKCHANNEL_EMBEDDED_PROJECTOR": "false"}
    with serve_log.open("wb") as sink:
        served = subprocess.Popen(
            [*command(), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    with projector_log.open("wb") as sink:
        projector = subprocess.Popen(
            [*command(), "projector"], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        wait_for_workers(served, url, serve_log)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, timeout=10) as client:
            answer = client.post(
                "/v1/events", json=fact("call_held", "2022-04-01"), headers=headers
            )
            assert answer.status_code == 201, answer.text
            written = answer.json()
            got = client.get(
                f"/v1/events/{written['id']}", params={"min_position": written["position"]}
            )
            assert got.status_code == 200, got.text
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                ready = client.get("/readyz")
                if ready.status_code == 200 and ready.json()["position"] == written["position"]:
                    break
                time.sleep(0.2)
            assert ready.status_code == 200, ready.text
            assert ready.json()["position"] == ready.json()["head"] == written["position"]
        assert '"projector attached"' not in serve_log.read_text(encoding="utf-8"), tail(serve_log)
        assert '"projector attached"' in projector_log.read_text(encoding="utf-8"), tail(
            projector_log
        )
    finally:
        stop(served)
        stop(projector)
