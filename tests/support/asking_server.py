"""A stdlib stdio MCP server whose one tool asks the client a question: ``ask {delay}``.

The call sleeps ``delay`` seconds, logs ``asking`` (notifications/message), sends
``elicitation/create`` with a fixed message — nothing in it names the call — and returns the
answer's ``who`` field, or ``refused: <error message>``. Calls run in threads, so two clients'
calls overlap inside one child, the case where shared-mode routing can go wrong.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

lock = threading.Lock()
answers: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}


def send(message: dict[str, Any]) -> None:
    with lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def ask(request: dict[str, Any]) -> None:
    time.sleep(float(request["params"]["arguments"]["delay"]))
    ask_id = f"ask-{request['id']}"
    answers[ask_id] = (threading.Event(), [])
    send(
        {
            "jsonrpc": "2.0",
            "method": "notifications/message",
            "params": {"level": "info", "data": "asking"},
        }
    )
    schema = {"type": "object", "properties": {"who": {"type": "string"}}}
    params = {"mode": "form", "message": "Who are you?", "requestedSchema": schema}
    send({"jsonrpc": "2.0", "id": ask_id, "method": "elicitation/create", "params": params})
    event, box = answers[ask_id]
    event.wait(30)
    reply: dict[str, Any] = box[0] if box else {"error": {"message": "no answer"}}
    if "error" in reply:
        text = "refused: " + reply["error"]["message"]
    else:
        text = "answer: " + str(reply["result"].get("content", {}).get("who"))
    send(
        {
            "jsonrpc": "2.0",
            "id": request["id"],
            "result": {"content": [{"type": "text", "text": text}]},
        }
    )


TOOL = {
    "name": "ask",
    "inputSchema": {"type": "object", "properties": {"delay": {"type": "number"}}},
}

for line in sys.stdin:
    message = json.loads(line)
    method, mid = message.get("method"), message.get("id")
    if method is None and mid in answers:
        answers[mid][1].append(message)
        answers[mid][0].set()
    elif method == "initialize":
        version = message["params"]["protocolVersion"]
        result = {
            "protocolVersion": version,
            "capabilities": {"tools": {}, "logging": {}},
            "serverInfo": {"name": "asking", "version": "1"},
        }
        send({"jsonrpc": "2.0", "id": mid, "result": result})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [TOOL]}})
    elif method == "tools/call":
        threading.Thread(target=ask, args=(message,), daemon=True).start()
    elif mid is not None and method is not None:
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
