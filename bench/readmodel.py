"""Benchmark: rebuild rate of the channel read model, and read latency at two history sizes.

For each size (the baseline, 10,000 events by default, and --events), over the
same number of channels, in a PostgreSQL database of its own:

1. load the synthetic workload through the application (bench/workload.py);
2. rebuild the read model from position 0 (`backchannel projections rebuild`),
   timing events per second;
3. measure p50/p99 latency of one channel's status (`GET /v1/channels/{a}/{b}?as_of=…`)
   and of a 100-item board (`GET /v1/channels?as_of=…&limit=100`), at random
   channels and dates: through the HTTP API (`--via http`: a `backchannel serve`
   process), or through `service.queries.ReadModel` in-process (`--via readmodel`,
   what the API's channel routes read once they are wired to it).

Then it prints each figure next to its baseline, with the ratio (which should
stay near 1: latency must not grow with history), and writes them as JSON.

    python -m bench.readmodel --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --events 1000000 --channels 10000

The databases are named after the URL's database and the size
(`<db>_bench_<events>_<channels>`); they are dropped and created afresh unless
--reuse is given and they already hold the workload.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

from bench.workload import SPAN_DAYS, START, actor_ids, add_server_option, channel_pairs, load
from domain.time import end_of
from infra.readmodel import open_view
from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.queries import ReadModel
from service.rebuild import rebuild

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figures:
    """What one size measured."""

    events: int
    channels: int
    head: int
    load_seconds: float | None  # None when a loaded database was reused
    rebuild_seconds: float | None
    rebuild_rate: float | None
    via: str
    rounds: list[Round] = field(default_factory=list)  # latency, per round (ms)

    def median(self, index: int) -> float | None:
        return statistics.median(r[index] for r in self.rounds) if self.rounds else None


def database_url(base: str, events: int, channels: int, *, seeded: bool = False) -> str:
    parts = urlsplit(base)
    kind = "bench_seeded" if seeded else "bench"
    name = f"{parts.path.lstrip('/') or 'postgres'}_{kind}_{events}_{channels}"
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def loaded_already(url: str) -> bool:
    try:
        settings = Settings(database_url=url)
        view = open_view(settings)
    except Exception:
        return False
    try:
        live = view.live()
        return live is not None and live.position > 0 and live.position == view.head()
    except Exception:
        return False
    finally:
        view.close()


def fresh_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def prepare(
    url: str, events: int, channels: int, reuse: bool
) -> tuple[float | None, float | None, float | None, int]:
    """Load and rebuild (unless reusing); (load seconds, rebuild seconds, rate, head)."""
    settings = Settings(database_url=url, log_format="json", log_level="WARNING")
    if reuse and loaded_already(url):
        print(f"  reusing {url}", flush=True)
        view = open_view(settings)
        try:
            head = view.head()
        finally:
            view.close()
        return None, None, None, head
    fresh_database(url)
    migrate(settings)
    app = bootstrap(settings)
    try:
        started = time.monotonic()
        last = [started]

        def loading(stored: int) -> None:
            if time.monotonic() - last[0] > 15:
                last[0] = time.monotonic()
                print(f"  loaded {stored:,} events", flush=True)

        load(app, events=events, channels=channels, batch=500, progress=loading)
        load_seconds = time.monotonic() - started
        head = app.head()
    finally:
        app.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    print(f"  loaded {head:,} log positions in {load_seconds:,.1f} s", flush=True)
    last = [time.monotonic()]

    def rebuilding(position: int, target: int) -> None:
        if time.monotonic() - last[0] > 15:
            last[0] = time.monotonic()
            print(f"  rebuilt {position:,} / {target:,}", flush=True)

    done = rebuild(settings, progress=rebuilding)
    print(f"  rebuilt in {done.seconds:,.1f} s: {done.rate:,.0f} events/s", flush=True)
    return load_seconds, done.seconds, done.rate, head


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call: Callable[[], Any], requests: int, warmup: int) -> tuple[float, float]:
    """p50 and p99, in milliseconds, of `requests` calls after `warmup` unmeasured ones."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    if not samples:
        return 0.0, 0.0
    return statistics.median(samples), percentile(samples, 0.99)


def random_day(rng: random.Random) -> date:
    return START + timedelta(days=rng.randrange(SPAN_DAYS + 365))


Call = Callable[[], Any]


