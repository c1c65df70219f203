"""The projector's health as `serve`'s supervisor writes it and its workers read it back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from service.beacon import OWNER, PREFIX, STALE_SECONDS, Beacon, RemoteHealth, decode, encode
from service.projector import Health, State

LOST = Health(
    state="lost",
    position=42,
    last_error="OperationalError: the connection is lost",
    error_type="OperationalError",
    last_advance=datetime(2026, 12, 6, 12, 0, tzinfo=UTC),
    last_progress=1000.0,
    failures=3,
    listening=False,
)


def test_health_reads_back_as_written_with_its_progress_against_the_readers_clock() -> None:
    data = encode(LOST, now=5000.0, monotonic=1010.0)  # progress 10 s before writing
    read = decode(data, now=5002.0, monotonic=2000.0)  # read 2 s later, another clock
    assert read.state == "lost"
    assert (read.position, read.failures, read.error_type) == (42, 3, "OperationalError")
    assert read.last_error == LOST.last_error
    assert read.last_advance == LOST.last_advance
    assert read.last_progress == 2000.0 - 2.0 - 10.0


def test_a_report_not_renewed_reads_as_a_projector_that_is_not_running() -> None:
    data = encode(LOST, now=5000.0, monotonic=1010.0)
    assert decode(data, now=5000.0 + STALE_SECONDS - 0.5, monotonic=0.0).state == "lost"
    stale = decode(data, now=5000.0 + STALE_SECONDS + 1, monotonic=0.0)
    assert stale.state == "stopped"
    assert stale.last_error is not None and "not reported" in stale.last_error


def test_the_beacon_publishes_until_stopped_and_then_leaves_nothing(tmp_path: Path) -> None:
    states: Iterator[State] = iter(["starting"])

    def health() -> Health:
        return Health(next(states, "running"), 7, None, None, None, time.monotonic(), 0, True)

    beacon = Beacon(health)
    remote = RemoteHealth(beacon.path)
    assert remote.health().state == "starting"  # written before any worker starts
    beacon.start()
    deadline = time.monotonic() + 5
    while remote.health().state != "running":
        assert time.monotonic() < deadline, "the beacon did not publish again"
        time.sleep(0.05)
    beacon.stop()
    assert not beacon.path.exists()
    gone = remote.health()
    assert gone.state == "stopped" and gone.last_error is not None


def test_an_unreadable_report_is_a_projector_that_is_not_running(tmp_path: Path) -> None:
    path = tmp_path / "health.json"
    path.write_bytes(b'{"state": "running"')  # cut short
    assert RemoteHealth(path).health().state == "stopped"
    assert RemoteHealth(tmp_path / "missing.json").health().state == "stopped"


def test_a_beacon_removes_the_directories_of_supervisors_that_were_killed(tmp_path: Path) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    killed = tmp_path / f"{PREFIX}killed"  # what a SIGKILLed `serve` leaves behind
    killed.mkdir()
    (killed / OWNER).write_text(ended.stdout.strip())
    (killed / "health.json").write_text("{}")
    running = tmp_path / f"{PREFIX}running"  # another `serve`, still running
    running.mkdir()
    (running / OWNER).write_text(str(os.getppid()))
    foreign = tmp_path / f"{PREFIX}foreign"  # no owner named: not ours to judge
    foreign.mkdir()

    beacon = Beacon(lambda: LOST, root=tmp_path)
    try:
        assert not killed.exists()
        assert running.exists() and foreign.exists()
        assert beacon.path.parent.parent == tmp_path
        assert (beacon.path.parent / OWNER).read_text() == str(os.getpid())
    finally:
        beacon.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, foreign.name])
