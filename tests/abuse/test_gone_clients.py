"""Requests and sessions whose clients are gone, and messages for clients not yet there.

The core and the stdio backend in-process (a fake child speaks as the server): an abandoned
request is cancelled in the server and forgotten, sessions expire whatever is pending, a
request timeout answers and cancels, and server→client messages wait for a stream for a
bounded time, then fail visibly.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mcpb.loader.bridge import StdioBackend, StdioSettings
from mcpb.loader.bridge.backend import REQUEST_TIMEOUT
from mcpb.mcphttp import HttpSettings, McpHttpApp, SessionTable, jsonrpc
from tests.inprocess.asgi_driver import call
from tests.support.fake_child import FakeChild, answer_initialize, install

pytestmark = pytest.mark.abuse

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t"}},
}
ACCEPT = {"accept": "application/json, text/event-stream"}


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, answer_initialize)


class Bridge:
    """The bridge's app over a fake child, driven in-process."""

    def __init__(self, *, shared: bool = True, stdio: dict[str, Any] | None = None, **http: Any):
        self.settings = HttpSettings(**http)
        self.stdio = StdioSettings(**(stdio or {}))
        self.backends: list[StdioBackend] = []

        def factory(label: str) -> StdioBackend:
            backend = StdioBackend(["server"], {}, Path("."), label, self.stdio)
            self.backends.append(backend)
            return backend

        self.sessions = SessionTable(self.settings, factory, shared=shared)
        self.app = McpHttpApp(self.settings, self.sessions)

    async def open(self) -> str:
        reply = await call(self.app, "POST", "/mcp", body=INIT, headers=ACCEPT)
        assert reply.status == 200, reply.body
        return reply.headers["mcp-session-id"]

    async def post(self, sid: str, body: Any, **kw: Any) -> Any:
        return await call(
            self.app, "POST", "/mcp", body=body, headers={**ACCEPT, "mcp-session-id": sid}, **kw
        )


def tool_call(rid: Any, name: str = "hang") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": name}}


