"""Soak the bridge with clients that misbehave, and show that nothing grows or lingers.

usage (from the repository root, after ``uv sync``)::

    uv run --no-sync python -m bench.soak.run [--seconds 120] [--clients 50]
        [--modes shared,stateful]

For each bridge mode: start ``mcpb bridge`` (the stdlib echo server behind it, 5 s session
timeout, 2 s request timeout) on a loopback port, sample its RSS, open file descriptors and
child processes, then let ``--clients`` clients loop for ``--seconds`` (at most 600) doing, at
random: a quick call; a long call they abandon mid-request (the client times out and closes
the connection); a GET stream they open and drop; a call whose answer streams progress; a
session they DELETE or simply abandon. Afterwards wait for the idle sessions to expire and
sample again. Writes ``results.json`` and ``results.md`` beside this file. Nothing leaves
127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import httpx

from bench.bridge.machine import describe
from bench.bridge.run import write_replacing
from tests.support.servers import descendants, echo_command, start_bridge

HERE = Path(__file__).resolve().parent
VERSION = "2025-06-18"
SESSION_TIMEOUT_MS = 5000


def sample(pid: int) -> dict[str, int]:
    """RSS (KiB), open fds and live child processes of the bridge."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return {
        "rss_kib": rss,
        "fds": sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir()),
        "children": len(descendants(pid)),
    }


def _headers(
    sid: str | None = None, accept: str = "application/json, text/event-stream"
) -> dict[str, str]:
    out = {"accept": accept, "content-type": "application/json", "mcp-protocol-version": VERSION}
    if sid:
        out["mcp-session-id"] = sid
    return out


def _call(rid: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": rid,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments, "_meta": {"progressToken": rid}},
    }


async def open_session(client: httpx.AsyncClient, url: str) -> str | None:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "soak"}},
    }
    resp = await client.post(url, json=init, headers=_headers(accept="application/json"))
    if resp.status_code != 200:
        return None
    sid: str | None = resp.headers.get("mcp-session-id")
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    await client.post(url, json=note, headers=_headers(sid))
    return sid


async def misbehave(url: str, until: float, rng: random.Random, counts: dict[str, int]) -> None:
    """One client: sessions and requests, half of them abandoned in some way."""
    rid = 1
    while time.monotonic() < until:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
            try:
                sid = await open_session(client, url)
            except httpx.HTTPError:
                counts["errors"] += 1
                await asyncio.sleep(0.2)
                continue
            if sid is None:
                counts["refused"] += 1
                await asyncio.sleep(0.2)
                continue
            for _ in range(rng.randint(1, 8)):
                if time.monotonic() >= until:
                    break
                rid += 1
                action = rng.choice(["quick", "abandon", "stream", "progress", "flood"])
                counts[action] += 1
                try:
                    await _act(client, url, sid, rid, action, rng)
                except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError):
                    counts["abandoned"] += 1
            if rng.random() < 0.5:
                await client.delete(url, headers=_headers(sid))
                counts["deleted"] += 1
            else:
                counts["left"] += 1  # the session is simply abandoned: it must expire


async def _act(
    client: httpx.AsyncClient, url: str, sid: str, rid: int, action: str, rng: random.Random
) -> None:
    if action == "quick":
        await client.post(url, json=_call(rid, "echo", {"n": rid}), headers=_headers(sid))
    elif action == "abandon":  # a long call the client gives up on mid-request
        body = _call(rid, "sleep", {"seconds": 3})
        await client.post(url, json=body, headers=_headers(sid), timeout=rng.uniform(0.05, 0.5))
    elif action == "stream":  # a GET stream opened and dropped
        async with client.stream("GET", url, headers=_headers(sid, "text/event-stream")) as resp:
            async for _ in resp.aiter_raw():
                if rng.random() < 0.5:
                    break
                break
    elif action == "progress":
        async with client.stream(
            "POST", url, json=_call(rid, "progress", {"steps": 3}), headers=_headers(sid)
        ) as resp:
            async for _ in resp.aiter_raw():
                if rng.random() < 0.3:
                    break
    else:  # notifications the client does not read to the end
        body = _call(rid, "flood", {"count": 50, "size": 2000})
        async with client.stream("POST", url, json=body, headers=_headers(sid)) as resp:
            async for _ in resp.aiter_raw():
                break


