"""The projector: keeps the channel read model caught up with the log.

It reads the log in batches (the recorder's `select_notifications`), has the
projection turn each batch into view changes, and commits them with the
batch's last position in one transaction: after a crash it resumes from the
position the view holds, and nothing is applied twice. Once caught up it
waits: on PostgreSQL for the log's NOTIFY, on SQLite by polling.

Use it in-process (`start()` / `stop()`: a background thread, as `backchannel
serve` does) or as a process of its own (`run()`: `backchannel projector`).
Following never gives up: a failed batch or a lost LISTEN connection is
retried with capped exponential back-off, and `health()` tells whether it is
running, has lost the store, or has stopped (what readiness and metrics show).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from psycopg import sql

from infra.logging import get_logger
from infra.readmodel import ChannelView, GenerationRetired, PositionMoved, open_view, tracking_name
from infra.schema import check_at_head
from infra.settings import Settings
from infra.store import eventsourcing_env
from service.application import Backchannel
from service.projection import ChannelProjection, decode

log = get_logger("backchannel.projector")
Progress = Callable[[int, int], None]
REPORT_EVERY = 10.0  # seconds
COLLECT_EVERY = 300.0  # seconds between full garbage collections, with quiet_gc
BACKOFF_FIRST = 0.1  # seconds before the first retry after a failure
BACKOFF_MAX = 5.0  # the back-off doubles up to this
LISTEN_CONNECT_TIMEOUT = 5  # seconds

State = Literal["starting", "running", "lost", "stopped"]


def _log_of(settings: Settings) -> Backchannel:
    """The application, for reading its log, on a store at the schema's head."""
    check_at_head(settings)
    return Backchannel(eventsourcing_env(settings), window=settings.window)


class WindowMismatch(RuntimeError):
    """The live read model was built for another window W than the settings say."""


@dataclass(frozen=True)
class Health:
    """How the projector is doing, as readiness and metrics report it.

    `state`: `starting` (not yet through a batch), `running`, `lost` (its last
    attempt failed; it is retrying) or `stopped` (not following the log).
    `last_advance` is when its position last moved; `last_progress` (monotonic
    seconds) when it last moved or found nothing to do, for stall detection.
    """

    state: State
    position: int
    last_error: str | None
    error_type: str | None
    last_advance: datetime | None
    last_progress: float | None
    failures: int
    listening: bool


