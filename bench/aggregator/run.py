"""Run the aggregator benchmark and write results.json + results.md beside this file.

usage (from the repository root, after ``uv sync`` and ``apt-get install wrk``)::

    uv run --no-sync python -m bench.aggregator.run [--seconds 5] [--rounds 3] [--sessions 10000]

Throughput: ``tools/call`` of the fast stdio server's ``echo`` tool, driven by wrk (one thread
and one MCP session per connection, 1 and 16 connections), through

* ``floor``: a trivial ASGI MCP endpoint on the same server stack (:mod:`bench.aggregator.floor`);
* ``direct``: the upstream called directly — ``mcpb bridge`` in front of the fast server; it is
  also the stdio comparison (the bridge's own figure);
* ``relay``: that bridge behind a relay with no MCP logic on the aggregator's own parts
  (:mod:`bench.aggregator.relay`): the ceiling of any vMCP in front of an HTTP upstream;
* ``vmcp-http``: a vMCP of ``mcpb aggregate`` whose upstream is that bridge (``url``);
* ``vmcp-stdio``: a vMCP whose upstream is the fast server itself (``stdio``);
* ``fastmcp``: FastMCP 4 mounting the same bridge with a namespace, an already-connected client
  reused for every request (its fastest documented mode; :mod:`bench.aggregator.fastmcp_gateway`);
* ``contextforge``: ContextForge with the bridge registered as a gateway and a virtual server of
  its tool (:mod:`bench.aggregator.contextforge`; skipped with ``--no-contextforge``).

Rounds interleave the targets so a busy machine hurts them alike; the first round also checks
every response (id and content). Then: ``tools/list`` of a vMCP of ~100 tools (200 sequential
calls; FastMCP and the upstream alone listed the same way), ``--sessions`` client sessions each
holding a GET stream on one aggregator (its RSS, not its children's), a vMCP created through the
admin API until its first ``initialize`` + ``tools/list`` is answered, and SIGTERM to exit.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.aggregator.contextforge import VERSION as CONTEXTFORGE
from bench.aggregator.contextforge import contextforge
from bench.bridge import machine
from bench.bridge.run import stop_group
from bench.bridge.session import open_session, rpc, wait_ready
from bench.bridge.wrk import run_wrk, wrk_version
from tests.support.ports import free_port
from tests.support.pypi import pypi_venv
from tests.support.servers import descendants

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LOGS = REPO / ".cache" / "bench" / "logs"
FAST = [sys.executable, str(REPO / "tests" / "support" / "fast_server.py")]
FASTMCP = ("fastmcp==4.2.3", "uvicorn[standard]")
CONNECTIONS = (1, 16)
BENCH_KEY = "bench-client-key"
ALL_PARTS = ("throughput", "listing", "sessions", "admin", "sigterm")
ADMIN_TOKEN = "bench-admin-token"
MCPB = str(Path(sys.executable).parent / "mcpb")


def spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / f"aggregator-{name}.log").open("wb") as log:
        return subprocess.Popen(
            argv, env={**os.environ, **(env or {})}, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip


def wait_upstreams(base: str, names: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"{base}/ready", timeout=2).json()
            if all(ready["upstreams"].get(n, {}).get("state") == "up" for n in names):
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base}: upstreams {names} not up")


@contextmanager
def aggregator(
    config: dict[str, Any], name: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``mcpb aggregate`` with ``config`` on a free port; its base URL and process."""
    path = LOGS / f"aggregator-{name}.json"
    LOGS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    port = free_port()
    proc = spawn(name, [MCPB, "aggregate", "--config", str(path), "--port", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_upstreams(base, list(config.get("upstreams", {})))
        yield base, proc
    finally:
        stop_group(proc)


Target = tuple[str, str, str]  # MCP URL, the echo tool's name there, an Authorization or ""


@contextmanager
def targets(extra_tools: int = 0, *, with_contextforge: bool = True) -> Iterator[dict[str, Target]]:
    """Every target running: name → (MCP URL, the echo tool's name there, Authorization)."""
    env = {"FAST_SERVER_EXTRA_TOOLS": str(extra_tools), "MCPB_LOG_LEVEL": "WARNING"}
    with ExitStack() as stack:
        out: dict[str, Target] = {}
        port = free_port()
        floor = spawn("floor", [sys.executable, "-m", "bench.aggregator.floor", str(port)])
        stack.callback(stop_group, floor)
        out["floor"] = (f"http://127.0.0.1:{port}/mcp", "echo", "")
        port = free_port()
        bridge = spawn(
            "direct",
            [MCPB, "bridge", "--stdio", " ".join(FAST), "--port", str(port), "--logLevel", "none"],
            env,
        )
        stack.callback(stop_group, bridge)
        direct = f"http://127.0.0.1:{port}/mcp"
        out["direct"] = (direct, "echo", "")
        port = free_port()
        relay = spawn("relay", [sys.executable, "-m", "bench.aggregator.relay", str(port), direct])
        stack.callback(stop_group, relay)
        out["relay"] = (f"http://127.0.0.1:{port}/mcp", "echo", "")
        config = {
            "upstreams": {"fast": {"url": direct}},
            "vmcps": {"v": {"select": [{"upstreams": ["fast"]}]}},
            "metrics": {"enabled": False},
            "access_log": False,
        }
        base, _ = stack.enter_context(aggregator(config, "vmcp-http", env))
        out["vmcp-http"] = (f"{base}/vmcp/v/mcp", "fast__echo", "")
        # the same vMCP with an API key, a rate limit it never reaches, metrics and the
        # access log (issue 11's cost, measured against vmcp-http in the same run)
        secured = {
            "clients": {"bench": {"key_sha256": hashlib.sha256(BENCH_KEY.encode()).hexdigest()}},
            "upstreams": {"fast": {"url": direct}},
            "vmcps": {
                "v": {
                    "select": [{"upstreams": ["fast"]}],
                    "auth": {"keys": ["bench"]},
                    "limits": {"rate": "100000000/second"},
                }
            },
        }
        base, _ = stack.enter_context(aggregator(secured, "vmcp-secured", env))
        out["vmcp-secured"] = (f"{base}/vmcp/v/mcp", "fast__echo", f"Bearer {BENCH_KEY}")
        config = {"upstreams": {"fast": {"stdio": FAST}}, "vmcps": {"v": {}}}
        base, _ = stack.enter_context(aggregator(config, "vmcp-stdio", env))
        out["vmcp-stdio"] = (f"{base}/vmcp/v/mcp", "fast__echo", "")
        venv = pypi_venv("fastmcp4", FASTMCP)
        port = free_port()
        script = str(HERE / "fastmcp_gateway.py")
        peer = spawn("fastmcp", [str(venv / "bin" / "python"), script, str(port), f"fast={direct}"])
        stack.callback(stop_group, peer)
        out["fastmcp"] = (f"http://127.0.0.1:{port}/mcp", "fast_echo", "")
        for url, _, auth in out.values():
            wait_ready(url, timeout=60, headers={"Authorization": auth} if auth else None)
        if with_contextforge:
            out["contextforge"] = stack.enter_context(contextforge(direct, LOGS))
        yield out


def throughput(rounds: int, seconds: int, with_contextforge: bool) -> dict[str, Any]:
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {}
    with (
        targets(with_contextforge=with_contextforge) as running,
        httpx.Client(timeout=30) as client,
    ):
        for round_no in range(rounds):
            for name, (url, tool, auth) in running.items():
                for conns in CONNECTIONS:
                    extra = {"Authorization": auth} if auth else None
                    sessions = [open_session(client, url, extra) for _ in range(conns)]
                    version = sessions[0][1]
                    sids = [sid for sid, _ in sessions]
                    run_wrk(
                        url, sids, version, "echo", seconds=1, check=False,
                        tool_name=tool, authorization=auth,
                    )  # fmt: skip
                    result = run_wrk(
                        url, sids, version, "echo", seconds=seconds,
                        check=round_no == 0, tool_name=tool, authorization=auth,
                    )  # fmt: skip
                    runs.setdefault(name, {}).setdefault(conns, []).append(result.as_dict())
                    print(
                        f"round {round_no} {name:10} c={conns:2} {result.rps:8.1f} rps "
                        f"p99 {result.p99_ms:6.2f} ms mismatches {result.mismatches}",
                        flush=True,
                    )
    return runs


def listing(with_contextforge: bool, samples: int = 200) -> dict[str, Any]:
    """``tools/list`` of ~100 tools: sequential latency through each target."""
    out: dict[str, Any] = {}
    with (
        targets(extra_tools=99, with_contextforge=with_contextforge) as running,
        httpx.Client(timeout=30) as client,
    ):
        for name in ("direct", "vmcp-http", "vmcp-stdio", "fastmcp", "contextforge"):
            if name not in running:
                continue
            url, _, auth = running[name]
            extra = {"Authorization": auth} if auth else {}
            sid, version = open_session(client, url, extra or None)
            hdrs = {**extra, "MCP-Protocol-Version": version}
            if sid != "-":
                hdrs["Mcp-Session-Id"] = sid
            times, count = [], 0
            for n in range(samples + 10):
                started = time.perf_counter()
                msg = {"jsonrpc": "2.0", "id": n + 10, "method": "tools/list"}
                _, reply = rpc(client, url, msg, hdrs)
                elapsed = (time.perf_counter() - started) * 1000
                assert reply is not None and "result" in reply, reply
                count = len(reply["result"]["tools"])
                if n >= 10:
                    times.append(elapsed)
            times.sort()
            out[name] = {
                "tools": count,
                "p50_ms": round(statistics.median(times), 3),
                "p99_ms": round(times[int(len(times) * 0.99) - 1], 3),
            }
            print(f"tools/list {name:10} {count} tools p50 {out[name]['p50_ms']} ms", flush=True)
    return out


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _hold_streams(base: str, count: int) -> dict[str, Any]:
    """``count`` sessions, each with an open GET stream; the aggregator's RSS along the way."""
    url = f"{base}/vmcp/v/mcp"
    host, port = "127.0.0.1", int(base.rsplit(":", 1)[1])
    init = {
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "1"}},
    }  # fmt: skip
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    ids: list[str] = []
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        semaphore = asyncio.Semaphore(32)

        async def one() -> None:
            async with semaphore:
                response = await client.post(
                    url, json=init,
                    headers={"accept": "application/json, text/event-stream"},
                )  # fmt: skip
                ids.append(response.headers["mcp-session-id"])

        await asyncio.gather(*(one() for _ in range(count)))
    opened = time.monotonic() - started
    streams: list[asyncio.StreamWriter] = []

    async def stream(sid: str) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            (f"GET /vmcp/v/mcp HTTP/1.1\r\nHost: {host}:{port}\r\n"
             f"Accept: text/event-stream\r\nMcp-Session-Id: {sid}\r\n"
             "MCP-Protocol-Version: 2025-06-18\r\n\r\n").encode()
        )  # fmt: skip
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:100]
        streams.append(writer)

    for start in range(0, len(ids), 200):
        await asyncio.gather(*(stream(sid) for sid in ids[start : start + 200]))
    return {"sessions": len(ids), "streams": len(streams), "open_seconds": round(opened, 1),
            "writers": streams}  # fmt: skip


