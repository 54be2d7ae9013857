"""A stdio MCP server offering what the official conformance suite's server scenarios call.

Stdlib only, raw JSON-RPC (no SDK), written from the suite's own scenario descriptions
(``npx @modelcontextprotocol/conformance list``, 0.1.16): the ``test_*`` tools, the
``test://`` resources and template, the ``test_*`` prompts, completion, logging levels and
subscriptions. Served through ``mcpb bridge`` or an aggregator upstream, it lets the suite
check the hop in between: a failure is the intermediary's.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5E"
    "rkJggg=="
)
WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="
LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
state: dict[str, Any] = {"level": "debug", "subscribed": set(), "asked": 0}
_backlog: list[dict[str, Any]] = []


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def notify(method: str, params: dict[str, Any]) -> None:
    send({"jsonrpc": "2.0", "method": method, "params": params})


def read() -> dict[str, Any] | None:
    if _backlog:
        return _backlog.pop(0)
    line = sys.stdin.readline()
    return json.loads(line) if line else None


def ask(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Send a server→client request and wait for its answer (other messages are kept)."""
    state["asked"] += 1
    ask_id = f"ask-{state['asked']}"
    send({"jsonrpc": "2.0", "id": ask_id, "method": method, "params": params})
    while True:
        line = sys.stdin.readline()
        if not line:
            sys.exit(0)
        message = json.loads(line)
        if message.get("id") == ask_id and "method" not in message:
            answer: dict[str, Any] = message
            return answer
        _backlog.append(message)


def log(level: str, data: str) -> None:
    if LEVELS.index(level) >= LEVELS.index(state["level"]):
        notify("notifications/message", {"level": level, "logger": "conformance", "data": data})


def text(value: str, *, error: bool = False) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": value}], "isError": error}


def schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


def tool(name: str, description: str, input_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "description": description, "inputSchema": input_schema or schema()}


TOOLS = [
    tool("test_simple_text", "Returns simple text"),
    tool("test_image_content", "Returns an image"),
    tool("test_audio_content", "Returns audio"),
    tool("test_embedded_resource", "Returns an embedded resource"),
    tool("test_multiple_content_types", "Returns text, an image and a resource"),
    tool("test_tool_with_logging", "Logs three messages while it runs"),
    tool("test_tool_with_progress", "Reports progress 0, 50, 100"),
    tool("test_error_handling", "Always fails"),
    tool("test_sampling", "Asks the client to sample", schema(prompt={"type": "string"})),
    tool("test_elicitation", "Asks the client for input", schema(message={"type": "string"})),
    tool("test_elicitation_sep1034_defaults", "Elicits with defaults"),
    tool("test_elicitation_sep1330_enums", "Elicits with every enum form"),
    tool(
        "json_schema_2020_12_tool",
        "Tool with JSON Schema 2020-12 features",
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
                }
            },
            "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
            "additionalProperties": False,
        },
    ),
]

RESOURCES = [
    {
        "uri": "test://static-text",
        "name": "static-text",
        "description": "text",
        "mimeType": "text/plain",
    },
    {
        "uri": "test://static-binary",
        "name": "static-binary",
        "description": "png",
        "mimeType": "image/png",
    },
    {
        "uri": "test://watched-resource",
        "name": "watched",
        "description": "watched",
        "mimeType": "text/plain",
    },
]
TEMPLATES = [
    {
        "uriTemplate": "test://template/{id}/data",
        "name": "template",
        "description": "data by id",
        "mimeType": "application/json",
    }
]
PROMPTS = [
    {"name": "test_simple_prompt", "description": "A simple prompt"},
    {
        "name": "test_prompt_with_arguments",
        "description": "A prompt with arguments",
        "arguments": [
            {"name": "arg1", "description": "First", "required": True},
            {"name": "arg2", "description": "Second", "required": True},
        ],
    },
    {
        "name": "test_prompt_with_embedded_resource",
        "description": "A prompt embedding a resource",
        "arguments": [{"name": "resourceUri", "description": "URI", "required": True}],
    },
    {"name": "test_prompt_with_image", "description": "A prompt with an image"},
]


