"""Benchmark: stateless serving on PostgreSQL, each figure next to what it is compared with.

1. `backchannel serve` at `--small` and `--large` events: its RSS once ready and its time
   to the first 200 from /readyz (the ratios large / small should stay near 1).
2. Single-event ingest at `--clients` clients, in a fresh database of its own (the
   loaded ones stay as they were loaded): req/s of POST /v1/events next to a bare
   FastAPI + psycopg endpoint doing one INSERT + commit (bench/bare.py), and the
   database transactions per POST (pg_stat_database.xact_commit; bench/transactions.py).
3. A channel's status at `--clients` clients next to the bare endpoint's one indexed
   SELECT by key on a table of as many rows as the read model's segments.
4. A 100-channel board page at `--clients` clients.
5. Read throughput (a channel's status) with 1 and with 2 workers, and where a status
   read's CPU goes with one: the serving processes', PostgreSQL's (when it runs on this
   machine) and the load generator's per request, and the same for the bare endpoint.

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
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
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
        return float(sum(p.memory_info().rss for p in procs)) / 2**20

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


Request = tuple[str, str, dict[str, Any] | None]  # method, path with query, JSON body
Workload = Callable[[random.Random], Request]
WARM_UP_SECONDS = 2.0  # untimed, before the first measured round of each server
SCRIPT_REQUESTS = 4000  # distinct requests a wrk script cycles through
LAST_CLIENT_CPU: list[float] = []  # the load generator's CPU ms per request, per run


def rate(
    base: str,
    workload: Workload,
    clients: int,
    seconds: float,
    *,
    client: str = "wrk",
    headers: dict[str, str] | None = None,
) -> float:
    """Requests per second (answered below 400) with `clients` connections.

    `wrk` (a C load generator, two threads) costs the server's cores a tenth of a
    millisecond per request; `httpx` (a Python thread per connection) about two,
    as much as the server itself, on the same cores.
    """
    started_cpu = time.process_time()
    if client == "wrk":
        done, elapsed, client_cpu = _wrk(base, workload, clients, seconds, headers or {})
    else:
        done, elapsed = _httpx(base, workload, clients, seconds, headers or {})
        client_cpu = time.process_time() - started_cpu
    LAST_CLIENT_CPU.append(1000 * client_cpu / done if done else 0.0)
    return done / elapsed


def _httpx(
    base: str, workload: Workload, clients: int, seconds: float, headers: dict[str, str]
) -> tuple[int, float]:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, timeout=30, headers=headers) as http:
            while time.monotonic() < stop:
                method, path, body = workload(rng)
                answer = http.request(method, path, json=body)
                if answer.status_code < 400:
                    done[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done), time.monotonic() - started


WRK_SCRIPT = """
local specs = {%s}
local pending = {}
local counter = 0
init = function(args)  -- wrk's Host header is known by now
  for i, spec in ipairs(specs) do
    pending[i] = wrk.format(spec[1], spec[2], spec[3], spec[4])
  end
