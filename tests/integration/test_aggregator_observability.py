"""Metrics, access log and request-id propagation, checked against the traffic sent: /metrics
parsed with prometheus_client's parser, log lines parsed as JSON and checked for redaction,
the upstream's view of X-Request-Id and traceparent."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.aggregator import Aggregator, aggregating, write_config
from tests.support.mcp_http import headers, initialize
from tests.support.recorder import Recorder

KEY = "observed-client-key"
ADMIN = "observability-admin-token"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Aggregator, Recorder]]:
    recorder = Recorder()
    config = {
        "clients": {"ci": {"key_sha256": hashlib.sha256(KEY.encode()).hexdigest()}},
        "upstreams": {"rec": {"url": recorder.url}},
        "vmcps": {
            "obs": {
                "select": [{"upstreams": ["rec"]}],
                "auth": {"keys": ["ci"]},
                "limits": {"rate": "3/minute"},
            }
        },
        "metrics": {"auth": "admin"},
    }
    path = write_config(tmp_path_factory.mktemp("observed"), config)
    with aggregating(path, env={"MCPB_AGGREGATOR_ADMIN_TOKEN": ADMIN}) as running:
        running.wait_for({"rec": "up"})
        yield running, recorder
    recorder.close()


def samples(aggregator: Aggregator) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(
        f"{aggregator.base_url}/metrics", headers={"authorization": f"Bearer {ADMIN}"}
    ).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def access_lines(aggregator: Aggregator) -> list[dict[str, Any]]:
    return [json.loads(line) for line in aggregator.log if line.startswith("{")]


def test_traffic_shows_in_metrics_logs_and_upstream_headers(
    observed: tuple[Aggregator, Recorder],
) -> None:
    aggregator, recorder = observed
    url = aggregator.url("obs")
    assert httpx.post(url, json={}).status_code == 401  # no credential
    parent = "00f067aa0ba902b7"
    with httpx.Client(headers={"authorization": f"Bearer {KEY}"}) as http:
        session = initialize(http, url)
        listing = {"jsonrpc": "2.0", "id": "l", "method": "tools/list"}
        for _ in range(2):
            assert http.post(url, json=listing, headers=headers(session)).status_code == 200
        statuses = []
        for n in range(4):
            body = {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": "rec__hello", "arguments": {}},
            }
            sent = headers(session, x_request_id=f"req-{n}", traceparent=f"00-{TRACE}-{parent}-01")
            statuses.append(http.post(url, json=body, headers=sent).status_code)
    assert statuses == [200, 200, 200, 429]

    values = samples(aggregator)

    def value(name: str, **labels: str) -> float:
        return values.get((name, frozenset(labels.items())), 0.0)

    calls = {"vmcp": "obs", "upstream": "rec", "method": "tools/call"}
    assert value("mcpb_requests_total", **calls, outcome="ok") == 3
    assert value("mcpb_requests_total", **calls, outcome="rate_limited") == 1
    assert value("mcpb_request_duration_seconds_count", **calls) == 4
    lists = {"vmcp": "obs", "upstream": "", "method": "tools/list"}
    assert value("mcpb_requests_total", **lists, outcome="cached") == 2
    assert value("mcpb_cache_hits_total", vmcp="obs") == 2
    assert value("mcpb_rate_limited_total", vmcp="obs", client="ci") == 1
    assert value("mcpb_auth_rejections_total", vmcp="obs", reason="missing") == 1
    assert value("mcpb_sessions_active", vmcp="obs") == 1
    assert value("mcpb_upstream_up", upstream="rec") == 1

    deadline = time.monotonic() + 5
    while len(access_lines(aggregator)) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = access_lines(aggregator)
    refused = [line for line in lines if line["status"] == 401]
    assert refused and refused[0]["auth"] == "missing" and refused[0]["client"] == "anonymous"
    call = next(line for line in lines if line["request_id"] == "req-1")
    assert call["status"] == 200
    assert (call["vmcp"], call["client"], call["method"], call["tool"], call["upstream"]) == (
        "obs", "ci", "tools/call", "rec/hello", "rec",
    )  # fmt: skip
    assert call["session"] == hashlib.sha256(session.encode()).hexdigest()[:16]
    limited = next(line for line in lines if line["request_id"] == "req-3")
    assert (limited["status"], limited["outcome"]) == (429, "rate_limited")
    for line in aggregator.log:  # neither the key nor a raw session id is ever written
        assert KEY not in line and session not in line

    upstream_calls = [
        h for h, m in zip(recorder.seen, recorder.methods, strict=True) if m == "tools/call"
    ]
    assert [h["x-request-id"] for h in upstream_calls] == ["req-0", "req-1", "req-2"]
    for seen in upstream_calls:
        version, trace, hop, flags = seen["traceparent"].split("-")
        assert (version, trace, flags) == ("00", TRACE, "01") and hop != parent


def test_request_ids_are_kept_only_when_sane_and_metrics_need_the_admin_token(
    observed: tuple[Aggregator, Recorder],
) -> None:
    aggregator, _ = observed
    url = aggregator.url("obs")
    weird = "x" * 200
    httpx.post(url, json={}, headers={"x-request-id": weird})
    deadline = time.monotonic() + 5
    while not any(line["status"] == 401 for line in access_lines(aggregator)[-1:]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    made = access_lines(aggregator)[-1]["request_id"]
    assert made != weird and len(made) == 32
    assert httpx.get(f"{aggregator.base_url}/metrics").status_code == 401


def test_spans_follow_the_clients_trace_and_lead_the_upstreams(tmp_path: Path) -> None:
    """With the otel extra and OTEL_TRACES_EXPORTER=console, each request is a server span,
    child of the client's traceparent; the upstream gets that span as its parent."""
    recorder = Recorder()
    config = {
        "upstreams": {"rec": {"url": recorder.url}},
        "vmcps": {"traced": {"select": [{"upstreams": ["rec"]}]}},
    }
    parent = "00f067aa0ba902b7"
    try:
        with aggregating(
            write_config(tmp_path, config), env={"OTEL_TRACES_EXPORTER": "console"}
        ) as running:
            running.wait_for({"rec": "up"})
            url = running.url("traced")
            with httpx.Client() as http:
                session = initialize(http, url)
                body = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "rec__hello", "arguments": {}},
                }
                sent = headers(session, traceparent=f"00-{TRACE}-{parent}-01")
                assert http.post(url, json=body, headers=sent).status_code == 200
            running.stop()  # the provider flushes at shutdown
            spans = [
                json.loads(line)
                for line in running.log
                if line.startswith("{") and '"context"' in line
            ]
    finally:
        recorder.close()
    call = next(s for s in spans if s["attributes"].get("mcp.method") == "tools/call")
    assert call["name"] == "vmcp traced" and call["kind"] == "SpanKind.SERVER"
    assert call["context"]["trace_id"] == f"0x{TRACE}"
    assert call["parent_id"] == f"0x{parent}"
    assert call["attributes"]["mcp.tool"] == "rec/hello"
    assert call["attributes"]["http.response.status_code"] == 200
    sent_up = next(
        h for h, m in zip(recorder.seen, recorder.methods, strict=True) if m == "tools/call"
    )
    assert sent_up["traceparent"] == f"00-{TRACE}-{call['context']['span_id'][2:]}-01"