@contextmanager
def read_model_calls(url: str, channels: int, seed: int) -> Iterator[tuple[Call, Call]]:
    """A channel's status and a board page at random dates, through `ReadModel`."""
    settings = Settings(database_url=url)
    model = ReadModel.open(settings)
    pairs = channel_pairs(channels, random.Random(7))
    rng = random.Random(seed)
    now = datetime.now(UTC)
    try:

        def one() -> None:
            a, b = rng.choice(pairs)
            model.status(a, b, as_of=end_of(random_day(rng)), known_at=now)

        def board() -> None:
            as_of = end_of(random_day(rng))
            page = list(islice(model.board(as_of=as_of, known_at=now, limit=100), 100))
            assert page

        yield one, board
    finally:
        model.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def http_calls(url: str, channels: int, seed: int) -> Iterator[tuple[Call, Call]]:
    """The same two reads through the HTTP API of a `backchannel serve` of its own."""
    port = free_port()
    env = {**os.environ, "BACKCHANNEL_DATABASE_URL": url, "BACKCHANNEL_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-c", "from service.cli import app; app()", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    pairs = channel_pairs(channels, random.Random(7))
    rng = random.Random(seed)
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            deadline = time.monotonic() + 1800
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.5)

            def one() -> None:
                a, b = rng.choice(pairs)
                day = random_day(rng).isoformat()
                client.get(f"/v1/channels/{a}/{b}", params={"as_of": day}).raise_for_status()

            def board() -> None:
                day = random_day(rng).isoformat()
                answer = client.get("/v1/channels", params={"as_of": day, "limit": 100})
                answer.raise_for_status()

            yield one, board
    finally:
        server.terminate()
        server.wait(30)


Round = tuple[float, float, float, float]  # status p50, p99, board p50, p99 (ms)


def measure(args: argparse.Namespace, urls: list[str]) -> list[list[Round]]:
    """Per size, `--repetitions` rounds of status and board latency, the sizes taking
    turns round by round (A/B/A/B), each after an unmeasured warm-up of both reads."""
    calls = http_calls if args.via == "http" else read_model_calls
    requests = max(args.requests // args.repetitions, 20)
    boards = max(requests // 5, 20)
    rounds: list[list[Round]] = [[] for _ in urls]
    with ExitStack() as stack:
        reads = [stack.enter_context(calls(url, args.channels, args.seed)) for url in urls]
        for one, board in reads:
            timed(one, 0, warmup=min(200, requests))
            timed(board, 0, warmup=20)
        for repetition in range(args.repetitions):
            for size, (one, board) in enumerate(reads):
                figures = (*timed(one, requests, 0), *timed(board, boards, 0))
                rounds[size].append(figures)
                print(
                    f"  round {repetition + 1}, {args_size(args, size):,} events: status p50 "
                    f"{figures[0]:.2f} ms, p99 {figures[1]:.2f}; board p50 {figures[2]:.2f} ms, "
                    f"p99 {figures[3]:.2f}",
                    flush=True,
                )
    return rounds


def args_size(args: argparse.Namespace, size: int) -> int:
    return int((args.baseline_events, args.events)[size])


def run(args: argparse.Namespace, events: int) -> tuple[str, Figures]:
    url = database_url(args.database_url, events, args.channels)
    print(f"{events:,} events over {args.channels:,} channels ({url})", flush=True)
    load_s, rebuild_s, rate, head = prepare(url, events, args.channels, args.reuse)
    return url, Figures(events, args.channels, head, load_s, rebuild_s, rate, args.via)


def spread(base: Figures, big: Figures, index: int) -> str:
    """The ratio of the large size to the baseline, round by round: median (min to max)."""
    ratios = sorted(b[index] / a[index] for a, b in zip(base.rounds, big.rounds, strict=True))
    if not ratios:
        return "—"
    return f"{statistics.median(ratios):.2f} ({ratios[0]:.2f} to {ratios[-1]:.2f})"


def shown(value: float | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def report(base: Figures, big: Figures) -> str:
    lines = [
        f"{'':24}{base.events:>14,}{big.events:>14,}   ratio (min to max)   (events; via {big.via};"
        f" latency: median of {len(big.rounds)} interleaved rounds)",
        f"{'rebuild (events/s)':24}{shown(base.rebuild_rate, '{:,.0f}'):>14}"
        f"{shown(big.rebuild_rate, '{:,.0f}'):>14}",
    ]
    names = ["status p50 (ms)", "status p99 (ms)", "board of 100 p50 (ms)", "board of 100 p99 (ms)"]
    for index, name in enumerate(names):
        small, large = base.median(index), big.median(index)
        lines.append(
            f"{name:24}{shown(small, '{:.2f}'):>14}{shown(large, '{:.2f}'):>14}   "
            f"{spread(base, big, index)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--baseline-events", type=int, default=10_000)
    add_server_option(parser)
    parser.add_argument(
        "--requests", type=int, default=2000, help="status requests per size, over all rounds"
    )
    parser.add_argument(
        "--repetitions", type=int, default=5, help="interleaved rounds of latency (at least 3)"
    )
    parser.add_argument("--via", choices=("readmodel", "http"), default="readmodel")
    parser.add_argument("--reuse", action="store_true", help="keep databases already loaded")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--output", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    actor_ids(args.channels)  # fail early on a silly size
    if args.repetitions < 3:
        parser.error("--repetitions must be at least 3")
    prepared = [run(args, args.baseline_events), run(args, args.events)]
    figures = [f for _, f in prepared]
    for found, rounds in zip(figures, measure(args, [u for u, _ in prepared]), strict=True):
        found.rounds = rounds
    print()
    print(report(*figures))
    result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "sizes": [asdict(f) for f in figures],
    }
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
