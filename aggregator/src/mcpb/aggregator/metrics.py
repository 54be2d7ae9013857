"""Prometheus metrics of the aggregator, through ``prometheus-client``, and the access log.

Counters and the histogram are updated once per finished request (:meth:`Metrics.record`, from
the request's :class:`~mcpb.aggregator.exchange.Exchange`); gauges — sessions, open streams,
upstreams up — are read from the running gateway when ``/metrics`` is scraped. Label values are
bounded: vMCP and upstream names come from the configuration, JSON-RPC methods from the
specification's list (anything else is ``other``), clients are configured client names or,
for JWT identities, ``jwt``.

Each registry belongs to one :class:`Metrics` (not the process-wide default), so several
gateways in one process (the tests) never share counters.

The access log is one JSON object per line per HTTP request to a vMCP endpoint, written straight
to stderr (not through :mod:`logging`, whose machinery costs several times the line itself):
refused requests included, never a credential or a raw session id.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mcpb.aggregator.exchange import Exchange, session_hash

#: Where access-log lines go: stderr.
ACCESS_LOG_FD = 2

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
METHODS = frozenset(
    {
        "initialize", "ping", "tools/list", "tools/call", "prompts/list", "prompts/get",
        "resources/list", "resources/templates/list", "resources/read", "resources/subscribe",
        "resources/unsubscribe", "completion/complete", "logging/setLevel",
    }
)  # fmt: skip


class _Gauges(Collector):
    """Gauges read at scrape time from the gateway."""

    def __init__(
        self,
        vmcps: Callable[[], Iterable[tuple[str, int, int]]],
        upstreams: Callable[[], Iterable[tuple[str, bool]]],
    ) -> None:
        self.vmcps = vmcps
        self.upstreams = upstreams

    def collect(self) -> Iterable[Metric]:
        sessions = GaugeMetricFamily(
            "mcpb_sessions_active", "Client sessions open, per vMCP", labels=["vmcp"]
        )
        streams = GaugeMetricFamily(
            "mcpb_streams_open", "Streams open (GET streams and answers), per vMCP", labels=["vmcp"]
        )
        for name, session_count, stream_count in self.vmcps():
            sessions.add_metric([name], session_count)
            streams.add_metric([name], stream_count)
        up = GaugeMetricFamily("mcpb_upstream_up", "1 when the upstream is up", labels=["upstream"])
        for name, is_up in self.upstreams():
            up.add_metric([name], 1.0 if is_up else 0.0)
        return [sessions, streams, up]


class Metrics:
    """The aggregator's metrics (module docstring)."""

    def __init__(
        self,
        vmcps: Callable[[], Iterable[tuple[str, int, int]]],
        upstreams: Callable[[], Iterable[tuple[str, bool]]],
        clients: Callable[[], frozenset[str]],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clients = clients
        self.requests = Counter(
            "mcpb_requests",
            "JSON-RPC requests to vMCPs",
            ["vmcp", "upstream", "method", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "mcpb_request_duration_seconds",
            "Time from a request's arrival to its answer",
            ["vmcp", "upstream", "method"],
            registry=self.registry,
        )
        self.auth_rejections = Counter(
            "mcpb_auth_rejections",
            "Requests refused by authentication or authorization",
            ["vmcp", "reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "mcpb_rate_limited",
            "Calls refused by a rate limit or quota",
            ["vmcp", "client"],
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "mcpb_cache_hits",
            "Requests answered from a cache: lists, and cached results of read-only tools",
            ["vmcp"],
            registry=self.registry,
        )
        self.registry.register(_Gauges(vmcps, upstreams))
        self._children: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}

    def record(self, exchange: Exchange, *, count: bool = True, log: bool = True) -> None:
        """Count a finished request, and write its access-log line."""
        seconds = time.monotonic() - exchange.started
        if log:
            _write_line(exchange, seconds)
        if not count:
            return
        vmcp, upstream = exchange.vmcp, exchange.upstream or ""
        if exchange.reason is not None:
            self.auth_rejections.labels(vmcp, exchange.reason).inc()
        if exchange.method is None:
            return
        method = exchange.method if exchange.method in METHODS else "other"
        outcome = exchange.outcome or ("ok" if exchange.status < 400 else "error")
        key = (vmcp, upstream, method, outcome)
        children = self._children.get(key)
        if children is None:  # labels() is the slow part: once per label combination
            children = self._children[key] = (
                self.requests.labels(*key),
                self.duration.labels(vmcp, upstream, method),
            )
        children[0].inc()
        children[1].observe(seconds)
        if outcome == "rate_limited":
            self.rate_limited.labels(vmcp, self._client_label(exchange.client)).inc()
        elif outcome == "cached":
            self.cache_hits.labels(vmcp).inc()

    def _client_label(self, client: str) -> str:
        if client == "anonymous" or client in self._clients():
            return client
        return "jwt" if client.startswith("sub:") else "other"

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


def _write_line(exchange: Exchange, seconds: float) -> None:
    """One access-log line, written to stderr in one ``write`` (atomic on a pipe below 4 KiB,
    so lines of concurrent requests never interleave); a failing stderr loses the line, never
    the request."""
    line = orjson.dumps(
        {
            "ts": round(time.time(), 3),
            "request_id": exchange.request_id,
            "session": session_hash(exchange.session_id) if exchange.session_id else None,
            "vmcp": exchange.vmcp,
            "client": exchange.client,
            "http_method": exchange.http_method,
            "method": exchange.method,
            "tool": exchange.tool,
            "upstream": exchange.upstream,
            "outcome": exchange.outcome,
            "status": exchange.status,
            "duration_ms": round(seconds * 1000, 3),
            **({"auth": exchange.reason} if exchange.reason else {}),
        }
    )
    with contextlib.suppress(OSError):
        os.write(ACCESS_LOG_FD, line + b"\n")
