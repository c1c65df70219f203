"""The projector's health, told by `serve`'s supervising process to its API workers.

On PostgreSQL (and with `--workers N`) `serve` runs the projector in its own
process and the API in worker processes, which cannot ask the projector how it
is doing. The supervisor writes the projector's `Health` to a small file a few
times a second, replacing it whole (a reader never sees half of it); each
worker's `/readyz` and `/metrics` read it back as if the projector were theirs.
A file not rewritten for `STALE_SECONDS` reads as a projector that is not
running: its process is gone or hung.

The file lives in a directory of its own under the system's temporary one, which
`stop` removes. A supervisor killed outright (SIGKILL, the OOM killer) cannot: its
directory names its process, and the next `serve` on the machine removes those
whose process is gone.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.logging import get_logger
from service.projector import Health

ENVIRONMENT = "BACKCHANNEL_PROJECTOR_HEALTH_FILE"  # set by `serve` for its workers
PREFIX = "backchannel-projector-"
OWNER = "owner"  # the file of a beacon's directory that holds its process's id
PUBLISH_SECONDS = 0.25
STALE_SECONDS = 3.0
log = get_logger("backchannel.beacon")


def encode(health: Health, *, now: float, monotonic: float) -> bytes:
    """`health` as written at wall time `now`: monotonic instants as ages, which any
    process can read back against its own clock."""
    progress, advance = health.last_progress, health.last_advance
    return json.dumps(
        {
            "written_at": now,
            "state": health.state,
            "position": health.position,
            "last_error": health.last_error,
            "error_type": health.error_type,
            "last_advance": None if advance is None else advance.isoformat(),
            "progress_age": None if progress is None else max(0.0, monotonic - progress),
            "failures": health.failures,
            "listening": health.listening,
        }
    ).encode()


def decode(data: bytes, *, now: float, monotonic: float) -> Health:
    """What `encode` wrote, as the projector's health now: `stopped` if it is stale."""
    found: dict[str, Any] = json.loads(data)
    age = max(0.0, now - float(found["written_at"]))
    advance = found["last_advance"]
    progress_age = found["progress_age"]
    health = Health(
        state=found["state"],
        position=int(found["position"]),
        last_error=found["last_error"],
        error_type=found["error_type"],
        last_advance=None if advance is None else datetime.fromisoformat(advance),
        last_progress=None if progress_age is None else monotonic - age - float(progress_age),
        failures=int(found["failures"]),
        listening=bool(found["listening"]),
    )
    if age > STALE_SECONDS:
        return _stopped(health, f"its process has not reported for {age:.0f} s")
    return health


def _stopped(health: Health, why: str) -> Health:
    return replace(health, state="stopped", last_error=why, error_type=None, listening=False)


class Beacon:
    """The supervisor's side: rewrites the health file every `PUBLISH_SECONDS` until
    stopped, then removes it."""

    def __init__(self, health: Callable[[], Health], *, root: Path | None = None) -> None:
        self._health = health
        where = Path(tempfile.gettempdir()) if root is None else root
        remove_abandoned(where)
        self._directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=where))
        (self._directory / OWNER).write_text(str(os.getpid()))
        self.path = self._directory / "health.json"
        self._stop = threading.Event()
        self._publish()  # there before any worker starts
        self._thread = threading.Thread(target=self._run, name="projector-beacon", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * PUBLISH_SECONDS + 1)
        shutil.rmtree(self._directory, ignore_errors=True)

    def _run(self) -> None:
        while not self._stop.wait(PUBLISH_SECONDS):
            try:
                self._publish()
            except Exception:  # a full disk, say: the workers then see it go stale
                log.exception("could not publish the projector's health")

    def _publish(self) -> None:
        data = encode(self._health(), now=time.time(), monotonic=time.monotonic())
        written = self.path.with_suffix(".tmp")
        written.write_bytes(data)
        os.replace(written, self.path)


def remove_abandoned(root: Path) -> list[Path]:
    """Remove the beacon directories under `root` whose process is gone; return them.

    A directory without a readable owner (another program's, or one being made)
    is left alone, as is one whose process runs (whoever it is now)."""
    removed = []
    for directory in root.glob(f"{PREFIX}*"):
        try:
            owner = int((directory / OWNER).read_text())
        except (OSError, ValueError):
            continue
        if owner == os.getpid() or _running(owner):
            continue
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
    if removed:
        log.info("removed abandoned projector health files", count=len(removed))
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class RemoteHealth:
    """A worker's side: the projector's health as the supervisor last wrote it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def from_environment(cls) -> RemoteHealth | None:
        where = os.environ.get(ENVIRONMENT)
        return cls(Path(where)) if where else None

    def health(self) -> Health:
        try:
            data = self.path.read_bytes()
        except OSError:
            return _stopped(_NOTHING, "its process no longer reports")
        try:
            return decode(data, now=time.time(), monotonic=time.monotonic())
        except (ValueError, KeyError, TypeError):
            return _stopped(_NOTHING, "its report cannot be read")


_NOTHING = Health(
    state="stopped",
    position=0,
    last_error=None,
    error_type=None,
    last_advance=None,
    last_progress=None,
    failures=0,
    listening=False,
)
