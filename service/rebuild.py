"""Rebuilding the read model: a new generation from position 0, switched to when caught up.

Readers keep reading the live generation while the new one is built; the
switch happens in one transaction once the new generation has processed at
least what the live one has, so no reader ever sees a half-built view. The
generation it replaces is then deleted.

The new generation is first loaded in bulk up to the log's head as it was
when the rebuild began (service.bulk: each channel's whole history at once,
by worker processes that share the channels on PostgreSQL), and its tracked
position set to that head in the same transaction as its actors. The
projector then catches it up with whatever was appended meanwhile, as it
would any generation, before the switch. An interrupted rebuild leaves its
generation `building`: the next one retires it, and its rows are deleted.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import (
    FIRST_EXCEPTION,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.actors import ActorKind
from infra.logging import configure_logging, get_logger
from infra.readmodel import ActorState, ChangeSet, ChannelView, open_view, tracking_name
from infra.settings import Settings
from service.application import Backchannel
from service.bootstrap import bootstrap
from service.bulk import OfficeItem, build_share, office_log, project_offices
from service.projection import ACTOR_TOPICS, ActorChange, fold
from service.projector import Progress, Projector

REBUILD_BATCH = 2000
REBUILD_CACHE = 200_000  # channels: a rebuild reads every channel, and memory is cheap here
READING = 0.25  # the share of a bulk load's progress bar given to reading the log
log = get_logger("backchannel.rebuild")


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild did: the generation now live, how far it got and how fast."""

    generation: int
    position: int
    seconds: float
    channels_dropped: int

    @property
    def rate(self) -> float:
        """Log positions per second."""
        return self.position / self.seconds if self.seconds else 0.0


def rebuild(
    settings: Settings,
    *,
    progress: Progress | None = None,
    batch_size: int = REBUILD_BATCH,
    cache_channels: int = REBUILD_CACHE,
    workers: int | None = None,
) -> Rebuilt:
    """Build a new generation from the whole log, make it live, drop the one it replaces.

    A generation left half-built by an interrupted rebuild is discarded.
    `workers` processes share the bulk load (default: one per CPU on PostgreSQL,
    none but this one on SQLite).
    """
    view = open_view(settings)
    app = bootstrap(settings)
    try:
        number = view.create_generation(
            settings.window, datetime.now(UTC), live=False, detached=True
        )
        started = time.monotonic()
        load(settings, app, view, number, app.head(), progress=progress, workers=workers)
        projector = Projector(
            settings,
            app=app,
            view=view,
            generation=number,
            batch_size=batch_size,
            cache_channels=cache_channels,
            quiet_gc=True,
        )
        projector.catch_up(progress=progress)  # what was appended during the bulk load
        view.analyze()  # the new rows' statistics, before readers plan queries over them
        while not view.promote(number, datetime.now(UTC)):
            projector.catch_up(progress=progress)
        seconds = time.monotonic() - started
        dropped = view.drop_retired()
        return Rebuilt(number, projector.position, seconds, dropped)
    finally:
        view.close()
        app.close()


def default_workers(settings: Settings) -> int:
    if not settings.is_postgres:
        return 1  # one writer at a time, whatever the number of processes
    return max(1, len(os.sched_getaffinity(0)))


def load(
    settings: Settings,
    app: Backchannel,
    view: ChannelView,
    generation: int,
    until: int,
    *,
    progress: Progress | None = None,
    workers: int | None = None,
) -> None:
    """Load generation `generation` (being built, empty) with the log up to `until` in bulk,
    and track it at `until`.

    On PostgreSQL the generation's partitions are loaded detached, without
    indexes (see `ChannelView.create_generation`), and attached once loaded.
    The bulk load projects each channel alone, its whole history at once. A fact
    can also count for channels with an office on either side (domain.offices),
    from the terms recorded before or after it: those channels are left out of the
    bulk load, and projected afterwards in log order by the office pass
    (`project_offices`), which reads only the terms and the facts that can count
    for them. Every other channel is loaded whole, however early a term comes.
    """
    if until <= 0:
        view.attach(generation)
        return
    actors = actors_until(app, until)
    offices = frozenset(a.profile.id for a in actors.values() if a.profile.kind is ActorKind.OFFICE)
    parts = workers or default_workers(settings)
    started = time.monotonic()
    ahead: Future[list[OfficeItem]] | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="office-log") as reader:

        def read_ahead() -> None:
            """Once the workers are started (forked without this thread), this process,
            which only waits for them, reads the office pass's items meanwhile."""
            nonlocal ahead
            if offices:
                ahead = reader.submit(office_log, app, until, offices)

        _bulk(settings, generation, until, parts, progress, offices, read_ahead)
        loaded = time.monotonic()
        view.attach(generation)  # the indexes, built once the rows are in (PostgreSQL)
        indexed = time.monotonic()
        if offices:
            items = ahead.result() if ahead is not None else office_log(app, until, offices)
            project_offices(
                settings,
                view,
                generation,
                until,
                offices,
                actors,
                items,
                cache_channels=REBUILD_CACHE,
            )
        else:
            tracking = Tracking(tracking_name(generation), until)
            view.apply(generation, ChangeSet(actors=actors), tracking, 0)
    log.info(
        "bulk load done",
        generation=generation,
        position=until,
        workers=parts,
        seconds=round(time.monotonic() - started, 1),
        loading=round(loaded - started, 1),
        indexing=round(indexed - loaded, 1),
        offices=round(time.monotonic() - indexed, 1),
    )


