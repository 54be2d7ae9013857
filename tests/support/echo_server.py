"""A tiny stdio MCP server without an SDK, for bridge tests (stdlib only, starts fast).

Tools: ``echo`` (returns its arguments as JSON text), ``progress`` (progress + logging
notifications, then a result), ``sample`` (asks the client for sampling/createMessage and
returns the answer), ``sleep`` (blocks for ``seconds``), ``stats`` (how many initialize and
notifications/initialized it received), ``pid`` (its process id), ``notify_changed`` (emits
``notifications/tools/list_changed``; with ``add`` it lists one more tool of that name from
then on), ``batch_notes`` (two log notifications as one JSON array on stdout), ``flood``
(``count`` log notifications of ``size`` bytes, then a result). ``ECHO_SERVER_VERSION`` sets
its ``serverInfo.version``. It reports on stderr its start and every ``notifications/cancelled``
it receives. It never answers ``server/discover``: like some legacy servers, it hangs on that
probe.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
stats = {"initialize": 0, "initialized": 0}
_backlog: list[dict[str, Any]] = []


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def read() -> dict[str, Any] | None:
    if _backlog:
        return _backlog.pop(0)
    line = sys.stdin.readline()
    if not line:
        return None
    message: dict[str, Any] = json.loads(line)
    return message


def text(value: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": value}], "isError": False}


def call_tool(request: dict[str, Any]) -> dict[str, Any]:
    params = request.get("params") or {}
    name = params.get("name")
    args = params.get("arguments") or {}
    if name == "echo":
        return text(json.dumps(args, sort_keys=True))
    if name == "stats":
        return text(json.dumps(stats, sort_keys=True))
    if name == "notify_changed":
        if args.get("add"):  # list one more tool from now on
            added = str(args["add"])
            TOOLS.append({"name": added, "description": "added", "inputSchema": {"type": "object"}})
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        return text("notified")
    if name == "batch_notes":
        # a batch on stdout: two log notifications in one JSON array, then the result
        notes = [
            {
                "jsonrpc": "2.0",
                "method": "notifications/message",
                "params": {"level": "info", "data": f"batched {n}"},
            }
            for n in (1, 2)
        ]
        sys.stdout.write(json.dumps(notes) + "\n")
        sys.stdout.flush()
        return text("batched")
    if name == "pid":
        return text(str(os.getpid()))
    if name == "sleep":
        time.sleep(float(args.get("seconds", 1)))
        return text("slept")
    if name == "progress":
        token = (params.get("_meta") or {}).get("progressToken")
        steps = int(args.get("steps", 3))
        for step in range(1, steps + 1):
            if token is not None:
                send(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/progress",
                        "params": {"progressToken": token, "progress": step, "total": steps},
                    }
                )
            send(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/message",
                    "params": {"level": "info", "logger": "echo", "data": f"step {step}"},
                }
            )
        return text(f"done {steps}")
    if name == "flood":
        count, size = int(args.get("count", 100)), int(args.get("size", 1000))
        data = "z" * size
        for _ in range(count):
            send(
                {
                    "jsonrpc": "2.0",
                    "method": "notifications/message",
                    "params": {"level": "info", "logger": "flood", "data": data},
                }
            )
        return text(f"flooded {count}")
    if name == "sample":
        ask_id = f"sample-{request['id']}"
        prompt = {"type": "text", "text": args.get("prompt", "")}
        send(
            {
                "jsonrpc": "2.0",
                "id": ask_id,
                "method": "sampling/createMessage",
                "params": {
                    "messages": [{"role": "user", "content": prompt}],
                    "maxTokens": 10,
                },
            }
        )
        while True:
            message = read_direct()
            if message is None:
                sys.exit(0)
            if message.get("id") == ask_id and "method" not in message:
                break
            _backlog.append(message)
        if "error" in message:
            return text("sampling failed: " + message["error"].get("message", ""))
        return text("sampled: " + message["result"]["content"]["text"])
    return {"content": [{"type": "text", "text": f"unknown tool {name}"}], "isError": True}


def read_direct() -> dict[str, Any] | None:
    line = sys.stdin.readline()
    return json.loads(line) if line else None


TOOLS = [
    {"name": n, "description": f"{n} tool", "inputSchema": {"type": "object"}}
    for n in (
        "echo",
        "progress",
        "sample",
        "sleep",
        "stats",
        "pid",
        "notify_changed",
        "batch_notes",
        "flood",
    )
]


def handle(message: dict[str, Any]) -> None:
    method = message.get("method")
    if method is None:
        return
    if "id" not in message:
        if method == "notifications/initialized":
            stats["initialized"] += 1
        elif method == "notifications/cancelled":
            request_id = (message.get("params") or {}).get("requestId")
            sys.stderr.write(f"echo: cancelled {json.dumps(request_id)}\n")
            sys.stderr.flush()
        return
    rid = message["id"]
    if method == "initialize":
        stats["initialize"] += 1
        asked = (message.get("params") or {}).get("protocolVersion")
        version = asked if asked in PROTOCOL_VERSIONS else "2025-06-18"
        result = {
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": True}, "logging": {}},
            "serverInfo": {
                "name": "echo",
                "version": os.environ.get("ECHO_SERVER_VERSION", "1.0.0"),
            },
        }
        send({"jsonrpc": "2.0", "id": rid, "result": result})
    elif method == "server/discover":
        return  # hang, like a confused legacy server
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": rid, "result": {}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
    elif method == "tools/call":
        send({"jsonrpc": "2.0", "id": rid, "result": call_tool(message)})
    elif method == "echo/raw":
        send({"jsonrpc": "2.0", "id": rid, "result": {"params": message.get("params")}})
    else:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"no {method}"}})


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--fail-start":
        sys.exit(3)
    sys.stderr.write(f"echo: started pid {os.getpid()}\n")
    sys.stderr.flush()
    while True:
        message = read()
        if message is None:
            return
        handle(message)


if __name__ == "__main__":
    main()
