"""Benchmark: stateless serving on PostgreSQL, each figure next to what it is compared with.

1. `backchannel serve` at `--small` and `--large` events: its RSS once ready and its time
   to the first 200 from /readyz (the ratios large / small should stay near 1).
2. Single-event ingest at `--clients` clients: req/s of POST /v1/events next to a bare
   FastAPI + psycopg endpoint doing one INSERT + commit (bench/bare.py), and the
   database transactions per POST (pg_stat_database.xact_commit; bench/transactions.py).
3. A channel's status at `--clients` clients next to the bare endpoint's one indexed
   SELECT by key on a table of as many rows as the read model's segments.
4. A 100-channel board page at `--clients` clients.
5. Read throughput (a channel's status) with 1 and with 2 workers.

Each comparison runs interleaved A/B/A/B, `--repeat` times (at least 3), and prints
the ratio's median with its spread (min to max).

    python -m bench.serving --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --small 10000 --large 1000000 --channels 10000 --seconds 20
    python -m bench.serving --smoke     # a quick check that every step runs
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench import transactions
from bench.bare import setup as setup_bare
from bench.readmodel import database_url, prepare
from bench.workload import channel_pairs

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKCHANNEL_")}
    env |= {
        "BACKCHANNEL_DATABASE_URL": url,
        "BACKCHANNEL_WRITE_TOKENS": TOKEN,
        "BACKCHANNEL_LOG_LEVEL": "WARNING",
        "BACKCHANNEL_LOG_FORMAT": "json",
        **extra,
    }
    return env


class Served:
    """A server process on a free port, stopped on exit."""

    def __init__(self, args: list[str], env: dict[str, str], ready: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*args, "--port", str(self.port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ready_seconds = self._wait(ready)

    def _wait(self, path: str, timeout: float = 600) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server not ready in time")

    def rss_mib(self) -> float:
        """RSS of the server and its children (workers, projector), in MiB."""
        root = psutil.Process(self.process.pid)
        procs = [root, *root.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def serve(url: str, workers: int = 1) -> Served:
    script = str(Path(sys.executable).with_name("backchannel"))
    args = [script, "serve", "--workers", str(workers)]
    return Served(args, _env(url), "/readyz")


def bare(url: str) -> Served:
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench.bare:app",
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "BENCH_BARE_URL": url.split("?", 1)[0]}
    return Served(args, env, "/docs")


def rate(
    base: str,
    request: Callable[[httpx.Client, random.Random], httpx.Response],
    clients: int,
    seconds: float,
) -> float:
    """Requests per second with `clients` threads, each its own connection."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, timeout=30) as http:
            while time.monotonic() < stop:
                answer = request(http, rng)
                if answer.status_code < 400:
                    done[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


def interleaved(a: Callable[[], float], b: Callable[[], float], repeat: int) -> dict[str, Any]:
    """A, B, A, B, … `repeat` times each; the ratio A/B per pair: median, min, max."""
    pairs = [(a(), b()) for _ in range(repeat)]
    ratios = [x / y if y else 0.0 for x, y in pairs]
    return {
        "a": [round(x, 1) for x, _ in pairs],
        "b": [round(y, 1) for _, y in pairs],
        "ratio": round(statistics.median(ratios), 3),
        "spread": [round(min(ratios), 3), round(max(ratios), 3)],
    }


def event_body(rng: random.Random) -> dict[str, Any]:
    return {
        "type": "statement",
        "occurred_at": f"2022-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
        "actor": "actor-00000",
        "counterpart": "actor-00001",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, short runs")
    args = parser.parse_args()
    if args.smoke:
        args.small, args.large, args.channels = 300, 600, 30
        args.clients, args.seconds, args.repeat = 4, 1.5, 3
    figures: dict[str, Any] = {}

    # 1. RSS and time to ready at two sizes.
    urls = {}
    for size in (args.small, args.large):
        url = database_url(args.database_url, size, args.channels)
        prepare(url, size, args.channels, args.reuse)
        urls[size] = url
        with serve(url) as server:
            figures[f"serve_{size}"] = {
                "ready_seconds": round(server.ready_seconds, 2),
                "rss_mib": round(server.rss_mib(), 1),
            }
    small, large = figures[f"serve_{args.small}"], figures[f"serve_{args.large}"]
    figures["rss_ratio"] = round(large["rss_mib"] / small["rss_mib"], 3)
    figures["ready_ratio"] = round(large["ready_seconds"] / small["ready_seconds"], 3)

    url = urls[args.large]
    pairs = [f"{a}/{b}" for a, b in channel_pairs(args.channels, random.Random(7))]
    setup_bare(url.split("?", 1)[0], rows=_segments(url))
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def status(http: httpx.Client, rng: random.Random) -> httpx.Response:
        day = f"20{rng.randrange(16, 26)}-0{rng.randrange(1, 10)}-15"
        return http.get(f"/v1/channels/{rng.choice(pairs)}", params={"as_of": day})

    def board(http: httpx.Client, rng: random.Random) -> httpx.Response:
        day = f"20{rng.randrange(16, 26)}-0{rng.randrange(1, 10)}-15"
        return http.get("/v1/channels", params={"as_of": day, "limit": 100})

    def post(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.post("/v1/events", json=event_body(rng), headers=headers)

    def bare_row(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.get(f"/row/k{rng.randrange(1, 1000)}")

    def bare_insert(http: httpx.Client, rng: random.Random) -> httpx.Response:
        return http.post("/insert", json=event_body(rng))

    with serve(url) as one, bare(url) as plain:
        c, s = args.clients, args.seconds
        figures["ingest"] = interleaved(
            lambda: rate(one.url, post, c, s),
            lambda: rate(plain.url, bare_insert, c, s),
            args.repeat,
        )
        figures["status_read"] = interleaved(
            lambda: rate(one.url, status, c, s),
            lambda: rate(plain.url, bare_row, c, s),
            args.repeat,
        )
        figures["board_100_per_second"] = round(rate(one.url, board, c, s), 1)
    figures["transactions_per_post"] = _transactions(args.database_url, 10 if args.smoke else 100)

    with serve(url, workers=1) as w1, serve(url, workers=2) as w2:
        figures["workers_2_over_1"] = interleaved(
            lambda: rate(w2.url, status, args.clients, args.seconds),
            lambda: rate(w1.url, status, args.clients, args.seconds),
            args.repeat,
        )
    print(json.dumps(figures, indent=2))


def _segments(url: str) -> int:
    import psycopg

    with psycopg.connect(url.split("?", 1)[0]) as conn:
        row = conn.execute("SELECT count(*) FROM channel_segments").fetchone()
    return max(1000, int(row[0]) if row else 0)


def _transactions(base: str, posts: int) -> float:
    few = transactions.run(base, 5)
    many = transactions.run(base, 5 + posts)
    return round((many - few) / posts, 2)


if __name__ == "__main__":
    main()
