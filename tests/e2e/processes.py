"""Starting real `backchannel` processes from the tests."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
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
