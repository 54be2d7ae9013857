"""The transport core's own cost per request, 2025 against 2026-07-28, in-process.

usage: uv run --no-sync python -m bench.bridge.eras [--requests 20000] [--rounds 5]
       [--out bench/bridge/results-eras.json]

No sockets, no child: the app is driven through ASGI (tests/inprocess/asgi_driver.py) with a
backend that answers every ``tools/call`` at once with an echo result, so the figure is the
transport's own CPU per request (the part of the bridge that differs between the eras). The
two eras alternate round by round; the report gives each round's µs per request and the
median ratio. The wrk runs of bench/bridge measure the whole bridge with a real child.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bench.bridge.machine import describe
from mcpb.mcphttp import HttpSettings, McpHttpApp, Session, SessionTable, Sink, jsonrpc
from mcpb.mcphttp.jsonrpc import Message
from tests.inprocess.asgi_driver import call

V2026 = "2026-07-28"
V2025 = "2025-06-18"


class EchoBackend:
    """Answers every request at once: ``tools/call`` with its arguments as text."""

    def __init__(self, label: str) -> None:
        self.label = label

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def check(self) -> str | None:
        return None

    def attach(self, session: Session) -> None:
        return None

    def detach(self, session: Session) -> None:
        return None

    def abandon(self, session: Session, request_id: object, reason: str) -> None:
        return None

    async def initialize(self, session: Session, message: Message, sink: Sink | None) -> None:
        result = {"protocolVersion": V2025, "capabilities": {"tools": {}}}
        result["serverInfo"] = {"name": "echo", "version": "1"}
        self._answer(sink, {"jsonrpc": "2.0", "id": message["id"], "result": result})

    async def forward_request(self, session: Session, message: Message, sink: Sink | None) -> None:
        if message["method"] == "tools/list":
            tools = [{"name": "echo", "inputSchema": {"type": "object"}}]
            self._answer(sink, {"jsonrpc": "2.0", "id": message["id"], "result": {"tools": tools}})
            return
        text = jsonrpc.dumps(message["params"].get("arguments")).decode()
        result = {"content": [{"type": "text", "text": text}], "isError": False}
        self._answer(sink, {"jsonrpc": "2.0", "id": message["id"], "result": result})

    async def forward_notification(self, session: Session, message: Message) -> None:
        return None

    async def forward_response(self, session: Session, message: Message) -> None:
        return None

    def _answer(self, sink: Sink | None, message: Message) -> None:
        assert sink is not None
        sink.put(jsonrpc.dumps(message), final=True)


async def _open_2025(app: McpHttpApp) -> str:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": V2025, "capabilities": {}, "clientInfo": {"name": "b"}},
    }
    reply = await call(app, "POST", "/mcp", body=init, headers={"accept": "application/json"})
    return reply.headers["mcp-session-id"]


def _requests(era: str, session: str, count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Encoded bodies and headers, made before the clock starts (the client's work)."""
    made = []
    for n in range(count):
        params: dict[str, Any] = {"name": "echo", "arguments": {"n": n}}
        headers = {"accept": "application/json, text/event-stream"}
        if era == "2026":
            params["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": V2026,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            headers |= {"mcp-protocol-version": V2026, "mcp-method": "tools/call"}
            headers["mcp-name"] = "echo"
        else:
            headers |= {"mcp-protocol-version": V2025, "mcp-session-id": session}
        body = {"jsonrpc": "2.0", "id": n + 1, "method": "tools/call", "params": params}
        made.append((jsonrpc.dumps(body), headers))
    return made


async def _round(app: McpHttpApp, era: str, session: str, count: int) -> float:
    made = _requests(era, session, count)
    started = time.process_time()
    for body, headers in made:
        reply = await call(app, "POST", "/mcp", body=body, headers=headers)
        if reply.status != 200:
            raise SystemExit(f"{era}: {reply.status} {reply.body[:200]!r}")
    return (time.process_time() - started) / count * 1e6


async def main_async(requests: int, rounds: int) -> dict[str, list[float]]:
    settings = HttpSettings()
    app = McpHttpApp(settings, SessionTable(settings, EchoBackend, shared=True))
    await app.startup()
    try:
        session = await _open_2025(app)
        for era in ("2025", "2026"):  # warm-up: caches, the server described once
            await _round(app, era, session, 500)
        figures: dict[str, list[float]] = {"2025": [], "2026": []}
        for _ in range(rounds):
            for era in ("2025", "2026"):
                figures[era].append(await _round(app, era, session, requests))
    finally:
        await app.shutdown()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    machine = describe()
    figures = asyncio.run(main_async(args.requests, args.rounds))
    ratios = [b / a for a, b in zip(figures["2025"], figures["2026"], strict=True)]
    for era, values in figures.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"{era}: median {statistics.median(values):.1f} µs/request  ({shown})")
    print(f"2026 / 2025 CPU: median {statistics.median(ratios):.3f}")
    if args.out is not None:
        report = {
            "machine": machine,
            "requests_per_round": args.requests,
            "us_per_request": figures,
            "ratio_2026_2025": statistics.median(ratios),
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
