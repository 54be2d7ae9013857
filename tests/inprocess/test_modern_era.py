"""The 2026-07-28 era of the transport core, in-process, row by row of the spec's order.

A fake backend of the handshake era stands behind the app: what it is handed shows what the
translation strips, what the client gets shows what it adds. The official suite runs the
same rules end to end (tests/integration/test_conformance_2026.py).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from mcpb.mcphttp import jsonrpc
from tests.inprocess.asgi_driver import call
from tests.inprocess.modern_rig import META, TOOLS, ModernRig, V, error_of, modern
from tests.inprocess.rig import run


def test_get_and_delete_are_refused_with_allow_post() -> None:
    async def scenario(rig: ModernRig) -> None:
        for method in ("GET", "DELETE"):
            reply = await call(rig.app, method, "/mcp", headers={"mcp-protocol-version": V})
            assert reply.status == 405 and reply.headers["allow"] == "POST"

    modern(scenario)


def test_accept_must_list_json_and_event_stream() -> None:
    async def scenario(rig: ModernRig) -> None:
        reply = await rig.send("tools/list", accept="application/json")
        assert reply.status == 406

    modern(scenario)


def test_notifications_are_accepted_and_dropped_unless_the_version_is_unknown() -> None:
    async def scenario(rig: ModernRig) -> None:
        note = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"_meta": META}}
        headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": V}
        assert (await call(rig.app, "POST", "/mcp", body=note, headers=headers)).status == 202
        headers["mcp-protocol-version"] = "2099-01-01"
        reply = await call(rig.app, "POST", "/mcp", body=note, headers=headers)
        assert error_of(reply) == (400, jsonrpc.UNSUPPORTED_PROTOCOL_VERSION)
        assert rig.backend.notifications == []

    modern(scenario)


def test_a_batch_is_an_invalid_request() -> None:
    async def scenario(rig: ModernRig) -> None:
        body = [{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": META}}]
        headers = {"accept": "application/json, text/event-stream", "mcp-protocol-version": V}
        reply = await call(rig.app, "POST", "/mcp", body=body, headers=headers)
        assert error_of(reply) == (400, jsonrpc.INVALID_REQUEST)

    modern(scenario)


def test_a_repeated_routing_header_is_a_mismatch() -> None:
    async def scenario(rig: ModernRig) -> None:
        reply = await rig.send("tools/list", mcp_method=["tools/list", "tools/call"])
        assert error_of(reply) == (400, jsonrpc.HEADER_MISMATCH)
        assert "repeated" in reply.json()["error"]["message"]

    modern(scenario)


def test_a_missing_envelope_key_is_invalid_params_naming_it() -> None:
    async def scenario(rig: ModernRig) -> None:
        meta = {"io.modelcontextprotocol/protocolVersion": V}
        reply = await rig.send("tools/list", {"_meta": meta})
        assert error_of(reply) == (400, jsonrpc.INVALID_PARAMS)
        assert "clientCapabilities" in reply.json()["error"]["message"]

    modern(scenario)


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({}, {"mcp_method": "prompts/list"}),
        ({}, {"mcp_protocol_version": "2026-07-29"}),
        ({"name": "regional"}, {"mcp_name": None}),
        ({"name": "regional"}, {"mcp_name": "other"}),
    ],
)
def test_headers_that_disagree_with_the_body_are_refused_before_the_version(
    params: dict[str, Any], headers: dict[str, Any]
) -> None:
    async def scenario(rig: ModernRig) -> None:
        method = "tools/call" if "name" in params else "tools/list"
        reply = await rig.send(method, params, **headers)
        assert error_of(reply) == (400, jsonrpc.HEADER_MISMATCH)

    modern(scenario)


def test_mcp_name_may_travel_base64_encoded() -> None:
    async def scenario(rig: ModernRig) -> None:
        encoded = "=?base64?" + base64.b64encode("régional".encode()).decode() + "?="
        reply = await rig.send("prompts/get", {"name": "régional"}, mcp_name=encoded)
        assert reply.status == 200, reply.body
        bad = await rig.send("prompts/get", {"name": "régional"}, mcp_name="=?base64?!!!?=")
        assert error_of(bad) == (400, jsonrpc.HEADER_MISMATCH)

    modern(scenario)


def test_an_unsupported_version_lists_what_is_served() -> None:
    async def scenario(rig: ModernRig) -> None:
        meta = {**META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}
        reply = await rig.send("tools/list", {"_meta": meta}, mcp_protocol_version="2099-01-01")
        assert error_of(reply) == (400, jsonrpc.UNSUPPORTED_PROTOCOL_VERSION)
        data = reply.json()["error"]["data"]
        assert data["requested"] == "2099-01-01"
        assert data["supported"][0] == V and "2025-11-25" in data["supported"]

    modern(scenario)


@pytest.mark.parametrize(
    ("arguments", "headers", "accepted"),
    [
        ({"region": "eu", "shard": 7}, {"mcp_param_region": "eu", "mcp_param_shard": "7"}, True),
        ({"region": "eu"}, {"mcp_param_region": " eu "}, True),
        ({"region": "eu"}, {}, False),
        ({}, {"mcp_param_region": "eu"}, False),
        ({"region": "eu"}, {"mcp_param_region": "us"}, False),
        ({"shard": 7}, {"mcp_param_shard": "07"}, True),
        ({"shard": 7}, {"mcp_param_shard": "seven"}, False),
    ],
)
def test_mcp_param_headers_must_match_the_arguments(
    arguments: dict[str, Any], headers: dict[str, Any], accepted: bool
) -> None:
    async def scenario(rig: ModernRig) -> None:
        reply = await rig.send(
            "tools/call", {"name": "regional", "arguments": arguments}, **headers
        )
        if accepted:
            assert reply.status == 200, reply.body
        else:
            assert error_of(reply) == (400, jsonrpc.HEADER_MISMATCH)

    modern(scenario)


@pytest.mark.parametrize(
    "method", ["initialize", "ping", "logging/setLevel", "resources/subscribe"]
)
def test_methods_the_era_removed_are_not_found(method: str) -> None:
    async def scenario(rig: ModernRig) -> None:
        reply = await rig.send(method)
        assert error_of(reply) == (404, jsonrpc.METHOD_NOT_FOUND)

    modern(scenario)


def test_discover_is_answered_from_the_servers_initialize_result() -> None:
    async def scenario(rig: ModernRig) -> None:
        result = (await rig.send("server/discover")).json()["result"]
        assert result["resultType"] == "complete"
        assert result["supportedVersions"][0] == V
        tasks: dict[str, Any] = {"io.modelcontextprotocol/tasks": {}}
        assert result["capabilities"] == {"extensions": tasks}  # the transport's own tasks
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"] == {"name": "f"}
        assert (result["ttlMs"], result["cacheScope"]) == (0, "private")

    modern(scenario)


def test_results_gain_the_modern_fields_and_the_server_sees_a_2025_request() -> None:
    async def scenario(rig: ModernRig) -> None:
        meta = {**META, "progressToken": "p1", "traceparent": "00-1-2-01"}
        reply = await rig.send("tools/list", {"_meta": meta}, rpc_id="abc")
        assert reply.status == 200 and reply.headers["content-type"] == "application/json"
        body = reply.json()
        assert body["id"] == "abc"
        result = body["result"]
        assert result["tools"] == TOOLS
        assert result["resultType"] == "complete" and result["ttlMs"] == 0
        assert result["_meta"]["io.modelcontextprotocol/serverInfo"] == {"name": "f"}
        seen = next(m for m in rig.backend.forwarded if m["id"] == "abc")
        assert seen["params"]["_meta"] == {"progressToken": "p1", "traceparent": "00-1-2-01"}
        assert "mcp-session-id" not in reply.headers

    modern(scenario)


def test_a_2025_resource_not_found_becomes_invalid_params() -> None:
    async def scenario(rig: ModernRig) -> None:
        reply = await rig.send("resources/read", {"uri": "test://nothing"})
        assert error_of(reply) == (400, jsonrpc.INVALID_PARAMS)
        assert reply.json()["error"]["data"] == {"uri": "x"}

    modern(scenario)


def test_a_question_becomes_input_required_and_the_retry_answers_it() -> None:
    async def scenario(rig: ModernRig) -> None:
        caps: dict[str, Any] = {"elicitation": {}}
        meta = {**META, "io.modelcontextprotocol/clientCapabilities": caps}
        first = (await rig.send("tools/call", {"name": "ask", "_meta": meta})).json()["result"]
        assert first["resultType"] == "input_required"
        assert first["inputRequests"]["who"]["method"] == "elicitation/create"
        state = first["requestState"]
        tampered = await rig.send(
            "tools/call",
            {"name": "ask", "_meta": meta, "requestState": state + "x", "inputResponses": {}},
            rpc_id=2,
        )
        assert error_of(tampered) == (400, jsonrpc.INVALID_PARAMS)
        answer = {"action": "accept", "content": {"name": "Ada"}}
        params = {"name": "ask", "_meta": meta, "requestState": state}
        params["inputResponses"] = {"who": answer}
        final = (await rig.send("tools/call", params, rpc_id=3)).json()
        assert final["id"] == 3
        assert final["result"]["resultType"] == "complete"
        assert rig.backend.responses == [{"jsonrpc": "2.0", "id": "who", "result": answer}]
        again = await rig.send("tools/call", params, rpc_id=4)  # a state is good once
        assert error_of(again) == (400, jsonrpc.INVALID_PARAMS)

    modern(scenario)


def test_only_the_client_that_was_asked_may_answer() -> None:
    async def scenario(rig: ModernRig) -> None:
        caps: dict[str, Any] = {"elicitation": {}}
        meta = {**META, "io.modelcontextprotocol/clientCapabilities": caps}
        first = await rig.send("tools/call", {"name": "ask", "_meta": meta}, principal="alice")
        params = {
            "name": "ask",
            "_meta": meta,
            "requestState": first.json()["result"]["requestState"],
        }
        params["inputResponses"] = {"who": {"action": "accept", "content": {}}}
        stolen = await rig.send("tools/call", params, rpc_id=2, principal="mallory")
        assert error_of(stolen) == (400, jsonrpc.INVALID_PARAMS)
        assert "another client" in stolen.json()["error"]["message"]
        assert rig.backend.responses == []  # the server heard nothing from mallory
        mine = await rig.send("tools/call", params, rpc_id=3, principal="alice")
        assert mine.json()["result"]["resultType"] == "complete"

    modern(scenario)


def test_a_question_the_client_cannot_answer_is_refused_to_the_server() -> None:
    async def scenario(rig: ModernRig) -> None:
        task = asyncio.ensure_future(rig.send("tools/call", {"name": "ask"}))
        for _ in range(100):
            if rig.backend.responses:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        refusal = rig.backend.responses[0]["error"]
        assert refusal["code"] == jsonrpc.MISSING_CLIENT_CAPABILITY
        assert refusal["data"] == {"requiredCapabilities": {"elicitation": {}}}

    modern(scenario)


def test_listen_acknowledges_what_it_honours_and_tags_each_notification() -> None:
    async def scenario(rig: ModernRig) -> None:
        rig.backend.capabilities = {"tools": {"listChanged": True}}

        async def change() -> None:
            while not rig.backend.sessions:
                await asyncio.sleep(0.01)
            for note in ("prompts/list_changed", "tools/list_changed"):
                payload = {"jsonrpc": "2.0", "method": f"notifications/{note}"}
                rig.backend.sessions[-1].push(jsonrpc.dumps(payload))

        changer = asyncio.ensure_future(change())
        notifications = {"toolsListChanged": True, "promptsListChanged": True}
        reply = await rig.send(
            "subscriptions/listen",
            {"notifications": notifications},
            rpc_id=9,
            until=lambda body: body.count(b"data: ") >= 2,
        )
        await changer
        events = [
            jsonrpc.loads(line[6:])
            for line in reply.body.split(b"\n")
            if line.startswith(b"data: ")
        ]
        assert events[0]["method"] == "notifications/subscriptions/acknowledged"
        assert events[0]["params"]["notifications"] == {"toolsListChanged": True}
        assert events[1]["method"] == "notifications/tools/list_changed"
        for event in events:
            assert event["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 9
        assert rig.backend.detached  # the listener left with the client

    modern(scenario)


def test_listen_streams_are_bounded_in_number_and_in_uris() -> None:
    async def scenario() -> None:
        rig = ModernRig(max_sessions=1)
        await rig.app.startup()
        try:
            many = {"resourceSubscriptions": [f"x://{n}" for n in range(257)]}
            reply = await rig.send("subscriptions/listen", {"notifications": many})
            assert error_of(reply) == (400, jsonrpc.INVALID_PARAMS)
            first = asyncio.ensure_future(
                rig.send("subscriptions/listen", {"notifications": {}}, leave_after=0.5)
            )
            await asyncio.sleep(0.1)
            second = await rig.send("subscriptions/listen", {"notifications": {}}, rpc_id=2)
            assert second.status == 503 and second.headers["retry-after"] == "1"
            await first
        finally:
            await rig.app.shutdown()

    run(scenario())


def test_both_eras_share_one_endpoint() -> None:
    async def scenario(rig: ModernRig) -> None:
        sid = await rig.open()
        legacy = await rig.post(sid, {"jsonrpc": "2.0", "id": 5, "method": "tools/list"})
        assert legacy.json()["result"] == {"tools": TOOLS}
        fresh = await rig.send("tools/list")
        assert fresh.json()["result"]["resultType"] == "complete"
        again = await rig.post(sid, {"jsonrpc": "2.0", "id": 6, "method": "tools/list"})
        assert again.json()["result"] == {"tools": TOOLS}  # the session lives on

    modern(scenario)


def test_a_client_that_leaves_has_its_request_abandoned() -> None:
    async def scenario(rig: ModernRig) -> None:
        await rig.send("tools/list")  # the server is described once
        reply = await rig.send("never", leave_after=0.2)
        assert reply.status == 0
        assert [request_id for request_id, _ in rig.backend.abandoned] == [1]

    modern(scenario)
