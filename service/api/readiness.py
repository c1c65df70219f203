"""Readiness: whether this process's answers can be trusted, and how fresh projected reads are.

`Readiness.check()` answers within a bound whatever the store does: the store's
checks (the log's head, the schema, the read model's position) run in a worker
thread and are given up on after `CHECK_SECONDS`; at most one such check is in
flight, so a hung database does not pile up threads. The verdict is not ready
when the store is unreachable or behind on its schema, when the projector this
process runs, or its `serve` supervisor runs for it (service.beacon), is not
running or has lost the store, when there is lag but the read model has not
advanced for `projector_stall_seconds`, and while the read model has not yet
caught up with the log as it stood at start-up.

`Readiness.stamp()` is the projected reads' side: it marks an answer with the
position it reflects and its lag, and refuses (503) while the read model is
still catching up after start-up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from fastapi import Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from infra import schema
from infra.settings import Settings
from service.api.errors import NOT_CAUGHT_UP, NOT_READY, ApiProblem
from service.application import Backchannel
from service.projector import Health
from service.queries import ReadModel


class HealthSource(Protocol):
    """Whatever tells the projector's health: the projector itself, or its beacon."""

    def health(self) -> Health: ...


CHECK_SECONDS = 1.5  # the store's checks are given up on after this (readyz answers in < 2 s)
POSITION_HEADER = "X-Backchannel-Position"
LAG_HEADER = "X-Backchannel-Lag"

Reason = Literal[
    "store_unreachable",
    "schema_behind",
    "projector_not_running",
    "projector_lost",
    "projector_stalled",
    "catching_up",
]


@dataclass(frozen=True)
class Observed:
    """What the store said: the log's head, the read model's position, the schema revision."""

    head: int
    position: int
    schema_revision: str

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


@dataclass(frozen=True)
class Verdict:
    """Ready or not, why not, and what was seen (when the store answered)."""

    reason: Reason | None
    detail: str
    observed: Observed | None = None
    last_progress: datetime | None = None
    projector: str = "external"
    retry_after: int = 1

    @property
    def ready(self) -> bool:
        return self.reason is None


def _state(health: Health | None) -> str:
    """The projector's state as an answer gives it; `external` when none reports here."""
    return "external" if health is None else health.state


