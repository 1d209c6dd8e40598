"""Prometheus metrics per route, on a registry owned by one app (never the global one)."""

from __future__ import annotations

import os
import random
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Latency buckets in seconds (5 ms … 10 s).
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Request counts and latency histograms per route template, method and status.

    Parameters
    ----------
    registry : CollectorRegistry or None
        Where to register; a new registry when ``None``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "revisit_http_requests_total",
            "HTTP requests by route template, method and status code.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "revisit_http_request_duration_seconds",
            "HTTP request latency in seconds, by route template and method.",
            ("route", "method"),
            buckets=BUCKETS,
            registry=self.registry,
        )


class RequestMiddleware:
    """Pure ASGI middleware: request id (``X-Request-ID``) and per-route metrics.

    The route label is the matched route's path template (``/v1/households/{household_id}``),
    or ``"unmatched"``, so labels never carry ids. Request ids are 32 hex digits
    (like ``uuid4().hex``) from a generator seeded once from ``os.urandom``: they only
    correlate logs, and a system call per request would hand the GIL to other threads.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._ids = random.Random(os.urandom(16))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"{self._ids.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id
        status_code = 500
        started = time.perf_counter()

        async def _send(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(label, method, str(status_code)).inc()
            self.metrics.latency.labels(label, method).observe(time.perf_counter() - started)
