"""Prometheus metrics of the server, on a private registry so tests can run many servers.

Every label has a bounded set of values: the served model's name (requests for other names are
refused before they are counted under it), route templates rather than raw paths, known HTTP
methods and status codes. A client cannot grow the series count by varying URLs.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass
class ModelMetrics:
    """The inference metrics of one model, bound to its label once (no label lookup per request)."""

    metrics: Metrics
    name: str

    def __post_init__(self) -> None:
        m = self.metrics
        self.latency = m.latency.labels(self.name)
        self.request_batch = m.request_batch.labels(self.name)
        self.executed_batch = m.executed_batch.labels(self.name)
        self.in_flight = m.in_flight
        self._codes: dict[int, Counter] = {}

    def requests(self, status: int) -> Counter:
        child = self._codes.get(status)
        if child is None:
            child = self._codes[status] = self.metrics.requests.labels(self.name, str(status))
        return child


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "inference_requests_total",
            "Inference requests for the served model by HTTP status",
            ["model", "code"],
            registry=self.registry,
        )
        self.http_requests = _RouteCounter(
            Counter(
                "http_requests_total",
                "HTTP requests by route template, method and status",
                ["route", "method", "code"],
                registry=self.registry,
            )
        )
        self.latency = Histogram(
            "inference_request_duration_seconds",
            "Inference request latency",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.request_batch = Histogram(
            "inference_request_batch_size",
            "Rows (batch dimension) per request",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.executed_batch = Histogram(
            "inference_executed_batch_size",
            "Rows per ONNX Runtime call (after dynamic batching)",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "inference_in_flight_requests", "Inference requests being served", registry=self.registry
        )
        self.queue_depth = Gauge(
            "inference_queue_depth", "Requests waiting in the batching queue", registry=self.registry
        )
        self.ready = Gauge("model_ready", "1 when the model is loaded and serving", registry=self.registry)

    def for_model(self, name: str) -> ModelMetrics:
        return ModelMetrics(self, name)


class _RouteCounter:
    """``http_requests_total`` with its label values normalised to bounded sets; children cached."""

    def __init__(self, counter: Counter):
        self.counter = counter
        self._children: dict[tuple[str, str, str], Counter] = {}

    def labels(self, route: str, method: str, code: str) -> Counter:
        key = (route, method if method in METHODS else "other", code if len(code) == 3 and code.isdigit() else "other")
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.counter.labels(*key)
        return child