class StoreCheckFailed(Exception):
    """A store check failed; its message is safe to show (no host, no password)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Progress:
    """The read model's position over time, as this process observes it.

    Used when the projector runs elsewhere: the position it tracks in the view
    is all there is to watch. Progress is a new position, or no lag.
    """

    position: int | None = None
    at: float = 0.0  # monotonic
    wall: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, position: int, head: int) -> None:
        with self.lock:
            if position != self.position or position >= head:
                if position != self.position and self.position is not None:
                    self.wall = datetime.now(UTC)
                self.position = position
                self.at = time.monotonic()


class Readiness:
    """The readiness of one app: its store, its read model and (when this process or its
    supervisor runs one) its projector."""

    def __init__(
        self,
        settings: Settings,
        backchannel: Backchannel,
        readmodel: ReadModel,
        projector: HealthSource | None,
        *,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.settings = settings
        self.backchannel = backchannel
        self.readmodel = readmodel
        self.projector = projector
        self.check_seconds = check_seconds
        self.target: int | None = None  # the log's head at start-up
        self.caught_up = False  # the read model has reached `target`
        self.progress = Progress()
        self._lock = threading.Lock()
        self._inflight: Future[Observed] | None = None
        self._revision: str | None = None

    # -- start-up ---------------------------------------------------------------

    def started(self) -> None:
        """Note the log's head at start-up: the read model is not trusted before it gets there."""
        try:
            self.target = self.backchannel.head()
        except Exception:  # the store is down: the first check that reaches it sets the target
            self.target = None

    def _caught_up(self, position: int, head: int) -> bool:
        """Whether the read model has caught up since start-up (once it has, it stays so)."""
        if not self.caught_up:
            if self.target is None:
                self.target = head
            if position >= self.target:
                self.caught_up = True
        return self.caught_up

    # -- the check --------------------------------------------------------------

    def check(self) -> Verdict:
        """The verdict now, within `check_seconds` (plus a little) whatever the store does."""
        try:
            observed = self._bounded(self._observe)
        except StoreCheckFailed as failed:
            return Verdict(failed.reason, failed.detail, projector=_state(self._health()))
        self.progress.observe(observed.position, observed.head)
        caught_up = self._caught_up(observed.position, observed.head)
        return self._judge(observed, caught_up)

    def _judge(self, observed: Observed, caught_up: bool) -> Verdict:
        health = self._health()  # read once: every part of the verdict tells the same state
        last_progress, progressed_at = self._last_progress(health)

        def verdict(reason: Reason | None, detail: str) -> Verdict:
            return Verdict(reason, detail, observed, last_progress, _state(health))

        if health is not None:
            if health.state == "stopped":
                after = f" (it stopped after {health.error_type})" if health.error_type else ""
                return verdict("projector_not_running", f"the projector is not running{after}")
            if health.state == "lost":
                return verdict(
                    "projector_lost",
                    f"the projector cannot reach the store ({health.error_type}); retrying",
                )
        stall = self.settings.projector_stall_seconds
        if observed.lag > 0 and time.monotonic() - progressed_at > stall:
            return verdict(
                "projector_stalled",
                f"the read model has not advanced for over {stall:g} s while behind the log",
            )
        if not caught_up:
            return verdict("catching_up", "the read model is catching up with the log")
        return verdict(None, "ready")

    def _health(self) -> Health | None:
        return None if self.projector is None else self.projector.health()

    def _last_progress(self, health: Health | None) -> tuple[datetime | None, float]:
        """When the read model last advanced (wall clock) and last progressed (monotonic)."""
        if health is not None and health.last_progress is not None:
            return health.last_advance, health.last_progress
        return self.progress.wall, self.progress.at

    def _observe(self) -> Observed:
        """The store's answers; StoreCheckFailed with a safe reason when it cannot give them."""
        try:
            head = self.backchannel.head()
        except Exception as error:  # whatever the driver raises, the answer is "not ready"
            raise StoreCheckFailed(
                "store_unreachable", f"the store is not reachable ({type(error).__name__})"
            ) from None
        try:
            schema.check_at_head(self.settings)
        except schema.SchemaOutOfDate as error:
            raise StoreCheckFailed("schema_behind", str(error)) from None
        except Exception as error:
            raise StoreCheckFailed(
                "store_unreachable", f"the schema cannot be read ({type(error).__name__})"
            ) from None
        try:
            position = self.readmodel.position()
        except Exception as error:
            raise StoreCheckFailed(
                "store_unreachable", f"the read model cannot be read ({type(error).__name__})"
            ) from None
        if self._revision is None:
            self._revision = schema.head_revision(self.settings)
        return Observed(head, position, self._revision)

    def _bounded(self, work: Callable[[], Observed]) -> Observed:
        """`work()` in a worker thread, given up on after `check_seconds`.

        A check still running (the store hangs) is waited on again rather than
        doubled, so there is never more than one worker stuck on the store.
        """
        with self._lock:
            pending = self._inflight
            if pending is None or pending.done():
                pending = Future()
                self._inflight = pending
                threading.Thread(
                    target=_settle, args=(pending, work), name="readiness", daemon=True
                ).start()
        try:
            return pending.result(timeout=self.check_seconds)
        except FutureTimeout:
            raise StoreCheckFailed(
                "store_unreachable",
                f"the store did not answer within {self.check_seconds:g} s",
            ) from None

    # -- projected reads --------------------------------------------------------

    def stamp(self, response: Response, position: int, head: int, asked: int | None = None) -> None:
        """Mark a projected answer with the position it reflects and its lag.

        `position` is the read model's, read before the answer: the answer holds
        every event up to it. While the read model has not caught up since
        start-up, the answer is refused instead (503 with Retry-After, the
        position and the lag), unless the client asked for a position (`asked`,
        its `min_position`) the read model has reached.
        """
        lag = max(head - position, 0)
        headers = {POSITION_HEADER: str(position), LAG_HEADER: str(lag)}
        self.progress.observe(position, head)
        reached = asked is not None and position >= asked
        if not self._caught_up(position, head) and not reached:
            raise ApiProblem(
                503,
                f"the read model is catching up with the log since start-up: at position "
                f"{position}, {lag} behind; retry shortly",
                type=NOT_CAUGHT_UP,
                headers={"Retry-After": "1", **headers},
                position=position,
                lag=lag,
            )
        response.headers.update(headers)

    # -- metrics ----------------------------------------------------------------

    def collector(self) -> Collector:
        """Prometheus gauges of the projector's state and the read model's freshness."""
        return ReadinessCollector(self)


def _settle(future: Future[Observed], work: Callable[[], Observed]) -> None:
    try:
        future.set_result(work())
    except BaseException as error:
        future.set_exception(error)


def problem_of(verdict: Verdict, *, open_details: bool) -> ApiProblem:
    """The 503 for a verdict that is not ready; positions only when `open_details`."""
    extensions: dict[str, Any] = {"reason": verdict.reason}
    detail = verdict.detail
    headers = {"Retry-After": str(verdict.retry_after)}
    if open_details and verdict.observed is not None:
        observed = verdict.observed
        extensions |= {"position": observed.position, "head": observed.head, "lag": observed.lag}
        if verdict.reason == "catching_up":
            detail = f"{detail}: {observed.lag} behind (at {observed.position} of {observed.head})"
    return ApiProblem(503, detail, type=NOT_READY, headers=headers, **extensions)


class ReadinessCollector(Collector):
    """The projector's state, failures and last advance, and whether the read model caught up."""

    STATES = ("starting", "running", "lost", "stopped")

    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness

    def collect(self) -> Iterator[Metric]:
        readiness = self.readiness
        yield GaugeMetricFamily(
            "backchannel_read_model_caught_up",
            "1 once the read model has caught up with the log as it stood at start-up",
            value=1.0 if readiness.caught_up else 0.0,
        )
        projector = readiness.projector
        if projector is None:
            return
        health = projector.health()
        state = GaugeMetricFamily(
            "backchannel_projector_state",
            "The state of the projector this process (or its supervisor) runs: 1 for the current",
            labels=["state"],
        )
        for name in self.STATES:
            state.add_metric([name], 1.0 if health.state == name else 0.0)
        yield state
        yield CounterMetricFamily(
            "backchannel_projector_failures",
            "Failed projector attempts (lost connections, failed batches) since start-up",
            value=health.failures,
        )
        if health.last_advance is not None:
            yield GaugeMetricFamily(
                "backchannel_projector_last_advance_timestamp_seconds",
                "When the projector last advanced the read model (Unix time)",
                value=health.last_advance.timestamp(),
            )
