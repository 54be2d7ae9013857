"""A rig for the 2026-07-28 era in-process: a handshake-era fake server and requests sent the
modern way (envelope and routing headers filled in)."""

from __future__ import annotations

import asyncio
from typing import Any

from mcpb.mcphttp import Session, Sink, jsonrpc
from mcpb.mcphttp.jsonrpc import Message
from tests.inprocess.asgi_driver import Reply, call
from tests.inprocess.rig import FakeBackend, Rig, run

V = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": V,
    "io.modelcontextprotocol/clientCapabilities": {},
}
HEADER_TOOL = {
    "name": "regional",
    "inputSchema": {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "shard": {"type": "integer", "x-mcp-header": "Shard"},
        },
    },
}


def _tool(name: str, support: str | None = None) -> Message:
    tool: Message = {"name": name, "inputSchema": {"type": "object"}}
    if support is not None:
        tool["execution"] = {"taskSupport": support}
    return tool


#: ``work`` tools answer after ``arguments.seconds`` (with ``fail``: a JSON-RPC error; with
#: ``tool_error``: ``isError``; with ``size``: that many characters); they differ only in the
#: task support they declare. ``ask_later`` asks ``arguments.questions`` questions after
#: ``arguments.delay`` seconds and answers once every one is answered.
TOOLS = [
    HEADER_TOOL,
    _tool("work"),
    _tool("declared", "optional"),
    _tool("needs_tasks", "required"),
    _tool("never_task", "forbidden"),
    _tool("ask_later", "optional"),
]
WORKERS = frozenset({"work", "declared", "needs_tasks", "never_task"})


class ModernFake(FakeBackend):
    """Lists :data:`TOOLS`; ``ask`` calls ask the client first."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.forwarded: list[Message] = []
        self.sessions: list[Session] = []
        self.asking: dict[Any, tuple[Session, Sink, Any]] = {}
        self.capabilities: dict[str, Any] = {}
        #: ``ask_later`` calls by request id: the questions still open.
        self.rounds: dict[Any, set[str]] = {}

    async def initialize(self, session: Session, message: Message, sink: Sink | None) -> None:
        assert sink is not None
        result = {"protocolVersion": "2025-11-25", "capabilities": self.capabilities}
        result["serverInfo"] = {"name": "f"}
        sink.put(
            jsonrpc.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), final=True
        )

    def attach(self, session: Session) -> None:
        super().attach(session)
        self.sessions.append(session)

    async def forward_request(self, session: Session, message: Message, sink: Sink | None) -> None:
        assert sink is not None
        self.forwarded.append(message)
        method = message["method"]
        if method == "never":
            return
        if method == "tools/list":
            result: Any = {"tools": TOOLS}
        elif method == "resources/read":
            error = {"code": -32002, "message": "Resource not found", "data": {"uri": "x"}}
            sink.put(
                jsonrpc.dumps({"jsonrpc": "2.0", "id": message["id"], "error": error}), final=True
            )
            return
        elif method == "tools/call" and message["params"]["name"] in WORKERS:
            args = message["params"].get("arguments") or {}
            asyncio.get_running_loop().call_later(args.get("seconds", 0), self._work, sink, message)
            return
        elif method == "tools/call" and message["params"]["name"] == "ask_later":
            args = message["params"].get("arguments") or {}
            asyncio.get_running_loop().call_later(
                args.get("delay", 0), self._ask_later, session, sink, message
            )
            return
        elif method == "tools/call" and message["params"]["name"] == "ask":
            question: Message = {"jsonrpc": "2.0", "id": "who", "method": "elicitation/create"}
            question["params"] = {"message": "Who?", "requestedSchema": {"type": "object"}}
            self.asking["who"] = (session, sink, message["id"])
            sink.put(jsonrpc.dumps(question), final=False)
            return
        else:
            await super().forward_request(session, message, sink)
            return
        sink.put(
            jsonrpc.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}), final=True
        )

    def _work(self, sink: Sink, message: Message) -> None:
        args = message["params"].get("arguments") or {}
        answer: Message = {"jsonrpc": "2.0", "id": message["id"]}
        if args.get("fail"):
            answer["error"] = {"code": -32603, "message": "the work broke"}
        else:
            text = "x" * args["size"] if "size" in args else f"worked {args.get('seconds', 0)}s"
            content = [{"type": "text", "text": text}]
            answer["result"] = {"content": content, "isError": bool(args.get("tool_error"))}
        sink.put(jsonrpc.dumps(answer), final=True)

    def _ask_later(self, session: Session, sink: Sink, message: Message) -> None:
        count = (message["params"].get("arguments") or {}).get("questions", 1)
        self.rounds[message["id"]] = set()
        for n in range(1, count + 1):
            question: Message = {"jsonrpc": "2.0", "id": f"q{n}", "method": "elicitation/create"}
            question["params"] = {"message": f"Question {n}?", "requestedSchema": {}}
            self.asking[f"q{n}"] = (session, sink, message["id"])
            self.rounds[message["id"]].add(f"q{n}")
            sink.put(jsonrpc.dumps(question), final=False)

    async def forward_response(self, session: Session, message: Message) -> None:
        await super().forward_response(session, message)
        asked = self.asking.get(message["id"])
        if asked is not None and asked[2] in self.rounds:
            del self.asking[message["id"]]
            open_questions = self.rounds[asked[2]]
            open_questions.discard(message["id"])
            if not open_questions:
                del self.rounds[asked[2]]
                answer = {"content": [{"type": "text", "text": "all answered"}]}
                reply = {"jsonrpc": "2.0", "id": asked[2], "result": answer}
                asked[1].put(jsonrpc.dumps(reply), final=True)
            return
        asked = self.asking.pop(message["id"], None)
        if asked is not None and "result" in message:
            _, sink, request_id = asked
            answer = {"content": [{"type": "text", "text": f"hello {message['result']}"}]}
            sink.put(
                jsonrpc.dumps({"jsonrpc": "2.0", "id": request_id, "result": answer}), final=True
            )


class ModernRig(Rig):
    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.sessions._factory = self._make

    def _make(self, label: str) -> ModernFake:
        backend = ModernFake(label)
        self.backends.append(backend)
        return backend

    @property
    def backend(self) -> ModernFake:
        backend = self.backends[0]
        assert isinstance(backend, ModernFake)
        return backend

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        rpc_id: Any = 1,
        until: Any = None,
        leave_after: float | None = None,
        principal: str | None = None,
        **headers: Any,
    ) -> Reply:
        params = {**(params or {})}
        params.setdefault("_meta", dict(META))
        sent: dict[str, Any] = {
            "accept": "application/json, text/event-stream",
            "mcp-protocol-version": V,
            "mcp-method": method,
        }
        name = params.get("name", params.get("uri", params.get("taskId")))
        if isinstance(name, str):
            sent["mcp-name"] = name
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        sent = {k: v for k, v in sent.items() if v is not None}
        body = {"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params}
        return await call(
            self.app,
            "POST",
            "/mcp",
            body=body,
            headers=sent,
            until=until,
            leave_after=leave_after,
            state={"principal": principal} if principal else None,
        )


def modern(scenario: Any, **settings: Any) -> None:
    async def wrapped() -> None:
        rig = ModernRig(**settings)
        await rig.app.startup()
        try:
            await scenario(rig)
        finally:
            await rig.app.shutdown()

    run(wrapped())


def error_of(reply: Reply) -> tuple[int, int]:
    return reply.status, reply.json()["error"]["code"]
