"""Prometheus registry and HTTP metrics, one set per service name.

Not the global registry: the three services' metrics share names (`http_requests_total`), and the test
suite builds more than one service in a single Python process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.responses import Response


@dataclass(frozen=True)
class ServiceMetrics:
    registry: CollectorRegistry
    requests: Counter
    duration: Histogram

    def response(self) -> Response:
        """The `/metrics` answer in the Prometheus text format."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


@functools.cache
def service_metrics(service: str) -> ServiceMetrics:
    """The registry of `service` (created once per process), with process and HTTP metrics in it."""
    registry = CollectorRegistry()
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    requests = Counter(
        "http_requests_total",
        "HTTP requests by route template, method and status",
        ["route", "method", "status"],
        registry=registry,
    )
    duration = Histogram(
        "http_request_duration_seconds",
        "HTTP request latency by route template and method",
        ["route", "method"],
        registry=registry,
    )
    return ServiceMetrics(registry, requests, duration)