class Projector:
    """Follows the log into one generation of the channel view (the live one by default)."""

    def __init__(
        self,
        settings: Settings,
        *,
        app: Backchannel | None = None,
        view: ChannelView | None = None,
        generation: int | None = None,
        batch_size: int | None = None,
        cache_channels: int | None = None,
        poll_interval: float = 0.5,
        quiet_gc: bool = False,
    ) -> None:
        self.settings = settings
        self._owns = (app is None, view is None)
        self.app = app if app is not None else _log_of(settings)
        self.view = view if view is not None else open_view(settings)
        self.generation = generation
        self.batch_size = batch_size or settings.projection_batch
        self.cache_channels = cache_channels or settings.projection_cache_channels
        self.poll_interval = poll_interval
        self.quiet_gc = quiet_gc
        self._collected = time.monotonic()
        self.position = 0
        self.last_error: BaseException | None = None
        self.state: State = "stopped"
        self.failures = 0  # failed attempts since the projector was made
        self.last_advance: datetime | None = None
        self._last_progress: float | None = None
        self._lost_at: float | None = None
        self._retries = 0
        self._listener: Any = None
        self._listen_unsupported = False
        self._projection: ChannelProjection | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._advanced = threading.Condition()
        self._thread: threading.Thread | None = None
        # Told the position after each batch commits (the stream follows it; see service/feed.py).
        self.committed: list[Callable[[int], None]] = []

    # -- attaching to a generation ----------------------------------------------

    def attach(self) -> ChannelProjection:
        """The projection for our generation, resumed from the position the view holds."""
        if self._projection is not None:
            return self._projection
        window = self.settings.window
        number = self.generation
        if number is None:
            live = self.view.live()
            if live is None:
                with suppress(ValueError):  # another projector created it first
                    self.view.create_generation(window, datetime.now(UTC), live=True)
                live = self.view.live()
                assert live is not None
            number, built_for = live.number, live.window
        else:
            found = [g for g in self.view.generations() if g.number == number]
            if not found or found[0].state == "retired":
                raise GenerationRetired(f"generation {number} is not there to build")
            built_for = found[0].window
        if built_for != window:
            raise WindowMismatch(
                f"the read model was built for W = {built_for.days} days and the "
                f"settings say {self.settings.window_days}: run `backchannel projections rebuild`"
            )
        self._projection = ChannelProjection(
            self.view,
            generation=number,
            window=self.settings.window,
            cache_channels=self.cache_channels,
        )
        self.position = self.view.max_tracking_id(tracking_name(number)) or 0
        log.info("projector attached", generation=number, position=self.position)
        return self._projection

    # -- processing -------------------------------------------------------------

    def head(self) -> int:
        """The log's last position."""
        return self.app.head()

    def lag(self) -> int:
        """How many positions the view is behind the log."""
        return max(0, self.head() - self.position)

    def step(self) -> int:
        """Project the next batch in one transaction; how many notifications it held."""
        projection = self.attach()
        batch = self.app.recorder.select_notifications(
            start=self.position + 1, limit=self.batch_size
        )
        if not batch:
            self._last_progress = time.monotonic()
            return 0
        items = [item for item in (decode(self.app.mapper, n) for n in batch) if item]
        try:
            projection.process(items, batch[-1].id, self.position)
        except (GenerationRetired, PositionMoved) as moved:
            if self.generation is not None and isinstance(moved, GenerationRetired):
                raise
            log.info("projector re-attaching", reason=str(moved))
            self._projection = None
            return 0
        with self._advanced:
            self.position = batch[-1].id
            self.last_advance = datetime.now(UTC)
            self._last_progress = time.monotonic()
            self._advanced.notify_all()
        for listener in self.committed:
            listener(self.position)
        if self.quiet_gc:
            self._spare_the_collector()
        return len(batch)

    def _spare_the_collector(self) -> None:
        """Keep full garbage collections of a large cache rare, and out of transactions.

        The projection's memory of channels is long-lived and free of cycles;
        left to itself, the collector walks all of it again and again (a third
        of a rebuild's time, pauses of seconds). Between batches, what is alive
        is frozen out of its sight; every few minutes it collects once.
        """
        if time.monotonic() - self._collected > COLLECT_EVERY:
            gc.unfreeze()
            gc.collect()
            self._collected = time.monotonic()
        gc.freeze()

    def catch_up(self, until: int | None = None, progress: Progress | None = None) -> int:
        """Project everything up to `until` (default: the head now); the position reached."""
        target = self.head() if until is None else until
        idle = 0
        while self.position < target and not self._stopping.is_set():
            if self.step():
                idle = 0
            else:
                idle += 1
                if idle > 3:
                    target = min(target, self.head())
                    time.sleep(0.05)
            if progress is not None:
                progress(self.position, target)
        return self.position

    def wait(self, position: int, timeout: float) -> bool:
        """Block until the view has processed `position` (True) or `timeout` passes (False)."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self.position >= position, timeout)

    def poke(self) -> None:
        """Look at the log now rather than at the next poll (after a write, say)."""
        self._wake.set()

    # -- following --------------------------------------------------------------

    def health(self) -> Health:
        """The projector's state now (a thread that has died reads as `stopped`)."""
        state = self.state
        if self._thread is not None and not self._thread.is_alive():
            state = "stopped"
        error = self.last_error
        return Health(
            state=state,
            position=self.position,
            last_error=None if error is None else describe_error(error),
            error_type=None if error is None else type(error).__name__,
            last_advance=self.last_advance,
            last_progress=self._last_progress,
            failures=self.failures,
            listening=self._listener is not None,
        )

    @property
    def running(self) -> bool:
        """Following the log: in its thread (after `start()`) or in `run()`."""
        if self._thread is not None:
            return self._thread.is_alive() and self.state != "stopped"
        return self.state != "stopped"

    def run(self) -> None:
        """Follow the log until `stop()`; every failure is retried with capped back-off.

        Each turn makes sure the log is LISTENed to (PostgreSQL) before reading
        it, so no insert slips between the read and the wait. A failure of
        either (a lost connection, a restarted server, anything) closes the
        listener and is retried after 0.1 s, 0.2 s, … up to BACKOFF_MAX; the
        log says when the store was lost and when it came back, not each retry.
        """
        backoff = BACKOFF_FIRST
        reported = (time.monotonic(), self.position)
        self.state = "starting"
        try:
            while not self._stopping.is_set():
                try:
                    reported = self._report(reported)  # asks the store for its head
                    self._ensure_listening()
                    self._drain(self._listener)
                    done = self.step()
                    self._recovered()
                    if done < self.batch_size:  # the read reached the head: wait for news
                        self._idle(self._listener)
                except Exception as error:
                    self._failed(error, backoff)
                    self._stopping.wait(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                backoff = BACKOFF_FIRST
        except BaseException as error:  # never die without a word
            self.last_error = error
            log.exception("projector stopped by an unexpected error")
            raise
        finally:
            self.state = "stopped"
            self._close_listener()

    def _failed(self, error: Exception, backoff: float) -> None:
        """Note a failed attempt; log only the change from running to lost."""
        self.last_error = error
        self.failures += 1
        self._retries += 1
        self._projection = None  # reload what it remembered from the view
        self._close_listener()
        self._check_pools()
        log.debug("projector attempt failed", error=describe_error(error), retry_in=backoff)
        if self.state != "lost":
            self.state = "lost"
            self._lost_at = time.monotonic()
            log.warning(
                "projector lost the store; retrying",
                error=describe_error(error),
                position=self.position,
                retry_in=backoff,
                exc_info=not isinstance(error, psycopg.OperationalError | OSError),
            )

    def _check_pools(self) -> None:
        """Have the connection pools drop every broken connection now (PostgreSQL).

        After a server restart each pooled connection fails once when next used;
        without this, each retry would meet the next dead one.
        """
        for owner in (self.app.recorder, self.view):
            pool = getattr(getattr(owner, "datastore", None), "pool", None)
            check = getattr(pool, "check", None)
            if callable(check):
                with suppress(Exception):  # the server is still away: the next retry will tell
                    check()

    def _recovered(self) -> None:
        if self.state == "lost":
            down = time.monotonic() - (self._lost_at or time.monotonic())
            log.info(
                "projector recovered",
                position=self.position,
                seconds=round(down, 1),
                retries=self._retries,
            )
        self.state = "running"
        self._retries = 0
        self._lost_at = None

    def interrupt(self) -> None:
        """Ask `run()` to return after the batch in hand (safe from a signal handler)."""
        self._stopping.set()
        self._wake.set()

    def start(self) -> None:
        """Follow the log in a background thread."""
        if self._thread is None:
            self._stopping.clear()
            self.state = "starting"
            self._thread = threading.Thread(target=self.run, name="projector", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop following (finishing the batch in hand) and close what this projector opened."""
        self.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.quiet_gc:
            gc.unfreeze()
        owns_app, owns_view = self._owns
        if owns_view:
            self.view.close()
        if owns_app:
            self.app.close()

    def _report(self, last: tuple[float, int]) -> tuple[float, int]:
        """Log progress every few seconds while there is progress to tell."""
        at, position = last
        now = time.monotonic()
        if now - at < REPORT_EVERY:
            return last
        if self.position != position:
            rate = (self.position - position) / (now - at)
            log.info("projector", position=self.position, lag=self.lag(), per_second=round(rate))
        return now, self.position

    def _ensure_listening(self) -> None:
        """LISTEN to the log's inserts (PostgreSQL) unless already; SQLite polls.

        A connection that cannot be made raises (the store is lost: retried);
        a server that connects but refuses LISTEN is polled instead, for good.
        """
        if self._listener is not None or self._listen_unsupported:
            return
        if not self.settings.is_postgres:
            return
        url = self.settings.database_url.split("?", 1)[0]  # ?schema= is ours, not libpq's
        connection = psycopg.connect(url, autocommit=True, connect_timeout=LISTEN_CONNECT_TIMEOUT)
        try:
            channel = getattr(self.app.recorder, "channel_name", "stored_events")
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except psycopg.OperationalError:
            connection.close()
            raise
        except psycopg.Error:
            connection.close()
            self._listen_unsupported = True
            log.warning("cannot LISTEN to the log; polling instead")
            return
        self._listener = connection

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(Exception):
                listener.close()

    @staticmethod
    def _drain(listener: Any) -> None:
        """Take the notifications already received: their inserts committed before the
        read that follows, which sees them; only later ones should wake the projector.
        (A write poked it and notified it: without this, one read per write was idle.)"""
        if listener is not None:
            for _ in listener.notifies(timeout=0):
                pass

    def _idle(self, listener: Any) -> None:
        deadline = time.monotonic() + self.poll_interval
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if listener is not None:
                # The log's own NOTIFY wakes the projector, once per commit: a write's poke
                # comes before it, and would have it read the log once more for nothing.
                # A dead connection raises here: the caller retries and listens anew.
                if any(True for _ in listener.notifies(timeout=0.1, stop_after=1)):
                    break
            elif self._wake.wait(min(0.1, self.poll_interval)):
                break
        self._wake.clear()


def describe_error(error: BaseException) -> str:
    """An error's type and the first line of its message (no traceback, no secrets' context)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
