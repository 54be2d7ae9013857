"""Run the bridge benchmark and write results.json + results.md beside this file.

usage (from the repository root, after ``uv sync`` and ``apt-get install wrk``)::

    uv run --no-sync python -m bench.bridge.run [--seconds 8] [--gateways a,b] [--servers fast,time]

For every gateway × stdio server × connection count (1, 16): start the gateway on a free
loopback port, open one session per connection, warm up for 2 s, measure for ``--seconds``,
then a correctness pass of the same shape with every response checked. The floor (raw stdio
round trip to the fast server) is measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.bridge import machine, report
from bench.bridge.floor import run_floor
from bench.bridge.peers import CACHE, GATEWAYS, Gateway, Server, servers
from bench.bridge.session import call_tool, open_session, wait_ready
from bench.bridge.wrk import run_wrk

HERE = Path(__file__).resolve().parent
CONNECTIONS = (1, 16)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(gateway: Gateway, server: Server) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The gateway serving ``server``; the whole process group is stopped on exit."""
    port = free_port()
    log = CACHE / "logs"
    log.mkdir(parents=True, exist_ok=True)
    with (log / f"{gateway.name}-{server.name}.log").open("wb") as err:
        proc = subprocess.Popen(
            gateway.argv(server, port), env=gateway.env(), start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=err, stderr=err,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            wait_ready(url)
            yield url, proc
        finally:
            stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL what is left after 5 s, reap the leader."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        proc.poll()
        time.sleep(0.05)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


def sanity(url: str, sid: str, version: str, server: Server) -> None:
    """One checked call over httpx before the load, so the wrk check has a known shape."""
    with httpx.Client(timeout=10) as client:
        if server.tool == "echo":
            reply = call_tool(client, url, sid, version, "echo", {"n": 7})
            text = reply["result"]["content"][0]["text"]
            if text != '{"n":7}':
                raise RuntimeError(f"echo answered {text!r}")
        else:
            reply = call_tool(
                client, url, sid, version, "get_current_time", {"timezone": "Asia/Tokyo"}
            )
            if reply["result"]["structuredContent"]["timezone"] != "Asia/Tokyo":
                raise RuntimeError(f"get_current_time answered {reply}")


def bench_gateway(gateway: Gateway, server: Server, seconds: int) -> dict[str, Any]:
    """All runs of one gateway in front of one server."""
    out: dict[str, Any] = {"gateway": gateway.name, "server": server.name, "runs": {}}
    with running(gateway, server) as (url, _proc):
        for conns in CONNECTIONS:
            with httpx.Client(timeout=30) as client:
                opened = [open_session(client, url) for _ in range(conns)]
            sids = [sid for sid, _ in opened]
            version = opened[0][1]
            sanity(url, sids[0], version, server)
            run_wrk(url, sids, version, server.tool, seconds=2, check=False)  # warm-up
            load = run_wrk(url, sids, version, server.tool, seconds=seconds, check=False)
            checked = run_wrk(url, sids, version, server.tool, seconds=min(seconds, 5), check=True)
            out["runs"][str(conns)] = {"load": load.as_dict(), "check": checked.as_dict()}
            print(
                f"{gateway.name:14} {server.name:5} c={conns:<2} {load.rps:9.1f} req/s "
                f"p50 {load.p50_ms:7.2f} ms p99 {load.p99_ms:7.2f} ms "
                f"checked {checked.checked} mismatches {checked.mismatches}",
                flush=True,
            )
    return out


def write_replacing(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and rename: never a half-written result."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def bench_floor(server: Server, seconds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"gateway": "floor (raw stdio)", "server": server.name, "runs": {}}
    for conns in CONNECTIONS:
        res = run_floor(list(server.argv), conns, seconds)
        out["runs"][str(conns)] = {"load": res.as_dict(), "check": res.as_dict()}
        print(
            f"{'floor':14} {server.name:5} c={conns:<2} {res.rps:9.1f} req/s "
            f"p50 {res.p50_ms:7.2f} ms p99 {res.p99_ms:7.2f} ms mismatches {res.mismatches}",
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="measured seconds per run (≤ 10)")
    parser.add_argument("--gateways", default=",".join(GATEWAYS))
    parser.add_argument("--servers", default="fast,time")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    all_servers = servers()
    results: list[dict[str, Any]] = []
    for name in args.servers.split(","):
        server = all_servers[name]
        if server.name == "fast":
            results.append(bench_floor(server, args.seconds))
        for gname in args.gateways.split(","):
            try:
                results.append(bench_gateway(GATEWAYS[gname], server, args.seconds))
            except Exception as exc:  # a peer that fails is reported, not hidden
                print(f"{gname:14} {server.name:5} FAILED: {exc}", flush=True)
                results.append({"gateway": gname, "server": server.name, "error": str(exc)})
    doc = {"machine": machine.describe(), "seconds": args.seconds, "results": results}
    write_replacing(args.out, json.dumps(doc, indent=2) + "\n")
    write_replacing(args.out.with_suffix(".md"), report.render(doc))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
