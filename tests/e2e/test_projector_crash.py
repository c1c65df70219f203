"""A projector killed (SIGKILL) while catching up resumes and builds the same read model.

The projector runs as its own process (`python -m service.projections_cli
projector`) over a large backlog; it is killed mid-way, twice, then restarted
until it has caught up. Its generation must then hold exactly the rows of a
second generation built over the same log in one uninterrupted run (with
other batch sizes, too).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.workload import load
from infra.readmodel import open_view
from infra.readmodel.rows import EPOCH
from service.projector import Projector

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 30_000
CHANNELS = 300
TABLES = {
    "channels": "channel, actor_a, actor_b",
    "channel_facts": "event_id, channel, type, actor, counterpart, valid_from, recorded_at, "
    "position, retracted_at, retraction_id, retraction_position, retraction_reason, fact",
    "channel_segments": "channel, valid_from, known_from, valid_to, known_to, status, since, "
    "event_count, last_contact, evidence, requests, refusals",
}

pytestmark = pytest.mark.e2e


def start_projector(url: str, batch: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BACKCHANNEL_DATABASE_URL": url,
        "BACKCHANNEL_PROJECTION_BATCH": str(batch),
        "BACKCHANNEL_LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "service.projections_cli", "projector"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),  # a file, not a pipe: nobody reads a pipe while it runs
    )


def position(view) -> int:
    live = view.live()
    return 0 if live is None else live.position


def wait_until(condition, timeout: float, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"projector exited: {log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"timed out waiting for the projector: {log.read_text()[-3000:]}")
        time.sleep(0.02)


def rows(view, generation: int) -> dict[str, list[tuple]]:
    dumped = {}
    with view._reading() as c:
        for table, columns in TABLES.items():
            c.execute(
                view._sql(
                    f"SELECT {columns} FROM {table} WHERE generation = %(g)s ORDER BY {columns}"
                ),
                {"g": generation},
            )
            dumped[table] = [
                tuple(row[k.strip()] for k in columns.split(",")) for row in c.fetchall()
            ]
    return dumped


def test_projector_killed_while_catching_up_resumes_to_the_same_read_model(
    settings, backchannel, tmp_path
):
    loaded = load(backchannel, events=EVENTS, channels=CHANNELS, batch=1000)
    head = backchannel.head()
    assert loaded.retractions > 0
    view = open_view(settings)
    log = tmp_path / "projector.log"
    try:
        for _ in range(2):  # killed twice, somewhere between the first batch and the head
            process = start_projector(settings.database_url, batch=250, log=log)
            before = position(view)
            wait_until(lambda: position(view) > before + 500, 120, process, log)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            assert before < position(view) < head
        process = start_projector(settings.database_url, batch=250, log=log)
        wait_until(lambda: position(view) == head, 240, process, log)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0

        live = view.live()
        assert live is not None and live.number == 1
        reference = view.create_generation(settings.window, EPOCH, live=False)
        uninterrupted = Projector(
            settings, app=backchannel, view=view, generation=reference, batch_size=1700
        )
        assert uninterrupted.catch_up() == head

        crashed, clean = rows(view, live.number), rows(view, reference)
        assert len(crashed["channel_facts"]) == loaded.facts
        assert sum(r[9] is not None for r in crashed["channel_facts"]) == loaded.retractions
        for table in TABLES:
            assert crashed[table] == clean[table], table
    finally:
        view.close()
