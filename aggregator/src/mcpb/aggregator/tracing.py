"""OpenTelemetry spans of vMCP requests, when the ``otel`` extra is installed and configured.

Configuration is OpenTelemetry's own: ``OTEL_TRACES_EXPORTER`` (``console``: one JSON span per
line on stderr, beside the logs; ``otlp``: OTLP over HTTP to ``OTEL_EXPORTER_OTLP_ENDPOINT``)
and ``OTEL_SERVICE_NAME`` (default ``mcpb-aggregator``). Without the variable, or without the
extra (``pip install 'mcpb-aggregator[otel]'``, a warning then says so), no span is recorded;
the ``traceparent`` a client sends is still passed upstream (:mod:`mcpb.aggregator.exchange`).

Each request to a vMCP is one server span, the child of the client's ``traceparent`` when it
sent one; its ids become the ``traceparent`` sent upstream, so the upstream's spans hang below
it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from mcpb.aggregator.exchange import Exchange

log = logging.getLogger("mcpb.aggregator")


class Tracing:
    """A tracer and its provider (flushed at shutdown)."""

    def __init__(self, tracer: Any, provider: Any) -> None:
        self._tracer = tracer
        self._provider = provider

    def start(self, exchange: Exchange) -> Any:
        """Open the request's span; the exchange takes its ids for the upstream hop."""
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

        context = None
        if exchange.trace_id is not None and exchange.parent_id is not None:
            remote = SpanContext(
                trace_id=int(exchange.trace_id, 16),
                span_id=int(exchange.parent_id, 16),
                is_remote=True,
                trace_flags=TraceFlags(int(exchange.trace_flags, 16)),
            )
            context = trace.set_span_in_context(NonRecordingSpan(remote))
        span = self._tracer.start_span(
            f"vmcp {exchange.vmcp}", context=context, kind=SpanKind.SERVER
        )
        own = span.get_span_context()
        exchange.trace_id = f"{own.trace_id:032x}"
        exchange.span_id = f"{own.span_id:016x}"
        exchange.trace_flags = f"{int(own.trace_flags):02x}"
        return span

    def end(self, span: Any, exchange: Exchange) -> None:
        """Describe the finished request and close its span (no credentials, no session id)."""
        from opentelemetry.trace import Status, StatusCode

        attributes = {
            "http.request.method": exchange.http_method,
            "http.response.status_code": exchange.status,
            "mcp.vmcp": exchange.vmcp,
            "mcp.client": exchange.client,
            "mcp.method": exchange.method,
            "mcp.tool": exchange.tool,
            "mcp.upstream": exchange.upstream,
            "mcp.outcome": exchange.outcome,
            "mcpb.request_id": exchange.request_id,
        }
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        if exchange.status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def shutdown(self) -> None:
        """Export what is pending."""
        self._provider.shutdown()


def configure_tracing(environ: Mapping[str, str]) -> Tracing | None:
    """Spans as ``OTEL_TRACES_EXPORTER`` asks, or ``None`` (module docstring)."""
    kind = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if kind in ("", "none"):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )
    except ImportError:
        log.warning(
            "OTEL_TRACES_EXPORTER=%s but OpenTelemetry is not installed: no spans "
            "(pip install 'mcpb-aggregator[otel]')",
            kind,
        )
        return None
    exporter: SpanExporter
    if kind == "console":
        exporter = ConsoleSpanExporter(
            out=sys.stderr, formatter=lambda span: span.to_json(indent=None) + "\n"
        )
    elif kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        log.warning("OTEL_TRACES_EXPORTER=%s is not supported (console, otlp): no spans", kind)
        return None
    name = environ.get("OTEL_SERVICE_NAME", "mcpb-aggregator")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider.get_tracer("mcpb.aggregator"), provider)
