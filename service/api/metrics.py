"""Prometheus metrics, in a registry of the app's own (so many apps can live in one process)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.application import Backchannel
from service.queries import ReadModel

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ProjectionCollector(Collector):
    """The read model's position and how far it is behind the log, read at scrape time."""

    def __init__(self, backchannel: Backchannel, readmodel: ReadModel) -> None:
        self.backchannel = backchannel
        self.readmodel = readmodel

    def collect(self) -> Iterator[Metric]:
        try:
            position = self.readmodel.position()
            head = self.backchannel.head()
        except Exception:  # the store is down: readyz says so, the scrape must not fail
            return
        yield GaugeMetricFamily(
            "backchannel_projection_position",
            "Log position the channel read model has processed",
            value=position,
        )
        yield GaugeMetricFamily(
            "backchannel_log_head", "Position of the last event in the log", value=head
        )
        yield GaugeMetricFamily(
            "backchannel_projection_lag",
            "Events appended to the log but not yet in the channel read model",
            value=max(head - position, 0),
        )


class ApiMetrics:
    """HTTP requests by route template and status, their latency, and events appended by type."""

    def __init__(self, backchannel: Backchannel, readmodel: ReadModel) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "backchannel_http_requests",
            "HTTP requests handled, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "backchannel_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events_appended = Counter(
            "backchannel_events_appended",
            "Contact events appended through this process, by type",
            ["type"],
            registry=self.registry,
        )
        self.registry.register(ProjectionCollector(backchannel, readmodel))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def appended(self, types: Iterable[str]) -> None:
        """Count newly appended events (replays append nothing and are not counted)."""
        for event_type in types:
            self.events_appended.labels(event_type).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