end
request = function()
  counter = counter + 1
  return pending[(counter %% #pending) + 1]
end
done = function(summary, latency, requests)
  -- answers of 400 and above count as errors.status
  io.write(string.format("BENCH %%d %%d %%d\\n",
    summary.requests, summary.errors.status, summary.duration))
end
"""


def _lua(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string for this text


def _wrk(
    base: str, workload: Workload, clients: int, seconds: float, headers: dict[str, str]
) -> tuple[int, float, float]:
    """Run wrk over `SCRIPT_REQUESTS` requests drawn from `workload`; (answered, seconds,
    wrk's CPU seconds)."""
    rng = random.Random(clients)
    requests = []
    for _ in range(SCRIPT_REQUESTS):
        method, path, body = workload(rng)
        sent = dict(headers)
        if body is not None:
            sent["Content-Type"] = "application/json"
        lua_headers = "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in sent.items()) + "}"
        payload = "nil" if body is None else _lua(json.dumps(body))
        requests.append(f"{{{_lua(method)}, {_lua(path)}, {lua_headers}, {payload}}}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % ",\n".join(requests))
    try:
        threads = max(1, min(2, clients))
        command = ["wrk", f"-t{threads}", f"-c{clients}", f"-d{max(1, round(seconds))}s"]
        before = os.times()
        out = subprocess.run([*command, "-s", script.name, base], capture_output=True, text=True)
        after = os.times()
    finally:
        os.unlink(script.name)
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH "))
    total, failed, micros = (int(v) for v in line.split()[1:])
    return total - failed, micros / 1e6, cpu


def _cpu_seconds(processes: Iterable[psutil.Process]) -> float:
    """CPU seconds the processes have used so far (those gone meanwhile left out)."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _server_cpu(served: Served) -> float:
    """CPU seconds of a server process and its children so far."""
    root = psutil.Process(served.process.pid)
    return _cpu_seconds((root, *root.children(recursive=True)))


def _postgres_cpu() -> float:
    """CPU seconds of this machine's PostgreSQL processes (user `postgres`) so far."""
    processes = psutil.process_iter(["username"])
    return _cpu_seconds(p for p in processes if p.info["username"] == "postgres")


def cpu_split(served: Served, run: Callable[[], float]) -> dict[str, float]:
    """Milliseconds of CPU per request over one run: the server's processes (`api`), the
    local PostgreSQL's (`postgres`; 0 for a server elsewhere) and the load generator's."""
    server, postgres = _server_cpu(served), _postgres_cpu()
    started = time.monotonic()
    requests = run() * (time.monotonic() - started)
    return {
        "api": round(1000 * (_server_cpu(served) - server) / requests, 3),
        "postgres": round(1000 * (_postgres_cpu() - postgres) / requests, 3),
        "client": round(LAST_CLIENT_CPU[-1], 3),
    }


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
    parser.add_argument(
        "--client",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator: wrk (light; the default when installed) or httpx threads",
    )
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

    def status(rng: random.Random) -> Request:
        day = f"20{rng.randrange(16, 26)}-0{rng.randrange(1, 10)}-15"
        return "GET", f"/v1/channels/{rng.choice(pairs)}?as_of={day}", None

    def board(rng: random.Random) -> Request:
        day = f"20{rng.randrange(16, 26)}-0{rng.randrange(1, 10)}-15"
        return "GET", f"/v1/channels?as_of={day}&limit=100", None

    def post(rng: random.Random) -> Request:
        return "POST", "/v1/events", event_body(rng)

    def bare_row(rng: random.Random) -> Request:
        return "GET", f"/row/k{rng.randrange(1, 1000)}", None

    def bare_insert(rng: random.Random) -> Request:
        return "POST", "/insert", event_body(rng)

    def run(url: str, workload: Workload, **extra: Any) -> float:
        return rate(url, workload, args.clients, args.seconds, client=args.client, **extra)

    def warm(url: str, workload: Workload, **extra: Any) -> None:
        """An untimed run first: every worker's pool connected and its statements
        prepared (psycopg prepares one on its fifth use on a connection)."""
        rate(url, workload, args.clients, WARM_UP_SECONDS, client=args.client, **extra)

    # Writes go to a database of their own (the two actors registered), so that the
    # loaded one stays as readmodel.py and rebuild.py expect it when they reuse it.
    from bench.ingest import database as fresh_database

    with fresh_database(args.database_url.split("?", 1)[0], "serving") as written:
        setup_bare(written, rows=1000)
        with serve(written) as one, bare(written) as plain:
            warm(one.url, post, headers=headers)
            warm(plain.url, bare_insert)
            figures["ingest"] = interleaved(
                lambda: run(one.url, post, headers=headers),
                lambda: run(plain.url, bare_insert),
                args.repeat,
            )
    with serve(url) as one, bare(url) as plain:
        warm(one.url, status)
        warm(plain.url, bare_row)
        figures["status_read"] = interleaved(
            lambda: run(one.url, status), lambda: run(plain.url, bare_row), args.repeat
        )
        figures["board_100_per_second"] = round(run(one.url, board), 1)
        figures["status_cpu_ms"] = cpu_split(one, lambda: run(one.url, status))
        figures["bare_row_cpu_ms"] = cpu_split(plain, lambda: run(plain.url, bare_row))
    figures["transactions_per_post"] = _transactions(args.database_url, 10 if args.smoke else 100)

    with serve(url, workers=1) as w1, serve(url, workers=2) as w2:
        warm(w1.url, status)
        warm(w2.url, status)
        figures["workers_2_over_1"] = interleaved(
            lambda: run(w2.url, status), lambda: run(w1.url, status), args.repeat
        )
    figures["client"] = {
        "kind": args.client,
        "cpu_ms_per_request": round(statistics.median(LAST_CLIENT_CPU), 3),
    }
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
