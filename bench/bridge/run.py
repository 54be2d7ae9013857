"""Run the bridge benchmark and write results.json + results.md beside this file.

usage (from the repository root, after ``uv sync`` and ``apt-get install wrk``)::

    uv run --no-sync python -m bench.bridge.run [--seconds 5] [--rounds 3]
        [--gateways mcpb-shared,supergateway] [--servers fast,time]

For every gateway × stdio server × connection count (1, 16): start the gateway on a free
loopback port, open one session per connection, warm up for 1 s, measure for ``--seconds``;
in the first round, also a correctness pass of the same shape with every response checked.
Rounds interleave the gateways so a busy machine hurts them alike; the report gives medians.
The floor (the raw stdio round trip to the same server, no HTTP) is measured in every round.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
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
from bench.bridge.session import MODERN_VERSION, call_tool, open_session, wait_ready
from bench.bridge.wrk import run_wrk
from tests.support.ports import free_port
from tests.support.servers import descendants

HERE = Path(__file__).resolve().parent
CONNECTIONS = (1, 16)


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
        with contextlib.suppress(ProcessLookupError):  # it may exit just now
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


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median throughput and latencies over the rounds, with the spread of req/s."""
    rps = [r["rps"] for r in rounds]
    return {
        "rps": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
        "cpu_us_per_req": statistics.median(r.get("cpu_us_per_req", 0.0) for r in rounds),
        "errors": {
            k: sum(r.get("errors", {}).get(k, 0) for r in rounds)
            for k in rounds[0].get("errors", {})
        },
        "requests": sum(r["requests"] for r in rounds),
    }


def _print(
    name: str, server: str, conns: int, load: dict[str, Any], check: dict[str, Any] | None
) -> None:
    tail = f" checked {check['checked']} mismatches {check['mismatches']}" if check else ""
    print(
        f"{name:14} {server:5} c={conns:<2} {load['rps']:9.1f} req/s "
        f"p50 {load['p50_ms']:7.2f} ms p99 {load['p99_ms']:7.2f} ms{tail}",
        flush=True,
    )


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and every live process below it."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def bench_gateway(gateway: Gateway, server: Server, seconds: int, check: bool) -> dict[str, Any]:
    """One round of one gateway in front of one server: each connection count, maybe checked."""
    out: dict[str, Any] = {}
    with running(gateway, server) as (url, proc):
        for conns in CONNECTIONS:
            if gateway.era == "2026":
                sids, version = ["-"] * conns, MODERN_VERSION
            else:
                with httpx.Client(timeout=30) as client:
                    opened = [open_session(client, url) for _ in range(conns)]
                sids = [sid for sid, _ in opened]
                version = opened[0][1]
            sanity(url, sids[0], version, server)
            run_wrk(url, sids, version, server.tool, seconds=1, check=False)  # warm-up
            cpu_before = tree_cpu_seconds(proc.pid)
            load = run_wrk(url, sids, version, server.tool, seconds=seconds, check=False).as_dict()
            cpu = tree_cpu_seconds(proc.pid) - cpu_before
            load["cpu_us_per_req"] = round(1e6 * cpu / max(load["requests"], 1), 1)
            checked = None
            if check:
                checked = run_wrk(
                    url, sids, version, server.tool, seconds=min(seconds, 5), check=True
                )
            out[str(conns)] = {"load": load, "check": checked.as_dict() if checked else None}
            _print(gateway.name, server.name, conns, load, out[str(conns)]["check"])
    return out


def bench_floor(server: Server, seconds: int) -> dict[str, Any]:
    """One round of the raw stdio round trip (every response checked)."""
    out: dict[str, Any] = {}
    for conns in CONNECTIONS:
        res = run_floor(list(server.argv), conns, seconds, server.tool).as_dict()
        out[str(conns)] = {"load": res, "check": res}
        _print("floor", server.name, conns, res, res)
    return out


def write_replacing(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and rename: never a half-written result."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds per run (≤ 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, gateways interleaved")
    default = [g for g in GATEWAYS if not g.endswith("-base") or os.environ.get("MCPB_BENCH_BASE")]
    parser.add_argument("--gateways", default=",".join(default))
    parser.add_argument("--servers", default="fast,time")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    all_servers = servers()
    names = ["floor", *args.gateways.split(",")]
    # (gateway, server) -> conns -> {"rounds": [load...], "check": checked}
    table: dict[tuple[str, str], dict[str, Any]] = {}
    errors: dict[tuple[str, str], str] = {}
    load_before = os.getloadavg()
    for rnd in range(args.rounds):
        print(f"-- round {rnd + 1}/{args.rounds}", flush=True)
        for sname in args.servers.split(","):
            server = all_servers[sname]
            for name in names:
                key = (name, sname)
                if key in errors:
                    continue
                try:
                    if name == "floor":
                        runs = bench_floor(server, args.seconds)
                    else:
                        runs = bench_gateway(GATEWAYS[name], server, args.seconds, check=rnd == 0)
                except Exception as exc:  # a peer that fails is reported, not hidden
                    print(f"{name:14} {sname:5} FAILED: {exc}", flush=True)
                    errors[key] = str(exc)
                    continue
                for conns, run in runs.items():
                    slot = table.setdefault(key, {}).setdefault(
                        conns, {"rounds": [], "check": None}
                    )
                    slot["rounds"].append(run["load"])
                    slot["check"] = slot["check"] or run["check"]
    results: list[dict[str, Any]] = []
    for sname in args.servers.split(","):
        for name in names:
            key = (name, sname)
            label = "floor (raw stdio)" if name == "floor" else name
            if key in errors:
                results.append({"gateway": label, "server": sname, "error": errors[key]})
                continue
            runs = {
                conns: {
                    "load": _summary(slot["rounds"]),
                    "rounds": slot["rounds"],
                    "check": slot["check"],
                }
                for conns, slot in table.get(key, {}).items()
            }
            results.append({"gateway": label, "server": sname, "runs": runs})
    machine_info = machine.describe()
    machine_info["loadavg_before"] = [round(x, 2) for x in load_before]
    machine_info["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    doc = {
        "machine": machine_info,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "results": results,
    }
    write_replacing(args.out, json.dumps(doc, indent=2) + "\n")
    write_replacing(args.out.with_suffix(".md"), report.render(doc))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
