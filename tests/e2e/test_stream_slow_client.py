"""A subscriber that stops reading is cut off, the server stays well, and it resumes.

A raw socket with a small receive buffer asks for the stream and then reads
nothing while the log grows by megabytes: once the server's socket has taken no
message for `stream_send_timeout_seconds`, the server closes the connection
(what a client reads then ends before the log does), logs the cut-off, keeps
serving, and the client resumes from its last complete message's id with every
later entry once, in log order.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from infra.settings import Settings
from service.bootstrap import bootstrap
from service.transfer import seed
from tests.e2e import processes
from tests.e2e.processes import Served, serving
from tests.e2e.test_stream import subscribe

pytestmark = pytest.mark.e2e

TOKEN = "e2e-" + uuid.uuid4().hex
WRITE = {"Authorization": f"Bearer {TOKEN}"}
CUT_OFF = 2.0  # seconds the server waits on a socket that takes nothing
EVENTS = 2_000  # each message carries ~2 KB of summary: megabytes in all
BOUND = 120  # seconds: a bound for a broken test, not a measurement


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    app = bootstrap(settings)
    try:
        seed(app)
    finally:
        app.close()
    env = processes.environment(
        settings.database_url, write_tokens=TOKEN, stream_send_timeout_seconds=str(CUT_OFF)
    )
    with serving(env, tmp_path / "serve.log") as served:
        yield served


def statements(count: int, start: int) -> list[dict]:
    return [
        {
            "type": "statement",
            "occurred_at": "2022-04-01",
            "actor": "lloyd-austin",
            "counterpart": "sergei-shoigu",
            "summary": f"statement {start + n}: " + "x" * 1900,
        }
        for n in range(count)
    ]


def messages(raw: bytes) -> list[int]:
    """The ids of the complete messages in a raw HTTP/1.0 response (headers, then the body)."""
    body = raw.partition(b"\r\n\r\n")[2].replace(b"\r\n", b"\n")
    ids: list[int] = []
    for block in body.split(b"\n\n")[:-1]:  # the last block may be cut mid-message
        for line in block.split(b"\n"):
            if line.startswith(b"id:"):
                ids.append(int(line[3:].strip()))
    return ids


def test_a_subscriber_that_stops_reading_is_cut_off_and_resumes_where_it_was(
    server: Served,
) -> None:
    after = int(httpx.get(f"{server.url}/readyz").json()["head"])  # the seeds, terms and all
    address = urlsplit(server.url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.connect((address.hostname, address.port))
    sock.sendall(
        f"GET /v1/stream?after={after} HTTP/1.0\r\nHost: {address.netloc}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )

    with httpx.Client(base_url=server.url, headers=WRITE, timeout=30) as client:
        for start in range(0, EVENTS, 250):
            answer = client.post("/v1/events/batch", json={"events": statements(250, start)})
            assert answer.status_code == 201, answer.text
        last = answer.json()["position"]
        deadline = time.monotonic() + BOUND
        while "stream_subscriber_cut_off" not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        assert client.get("/healthz").status_code == 200  # the server serves on
        assert client.get("/readyz").status_code == 200

    sock.settimeout(10)
    received = b""
    while chunk := sock.recv(65536):  # what was under way, then the server's close
        received += chunk
    sock.close()
    seen = messages(received)
    assert seen and seen == sorted(seen) and len(set(seen)) == len(seen)
    assert seen[0] > after and seen[-1] < last  # cut off before the log's end

    rest = _resume(server.url, seen[-1], last)
    everything = seen + [m[0] for m in rest]
    positions = sorted(set(everything))
    assert everything == positions  # once each, in log order
    assert len(everything) == EVENTS  # every statement, none lost across the cut
    log = server.output()
    assert "Traceback" not in log and '"level": "error"' not in log


def _resume(url: str, last_seen: int, until: int) -> list[tuple[int, str, dict]]:
    import asyncio

    async def run() -> list[tuple[int, str, dict]]:
        async with httpx.AsyncClient(base_url=url, timeout=BOUND) as client:
            return await asyncio.wait_for(
                subscribe(client, until, headers={"Last-Event-ID": str(last_seen)}), BOUND
            )

    return asyncio.run(run())