async def until(predicate: Any, timeout: float = 3.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_a_client_that_disconnects_has_its_request_cancelled_in_the_server() -> None:
    async def scenario() -> None:
        bridge = Bridge()
        await bridge.app.startup()
        sid = await bridge.open()
        child = FakeChild.made[0]
        await bridge.post(sid, tool_call(7), leave_after=0.05)
        sent = child.requests("tools/call")[0]
        await until(lambda: bool(child.requests("notifications/cancelled")))
        cancelled = child.requests("notifications/cancelled")[0]["params"]
        assert cancelled == {"requestId": sent["id"], "reason": "the client disconnected"}
        session = bridge.sessions.get(sid)
        assert session is not None and not session.inflight and not session.busy()
        assert len(bridge.backends[0]._pending) == 0
        child.say({"jsonrpc": "2.0", "id": sent["id"], "result": {}})  # late: dropped quietly
        await bridge.app.shutdown()

    asyncio.run(scenario())


def test_abandoned_calls_never_block_another_sessions_server_requests() -> None:
    async def scenario() -> None:
        bridge = Bridge()
        await bridge.app.startup()
        gone, here = await bridge.open(), await bridge.open()
        child = FakeChild.made[0]
        for rid in range(20):
            await bridge.post(gone, tool_call(rid), leave_after=0.01)
        waiting = asyncio.ensure_future(
            bridge.post(here, tool_call("ask", "sample"), until=lambda b: b"sampling" in b)
        )
        await until(lambda: len(child.requests("tools/call")) == 21)
        child.say({"jsonrpc": "2.0", "id": "q", "method": "sampling/createMessage", "params": {}})
        reply = await asyncio.wait_for(waiting, 3)
        assert b'"method":"sampling/createMessage"' in reply.body  # routed, not refused
        assert not [m for m in child.written if m.get("id") == "q"]  # no refusal was sent
        await bridge.app.shutdown()

    asyncio.run(scenario())


@pytest.mark.parametrize("shared", [True, False])
def test_sessions_expire_whatever_is_pending_and_their_children_stop(shared: bool) -> None:
    async def scenario() -> None:
        bridge = Bridge(shared=shared, session_timeout=0.2)
        await bridge.app.startup()
        sid = await bridge.open()
        await bridge.post(sid, tool_call(1), leave_after=0.02)
        await until(lambda: sid not in bridge.sessions, 3)
        child = FakeChild.made[0]
        if not shared:
            await until(lambda: child.stopped)  # its own child stopped with it
        else:
            assert not child.stopped
        await bridge.app.shutdown()

    asyncio.run(scenario())


def test_a_session_whose_client_waits_on_a_long_call_is_not_expired() -> None:
    async def scenario() -> None:
        bridge = Bridge(session_timeout=0.1)
        await bridge.app.startup()
        sid = await bridge.open()
        child = FakeChild.made[0]
        waiting = asyncio.ensure_future(bridge.post(sid, tool_call(1)))
        await asyncio.sleep(0.5)
        assert sid in bridge.sessions  # the client is still waiting
        sent = child.requests("tools/call")[0]
        child.say({"jsonrpc": "2.0", "id": sent["id"], "result": {"done": True}})
        assert (await waiting).json()["result"] == {"done": True}
        await bridge.app.shutdown()

    asyncio.run(scenario())


def test_the_request_timeout_answers_the_client_and_cancels_in_the_server() -> None:
    async def scenario() -> None:
        bridge = Bridge(stdio={"request_timeout": 0.2})
        await bridge.app.startup()
        sid = await bridge.open()
        child = FakeChild.made[0]
        reply = await asyncio.wait_for(bridge.post(sid, tool_call(3)), 5)
        error = reply.json()["error"]
        assert reply.json()["id"] == 3 and error["code"] == REQUEST_TIMEOUT
        assert "did not answer within 0.2s" in error["message"]
        sent = child.requests("tools/call")[0]
        assert child.requests("notifications/cancelled")[0]["params"]["requestId"] == sent["id"]
        await bridge.app.shutdown()

    asyncio.run(scenario())


def test_a_server_request_waits_for_the_clients_stream() -> None:
    async def scenario() -> None:
        bridge = Bridge(hold_seconds=2.0)
        await bridge.app.startup()
        sid = await bridge.open()
        child = FakeChild.made[0]
        child.say({"jsonrpc": "2.0", "id": "roots", "method": "roots/list"})  # no stream yet
        await asyncio.sleep(0.1)
        stream = await call(
            bridge.app,
            "GET",
            "/mcp",
            headers={"accept": "text/event-stream", "mcp-session-id": sid},
            until=lambda b: b"roots/list" in b,
        )
        assert b'"id":"roots"' in stream.body
        assert not [m for m in child.written if m.get("id") == "roots"]  # not refused
        await bridge.app.shutdown()

    asyncio.run(scenario())


def test_a_server_request_nobody_opens_a_stream_for_is_refused_after_the_hold() -> None:
    async def scenario() -> None:
        bridge = Bridge(hold_seconds=0.2)
        await bridge.app.startup()
        await bridge.open()
        child = FakeChild.made[0]
        child.say({"jsonrpc": "2.0", "id": "roots", "method": "roots/list"})
        await until(lambda: any(m.get("id") == "roots" for m in child.written))
        refusal = next(m for m in child.written if m.get("id") == "roots")
        assert refusal["error"]["code"] == jsonrpc.INTERNAL_ERROR
        assert "opened no stream within 0.2s" in refusal["error"]["message"]
        await bridge.app.shutdown()

    asyncio.run(scenario())


def test_a_server_that_stops_reading_gets_503_instead_of_a_growing_queue() -> None:
    async def scenario() -> None:
        bridge = Bridge(stdio={"max_backlog": 64 * 1024})
        await bridge.app.startup()
        sid = await bridge.open()
        FakeChild.unread = 65 * 1024  # the server took nothing of what was written lately
        reply = await asyncio.wait_for(bridge.post(sid, tool_call(9)), 5)
        assert reply.status == 503 and reply.headers["retry-after"] == "1"
        assert "not reading its input (66560 bytes waiting)" in reply.json()["error"]["message"]
        child = FakeChild.made[0]
        assert not child.requests("tools/call")  # nothing more was queued for it
        FakeChild.unread = 0
        ok = asyncio.ensure_future(bridge.post(sid, tool_call(10)))
        await until(lambda: bool(child.requests("tools/call")))
        sent = child.requests("tools/call")[0]
        child.say({"jsonrpc": "2.0", "id": sent["id"], "result": {}})
        assert (await ok).status == 200
        await bridge.app.shutdown()

    asyncio.run(scenario())
