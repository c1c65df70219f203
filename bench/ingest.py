"""Benchmark: ingest, each figure next to what it is compared with, in one run.

1. Single-event ingest at `--clients` clients on PostgreSQL: req/s of POST /v1/events
   against the bare FastAPI + psycopg endpoint doing one INSERT + commit
   (bench/bare.py), with the projector inside `serve` and with a standalone
   `backchannel projector` beside it; and the same on SQLite (against the same bare
   endpoint, which is on PostgreSQL).
2. `POST /v1/events/batch` of `--batch` events, one client, against a raw COPY of the
   same rows into a plain table (a primary key on the id, as the log has).
   The service runs with its projector inside (`serve` alone) and beside it (a
   `backchannel projector` process): the projector folds the batch as it lands.
3. `backchannel import` of an `--lines`-line file against a raw COPY of the same rows,
   with the import process's peak RSS. Each run of the import is preceded by an import
   of a one-line file, the process's start-up (interpreter, modules, connections): the
   import is reported whole (start-up included) and in its steady state (lines over
   the run's time less that start-up).

Every comparison runs interleaved A/B/A/B, `--repeat` times (at least 3), and prints
each pair, the ratio's median and its spread (min to max). Every step runs in a
database of its own, created afresh and dropped afterwards.

    python -m bench.ingest --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --clients 16 --seconds 20 --batch 1000 --lines 1000000
    python -m bench.ingest --smoke     # a quick check that every step runs
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import psycopg
from psycopg import sql

from bench.serving import (
    ROOT,
    TOKEN,
    Request,
    Served,
    _env,
    bare,
    event_body,
    interleaved,
    rate,
)
from infra.settings import Settings
from service.bootstrap import bootstrap, migrate

ACTORS = [
    {"id": "actor-00000", "name": "Actor 0", "kind": "person", "country": "US"},
    {"id": "actor-00001", "name": "Actor 1", "kind": "person", "country": "RU"},
]
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
COPY_TABLE = "bench_copy_rows"
SCRIPT = str(Path(sys.executable).with_name("backchannel"))


@contextmanager
def database(base: str, label: str, actors: int = 2) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database with `actors` actors registered."""
    name = f"bench_ingest_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    try:
        _prepare(url, actors)
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def sqlite_database(actors: int = 2) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as directory:
        url = f"sqlite:///{directory}/backchannel.sqlite3"
        _prepare(url, actors)
        yield url


def cast(count: int) -> list[dict[str, str]]:
    """`count` actors (at least the two of ACTORS), alternately American and Russian."""
    return [
        {
            "id": f"actor-{n:05d}",
            "name": f"Actor {n}",
            "kind": "person",
            "country": ("US", "RU")[n % 2],
        }
        for n in range(max(2, count))
    ]


def spread_body(actors: int) -> Callable[[Any], dict[str, Any]]:
    """A single event's body between two of `actors` actors drawn at random (with 2, the
    one channel of `event_body`; with 40, 780 channels), on a day of 2022 drawn at random:
    most facts arrive backdated in their channel, as events reported late do."""
    if actors <= 2:
        return event_body

    def body(rng: Any) -> dict[str, Any]:
        a, b = rng.sample(range(actors), 2)
        return {**event_body(rng), "actor": f"actor-{a:05d}", "counterpart": f"actor-{b:05d}"}

    return body


def _prepare(url: str, actors: int = 2) -> None:
    settings = Settings(database_url=url, log_level="WARNING")
    migrate(settings)
    app = bootstrap(settings)
    try:
        for actor in cast(actors):
            app.register_actor(actor)
    finally:
        app.close()
    if url.startswith("postgresql"):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                f"CREATE TABLE {COPY_TABLE} (id uuid PRIMARY KEY, type text NOT NULL,"
                " occurred_at text NOT NULL, actor text NOT NULL, counterpart text NOT NULL,"
                " summary text NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())"
            )


def serve(url: str, *, projector: str) -> Served:
    """`backchannel serve`, its projector inside (`embedded`) or in a process beside it."""
    extra = {"BACKCHANNEL_EMBEDDED_PROJECTOR": "true" if projector == "embedded" else "false"}
    return Served([SCRIPT, "serve"], _env(url, **extra), "/readyz")


