"""A synthetic history at scale, written through the application so the log is real.

`load(app, events=N, channels=C)` registers enough actors for C channels and
appends N contact facts spread over them (about 20% of them backdated: they
arrive after facts that occurred later), plus a retraction of about 1% of them,
many aggregates per `save()` so that loading a million events takes minutes.
Deterministic for a given seed, apart from the transaction times the store stamps.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.contacts import Contact
from domain.events import EventType, parse_fact
from service.application import Backchannel

START = date(2016, 1, 1)
SPAN_DAYS = 3650
TYPES = [  # (type, weight): mostly talk about talking, as in the article
    (EventType.STATEMENT, 25),
    (EventType.CALL_REQUESTED, 15),
    (EventType.CALL_REFUSED, 8),
    (EventType.CALL_HELD, 14),
    (EventType.MEETING_REQUESTED, 6),
    (EventType.MEETING_REFUSED, 3),
    (EventType.MEETING_HELD, 6),
    (EventType.SUMMONS, 5),
    (EventType.HOTLINE_TEST, 13),
    (EventType.HOTLINE_USE, 5),
]
BACKDATED = 0.2
RETRACTED = 0.01
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Loaded:
    """What was appended: how many facts and retractions, the channels, the head."""

    facts: int
    retractions: int
    channels: list[str]
    head: int


def actor_ids(channels: int) -> list[str]:
    """Enough actors that their pairs make `channels` channels."""
    count = max(2, math.ceil((1 + math.sqrt(1 + 8 * channels)) / 2))
    return [f"actor-{i:05d}" for i in range(count)]


def channel_pairs(channels: int, rng: random.Random) -> list[tuple[str, str]]:
    pairs = list(itertools.combinations(actor_ids(channels), 2))
    rng.shuffle(pairs)
    return pairs[:channels]


def facts(events: int, channels: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`events` facts in arrival order, in the API's shape.

    Each channel's facts occur at sorted random days; most arrive in that order,
    a fifth arrive later than facts that occurred after them.
    """
    rng = random.Random(seed)
    pairs = channel_pairs(channels, rng)
    kinds = [t for t, _ in TYPES]
    weights = [w for _, w in TYPES]
    planned: list[tuple[float, int, int, str, str, EventType]] = []
    for n in range(events):
        a, b = pairs[n % len(pairs)]
        day = rng.randrange(SPAN_DAYS)
        arrival = day + (rng.uniform(1, 400) if rng.random() < BACKDATED else rng.random())
        seconds = rng.randrange(86_400) if rng.random() < 0.3 else -1
        actor, counterpart = (a, b) if rng.random() < 0.5 else (b, a)
        kind = rng.choices(kinds, weights)[0]
        planned.append((arrival, day, seconds, actor, counterpart, kind))
    planned.sort(key=lambda p: p[0])
    for n, (_, day, seconds, actor, counterpart, kind) in enumerate(planned):
        when = START + timedelta(days=day)
        if seconds >= 0:
            moment = datetime(when.year, when.month, when.day, tzinfo=UTC)
            occurred = (moment + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
        else:
            occurred = when.isoformat()
        yield {
            "id": str(UUID(int=(seed << 64) + n + 1)),
            "type": kind.value,
            "occurred_at": occurred,
            "actor": actor,
            "counterpart": counterpart,
        }


def load(
    app: Backchannel,
    *,
    events: int,
    channels: int,
    batch: int = 500,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> Loaded:
    """Append the workload: actors, then facts `batch` aggregates per save, with retractions."""
    rng = random.Random(seed + 1)
    for actor_id in actor_ids(channels):
        app.register_actor({"id": actor_id, "name": actor_id, "kind": "person", "country": "US"})
    pending: list[Contact] = []
    to_retract: list[Contact] = []
    stored = retracted = 0
    for item in facts(events, channels, seed):
        contact = Contact(fact=parse_fact(item, now=NOW, new_id=UUID(item["id"])))
        pending.append(contact)
        if rng.random() < RETRACTED:
            to_retract.append(contact)
        if len(pending) >= batch:
            stored += _flush(app, pending)
            retracted += _retract_some(app, to_retract, rng)
            if progress is not None:
                progress(stored)
    stored += _flush(app, pending)
    retracted += _retract_some(app, to_retract, rng, everything=True)
    if progress is not None:
        progress(stored)
    pairs = channel_pairs(channels, random.Random(seed))
    return Loaded(stored, retracted, sorted(f"{a}~{b}" for a, b in pairs), app.head())


def _flush(app: Backchannel, pending: list[Contact]) -> int:
    if not pending:
        return 0
    app.save(*pending)
    count = len(pending)
    pending.clear()
    return count


def _retract_some(
    app: Backchannel, waiting: list[Contact], rng: random.Random, everything: bool = False
) -> int:
    """Retract some of the facts chosen for it (later than they were stored)."""
    chosen = list(waiting) if everything else [c for c in waiting if rng.random() < 0.3]
    if not chosen:
        return 0
    for contact in chosen:
        contact.retract(UUID(int=rng.getrandbits(128)), "synthetic correction")
    app.save(*chosen)
    done = {id(c) for c in chosen}
    waiting[:] = [c for c in waiting if id(c) not in done]
    return len(chosen)


def add_server_option(parser: argparse.ArgumentParser) -> None:
    """`--database-url`: the PostgreSQL server a benchmark loads its databases into."""
    parser.add_argument(
        "--database-url",
        type=_postgres_server,
        default=os.environ.get(
            "BACKCHANNEL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server (its database name prefixes the bench databases)",
    )


def _postgres_server(url: str) -> str:
    if not url.startswith(("postgresql://", "postgres://")):
        raise argparse.ArgumentTypeError("must name a PostgreSQL server")
    return url
