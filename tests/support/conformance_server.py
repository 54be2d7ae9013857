"""A stdio MCP server offering what the official conformance suite's server scenarios call.

Stdlib only, raw JSON-RPC (no SDK), written from the suite's own scenario descriptions
(``npx @modelcontextprotocol/conformance list``, 0.1.16 and 0.2.0-alpha.12): the ``test_*``
tools, the ``test://`` resources and template, the ``test_*`` prompts, completion, logging
levels and subscriptions. Served through ``mcpb bridge`` or an aggregator upstream, it lets
the suite check the hop in between: a failure is the intermediary's.

It is a server of the handshake era (2025-11-25 at most), as every stdio server is today: it
asks its client questions with server→client requests, never with ``input_required``. The
2026-07-28 scenarios therefore test the hop's translation. Requests run on threads, so a call
waiting for an answer does not hold up the others; a question asked under a key (its request
id) that an older, unanswered question still holds supersedes that one (the older is
cancelled toward the client), as a server keeping one question per key would.

The tasks extension's fixtures (``greet``, ``slow_compute``, ``failing_job``...) are 2025-era
tools too: the ones the suite calls task-supporting declare ``execution.taskSupport``, and the
hop makes their calls tasks. A call the client cancels (``notifications/cancelled``) stops
without an answer. A fixture the suite describes as parking for input once it is a task
(``confirm_delete``, ``multi_input``) works briefly before it asks, so that it has become a task
by then; ``test_tool_with_task`` asks at once (an ``input_required`` result) and then works.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from itertools import count
from typing import Any

VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5E"
    "rkJggg=="
)
WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="
LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
state: dict[str, Any] = {"level": "debug", "subscribed": set()}
_write = threading.Lock()
_asks = count(1)
_waiting: dict[Any, _Question] = {}
_waiting_lock = threading.Lock()
_cancels: dict[Any, threading.Event] = {}
_current = threading.local()


class QuestionGoneError(Exception):
    """The question was cancelled or superseded before it was answered."""


class CancelledError(Exception):
    """The client cancelled the request: it ends without an answer."""


def work(seconds: float) -> None:
    """Work for ``seconds``, stopping early (CancelledError) when the request is cancelled."""
    cancelled: threading.Event = _current.cancelled
    if cancelled.wait(max(0.0, seconds)):
        raise CancelledError


class _Question:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: dict[str, Any] | None = None


def send(message: dict[str, Any]) -> None:
    line = json.dumps(message) + "\n"
    with _write:
        sys.stdout.write(line)
        sys.stdout.flush()


def notify(method: str, params: dict[str, Any]) -> None:
    send({"jsonrpc": "2.0", "method": method, "params": params})


def ask_all(questions: list[tuple[str, dict[str, Any], str | None]]) -> list[dict[str, Any]]:
    """Send server→client requests (method, params, key) at once; wait for every answer.

    A key is the request's id (generated when None). An answer is the JSON-RPC response;
    raises QuestionGoneError when a question was superseded.
    """
    pending: list[tuple[Any, _Question]] = []
    for method, params, key in questions:
        ask_id: Any = key or f"ask-{next(_asks)}"
        question = _Question()
        with _waiting_lock:
            older = _waiting.pop(ask_id, None)
            _waiting[ask_id] = question
        if older is not None:
            notify("notifications/cancelled", {"requestId": ask_id, "reason": "superseded"})
            older.done.set()
        send({"jsonrpc": "2.0", "id": ask_id, "method": method, "params": params})
        pending.append((ask_id, question))
    answers = []
    for _, question in pending:
        question.done.wait()
        if question.answer is None:
            raise QuestionGoneError
        answers.append(question.answer)
    return answers


def ask(method: str, params: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """One server→client request; its JSON-RPC response."""
    return ask_all([(method, params, key)])[0]


def answered(message: dict[str, Any]) -> None:
    with _waiting_lock:
        question = _waiting.pop(message.get("id"), None)
    if question is not None:
        question.answer = message
        question.done.set()


def log(level: str, data: str) -> None:
    if LEVELS.index(level) >= LEVELS.index(state["level"]):
        notify("notifications/message", {"level": level, "logger": "conformance", "data": data})


def text(value: str, *, error: bool = False) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": value}], "isError": error}


def schema(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def tool(
    name: str,
    description: str,
    input_schema: dict[str, Any] | None = None,
    task_support: str | None = None,
) -> dict[str, Any]:
    declared = {"name": name, "description": description, "inputSchema": input_schema or schema()}
    if task_support is not None:
        declared["execution"] = {"taskSupport": task_support}
    return declared


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
    tool("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features", JSON_SCHEMA_2020_12),
    tool("test_logging_tool", "Logs while it runs"),
    tool("test_missing_capability", "Needs sampling: asks the client to sample"),
    tool("test_streaming_elicitation", "Asks the client for input mid-call"),
    tool("test_trigger_tool_change", "Adds a tool and says the list changed"),
    tool("test_trigger_prompt_change", "Adds a prompt and says the list changed"),
    tool(
        "test_header_parameter",
        "Echoes a region that travels in the Mcp-Param-Region header too",
        {
            "type": "object",
            "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
            "required": ["region"],
        },
    ),
    tool("greet", "Says hello (synchronous)", schema(name={"type": "string"})),
    tool(
        "slow_compute",
        "Works for `seconds`, then answers",
        schema(seconds={"type": "number"}, label={"type": "string"}),
        "optional",
    ),
    tool("failing_job", "Works for a second, then reports a tool error", None, "required"),
    tool("protocol_error_job", "Works briefly, then fails with a JSON-RPC error", None, "optional"),
    tool(
        "confirm_delete",
        "Works briefly, then asks for confirmation",
        schema(filename={"type": "string"}),
        "optional",
    ),
    tool("multi_input", "Works briefly, then asks two questions at once", None, "optional"),
    tool("test_tool_with_task", "Asks for a name at once, then works", None, "required"),
    *(
        tool(f"test_input_required_result_{name}", f"Asks the client: {name}")
        for name in (
            "elicitation",
            "sampling",
            "list_roots",
            "request_state",
            "multiple_inputs",
            "multi_round",
            "tampered_state",
            "capabilities",
        )
    ),
]
ELICIT_NAME = {
    "message": "What is your name?",
    "requestedSchema": schema(name={"type": "string"}),
}
SAMPLE_CAPITAL = {
    "messages": [
        {"role": "user", "content": {"type": "text", "text": "What is the capital of France?"}}
    ],
    "maxTokens": 100,
}

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
    {"name": "test_input_required_result_prompt", "description": "Asks the client first"},
]


class ToolError(Exception):
    """Fail the call with this JSON-RPC error object."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


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
    if name == "test_logging_tool":
        for line in ("Logging tool started", "Logging tool finished"):
            notify(
                "notifications/message", {"level": "info", "logger": "conformance", "data": line}
            )
        return text("Logging tool completed")
    if name == "test_missing_capability":
        answer = ask("sampling/createMessage", SAMPLE_CAPITAL)
        if "error" in answer:  # the client cannot sample: this call cannot be served
            raise ToolError(answer["error"])
        return text(f"LLM response: {answer['result']['content']['text']}")
    if name == "test_streaming_elicitation":
        answer = ask("elicitation/create", ELICIT_NAME)
        return text(f"Elicitation answer: {json.dumps(answer.get('result', answer.get('error')))}")
    if name == "test_trigger_tool_change":
        TOOLS.append(tool(f"test_added_tool_{len(TOOLS)}", "Added at run time"))
        notify("notifications/tools/list_changed", {})
        return text("Tool list changed")
    if name == "test_trigger_prompt_change":
        PROMPTS.append({"name": f"test_added_prompt_{len(PROMPTS)}", "description": "Added"})
        notify("notifications/prompts/list_changed", {})
        return text("Prompt list changed")
    if name == "test_header_parameter":
        return text(f"Region: {args.get('region')}")
    if name in TASK_TOOLS:
        return TASK_TOOLS[name](args)
    if isinstance(name, str) and name.startswith("test_input_required_result_"):
        return asking_tool(name[len("test_input_required_result_") :])
    raise LookupError(f"Unknown tool: {name}")


