"""The transport core driven in-process with a fake backend: statuses, sessions, guards, mount."""

from __future__ import annotations

import asyncio

import pytest

from mcpb.mcphttp import (
    jsonrpc,
)
from tests.inprocess.asgi_driver import call
from tests.inprocess.rig import INIT, Rig, run


def test_initialize_then_request_reaches_the_backend_and_keeps_the_client_id() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.app.startup()
        sid = await rig.open()
        assert rig.backends[0].started and rig.backends[0].attached == [sid]
        reply = await rig.post(sid, {"jsonrpc": "2.0", "id": "abc", "method": "tools/list"})
        assert reply.status == 200 and reply.headers["content-type"] == "application/json"
        assert reply.json() == {
            "jsonrpc": "2.0",
            "id": "abc",
            "result": {"method": "tools/list", "params": None, "label": "shared"},
        }
        note = await rig.post(sid, {"jsonrpc": "2.0", "method": "notifications/x"})
        assert (
            note.status == 202 and rig.backends[0].notifications[0]["method"] == "notifications/x"
        )
        answer = await rig.post(sid, {"jsonrpc": "2.0", "id": 7, "result": {}})
        assert answer.status == 202 and rig.backends[0].responses[0]["id"] == 7
        await rig.app.shutdown()
        assert rig.backends[0].closed and rig.backends[0].detached == [sid]

    run(scenario())


def test_interim_messages_turn_the_answer_into_an_event_stream() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.app.startup()
        sid = await rig.open()
        reply = await rig.post(sid, {"jsonrpc": "2.0", "id": 2, "method": "slow"})
        assert reply.status == 200 and reply.headers["content-type"] == "text/event-stream"
        events = [line for line in reply.body.split(b"\n") if line.startswith(b"data: ")]
        assert [jsonrpc.loads(e[6:]).get("method", "answer") for e in events] == [
            "notifications/progress",
            "answer",
        ]

    run(scenario())


@pytest.mark.parametrize(
    ("headers", "body", "status", "fragment"),
    [
        ({}, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, 400, "Mcp-Session-Id"),
        ({"mcp-session-id": "nope"}, {"jsonrpc": "2.0", "id": 1, "method": "x"}, 404, "not found"),
        (
            {"mcp-session-id": "nope", "mcp-protocol-version": "1999-01-01"},
            {"jsonrpc": "2.0", "id": 1, "method": "x"},
            400,
            "params._meta",  # an unknown version is the 2026 era's: its envelope is missing
        ),
        ({"content-type": "text/plain"}, b"{}", 415, "Content-Type"),
        ({"accept": "text/html"}, INIT, 406, "Accept"),
        ({}, b"{not json", 400, "Parse error"),
        ({}, {"jsonrpc": "1.0", "id": 1, "method": "x"}, 400, '"jsonrpc"'),
    ],
)
def test_bad_requests_get_their_status_and_a_json_rpc_error(
    headers, body, status, fragment
) -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.app.startup()
        reply = await call(rig.app, "POST", "/mcp", body=body, headers=headers)
        assert reply.status == status
        assert fragment in reply.json()["error"]["message"]

    run(scenario())


def test_body_over_the_limit_is_413_and_closes_the_connection() -> None:
    async def scenario() -> None:
        rig = Rig(max_body=1024)
        reply = await call(rig.app, "POST", "/mcp", body=b"x" * 2048)
        assert reply.status == 413 and reply.headers["connection"] == "close"

    run(scenario())


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"host": "evil.example:8000"}, 421),
        ({"origin": "https://evil.example"}, 403),
        ({"host": "localhost:8000", "origin": "http://localhost:5173"}, 200),
    ],
)
def test_host_and_origin_guards(headers, status) -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.app.startup()
        reply = await call(rig.app, "POST", "/mcp", body=INIT, headers=headers)
        assert reply.status == status, reply.body

    run(scenario())