def call_tool(params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("name")
    args = params.get("arguments") or {}
    token = (params.get("_meta") or {}).get("progressToken")
    if name == "test_simple_text":
        return text("This is a simple text response for testing.")
    if name == "test_image_content":
        return {"content": [{"type": "image", "data": PNG, "mimeType": "image/png"}]}
    if name == "test_audio_content":
        return {"content": [{"type": "audio", "data": WAV, "mimeType": "audio/wav"}]}
    if name == "test_embedded_resource":
        resource = {"uri": "test://embedded-resource", "mimeType": "text/plain"}
        resource["text"] = "This is an embedded resource content."
        return {"content": [{"type": "resource", "resource": resource}]}
    if name == "test_multiple_content_types":
        resource = {"uri": "test://mixed-content-resource", "mimeType": "application/json"}
        resource["text"] = json.dumps({"test": "data", "value": 123})
        return {
            "content": [
                {"type": "text", "text": "Multiple content types test:"},
                {"type": "image", "data": PNG, "mimeType": "image/png"},
                {"type": "resource", "resource": resource},
            ]
        }
    if name == "test_tool_with_logging":
        for index, line in enumerate(
            ["Tool execution started", "Tool processing data", "Tool execution completed"]
        ):
            if index:
                time.sleep(0.05)
            log("info", line)
        return text("Logging tool completed")
    if name == "test_tool_with_progress":
        for index, value in enumerate((0, 50, 100)):
            if index:
                time.sleep(0.05)
            if token is not None:
                notify(
                    "notifications/progress",
                    {"progressToken": token, "progress": value, "total": 100},
                )
        return text("Progress tool completed")
    if name == "test_error_handling":
        return text("This tool intentionally returns an error for testing", error=True)
    if name == "test_sampling":
        content = {"type": "text", "text": str(args.get("prompt", ""))}
        answer = ask(
            "sampling/createMessage",
            {"messages": [{"role": "user", "content": content}], "maxTokens": 100},
        )
        if "error" in answer:
            return text(f"Sampling failed: {answer['error'].get('message')}", error=True)
        return text(f"LLM response: {answer['result']['content']['text']}")
    if name == "test_elicitation":
        requested = schema(
            username={"type": "string", "description": "User's response"},
            email={"type": "string", "description": "User's email address"},
        )
        answer = ask(
            "elicitation/create",
            {"message": str(args.get("message", "")), "requestedSchema": requested},
        )
        return text(f"User response: {json.dumps(answer.get('result', answer.get('error')))}")
    if name == "test_elicitation_sep1034_defaults":
        requested = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "default": "John Doe"},
                "age": {"type": "integer", "default": 30},
                "score": {"type": "number", "default": 95.5},
                "status": {
                    "type": "string",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "default": True},
            },
        }
        answer = ask("elicitation/create", {"message": "Defaults", "requestedSchema": requested})
        return text(f"Elicitation completed: {json.dumps(answer.get('result'))}")
    if name == "test_elicitation_sep1330_enums":
        titled = [{"const": f"value{n}", "title": t} for n, t in ((1, "First"), (2, "Second"))]
        requested = {
            "type": "object",
            "properties": {
                "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {"type": "string", "oneOf": titled},
                "legacyEnum": {
                    "type": "string",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                },
                "titledMulti": {"type": "array", "items": {"anyOf": titled}},
            },
        }
        answer = ask("elicitation/create", {"message": "Enums", "requestedSchema": requested})
        return text(f"Elicitation completed: {json.dumps(answer.get('result'))}")
    if name == "json_schema_2020_12_tool":
        return text(json.dumps(args))
    raise LookupError(f"Unknown tool: {name}")