def asking_tool(kind: str) -> dict[str, Any]:
    """The tools whose questions a 2026-07-28 hop turns into ``input_required`` results."""
    if kind in ("elicitation", "tampered_state"):
        answer = ask("elicitation/create", ELICIT_NAME, "user_name")
        content = (answer.get("result") or {}).get("content") or {}
        return text(f"Hello, {content.get('name')}!")
    if kind == "request_state":
        ask("elicitation/create", ELICIT_NAME, "user_name")
        # Answered only through the hop's validated requestState.
        return text("state-ok: the answer came back with a valid request state")
    if kind == "sampling":
        answer = ask("sampling/createMessage", SAMPLE_CAPITAL, "capital_question")
        return text(f"LLM response: {answer['result']['content']['text']}")
    if kind == "list_roots":
        answer = ask("roots/list", {}, "client_roots")
        roots = (answer.get("result") or {}).get("roots") or []
        return text(f"Roots: {', '.join(str(r.get('uri')) for r in roots)}")
    if kind == "multiple_inputs":
        answers = ask_all(
            [
                ("elicitation/create", ELICIT_NAME, "user_name"),
                ("sampling/createMessage", SAMPLE_CAPITAL, "capital_question"),
                ("roots/list", {}, "client_roots"),
            ]
        )
        return text(f"Got {len(answers)} answers")
    if kind == "multi_round":
        first = ask("elicitation/create", ELICIT_NAME, "step1")
        second = ask("elicitation/create", {**ELICIT_NAME, "message": "And your city?"}, "step2")
        return text(f"Rounds: {json.dumps([first.get('result'), second.get('result')])}")
    if kind == "capabilities":  # asks for both; a client without one refuses that one
        answers = ask_all(
            [
                ("sampling/createMessage", SAMPLE_CAPITAL, "capital_question"),
                ("elicitation/create", ELICIT_NAME, "user_name"),
            ]
        )
        return text(f"Answers: {json.dumps([a.get('result', a.get('error')) for a in answers])}")
    raise LookupError(f"Unknown tool: test_input_required_result_{kind}")


