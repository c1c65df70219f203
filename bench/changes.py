"""Benchmark: a 7-day `transitions` page and a `revisions` query next to a 100-channel board page.

For each size (the baseline, 10,000 events by default, and --events), over the
same number of channels, in a PostgreSQL database of its own (loaded and rebuilt
as bench/readmodel.py does, and reused with --reuse), through
`service.queries.ReadModel` in-process, it measures p50/p99 of

- a board page of 100 channels at a random date (the reference in the same run),
- a page of 100 transitions over a random 7-day range,
- a page of 100 revisions: what the record learned from its last 200 events,

interleaved A/B/C, A/B/C, … for --repetitions rounds. It prints each figure with
its ratio to the board page (at most 2 is the aim) and, per query, the ratio of
the large size to the baseline (flat in history: at most 1.2), each with the
spread (min-max) over the rounds.

    python -m bench.changes --events 1000000 --channels 10000

A quick check at reduced size: `python -m bench.changes --events 50000 --channels 1000
--requests 100 --repetitions 3`.
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import psycopg

from bench.readmodel import database_url, percentile, prepare, random_day
from bench.workload import actor_ids, add_server_option
from domain.time import end_of
from infra.settings import Settings
from service.bootstrap import migrate
from service.queries import ReadModel

QUERIES = ("board", "transitions", "revisions")


LEARNED = 200  # the revisions query asks what the log's last this many events taught


def since_of(url: str) -> datetime:
    """The transaction time before the log's last LEARNED events."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT recorded_at FROM channel_facts ORDER BY position DESC LIMIT 1 OFFSET %s",
            (LEARNED,),
        ).fetchone()
    assert row is not None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=row[0])


def calls(model: ReadModel, since: datetime, seed: int) -> dict[str, Callable[[], Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)

    def board() -> None:
        page = list(
            islice(model.board(as_of=end_of(random_day(rng)), known_at=now, limit=100), 100)
        )
        assert page

    def transitions() -> None:
        end = end_of(random_day(rng))
        model.transitions(start=end - timedelta(days=7), end=end, known_at=now, limit=101)

    def revisions() -> None:
        model.revisions(since=since, until=now, as_of=end_of(random_day(rng)), limit=101)

    return {"board": board, "transitions": transitions, "revisions": revisions}


def measure(url: str, requests: int, repetitions: int, seed: int) -> dict[str, list[float]]:
    """Per query, [p50, p99] of every round (ms), rounds interleaved across the queries."""
    import time

    model = ReadModel.open(Settings(database_url=url, log_level="WARNING"))
    since = since_of(url)
    try:
        queries = calls(model, since, seed)
        for call in queries.values():  # warm up
            for _ in range(min(20, requests)):
                call()
        rounds: dict[str, list[tuple[float, float]]] = {q: [] for q in QUERIES}
        for _ in range(repetitions):
            for name in QUERIES:
                samples = []
                for _ in range(requests):
                    started = time.perf_counter()
                    queries[name]()
                    samples.append((time.perf_counter() - started) * 1000)
                rounds[name].append((statistics.median(samples), percentile(samples, 0.99)))
    finally:
        model.close()
    return {q: [x for pair in r for x in pair] for q, r in rounds.items()}


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def report(sizes: list[tuple[int, dict[str, list[float]]]]) -> str:
    lines = []
    for events, found in sizes:
        lines.append(f"{events:,} events")
        board50 = found["board"][0::2]
        board99 = found["board"][1::2]
        for name in QUERIES:
            p50, p99 = found[name][0::2], found[name][1::2]
            r50 = [a / b for a, b in zip(p50, board50, strict=True)]
            r99 = [a / b for a, b in zip(p99, board99, strict=True)]
            m50, m99 = summary(p50)[0], summary(p99)[0]
            lines.append(
                f"  {name:12} p50 {m50:8.2f} ms  p99 {m99:8.2f} ms   "
                f"vs board p50 {summary(r50)[0]:.2f} ({min(r50):.2f}-{max(r50):.2f}) "
                f"p99 {summary(r99)[0]:.2f} ({min(r99):.2f}-{max(r99):.2f})"
            )
    (small, base), (large, big) = sizes
    lines.append(f"flat in history ({large:,} / {small:,} events), p50:")
    for name in QUERIES:
        ratios = [a / b for a, b in zip(big[name][0::2], base[name][0::2], strict=True)]
        lines.append(f"  {name:12} {summary(ratios)[0]:.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--baseline-events", type=int, default=10_000)
    add_server_option(parser)
    parser.add_argument("--requests", type=int, default=300, help="calls per query per round")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep databases already loaded")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    actor_ids(args.channels)
    sizes = []
    for events in (args.baseline_events, args.events):
        url = database_url(args.database_url, events, args.channels)
        print(f"{events:,} events over {args.channels:,} channels ({url})", flush=True)
        prepare(url, events, args.channels, args.reuse)
        migrate(Settings(database_url=url, log_level="WARNING"))  # a reused store may be older
        sizes.append((events, measure(url, args.requests, args.repetitions, args.seed)))
    print()
    print(report(sizes))


if __name__ == "__main__":
    main()
