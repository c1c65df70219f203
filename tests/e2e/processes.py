"""Starting real `backchannel` processes from the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def command() -> list[str]:
    """The installed console script, or the module when the venv has none."""
    script = Path(sys.executable).with_name("backchannel")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from service.cli import app; app()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STARTUP_SECONDS = 30


def tail(log: Path) -> str:
    """The end of a process's captured output, for a failure message."""
    return log.read_text(encoding="utf-8", errors="replace")[-4000:]


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Return once `url`/healthz answers 200; fail the test if the process dies or is slow."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{tail(log)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"serve did not answer /healthz within {STARTUP_SECONDS}s:\n{tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 15 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Return once `url`/readyz answers 200: the read model has caught up with the log.

    A served process answers projected reads only from then on; fail the test if
    it dies or does not get there in time (the last answer is in the message).
    """
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{tail(log)}")
        try:
            answer = httpx.get(f"{url}/readyz", timeout=3)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.2)
    pytest.fail(f"serve was not ready within {STARTUP_SECONDS}s ({last}):\n{tail(log)}")


def environment(database_url: str, **settings: str) -> dict[str, str]:
    """This process's environment without BACKCHANNEL_* settings, then the store's URL,
    JSON logs, and `settings` (names without the BACKCHANNEL_ prefix, any case)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKCHANNEL_")}
    env |= {"BACKCHANNEL_DATABASE_URL": database_url, "BACKCHANNEL_LOG_FORMAT": "json"}
    env |= {f"BACKCHANNEL_{name.upper()}": value for name, value in settings.items()}
    return env


@dataclass
class Served:
    """A running `backchannel serve`: its process, address and captured output."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return tail(self.log)


@contextmanager
def serving(
    env: dict[str, str], log: Path, *, ready: bool = True, args: Sequence[str] = ()
) -> Iterator[Served]:
    """`backchannel serve` on a free loopback port with `env`, output to `log`; stopped after.

    Yields once /readyz is 200 (its read model caught up), or only /healthz with
    `ready=False`.
    """
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command(), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    served = Served(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_healthy(process, served.url, log)
        if ready:
            wait_until_ready(process, served.url, log)
        yield served
    finally:
        stop(process)
