"""The floor: the raw stdio round trip to the fast server, with no HTTP in between.

A driver writes ``tools/call echo`` requests to the fast server's stdin, keeping ``window``
of them in flight (1 = strictly one at a time, like one HTTP connection; 16 = like sixteen
connections), times each response and checks its id and content.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from tests.support.fast_server import echo_text


@dataclass(frozen=True)
class FloorResult:
    """Throughput, latency percentiles (ms) and mismatches of one floor run."""

    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    checked: int
    mismatches: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


ZONES = ("UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York")


def _request(n: int, tool: str) -> bytes:
    if tool == "time":
        args = {"timezone": ZONES[n % len(ZONES)]}
        params = {"name": "get_current_time", "arguments": args}
        msg = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params}
        return json.dumps(msg, separators=(",", ":")).encode() + b"\n"
    msg = {
        "jsonrpc": "2.0",
        "id": n,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"n": n}},
    }
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1)))
    return sorted_values[k]


def _matches(reply: dict[str, Any], rid: int, tool: str) -> bool:
    """Whether ``reply`` is the right answer to request ``rid``."""
    result = reply.get("result") or {}
    if tool == "time":
        zone = (result.get("structuredContent") or {}).get("timezone")
        return bool(zone == ZONES[rid % len(ZONES)])
    return bool(result.get("content", [{}])[0].get("text") == echo_text({"n": rid}))


def run_floor(argv: list[str], window: int, seconds: float, tool: str = "echo") -> FloorResult:
    """Drive the stdio server ``argv`` for ``seconds`` with ``window`` requests in flight."""
    if not 0 < seconds <= 10:
        raise ValueError("each run is bounded to 10 seconds")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    wfd, rfd = proc.stdin.fileno(), proc.stdout.fileno()
    try:
        os.write(
            wfd,
            b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"floor","version":"1"}}}\n',
        )
        if not os.read(rfd, 1 << 16).endswith(b"\n"):
            raise RuntimeError("initialize reply was not one line")
        os.write(wfd, b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        sent_at: dict[int, float] = {}
        latencies: list[float] = []
        mismatches = 0
        n = 0
        start = time.perf_counter()
        stop = start + seconds
        batch = []
        for _ in range(window):
            n += 1
            sent_at[n] = time.perf_counter()
            batch.append(_request(n, tool))
        os.write(wfd, b"".join(batch))
        pending = b""
        while sent_at:
            chunk = os.read(rfd, 1 << 16)
            if not chunk:
                raise RuntimeError("fast server closed its stdout")
            now = time.perf_counter()
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            batch = []
            for line in lines:
                reply = json.loads(line)
                rid = reply.get("id")
                t0 = sent_at.pop(rid, None)
                if t0 is None or not _matches(reply, rid, tool):
                    mismatches += 1
                    continue
                latencies.append(now - t0)
                if now < stop:
                    n += 1
                    sent_at[n] = now
                    batch.append(_request(n, tool))
            if batch:
                os.write(wfd, b"".join(batch))
        elapsed = time.perf_counter() - start
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return FloorResult(
        connections=window,
        seconds=round(elapsed, 3),
        requests=len(latencies),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(_percentile(ms, 50), 3),
        p90_ms=round(_percentile(ms, 90), 3),
        p99_ms=round(_percentile(ms, 99), 3),
        max_ms=round(ms[-1] if ms else 0.0, 3),
        checked=len(latencies) + mismatches,
        mismatches=mismatches,
    )
