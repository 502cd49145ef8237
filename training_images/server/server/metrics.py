"""Prometheus metrics of the server, on a private registry so tests can run many servers."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "inference_requests_total",
            "Inference requests by model and HTTP status",
            ["model", "code"],
            registry=self.registry,
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