def read_resource(uri: str) -> dict[str, Any]:
    if uri == "test://static-text":
        text_content = "This is the content of the static text resource."
        return {"contents": [{"uri": uri, "mimeType": "text/plain", "text": text_content}]}
    if uri == "test://static-binary":
        return {"contents": [{"uri": uri, "mimeType": "image/png", "blob": PNG}]}
    if uri == "test://watched-resource":
        return {"contents": [{"uri": uri, "mimeType": "text/plain", "text": "watched"}]}
    if uri.startswith("test://template/") and uri.endswith("/data"):
        item = uri[len("test://template/") : -len("/data")]
        body = {"id": item, "templateTest": True, "data": f"Data for ID: {item}"}
        return {
            "contents": [{"uri": uri, "mimeType": "application/json", "text": json.dumps(body)}]
        }
    raise KeyError(uri)


def get_prompt(params: dict[str, Any]) -> dict[str, Any]:
    name = params.get("name")
    args = params.get("arguments") or {}
    content: dict[str, Any]
    if name == "test_simple_prompt":
        content = {"type": "text", "text": "This is a simple prompt for testing."}
    elif name == "test_prompt_with_arguments":
        value = f"Prompt with arguments: arg1='{args.get('arg1')}', arg2='{args.get('arg2')}'"
        content = {"type": "text", "text": value}
    elif name == "test_prompt_with_embedded_resource":
        resource = {
            "uri": str(args.get("resourceUri", "test://example-resource")),
            "mimeType": "text/plain",
            "text": "Embedded resource content for testing.",
        }
        content = {"type": "resource", "resource": resource}
    elif name == "test_prompt_with_image":
        content = {"type": "image", "data": PNG, "mimeType": "image/png"}
    else:
        raise LookupError(f"Unknown prompt: {name}")
    return {"messages": [{"role": "user", "content": content}]}


def handle(message: dict[str, Any]) -> dict[str, Any] | None:
    method = message.get("method")
    params = message.get("params") or {}
    if method == "initialize":
        asked = params.get("protocolVersion")
        return {
            "protocolVersion": asked if asked in VERSIONS else VERSIONS[-1],
            "capabilities": {
                "tools": {"listChanged": True},
                "resources": {"subscribe": True, "listChanged": True},
                "prompts": {"listChanged": True},
                "logging": {},
                "completions": {},
            },
            "serverInfo": {"name": "conformance-stdio", "version": "1.0.0"},
        }
    if method == "ping":
        return {}
    if method == "logging/setLevel":
        if params.get("level") in LEVELS:
            state["level"] = params["level"]
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        return call_tool(params)
    if method == "resources/list":
        return {"resources": RESOURCES}
    if method == "resources/templates/list":
        return {"resourceTemplates": TEMPLATES}
    if method == "resources/read":
        return read_resource(str(params.get("uri")))
    if method == "resources/subscribe":
        state["subscribed"].add(params.get("uri"))
        return {}
    if method == "resources/unsubscribe":
        state["subscribed"].discard(params.get("uri"))
        return {}
    if method == "prompts/list":
        return {"prompts": PROMPTS}
    if method == "prompts/get":
        return get_prompt(params)
    if method == "completion/complete":
        value = str((params.get("argument") or {}).get("value", ""))
        values = [v for v in ("paris", "park", "party") if v.startswith(value)] or [value + "1"]
        return {"completion": {"values": values, "total": len(values), "hasMore": False}}
    raise NotImplementedError(method)


def main() -> None:
    while True:
        message = read()
        if message is None:
            return
        if "id" not in message or "method" not in message:
            continue
        try:
            result = handle(message)
        except NotImplementedError as err:
            error = {"code": -32601, "message": f"Method not found: {err}"}
            send({"jsonrpc": "2.0", "id": message["id"], "error": error})
            continue
        except KeyError as err:
            error = {"code": -32002, "message": f"Resource not found: {err.args[0]}"}
            send({"jsonrpc": "2.0", "id": message["id"], "error": error})
            continue
        except LookupError as err:
            send(
                {
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "error": {"code": -32602, "message": str(err)},
                }
            )
            continue
        send({"jsonrpc": "2.0", "id": message["id"], "result": result})


if __name__ == "__main__":
    main()