def _greet(args: dict[str, Any]) -> dict[str, Any]:
    return text(f"Hello, {args.get('name')}!")


def _slow_compute(args: dict[str, Any]) -> dict[str, Any]:
    seconds = args.get("seconds", 1)
    work(float(seconds) if isinstance(seconds, (int, float)) else 1.0)
    return text(f"Computed {args.get('label')} in {seconds}s")


def _failing_job(args: dict[str, Any]) -> dict[str, Any]:
    work(1.0)
    return text("failing_job failed, as it always does", error=True)


def _protocol_error_job(args: dict[str, Any]) -> dict[str, Any]:
    work(1.0)
    raise ToolError({"code": -32603, "message": "protocol_error_job broke, as it always does"})


CONFIRM = schema(confirm={"type": "boolean"})


def _confirm_delete(args: dict[str, Any]) -> dict[str, Any]:
    work(0.8)
    filename = args.get("filename")
    answer = ask(
        "elicitation/create", {"message": f"Delete {filename}?", "requestedSchema": CONFIRM}
    )
    result = answer.get("result") or {}
    confirmed = result.get("action") == "accept" and (result.get("content") or {}).get("confirm")
    return text(f"Deleted {filename}" if confirmed else f"Kept {filename}")


def _multi_input(args: dict[str, Any]) -> dict[str, Any]:
    work(0.8)
    asked = {
        "message": "Name and confirmation?",
        "requestedSchema": schema(name={"type": "string"}, confirm={"type": "boolean"}),
    }
    answers = ask_all([("elicitation/create", asked, None), ("elicitation/create", asked, None)])
    names = [((a.get("result") or {}).get("content") or {}).get("name") for a in answers]
    return text(f"Got {', '.join(str(n) for n in names)}")


def _tool_with_task(args: dict[str, Any]) -> dict[str, Any]:
    answer = ask("elicitation/create", ELICIT_NAME, "user_name")
    name = ((answer.get("result") or {}).get("content") or {}).get("name")
    work(1.0)
    return text(f"Hello, {name}! (the task is done)")


TASK_TOOLS = {
    "greet": _greet,
    "slow_compute": _slow_compute,
    "failing_job": _failing_job,
    "protocol_error_job": _protocol_error_job,
    "confirm_delete": _confirm_delete,
    "multi_input": _multi_input,
    "test_tool_with_task": _tool_with_task,
}


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
    elif name == "test_input_required_result_prompt":
        answer = ask("elicitation/create", ELICIT_NAME, "prompt_input")
        who = ((answer.get("result") or {}).get("content") or {}).get("name")
        content = {"type": "text", "text": f"A prompt for {who}"}
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


def serve(message: dict[str, Any]) -> None:
    """Answer one request (on its own thread)."""
    _current.cancelled = _cancels.setdefault(message["id"], threading.Event())
    try:
        result = handle(message)
    except (QuestionGoneError, CancelledError):
        return  # superseded or cancelled: the call ends without an answer
    except ToolError as err:
        send({"jsonrpc": "2.0", "id": message["id"], "error": err.error})
        return
    except NotImplementedError as err:
        error = {"code": -32601, "message": f"Method not found: {err}"}
        send({"jsonrpc": "2.0", "id": message["id"], "error": error})
        return
    except KeyError as err:
        uri = err.args[0]
        error = {"code": -32002, "message": f"Resource not found: {uri}", "data": {"uri": uri}}
        send({"jsonrpc": "2.0", "id": message["id"], "error": error})
        return
    except LookupError as err:
        error = {"code": -32602, "message": str(err)}
        send({"jsonrpc": "2.0", "id": message["id"], "error": error})
        return
    finally:
        _cancels.pop(message["id"], None)
    send({"jsonrpc": "2.0", "id": message["id"], "result": result})


def cancelled(params: dict[str, Any]) -> None:
    """``notifications/cancelled``: stop that request's work."""
    event = _cancels.get(params.get("requestId"))
    if event is not None:
        event.set()


def main() -> None:
    for line in sys.stdin:
        message = json.loads(line)
        if "method" not in message:
            answered(message)
        elif "id" in message:
            threading.Thread(target=serve, args=(message,), daemon=True).start()
        elif message["method"] == "notifications/cancelled":
            cancelled(message.get("params") or {})


if __name__ == "__main__":
    main()
