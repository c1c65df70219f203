"""Benchmark: the read model's rebuild, next to a raw read of the same log.

In a PostgreSQL database holding the synthetic workload (bench/workload.py:
--events facts over --channels channels, a fifth backdated, 1% retracted),
it runs, interleaved A/B/A/B, --repetitions times each:

A. a raw read of the log: one psycopg SELECT of every stored event, in log
   order, and `json.loads` of each one's state (what any reader of the log
   must at least do);
B. `service.rebuild.rebuild` (what `backchannel projections rebuild` runs):
   a new generation loaded in bulk, caught up, switched to; the deletion of
   the generation it replaced is timed apart.

It prints each one's events per second (median, lowest to highest), the rebuild's time,
and the ratio rebuild / raw read of each pair with its spread.

    python -m bench.rebuild --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --events 1000000 --channels 10000 --reuse

The database is `<db>_bench_<events>_<channels>` (as bench/readmodel.py names
it); it is dropped and loaded afresh unless --reuse finds it loaded. With
--seeded, the log begins with the shipped seeds (`backchannel seed`: actors, the
article's events, the offices and their terms), as a store that started from them
does, and the database is `<db>_bench_seeded_<events>_<channels>`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench.readmodel import database_url, fresh_database
from bench.workload import actor_ids, add_server_option, load
from infra.logging import configure_logging
from infra.readmodel import open_view
from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.rebuild import default_workers, rebuild
from service.transfer import seed


@dataclass
class Round:
    """One A/B pair."""

    raw_seconds: float
    raw_rate: float
    rebuild_seconds: float
    rebuild_rate: float
    drop_seconds: float

    @property
    def ratio(self) -> float:
        return self.rebuild_rate / self.raw_rate


def head_of(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT MAX(notification_id) FROM backchannel_events").fetchone()
    except psycopg.Error:
        return 0
    return int(row[0] or 0) if row else 0


def prepare(url: str, events: int, channels: int, reuse: bool, seeded: bool = False) -> int:
    """The log's head, after loading the workload (after the seeds, if `seeded`) unless it
    is loaded already."""
    if reuse and head_of(url) >= events:
        print(f"  reusing {url}", flush=True)
        return head_of(url)
    fresh_database(url)
    settings = Settings(database_url=url, log_format="json", log_level="WARNING")
    migrate(settings)
    app = bootstrap(settings)
    started = last = time.monotonic()
    try:

        def loading(stored: int) -> None:
            nonlocal last
            if time.monotonic() - last > 15:
                last = time.monotonic()
                print(f"  loaded {stored:,} events", flush=True)

        if seeded:
            seed(app)
        load(app, events=events, channels=channels, batch=500, progress=loading)
        head = app.head()
    finally:
        app.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    print(f"  loaded {head:,} log positions in {time.monotonic() - started:,.1f} s", flush=True)
    return head


def raw_read(url: str) -> tuple[float, int]:
    """Seconds to SELECT every stored event in log order and json.loads its state."""
    started = time.perf_counter()
    count = 0
    with psycopg.connect(url) as conn, conn.cursor(name="raw") as cursor:
        cursor.itersize = 10_000
        cursor.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM backchannel_events ORDER BY notification_id"
        )
        for row in cursor:
            json.loads(row[4])
            count += 1
    return time.perf_counter() - started, count


def timed_rebuild(settings: Settings, workers: int | None) -> tuple[float, int, float]:
    """(seconds until the new generation is live, its position, seconds of the deletion
    of the one it replaced)."""
    started = time.monotonic()
    done = rebuild(settings, workers=workers)
    total = time.monotonic() - started
    return done.seconds, done.position, total - done.seconds


def spread(values: list[float], fmt: str) -> str:
    return (
        f"{fmt.format(statistics.median(values))} "
        f"({fmt.format(min(values))} to {fmt.format(max(values))})"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--workers", type=int, help="bulk-load processes (default: one per CPU)")
    add_server_option(parser)
    parser.add_argument("--reuse", action="store_true", help="keep the database if loaded")
    parser.add_argument(
        "--seeded", action="store_true", help="the shipped seeds (with terms) first in the log"
    )
    parser.add_argument("--output", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    if args.repetitions < 3:
        parser.error("--repetitions must be at least 3")
    actor_ids(args.channels)
    configure_logging("console", "WARNING")
    url = database_url(args.database_url, args.events, args.channels, seeded=args.seeded)
    print(f"{args.events:,} events over {args.channels:,} channels ({url})", flush=True)
    head = prepare(url, args.events, args.channels, args.reuse, args.seeded)
    settings = Settings(database_url=url, log_format="json", log_level="WARNING")
    workers = args.workers or default_workers(settings)
    view = open_view(settings)
    try:
        if view.live() is None:  # the first rebuild then replaces a generation, like the rest
            rebuild(settings, workers=workers)
    finally:
        view.close()
    rounds: list[Round] = []
    for n in range(args.repetitions):
        raw_s, read = raw_read(url)
        rebuild_s, position, drop_s = timed_rebuild(settings, workers)
        rounds.append(Round(raw_s, read / raw_s, rebuild_s, position / rebuild_s, drop_s))
        print(
            f"  round {n + 1}: raw read {read / raw_s:,.0f} events/s ({raw_s:.1f} s); "
            f"rebuild {position / rebuild_s:,.0f} events/s ({rebuild_s:.1f} s, "
            f"then {drop_s:.1f} s deleting the replaced generation); "
            f"ratio {rounds[-1].ratio:.3f}",
            flush=True,
        )
    print()
    print(f"{head:,} log positions, {args.channels:,} channels, {workers} worker(s)")
    print(f"raw read (events/s)        {spread([r.raw_rate for r in rounds], '{:,.0f}')}")
    print(f"rebuild (events/s)         {spread([r.rebuild_rate for r in rounds], '{:,.0f}')}")
    print(f"rebuild (s, until live)    {spread([r.rebuild_seconds for r in rounds], '{:.1f}')}")
    print(f"deleting the replaced (s)  {spread([r.drop_seconds for r in rounds], '{:.1f}')}")
    print(f"ratio rebuild / raw read   {spread([r.ratio for r in rounds], '{:.3f}')}")
    if args.output:
        result = {
            "measured_at": datetime.now(UTC).isoformat(),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "events": args.events,
            "channels": args.channels,
            "head": head,
            "workers": workers,
            "rounds": [{**asdict(r), "ratio": r.ratio} for r in rounds],
        }
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