def many_sessions(count: int) -> dict[str, Any]:
    config = {
        "max_sessions": count + 10,  # room for one more session after the load
        "upstreams": {"fast": {"stdio": FAST}},
        "vmcps": {"v": {}},
    }
    with aggregator(config, "sessions", {"MCPB_LOG_LEVEL": "WARNING"}) as (base, proc):
        idle = rss_kib(proc.pid)
        loop = asyncio.new_event_loop()
        held = loop.run_until_complete(_hold_streams(base, count))
        time.sleep(1)
        loaded = rss_kib(proc.pid)
        ready = httpx.get(f"{base}/ready", timeout=30).json()
        with httpx.Client(timeout=10) as client:
            sid, _ = open_session(client, f"{base}/vmcp/v/mcp")
        for writer in held.pop("writers"):
            writer.close()
        loop.close()
    out = {
        **held,
        "sessions_reported": ready["sessions"],
        "rss_idle_mib": round(idle / 1024, 1),
        "rss_loaded_mib": round(loaded / 1024, 1),
        "still_answers": bool(sid),
    }
    print(f"{count} sessions with GET streams: RSS {out['rss_idle_mib']} → "
          f"{out['rss_loaded_mib']} MiB", flush=True)  # fmt: skip
    return out


def admin_put(samples: int = 20) -> dict[str, Any]:
    config = {"upstreams": {"fast": {"stdio": FAST}}, "vmcps": {}}
    env = {"MCPB_AGGREGATOR_ADMIN_TOKEN": ADMIN_TOKEN, "MCPB_LOG_LEVEL": "WARNING"}
    times = []
    with aggregator(config, "admin", env) as (base, _), httpx.Client(timeout=10) as client:
        auth = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        for n in range(samples):
            made = client.put(f"{base}/admin/vmcps/v{n}", headers=auth, json={})
            assert made.status_code == 201, made.text
            started = time.perf_counter()
            url = f"{base}/vmcp/v{n}/mcp"
            sid, version = open_session(client, url)
            hdrs = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": version}
            _, reply = rpc(client, url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, hdrs)
            times.append((time.perf_counter() - started) * 1000)
            assert reply is not None and len(reply["result"]["tools"]) == 1
    out = {"samples": samples, "median_ms": round(statistics.median(times), 2),
           "max_ms": round(max(times), 2)}  # fmt: skip
    print(f"admin PUT → first initialize + tools/list: median {out['median_ms']} ms", flush=True)
    return out


