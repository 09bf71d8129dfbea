"""Prometheus metrics of the service, and the ASGI middleware that measures every request and
refuses oversized bodies before anything reads them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import orjson
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.rescoring import RescoringQueue
from serving.scorer import Scorer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# `*_created` timestamps double the series and no dashboard reads them.
disable_created_metrics()
# Seconds; the service answers a lead in about a millisecond, a big batch in ~0.1 s.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ServiceMetrics:
    """The metrics of one app instance, in a registry of its own (tests build many apps)."""

    def __init__(self, scorer: Scorer) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "leadscore_http_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "leadscore_http_request_duration_seconds",
            "Time to answer, by route, method and status.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores = Counter(
            "leadscore_scores", "Leads scored, by tier.", ["tier"], registry=self.registry
        )
        self.refused = Counter(
            "leadscore_leads_refused",
            "Leads of batches refused by validation.",
            registry=self.registry,
        )
        self.events = Counter(
            "leadscore_events",
            "Events sent to /v1/events, by outcome: stored, duplicate or failed.",
            ["outcome"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "leadscore_webhook_deliveries",
            "Webhook delivery attempts by the state they left: delivered, pending (to be "
            "retried) or parked.",
            ["status"],
            registry=self.registry,
        )
        self.registry.register(_ModelCollector(scorer))

    def watch_rescoring(self, queue: RescoringQueue) -> None:
        """Export the rescoring queue's length and the leads it rescored."""
        pending = Gauge(
            "leadscore_rescore_pending",
            "Leads waiting to be rescored after new events.",
            registry=self.registry,
        )
        pending.set_function(lambda: queue.pending)
        done = Gauge(
            "leadscore_rescored_leads",
            "Leads rescored after new events since the service started.",
            registry=self.registry,
        )
        done.set_function(lambda: queue.rescored)

    def count_tiers(self, answers: list[dict]) -> None:
        counts: dict[str, int] = {}
        for answer in answers:
            tier = answer.get("tier")
            if tier is not None:
                counts[tier] = counts.get(tier, 0) + 1
        for tier, n in counts.items():
            self.scores.labels(tier).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ModelCollector(Collector):
    """Which model serves and how the last load went, read at scrape time."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer

    def collect(self) -> Iterator[GaugeMetricFamily]:
        served = self.scorer.served
        loaded = GaugeMetricFamily(
            "leadscore_model_loaded", "1 when a model is loaded and answers."
        )
        loaded.add_metric([], 1.0 if served else 0.0)
        yield loaded
        info = GaugeMetricFamily(
            "leadscore_model_info", "The model serving now.", labels=["name", "version", "alias"]
        )
        if served:
            ref = served.ref
            info.add_metric([ref.name, ref.version or "", ref.alias or ""], 1.0)
        yield info
        last = self.scorer.reload_state
        failed = GaugeMetricFamily(
            "leadscore_model_last_load_failed",
            "1 when the last (re)load failed (an older model may still serve); `version` is "
            "the registry version that load was of.",
            labels=["version"],
        )
        failed.add_metric([last.version or ""], 1.0 if last.state == "failed" else 0.0)
        yield failed


class BodyTooLarge(Exception):
    """A streamed request body went over the limit."""


class ObserveRequests:
    """ASGI middleware: request count and latency by route template and status; body limit."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                await too_large(self.max_body_bytes)(scope, receive, send_observed)
            else:
                limited = receive if declared is not None else self._limit(receive)
                await self.app(scope, limited, send_observed)
        finally:
            route = scope.get("route")
            labels = (getattr(route, "path", "unmatched"), scope["method"], str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)

    def _limit(self, receive: Receive) -> Receive:
        """A body without Content-Length (chunked) is counted as it streams in."""
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body_bytes:
                raise BodyTooLarge
            return message

        return limited


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def too_large_detail(limit: int) -> str:
    return (
        f"request body larger than {limit:,} bytes: send fewer leads per batch or fewer "
        "events per lead"
    )


def too_large(limit: int) -> Callable:
    """The 413 answer as a tiny ASGI app."""
    body = orjson.dumps({"detail": too_large_detail(limit)})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app