def test_cors_middleware_adds_headers_for_listed_origins_only() -> None:
    async def scenario() -> None:
        rig = Rig(cors_origins=("https://app.example",), allow_origins=("https://app.example",))
        await rig.app.startup()
        listed = await call(rig.app, "GET", "/health", headers={"origin": "https://app.example"})
        assert listed.headers["access-control-allow-origin"] == "https://app.example"
        assert "mcp-session-id" in listed.headers["access-control-expose-headers"]
        other = await call(rig.app, "GET", "/health", headers={"origin": "https://x.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = await call(
            rig.app, "OPTIONS", "/mcp", headers={"origin": "https://app.example"}
        )
        assert preflight.status == 204
        assert "mcp-protocol-version" in preflight.headers["access-control-allow-headers"]

    run(scenario())


def test_mounted_under_a_prefix_routes_and_advertises_prefixed_urls() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.app.startup()
        root = "/vmcp/dev"
        init = await call(rig.app, "POST", f"{root}/mcp", body=INIT, root_path=root)
        assert init.status == 200 and "mcp-session-id" in init.headers
        stream = await call(
            rig.app, "GET", f"{root}/sse", root_path=root, until=lambda body: b"\n\n" in body
        )
        assert stream.status == 200
        assert b"event: endpoint\ndata: /vmcp/dev/message?sessionId=" in stream.body
        missing = await call(rig.app, "GET", "/elsewhere/mcp", root_path=root)
        assert missing.status == 404

    run(scenario())


def test_legacy_message_answers_on_the_stream_of_its_session() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.app.startup()
        first: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def seen(body: bytes) -> bool:
            if not first.done() and b"sessionId=" in body:
                first.set_result(body.split(b"sessionId=")[1].split(b"\n")[0].decode())
            return b'"id":5' in body

        stream = asyncio.ensure_future(call(rig.app, "GET", "/sse", until=seen))
        sid = await asyncio.wait_for(first, 5)
        posted = await call(
            rig.app,
            "POST",
            "/message",
            query=f"sessionId={sid}".encode(),
            body={"jsonrpc": "2.0", "id": 5, "method": "tools/list"},
        )
        assert posted.status == 202
        reply = await stream
        assert b'"label":"shared"' in reply.body
        assert rig.sessions.get(sid) is None  # closing the stream ended the session

    run(scenario())


def test_unavailable_backend_is_503_and_delete_ends_the_session() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.app.startup()
        sid = await rig.open()
        rig.backends[0].down = True
        reply = await rig.post(sid, {"jsonrpc": "2.0", "id": 9, "method": "tools/list"})
        assert reply.status == 503 and reply.json()["id"] == 9
        assert reply.json()["error"]["code"] == jsonrpc.SERVER_UNAVAILABLE
        gone = await call(rig.app, "DELETE", "/mcp", headers={"mcp-session-id": sid})
        assert gone.status == 200 and rig.backends[0].detached == [sid]
        again = await rig.post(sid, {"jsonrpc": "2.0", "id": 10, "method": "tools/list"})
        assert again.status == 404

    run(scenario())


def test_a_backend_per_session_and_the_session_limit() -> None:
    async def scenario() -> None:
        rig = Rig(shared=False, max_sessions=2)
        await rig.app.startup()
        one, two = await rig.open(), await rig.open()
        assert [b.label for b in rig.backends] == ["s1", "s2"]
        full = await rig.post(None, INIT)
        assert full.status == 503 and full.headers["retry-after"] == "1"
        ready = await call(rig.app, "GET", "/ready")
        assert ready.status == 503
        assert ready.json() == {
            "ready": False,
            "sessions": 2,
            "reason": "the session limit is reached",
        }
        await call(rig.app, "DELETE", "/mcp", headers={"mcp-session-id": one})
        await asyncio.sleep(0)
        assert rig.backends[0].closed and not rig.backends[1].closed
        assert (await call(rig.app, "GET", "/ready")).json()["ready"] is True
        await rig.app.shutdown()
        assert rig.backends[1].closed and two

    run(scenario())


def test_health_and_ready_bodies() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.app.startup()
        health = await call(rig.app, "GET", "/health")
        assert (health.status, health.body) == (200, b"ok")
        assert (await call(rig.app, "GET", "/ready")).json() == {
            "ready": True,
            "sessions": 0,
            "reason": None,
        }
        rig.backends[0].healthy = False
        down = await call(rig.app, "GET", "/ready")
        assert down.status == 503 and "not answering" in down.json()["reason"]
        assert (await call(rig.app, "POST", "/health")).status == 405

    run(scenario())


def test_batches_only_in_revisions_that_allow_them() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.app.startup()
        sid = await rig.open()
        batch = [
            {"jsonrpc": "2.0", "id": 1, "method": "a"},
            {"jsonrpc": "2.0", "id": 2, "method": "b"},
        ]
        refused = await rig.post(sid, batch)  # the session negotiated 2025-06-18
        assert (
            refused.status == 400
            and "batches are not allowed" in refused.json()["error"]["message"]
        )
        old = await rig.post(sid, batch, **{"mcp-protocol-version": "2025-03-26"})
        assert old.status == 200 and [a["id"] for a in old.json()] == [1, 2]

    run(scenario())
