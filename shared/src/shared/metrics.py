"""Prometheus metrics for every app: requests and latencies by route, plus service gauges
(outbox backlog, consumer lag, dead letters) read at scrape time.

Labels use the route template (`/projects/{project_id}`), never the raw path, so the number
of series stays bounded whatever clients send.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.responses import Response

REQUESTS = Counter("teke_http_requests_total", "HTTP requests handled",
                   ["service", "method", "route", "status"])
LATENCY = Histogram("teke_http_request_duration_seconds", "HTTP request latency",
                    ["service", "method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
UPSTREAM_ERRORS = Counter("teke_gateway_upstream_errors_total", "Failed upstream calls",
                          ["upstream", "kind"])
CIRCUIT_OPEN = Gauge("teke_gateway_circuit_open", "1 while an upstream's circuit is open",
                     ["upstream"])
RATE_LIMITED = Counter("teke_gateway_rate_limited_total", "Requests refused with 429", ["by"])
OUTBOX_BACKLOG = Gauge("teke_outbox_backlog", "Outbox events not yet published", ["service"])
EVENTS_PUBLISHED = Gauge("teke_outbox_published_total", "Events published since start", ["service"])
CONSUMER_LAG = Gauge("teke_consumer_lag", "Stream messages not yet acknowledged",
                     ["service", "stream"])
EVENTS_APPLIED = Gauge("teke_consumer_applied_total", "Events applied since start",
                       ["service", "stream"])
DEAD_LETTERS = Gauge("teke_dead_letters", "Dead letters waiting for replay", ["service"])


class MetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request by method, route template and status."""

    def __init__(self, app, service: str) -> None:
        self.app = app
        self.service = service
        self._children: dict[tuple, tuple] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route_label")
            if route is None:
                matched = scope.get("route")
                route = getattr(matched, "path", None) or "unmatched"
            key = (scope["method"], route, status)
            children = self._children.get(key)
            if children is None:
                children = (REQUESTS.labels(self.service, scope["method"], route, str(status)),
                            LATENCY.labels(self.service, scope["method"], route))
                if len(self._children) < 5000:
                    self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


def metrics_response() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