def sigterm(streams: int) -> dict[str, Any]:
    config = {
        "max_sessions": streams + 10,
        "upstreams": {f"u{n}": {"stdio": FAST} for n in range(3)},
        "vmcps": {"v": {}},
    }
    with aggregator(config, "sigterm", {"MCPB_LOG_LEVEL": "WARNING"}) as (base, proc):
        loop = asyncio.new_event_loop()
        held = loop.run_until_complete(_hold_streams(base, streams))
        children = descendants(proc.pid)
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=30)
        seconds = time.monotonic() - started
        left = [pid for pid in children if Path(f"/proc/{pid}").exists()]
        for writer in held.pop("writers"):
            writer.close()
        loop.close()
    out = {"streams": held["streams"], "children": len(children), "exit_code": code,
           "seconds": round(seconds, 2), "left_behind": len(left)}  # fmt: skip
    print(f"SIGTERM: exit {code} in {out['seconds']} s, {len(left)} processes left", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--only", default=",".join(ALL_PARTS))
    parser.add_argument("--no-contextforge", dest="contextforge", action="store_false")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    previous = HERE / "results.json"
    results: dict[str, Any] = {}
    if parts != set(ALL_PARTS) and previous.exists():
        # a partial run keeps the other parts of the last one (each part compares its targets
        # within itself, so parts measured at different times stay valid on their own)
        kept = json.loads(previous.read_text())
        results = {k: v for k, v in kept.items() if k in (*ALL_PARTS, "measured")}
    results |= {
        "machine": machine.describe(),
        "wrk": wrk_version(),
        "fastmcp": FASTMCP[0].split("==")[1],
        "contextforge": CONTEXTFORGE if args.contextforge else None,
        "settings": {"seconds": args.seconds, "rounds": args.rounds},
    }
    steps = {
        "throughput": lambda: throughput(args.rounds, args.seconds, args.contextforge),
        "listing": lambda: listing(args.contextforge),
        "sessions": lambda: many_sessions(args.sessions),
        "admin": admin_put,
        "sigterm": lambda: sigterm(args.sessions),
    }
    stamp = {k: results["machine"][k] for k in ("date", "mcpb_commit")}
    for name, step in steps.items():
        if name in parts:
            results[name] = step()
            results.setdefault("measured", {})[name] = stamp
            save(results)  # a later step that fails keeps what was measured


def save(results: dict[str, Any]) -> None:
    from bench.aggregator.report import write_report

    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_report(json.loads((HERE / "results.json").read_text()), HERE / "results.md")


if __name__ == "__main__":
    main()
