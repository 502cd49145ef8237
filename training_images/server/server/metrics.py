"""Prometheus metrics of the server, on a private registry so tests can run many servers.

Every label has a bounded set of values: the served model's name (requests for other names are
refused before they are counted under it), route templates rather than raw paths, known HTTP
methods and status codes. A client cannot grow the series count by varying URLs.

Every update happens on the event-loop thread (the middleware, the inference handler and the
batcher all run there), so the values are plain numbers: no lock per update and no Python loop
over histogram buckets, which prometheus_client's thread-safe Counter and Histogram pay on each of
the ~10 updates a request makes. A collector turns them into the usual exposition at scrape time
(also on the loop, so a scrape never sees half an update).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Count:
    """A counter or gauge value; event-loop thread only."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = value


class Buckets:
    """One histogram series: a count per bucket (``le`` semantics) plus the sum; event-loop thread only."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # first bound >= value: value <= le
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        total = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            out.append((floatToGoString(bound), total))
        return out


@dataclass
class Family:
    """A metric name, its help, label names and its series by label values."""

    name: str
    doc: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()  # non-empty: a histogram
    series: dict[tuple[str, ...], Count | Buckets] = field(default_factory=dict)

    def child(self, *values: str) -> Count | Buckets:
        s = self.series.get(values)
        if s is None:
            s = self.series[values] = Buckets(self.buckets) if self.buckets else Count()
        return s


class Metrics(Collector):
    def __init__(self) -> None:
        self.requests = Family(
            "inference_requests", "Inference requests for the served model by HTTP status", ("model", "code")
        )
        self.http = Family(
            "http_requests", "HTTP requests by route template, method and status", ("route", "method", "code")
        )
        self.latency = Family(
            "inference_request_duration_seconds", "Inference request latency", ("model",), LATENCY_BUCKETS
        )
        self.request_batch = Family(
            "inference_request_batch_size", "Rows (batch dimension) per request", ("model",), BATCH_BUCKETS
        )
        self.executed_batch = Family(
            "inference_executed_batch_size",
            "Rows per ONNX Runtime call (after dynamic batching)",
            ("model",),
            BATCH_BUCKETS,
        )
        self.in_flight_family = Family("inference_in_flight_requests", "Inference requests being served")
        self.queue_family = Family("inference_queue_depth", "Requests waiting in the batching queue")
        self.ready_family = Family("model_ready", "1 when the model is loaded and serving")
        self.in_flight = self._count(self.in_flight_family)
        self.queue_depth = self._count(self.queue_family)
        self.ready = self._count(self.ready_family)
        self.http_requests = _RouteCounter(self.http)
        self.registry = CollectorRegistry()
        self.registry.register(self)

    @staticmethod
    def _count(family: Family, *values: str) -> Count:
        child = family.child(*values)
        assert isinstance(child, Count)
        return child

    def for_model(self, name: str) -> ModelMetrics:
        return ModelMetrics(self, name)

    def collect(self) -> Iterator[Metric]:
        for fam in (self.requests, self.http):
            counter = CounterMetricFamily(fam.name, fam.doc, labels=fam.labels)
            for values, c in sorted(fam.series.items()):
                assert isinstance(c, Count)
                counter.add_metric(values, c.value)
            yield counter
        for fam in (self.latency, self.request_batch, self.executed_batch):
            hist = HistogramMetricFamily(fam.name, fam.doc, labels=fam.labels)
            for values, h in sorted(fam.series.items()):
                assert isinstance(h, Buckets)
                hist.add_metric(list(values), h.cumulative(), h.sum)
            yield hist
        for fam in (self.in_flight_family, self.queue_family, self.ready_family):
            yield GaugeMetricFamily(fam.name, fam.doc, value=self._count(fam).value)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # series are created as requests arrive; nothing to check at registration


class ModelMetrics:
    """The inference metrics of one model, bound to its label once (no label lookup per request)."""

    def __init__(self, metrics: Metrics, name: str):
        self.name = name
        self.latency = _buckets(metrics.latency, name)
        self.request_batch = _buckets(metrics.request_batch, name)
        self.executed_batch = _buckets(metrics.executed_batch, name)
        self.in_flight = metrics.in_flight
        self._requests = metrics.requests
        self._codes: dict[int, Count] = {}

    def requests(self, status: int) -> Count:
        child = self._codes.get(status)
        if child is None:
            child = self._codes[status] = Metrics._count(self._requests, self.name, str(status))
        return child


def _buckets(family: Family, *values: str) -> Buckets:
    child = family.child(*values)
    assert isinstance(child, Buckets)
    return child


class _RouteCounter:
    """``http_requests_total`` with its label values normalised to bounded sets; children cached."""

    def __init__(self, family: Family):
        self.family = family

    def labels(self, route: str, method: str, code: str) -> Count:
        key = (route, method if method in METHODS else "other", code if len(code) == 3 and code.isdigit() else "other")
        return Metrics._count(self.family, *key)