def _bulk(
    settings: Settings,
    generation: int,
    until: int,
    parts: int,
    progress: Progress | None,
    offices: frozenset[str],
    started: Callable[[], None],
) -> None:
    """Every channel without one of `offices` on either side, loaded in bulk by `parts`
    worker processes (this process alone when one); `started` is called once they are."""
    if parts == 1:
        report = _Report(1, until, progress)
        build_share(
            settings,
            generation,
            until,
            0,
            1,
            lambda r, d, t: report.tell(0, r, d, t),
            offices=offices,
        )
    else:
        _in_processes(settings, generation, until, parts, progress, offices, started)


def actors_until(app: Backchannel, until: int, batch: int = 1000) -> dict[str, ActorState]:
    """Every actor as the log's actor events up to `until` leave it, by actor id."""
    now: dict[UUID, ActorState] = {}
    changed: dict[str, ActorState] = {}
    start = 1
    while start <= until:
        found = app.recorder.select_notifications(
            start=start, limit=batch, stop=until, topics=ACTOR_TOPICS
        )
        for notification in found:
            change = fold(app.mapper.to_domain_event(notification), notification.id)
            if not isinstance(change, ActorChange):
                continue
            after = change.applied(now.get(change.aggregate_id))
            if after is None:
                log.warning("change of an unknown actor", aggregate_id=str(change.aggregate_id))
                continue
            now[change.aggregate_id] = after
            changed[after.profile.id] = after
        if len(found) < batch:
            break
        start = found[-1].id + 1
    return changed


class _Report:
    """The bulk load's progress, from each worker's (positions read, channels done, of how
    many), as log positions for the progress bar: reading counts for a quarter of it."""

    def __init__(self, parts: int, until: int, progress: Progress | None) -> None:
        self.state = [[0, 0, 0] for _ in range(parts)]
        self.until = until
        self.progress = progress

    def tell(self, part: int, read: int, done: int, total: int) -> None:
        self.state[part] = [read, done, total]
        self.show()

    def show(self) -> None:
        if self.progress is None:
            return
        read = min(s[0] for s in self.state) / self.until
        totals = [s[2] for s in self.state]
        projected = sum(s[1] for s in self.state) / sum(totals) if all(totals) else 0.0
        done = READING * read + (1 - READING) * projected
        self.progress(min(self.until - 1, int(done * self.until)), self.until)


_counters: Any = None


def _start_worker(counters: Any, log_format: str, log_level: str) -> None:
    global _counters
    _counters = counters
    configure_logging(log_format, log_level)


def _work(
    settings: Settings,
    generation: int,
    until: int,
    part: int,
    parts: int,
    offices: frozenset[str],
) -> int:
    def report(read: int, done: int, total: int) -> None:
        _counters[3 * part : 3 * part + 3] = [read, done, total]

    return build_share(settings, generation, until, part, parts, report, offices=offices)


def _in_processes(
    settings: Settings,
    generation: int,
    until: int,
    parts: int,
    progress: Progress | None,
    offices: frozenset[str] = frozenset(),
    started: Callable[[], None] | None = None,
) -> None:
    """The bulk load by `parts` worker processes, each one share of the channels."""
    # Forked workers start at once, with everything imported; they open connections of
    # their own and leave the parent's alone.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    counters = context.Array("q", 3 * parts, lock=False)
    report = _Report(parts, until, progress)
    with ProcessPoolExecutor(
        max_workers=parts,
        mp_context=context,
        initializer=_start_worker,
        initargs=(counters, settings.log_format, settings.log_level),
    ) as pool:
        futures: list[Future[int]] = [
            pool.submit(_work, settings, generation, until, part, parts, offices)
            for part in range(parts)
        ]
        if started is not None:
            started()
        try:
            pending: set[Future[int]] = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.25, return_when=FIRST_EXCEPTION)
                report.state = [list(counters[3 * p : 3 * p + 3]) for p in range(parts)]
                report.show()
                for future in futures:
                    if future.done() and future.exception() is not None:
                        raise future.exception()  # type: ignore[misc]
        except BaseException:
            for future in futures:
                future.cancel()
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            raise
