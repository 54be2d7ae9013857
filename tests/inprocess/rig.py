"""A transport core rig for in-process tests: a fake backend and an app serving it."""

from __future__ import annotations

import asyncio
from typing import Any

from mcpb.mcphttp import (
    BackendUnavailableError,
    HttpSettings,
    McpHttpApp,
    Session,
    SessionTable,
    Sink,
    jsonrpc,
)
from mcpb.mcphttp.jsonrpc import Message
from tests.inprocess.asgi_driver import call

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t"}},
}


class FakeBackend:
    """Answers every request with its method and params; records everything it is handed."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = self.closed = False
        self.attached: list[str] = []
        self.detached: list[str] = []
        self.notifications: list[Message] = []
        self.responses: list[Message] = []
        self.down = False
        self.healthy = True
        self.abandoned: list[tuple[object, str]] = []

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    async def check(self) -> str | None:
        return None if self.healthy else "the fake server is not answering"

    def abandon(self, session: Session, request_id: object, reason: str) -> None:
        self.abandoned.append((request_id, reason))

    def attach(self, session: Session) -> None:
        self.attached.append(session.id)

    def detach(self, session: Session) -> None:
        self.detached.append(session.id)

    async def initialize(self, session: Session, message: Message, sink: Sink | None) -> None:
        result = {"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "f"}}
        self._answer(session, sink, {"jsonrpc": "2.0", "id": message["id"], "result": result})

    async def forward_request(self, session: Session, message: Message, sink: Sink | None) -> None:
        if self.down:
            raise BackendUnavailableError
        if message["method"] == "slow":
            assert sink is not None
            sink.put(
                jsonrpc.dumps({"jsonrpc": "2.0", "method": "notifications/progress"}), final=False
            )
            asyncio.get_running_loop().call_later(
                0.05,
                self._answer,
                session,
                sink,
                {"jsonrpc": "2.0", "id": message["id"], "result": {}},
            )
            return
        echo = {"method": message["method"], "params": message.get("params"), "label": self.label}
        self._answer(session, sink, {"jsonrpc": "2.0", "id": message["id"], "result": echo})

    async def forward_notification(self, session: Session, message: Message) -> None:
        self.notifications.append(message)

    async def forward_response(self, session: Session, message: Message) -> None:
        self.responses.append(message)

    def _answer(self, session: Session, sink: Sink | None, message: Message) -> None:
        payload = jsonrpc.dumps(message)
        if sink is None:
            session.push(payload)
        else:
            sink.put(payload, final=True)


class Rig:
    def __init__(self, shared: bool = True, **settings: Any) -> None:
        self.backends: list[FakeBackend] = []
        self.settings = HttpSettings(**settings)

        def factory(label: str) -> FakeBackend:
            backend = FakeBackend(label)
            self.backends.append(backend)
            return backend

        self.sessions = SessionTable(self.settings, factory, shared=shared)
        self.app = McpHttpApp(self.settings, self.sessions)

    async def open(self, **headers: str) -> str:
        reply = await call(
            self.app, "POST", "/mcp", body=INIT, headers={"accept": "application/json", **headers}
        )
        assert reply.status == 200, reply.body
        return reply.headers["mcp-session-id"]

    async def post(self, session: str | None, body: Any, **headers: str) -> Any:
        sent = {"accept": "application/json, text/event-stream", **headers}
        if session is not None:
            sent["mcp-session-id"] = session
        return await call(self.app, "POST", "/mcp", body=body, headers=sent)


def run(coro: Any) -> Any:
    """Run one scenario in a fresh event loop."""
    return asyncio.run(coro)