@contextmanager
def standalone_projector(url: str) -> Iterator[None]:
    process = subprocess.Popen(
        [SCRIPT, "projector"],
        env=_env(url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def rows(count: int, tag: str) -> Iterator[dict[str, Any]]:
    """`count` facts between the two actors, each with an id of its own."""
    for n in range(count):
        yield {
            "id": str(uuid.uuid4()),
            "type": "statement",
            "occurred_at": f"2022-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "actor": ACTORS[0]["id"],
            "counterpart": ACTORS[1]["id"],
            "summary": f"{tag} {n}",
        }


def copy_rate(url: str, count: int, *, chunk: int) -> float:
    """Rows per second of a raw COPY of `count` rows, a transaction per `chunk`; the rows
    are written to a file in COPY's text format first, and streamed from it."""
    fields = ("id", "type", "occurred_at", "actor", "counterpart", "summary")
    with tempfile.TemporaryFile("w+b") as data:
        blocks: list[tuple[int, int]] = []
        items = rows(count, "copy")
        for _ in range(0, count, chunk):
            at = data.tell()
            for _n, item in zip(range(chunk), items, strict=False):
                data.write(("\t".join(item[f] for f in fields) + "\n").encode())
            blocks.append((at, data.tell() - at))
        statement = f"COPY {COPY_TABLE} ({', '.join(fields)}) FROM STDIN"
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            for at, size in blocks:
                data.seek(at)
                left = size
                with conn.cursor() as cur, cur.copy(statement) as copy:
                    while left:
                        block = data.read(min(left, 1 << 20))
                        copy.write(block)
                        left -= len(block)
                conn.commit()
        return count / (time.perf_counter() - started)


def batch_rate(base: str, size: int, batches: int) -> float:
    """Events per second of `batches` POST /v1/events/batch of `size` events, one client."""
    bodies = [{"events": list(rows(size, "batch"))} for _ in range(batches)]
    with httpx.Client(base_url=base, headers=HEADERS, timeout=120) as http:
        started = time.perf_counter()
        for body in bodies:
            answer = http.post("/v1/events/batch", json=body)
            assert answer.status_code == 201, answer.text
        return size * batches / (time.perf_counter() - started)


def import_run(url: str, lines: int, directory: Path) -> tuple[float, float, float]:
    """(seconds, events per second, peak RSS in MiB) of `backchannel import` of a
    fresh file, the whole process's run."""
    path = directory / f"events-{uuid.uuid4().hex[:6]}.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for item in rows(lines, "import"):
            out.write(json.dumps(item) + "\n")
    peak = [0]
    started = time.perf_counter()
    process = subprocess.Popen(
        [SCRIPT, "import", str(path)],
        env=_env(url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    watched = psutil.Process(process.pid)

    def watch() -> None:
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], watched.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    _, err = process.communicate()
    elapsed = time.perf_counter() - started
    watcher.join()
    path.unlink()
    if process.returncode != 0:
        raise RuntimeError(f"import failed: {err.decode(errors='replace')[-2000:]}")
    return elapsed, lines / elapsed, peak[0] / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=5, help="batches per measurement")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--actors",
        type=int,
        default=2,
        help="single events go between two of this many actors drawn at random (2: one "
        "busy channel, every fact on it; 40: 780 channels)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--client",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator: wrk (light; the default when installed) or httpx threads",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=("single", "batch", "import")
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, short runs")
    args = parser.parse_args()
    if args.smoke:
        args.clients, args.seconds, args.batch, args.batches, args.lines = 4, 2, 100, 2, 2000
    args.repeat = max(3, args.repeat)
    base = args.database_url.split("?", 1)[0]
    figures: dict[str, Any] = {
        "sizes": {
            "clients": args.clients,
            "seconds": args.seconds,
            "batch": args.batch,
            "batches": args.batches,
            "lines": args.lines,
            "repeat": args.repeat,
            "client": args.client,
            "actors": args.actors,
        }
    }

    single_body = spread_body(args.actors)

    def post(rng: Any) -> Request:
        return "POST", "/v1/events", single_body(rng)

    def bare_insert(rng: Any) -> Request:
        return "POST", "/insert", event_body(rng)

    def run(url: str, workload: Callable[[Any], Request], **extra: Any) -> float:
        return rate(url, workload, args.clients, args.seconds, client=args.client, **extra)

    if "single" not in args.skip:
        with database(base, "single", args.actors) as url:
            from bench.bare import setup as setup_bare

            setup_bare(url, rows=1000)
            with bare(url) as plain:
                with serve(url, projector="embedded") as one:
                    figures["single_postgres_embedded_projector"] = interleaved(
                        lambda: run(one.url, post, headers=HEADERS),
                        lambda: run(plain.url, bare_insert),
                        args.repeat,
                    )
                with standalone_projector(url), serve(url, projector="standalone") as one:
                    figures["single_postgres_standalone_projector"] = interleaved(
                        lambda: run(one.url, post, headers=HEADERS),
                        lambda: run(plain.url, bare_insert),
                        args.repeat,
                    )
                with (
                    sqlite_database(args.actors) as lite,
                    serve(lite, projector="embedded") as one,
                ):
                    figures["single_sqlite_embedded_projector_vs_bare_postgres"] = interleaved(
                        lambda: run(one.url, post, headers=HEADERS),
                        lambda: run(plain.url, bare_insert),
                        args.repeat,
                    )

    if "batch" not in args.skip:
        with database(base, "batch") as url, serve(url, projector="embedded") as one:
            figures["batch_vs_copy"] = interleaved(
                lambda: batch_rate(one.url, args.batch, args.batches),
                lambda: copy_rate(url, args.batch * args.batches, chunk=args.batch),
                args.repeat,
            )
        with (
            database(base, "batch") as url,
            standalone_projector(url),
            serve(url, projector="standalone") as one,
        ):
            figures["batch_vs_copy_standalone_projector"] = interleaved(
                lambda: batch_rate(one.url, args.batch, args.batches),
                lambda: copy_rate(url, args.batch * args.batches, chunk=args.batch),
                args.repeat,
            )

    if "import" not in args.skip:
        peaks: list[float] = []
        startups: list[float] = []
        steady: list[float] = []
        with database(base, "import") as url, tempfile.TemporaryDirectory() as directory:

            def imported() -> float:
                startup, _, _ = import_run(url, 1, Path(directory))
                elapsed, events_per_second, peak = import_run(url, args.lines, Path(directory))
                startups.append(round(startup, 2))
                steady.append(args.lines / max(elapsed - startup, 1e-3))
                peaks.append(round(peak, 1))
                return events_per_second

            figures["import_vs_copy"] = whole = interleaved(
                imported, lambda: copy_rate(url, args.lines, chunk=10_000), args.repeat
            )
        ratios = [x / y for x, y in zip(steady, whole["b"], strict=True)]
        figures["import_steady_vs_copy"] = {
            "a": [round(x, 1) for x in steady],
            "b": whole["b"],
            "ratio": round(statistics.median(ratios), 3),
            "spread": [round(min(ratios), 3), round(max(ratios), 3)],
        }
        figures["import_startup_seconds"] = startups
        figures["import_peak_rss_mib"] = peaks

    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
