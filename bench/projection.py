"""Benchmark: the projection rate of a busy channel against the same events spread out.

For each variant of a busy history (`--variants`), in PostgreSQL databases of their own:

A. `--events` facts on one channel, in valid-time order:
   - `statements`: a call, then statements with a hotline test now and then and
     no contact ever again (the case of a channel that only talks about talking);
   - `hotline`: a hotline tested every day, a call requested every quarter and
     the hotline used once a year;
B. the same facts, one by one, over `--channels` channels.

With `--batched N`, both are stored as atomic batches of N facts (as
`POST /v1/events/batch` and `import` store them): a batch's facts share one
transaction time, so a busy channel receives up to N facts at the same instant.

Then, interleaved A, B, A, B, … for `--repetitions` rounds, it catches a projector up
from position 0 into a fresh generation of each database's read model (what a
rebuild or a projector far behind does) and times it. It prints the rate of each
run in facts per second, and the ratio A / B of each round with its median and
min and max: the cost of projecting a fact should not depend on its channel's length,
so the ratio should stay near 1.

    python -m bench.projection --database-url postgresql://postgres@127.0.0.1:5432/postgres \\
        --events 12000 --channels 10000 --repetitions 3

The databases are named after the URL's database, the variant, the layout and the
size (`<db>_bench_projection_<variant>_<one|spread>_<events>`); they are dropped
and created afresh unless --reuse is given and they already hold the history.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

from bench.readmodel import fresh_database
from bench.workload import NOW, add_server_option, channel_pairs
from domain.contacts import Contact
from domain.events import EventType, channel_id, parse_fact
from infra.logging import configure_logging
from infra.readmodel import open_view
from infra.settings import Settings
from service.bootstrap import bootstrap, migrate
from service.projector import Projector

VARIANTS = ("statements", "hotline")
LAYOUTS = ("one", "spread")
BUSY = ("actor-busy-a", "actor-busy-b")
SAVE_BATCH = 500


@dataclass
class Runs:
    """The timed catch-ups of one variant: facts per second, per round, for A and B."""

    variant: str
    facts: int
    one: list[float] = field(default_factory=list)
    spread: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.one, self.spread, strict=True)]


def busy_history(variant: str, events: int, seed: int = 7) -> Iterator[tuple[EventType, str]]:
    """(type, occurred_at) of each fact of the busy channel, in valid-time order."""
    rng = random.Random(seed)
    if variant == "statements":
        start = datetime(2000, 1, 1, tzinfo=UTC)
        step = timedelta(days=20 * 365) / events  # twenty years of them
        for n in range(events):
            if n == 0:
                kind = EventType.CALL_HELD
            else:
                kind = EventType.HOTLINE_TEST if rng.random() < 0.02 else EventType.STATEMENT
            yield kind, _instant(start + step * n + timedelta(seconds=rng.randrange(60)))
    elif variant == "hotline":
        first = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(days=events)
        for n in range(events):
            if n % 365 == 200:
                kind = EventType.HOTLINE_USE
            elif n % 91 == 45:
                kind = EventType.CALL_REQUESTED
            else:
                kind = EventType.HOTLINE_TEST
            yield kind, (first + timedelta(days=n)).date().isoformat()
    else:
        raise ValueError(f"unknown variant {variant!r}")


def _instant(at: datetime) -> str:
    return at.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def history(
    variant: str, layout: str, events: int, channels: int
) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """The actors to register and the facts, in the API's shape, of one database."""
    pairs = [BUSY] if layout == "one" else channel_pairs(channels, random.Random(7))
    actors = sorted({a for pair in pairs for a in pair})

    def facts() -> Iterator[dict[str, Any]]:
        for n, (kind, occurred) in enumerate(busy_history(variant, events)):
            a, b = pairs[n % len(pairs)]
            actor, counterpart = (a, b) if n % 2 == 0 else (b, a)
            yield {
                "id": str(UUID(int=(1 << 64) + n + 1)),
                "type": kind.value,
                "occurred_at": occurred,
                "actor": actor,
                "counterpart": counterpart,
            }

    return actors, facts()


def database_url(base: str, variant: str, layout: str, events: int, batched: int = 0) -> str:
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/') or 'postgres'}_bench_projection_{variant}_{layout}_{events}"
    if batched:
        name += f"_batched{batched}"
    return urlunsplit(parts._replace(path=f"/{name}"))


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, log_format="json", log_level="WARNING")


def loaded(url: str, facts: int) -> bool:
    """True if the database holds a loaded history (its log has `facts` contact facts)."""
    try:
        app = bootstrap(settings_for(url))
    except Exception:
        return False
    try:
        found = app.recorder.select_notifications(start=1, limit=10**9)
        return sum(n.topic.endswith("Contact.Recorded") for n in found) == facts
    except Exception:
        return False
    finally:
        app.close()