async def soak(url: str, pid: int, seconds: float, clients: int) -> dict[str, Any]:
    rng = random.Random(20261129)
    kinds = ("quick", "abandon", "stream", "progress", "flood")
    outcomes = ("abandoned", "deleted", "left", "refused", "errors")
    counts: dict[str, int] = dict.fromkeys((*kinds, *outcomes), 0)
    samples: list[dict[str, Any]] = []
    start = time.monotonic()

    async def sampler(stop: asyncio.Event) -> None:
        while not stop.is_set():
            samples.append({"t": round(time.monotonic() - start, 1), **sample(pid)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)

    stop = asyncio.Event()
    watching = asyncio.ensure_future(sampler(stop))
    # Two rounds of the same load with a pause between: memory the first round left with the
    # process (CPython and the allocator keep freed memory) must be reused by the second, not
    # added to; a leak shows as a second plateau above the first.
    phases: list[dict[str, Any]] = []
    for _ in range(2):
        until = time.monotonic() + seconds / 2
        rngs = [random.Random(rng.random()) for _ in range(clients)]
        await asyncio.gather(*(misbehave(url, until, r, counts) for r in rngs))
        await asyncio.sleep(SESSION_TIMEOUT_MS / 1000 + 6)  # idle sessions expire
        phases.append({"t": round(time.monotonic() - start, 1), **sample(pid)})
    stop.set()
    await watching
    samples.append({"t": round(time.monotonic() - start, 1), **sample(pid)})
    return {"counts": counts, "samples": samples, "phases": phases}


def run_mode(mode: str, seconds: float, clients: int) -> dict[str, Any]:
    args = ["--sessionTimeout", str(SESSION_TIMEOUT_MS), "--request-timeout", "2"]
    args += ["--logLevel", "none", "--max-sessions", "1000"]
    if mode == "stateful":
        args.append("--stateful")
    bridge = start_bridge(echo_command(), *args)
    try:
        time.sleep(0.5)
        before = sample(bridge.pid)
        result = asyncio.run(soak(bridge.mcp_url, bridge.pid, seconds, clients))
        result["before"] = before
        result["after"] = result["samples"][-1]
        keys = ("rss_kib", "fds", "children")
        result["peak"] = {k: max(s[k] for s in result["samples"]) for k in keys}
    finally:
        code = bridge.stop()
    result["exit_code"] = code
    return result


def _row(points: list[dict[str, Any]], key: str, scale: float = 1, fmt: str = "{:.0f}") -> str:
    return " / ".join(fmt.format(point[key] / scale) for point in points)


def render(doc: dict[str, Any]) -> str:
    lines = [
        "# Soak: the bridge under clients that leave, abandon and do not read",
        "",
        f"Run {doc['machine'].get('date', '')} on {doc['machine'].get('nproc', '?')} CPU(s); "
        f"{doc['clients']} clients per mode, in two rounds of {doc['seconds'] / 2:g} s, each "
        f"followed by {SESSION_TIMEOUT_MS / 1000:g} s session timeout + 6 s. Load average "
        f"before/after: {doc['machine'].get('loadavg_before')} / "
        f"{doc['machine'].get('loadavg_after')}.",
        "",
        "| mode | RSS MiB: before / after round 1 / after round 2 / peak | fds: before / "
        "after 1 / after 2 / peak | children: before / after 1 / after 2 / peak | exit |",
        "|---|---|---|---|---|",
    ]
    for mode, res in doc["modes"].items():
        points = [res["before"], *res["phases"], res["peak"]]
        lines.append(
            f"| {mode} | {_row(points, 'rss_kib', 1024, '{:.1f}')} | {_row(points, 'fds')} | "
            f"{_row(points, 'children')} | {res['exit_code']} |"
        )
    lines += ["", "What the clients did (counts over the run):", ""]
    for mode, res in doc["modes"].items():
        shown = ", ".join(f"{k} {v}" for k, v in res["counts"].items())
        lines.append(f"- {mode}: {shown}")
    lines += [
        "",
        "Samples every 2 s (t, RSS MiB, fds, children) are in results.json. `abandon` is a long",
        "call the client times out on mid-request; `stream` a GET stream opened and dropped;",
        "`progress` and `flood` responses the client stops reading; `left` sessions abandoned",
        "without DELETE (they expire on the idle timeout); `abandoned` counts client timeouts.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--modes", default="shared,stateful")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    seconds = min(args.seconds, 600.0)
    load_before = os.getloadavg()
    modes = {mode: run_mode(mode, seconds, args.clients) for mode in args.modes.split(",")}
    machine = describe()
    machine["loadavg_before"] = [round(x, 2) for x in load_before]
    machine["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    doc = {"machine": machine, "seconds": seconds, "clients": args.clients, "modes": modes}
    write_replacing(args.out, json.dumps(doc, indent=2) + "\n")
    write_replacing(args.out.with_suffix(".md"), render(doc))
    print(render(doc))


if __name__ == "__main__":
    main()
