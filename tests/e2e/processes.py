"""Starting real `backchannel` processes from the tests."""

from __future__ import annotations

import socket
import sys
from pathlib import Path


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