def prepare(
    url: str, variant: str, layout: str, events: int, channels: int, reuse: bool, batched: int = 0
) -> None:
    if reuse and loaded(url, events):
        print(f"  reusing {url}", flush=True)
        return
    fresh_database(url)
    settings = settings_for(url)
    migrate(settings)
    app = bootstrap(settings)
    started = time.monotonic()
    try:
        actors, facts = history(variant, layout, events, channels)
        for actor_id in actors:
            app.register_actor(
                {"id": actor_id, "name": actor_id, "kind": "person", "country": "US"}
            )
        if batched:  # the application's batch path: one transaction time per batch
            chunk: list[dict[str, Any]] = []
            for item in facts:
                chunk.append(item)
                if len(chunk) == batched:
                    app.record_facts(chunk)
                    chunk = []
            if chunk:
                app.record_facts(chunk)
            facts = iter(())
        pending: list[Contact] = []
        for item in facts:
            pending.append(Contact(fact=parse_fact(item, now=NOW, new_id=UUID(item["id"]))))
            if len(pending) >= SAVE_BATCH:
                app.save(*pending)
                pending.clear()
        if pending:
            app.save(*pending)
        head = app.head()
    finally:
        app.close()
    print(f"  loaded {url}: {head:,} log positions in {time.monotonic() - started:.1f} s")


def catch_up(url: str, batch_size: int | None) -> tuple[float, int]:
    """Project the whole log into a fresh generation; (seconds, log positions)."""
    settings = settings_for(url)
    view = open_view(settings)
    app = bootstrap(settings)
    try:
        view.drop_retired()
        number = view.create_generation(settings.window, datetime.now(UTC), live=False)
        projector = Projector(
            settings, app=app, view=view, generation=number, batch_size=batch_size
        )
        started = time.perf_counter()
        position = projector.catch_up()
        seconds = time.perf_counter() - started
        return seconds, position
    finally:
        app.close()
        view.close()


def spread(values: list[float], fmt: str) -> str:
    median = statistics.median(values)
    return f"{fmt.format(median)} (min {fmt.format(min(values))}, max {fmt.format(max(values))})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=12_000)
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument(
        "--variants", default="statements,hotline", help=f"comma-separated, of {VARIANTS}"
    )
    parser.add_argument(
        "--batch-size", type=int, help="log positions per transaction (default: the setting's)"
    )
    parser.add_argument(
        "--batched",
        type=int,
        default=0,
        help="store the facts as atomic batches of this many (one transaction time each)",
    )
    add_server_option(parser)
    parser.add_argument("--reuse", action="store_true", help="keep databases already loaded")
    parser.add_argument("--output", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    if not variants or any(v not in VARIANTS for v in variants):
        parser.error(f"--variants must name some of {', '.join(VARIANTS)}")
    if args.repetitions < 3:
        parser.error("--repetitions must be at least 3")
    if not 0 <= args.batched <= 1000:
        parser.error("--batched must be between 0 (single facts) and 1000")
    channel_pairs(args.channels, random.Random(7))  # fail early on a silly size
    configure_logging("console", "WARNING")
    print(f"one channel ({channel_id(*BUSY)}) against {args.channels:,} channels", flush=True)
    urls = {
        (v, layout): database_url(args.database_url, v, layout, args.events, args.batched)
        for v in variants
        for layout in LAYOUTS
    }
    for (variant, layout), url in urls.items():
        prepare(url, variant, layout, args.events, args.channels, args.reuse, args.batched)
    runs = {v: Runs(v, args.events) for v in variants}
    for round_ in range(1, args.repetitions + 1):
        for variant in variants:
            for layout in LAYOUTS:
                seconds, position = catch_up(urls[variant, layout], args.batch_size)
                rate = args.events / seconds
                getattr(runs[variant], layout).append(rate)
                print(
                    f"  round {round_} {variant:10} {layout:6} {position:>7,} positions "
                    f"in {seconds:7.2f} s: {rate:8,.0f} facts/s",
                    flush=True,
                )
    print()
    print(f"{args.events:,} facts; facts/s, median (min, max) of {args.repetitions} rounds")
    for variant, found in runs.items():
        print(f"{variant}:")
        print(f"  {'A, one channel':24}{spread(found.one, '{:,.0f}')}")
        print(f"  {f'B, {args.channels:,} channels':24}{spread(found.spread, '{:,.0f}')}")
        print(f"  {'ratio A / B':24}{spread(found.ratios, '{:.2f}')}")
    if args.output:
        result = {
            "measured_at": datetime.now(UTC).isoformat(),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "events": args.events,
            "channels": args.channels,
            "batched": args.batched,
            "runs": [asdict(r) | {"ratios": r.ratios} for r in runs.values()],
        }
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
