"""Streamable HTTP as the spec names it, checked on the wire against a bridged echo server."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest

from tests.support.mcp_http import (
    call,
    headers,
    initialize,
    initialize_body,
    sse_messages,
    tool_text,
)
from tests.support.servers import Bridge, bridged, echo_command

MODES = [pytest.param((), id="shared"), pytest.param(("--stateful",), id="stateful")]


@pytest.fixture(params=MODES, scope="module")
def bridge(request: pytest.FixtureRequest):
    with bridged(echo_command(), *request.param, "--max-body", "65536") as running:
        yield running


@pytest.fixture
def http():
    with httpx.Client(timeout=20) as client:
        yield client


def test_initialize_issues_unguessable_visible_ascii_session_ids(bridge: Bridge, http) -> None:
    first = initialize(http, bridge.mcp_url)
    second = initialize(http, bridge.mcp_url)
    assert first != second
    for session_id in (first, second):
        assert len(session_id) >= 32
        assert all(0x21 <= ord(c) <= 0x7E for c in session_id)


def test_request_gets_json_and_notification_gets_202(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url)
    response = http.post(bridge.mcp_url, json=call(7, "echo", {"k": "v"}), headers=headers(sid))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["id"] == 7
    assert json.loads(tool_text(body)) == {"k": "v"}
    note = {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}
    assert http.post(bridge.mcp_url, json=note, headers=headers(sid)).status_code == 202
    answer = {"jsonrpc": "2.0", "id": "never-asked", "result": {}}
    assert http.post(bridge.mcp_url, json=answer, headers=headers(sid)).status_code == 202


def test_progress_and_logging_before_the_result_switch_to_sse(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url)
    message = call("p-1", "progress", {"steps": 2}, progressToken="my-token")
    response = http.post(bridge.mcp_url, json=message, headers=headers(sid))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_messages(response.text)
    progress = [e for e in events if e.get("method") == "notifications/progress"]
    assert [p["params"]["progressToken"] for p in progress] == ["my-token", "my-token"]
    assert [p["params"]["progress"] for p in progress] == [1, 2]
    logs = [e for e in events if e.get("method") == "notifications/message"]
    assert [entry["params"]["data"] for entry in logs] == ["step 1", "step 2"]
    assert events[-1]["id"] == "p-1"
    assert tool_text(events[-1]) == "done 2"


def test_json_only_client_gets_plain_json_even_with_progress(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url)
    message = call(3, "progress", {"steps": 2}, progressToken=5)
    hdrs = headers(sid, accept="application/json")
    response = http.post(bridge.mcp_url, json=message, headers=hdrs)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["id"] == 3
    assert tool_text(response.json()) == "done 2"


def test_a_2026_discover_is_answered_and_a_handshake_era_one_refused(bridge: Bridge, http) -> None:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    probe = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}}
    sent = headers(version="2026-07-28", mcp_method="server/discover")
    response = http.post(bridge.mcp_url, json=probe, headers=sent)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["supportedVersions"][0] == "2026-07-28"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "echo"
    assert "mcp-session-id" not in response.headers
    # Without the 2026 header and envelope, server/discover is a method the era lacks:
    # answered at once (a handshake-era child may hang on it), never forwarded.
    legacy = {"jsonrpc": "2.0", "id": 2, "method": "server/discover"}
    started = time.monotonic()
    response = http.post(bridge.mcp_url, json=legacy, headers=headers())
    assert time.monotonic() - started < 2
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["error"]["code"]) == (2, -32601)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("invalid-json", 400, -32700),
        ("not-jsonrpc", 400, -32600),
        ("batch-2025-06-18", 400, -32600),
        ("too-large-declared", 413, -32600),
        ("too-large-chunked", 413, -32600),
        ("wrong-content-type", 415, -32600),
        ("missing-session", 400, -32600),
        ("unknown-session", 404, -32600),
        ("bad-protocol-version", 400, -32602),  # the 2026 era's then: no _meta envelope
        ("bad-origin", 403, -32600),
        ("not-acceptable", 406, -32600),
    ],
)
def test_hostile_input_gets_the_spec_status_and_the_bridge_keeps_serving(
    bridge: Bridge, http, case: str, status: int, code: int
) -> None:
    sid = initialize(http, bridge.mcp_url)
    url = bridge.mcp_url
    good = json.dumps(call(1, "echo", {"x": 1})).encode()
    big = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"pad":"' + b"x" * 70000 + b'"}}'

    def chunks():
        for offset in range(0, len(big), 8192):
            yield big[offset : offset + 8192]

    requests = {
        "invalid-json": lambda: http.post(url, content=b"{not json", headers=headers(sid)),
        "not-jsonrpc": lambda: http.post(url, content=b'{"hello": 1}', headers=headers(sid)),
        "batch-2025-06-18": lambda: http.post(
            url, content=b"[" + good + b"," + good + b"]", headers=headers(sid, "2025-06-18")
        ),
        "too-large-declared": lambda: http.post(url, content=big, headers=headers(sid)),
        "too-large-chunked": lambda: http.post(url, content=chunks(), headers=headers(sid)),
        "wrong-content-type": lambda: http.post(
            url, content=good, headers={**headers(sid), "content-type": "text/plain"}
        ),
        "missing-session": lambda: http.post(url, content=good, headers=headers(None)),
        "unknown-session": lambda: http.post(url, content=good, headers=headers("nope" * 10)),
        "bad-protocol-version": lambda: http.post(
            url, content=good, headers=headers(sid, "1999-01-01")
        ),
        "bad-origin": lambda: http.post(
            url, content=good, headers={**headers(sid), "origin": "https://evil.example"}
        ),
        "not-acceptable": lambda: http.post(
            url, content=good, headers={**headers(sid), "accept": "text/html"}
        ),
    }
    response = requests[case]()
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    ok = http.post(url, content=good, headers=headers(sid))
    assert ok.status_code == 200
    assert json.loads(tool_text(ok.json())) == {"x": 1}


def test_batches_work_for_2025_03_26(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url, version="2025-03-26")
    batch = [
        call("a", "echo", {"n": 1}),
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        call("b", "echo", {"n": 2}),
    ]
    response = http.post(bridge.mcp_url, json=batch, headers=headers(sid, version="2025-03-26"))
    assert response.status_code == 200
    answers = response.json()
    assert [a["id"] for a in answers] == ["a", "b"]
    assert [json.loads(tool_text(a)) for a in answers] == [{"n": 1}, {"n": 2}]


def test_batch_without_header_follows_the_negotiated_version(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url, version="2025-11-25")
    batch = [call("a", "echo", {"n": 1})]
    response = http.post(bridge.mcp_url, json=batch, headers=headers(sid, version=None))
    assert response.status_code == 400
    assert "2025-11-25" in response.json()["error"]["message"]


def test_loopback_origin_is_allowed(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url)
    for origin in ("http://localhost:3000", "http://127.0.0.1", "http://[::1]:8080"):
        hdrs = {**headers(sid), "origin": origin}
        response = http.post(bridge.mcp_url, json=call(1, "echo", {}), headers=hdrs)
        assert response.status_code == 200, origin


def test_delete_ends_the_session(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url)
    assert http.delete(bridge.mcp_url, headers=headers(sid)).status_code == 200
    after = http.post(bridge.mcp_url, json=call(1, "echo", {}), headers=headers(sid))
    assert after.status_code == 404
    assert http.delete(bridge.mcp_url, headers=headers(sid)).status_code == 404
    assert http.delete(bridge.mcp_url, headers=headers(None)).status_code == 400


def test_initialize_with_a_session_header_is_rejected(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url)
    response = http.post(bridge.mcp_url, json=initialize_body(), headers=headers(sid))
    assert response.status_code == 400


def test_health_ready_and_unknown_routes(bridge: Bridge, http) -> None:
    assert http.get(bridge.base_url + "/health").text == "ok"
    ready = http.get(bridge.base_url + "/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert http.get(bridge.base_url + "/nowhere").status_code == 404
    put = http.put(bridge.mcp_url, content=b"{}", headers=headers())
    assert put.status_code == 405
    assert "POST" in put.headers["allow"]


@pytest.fixture(scope="module")
def shared_bridge():
    with bridged(echo_command()) as running:
        yield running


def test_get_stream_receives_list_changed_broadcast(shared_bridge: Bridge, http) -> None:
    """Shared mode: every session's GET stream gets tools/list_changed when the child emits it."""
    bridge = shared_bridge
    first = initialize(http, bridge.mcp_url)
    second = initialize(http, bridge.mcp_url)

    async def scenario() -> list[list[dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=20) as client:
            seen: list[list[dict[str, Any]]] = [[], []]

            async def listen(index: int, sid: str, opened: asyncio.Event) -> None:
                hdrs = {**headers(sid), "accept": "text/event-stream"}
                async with client.stream("GET", bridge.mcp_url, headers=hdrs) as response:
                    assert response.status_code == 200
                    opened.set()
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            seen[index].append(json.loads(line[5:]))
                            return

            events = [asyncio.Event(), asyncio.Event()]
            tasks = [
                asyncio.create_task(listen(i, sid, events[i]))
                for i, sid in enumerate((first, second))
            ]
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 10)
            await asyncio.sleep(0.2)
            response = await client.post(
                bridge.mcp_url, json=call(1, "notify_changed", {}), headers=headers(first)
            )
            assert response.status_code == 200
            await asyncio.wait_for(asyncio.gather(*tasks), 10)
            return seen

    seen = asyncio.run(scenario())
    for messages in seen:
        assert messages == [{"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}]


def test_cancellation_reaches_the_child_with_the_rewritten_id(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url)

    async def scenario() -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=20) as client:
            slow = asyncio.create_task(
                client.post(
                    bridge.mcp_url,
                    json=call("slow-one", "sleep", {"seconds": 1.5}),
                    headers=headers(sid),
                )
            )
            await asyncio.sleep(0.2)
            cancel = {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": "slow-one", "reason": "test"},
            }
            response = await client.post(bridge.mcp_url, json=cancel, headers=headers(sid))
            assert response.status_code == 202
            body: dict[str, Any] = (await asyncio.wait_for(slow, 0.8)).json()
            return body

    answer = asyncio.run(scenario())
    # the waiting POST is answered at once, not when the child finishes sleeping
    assert answer["id"] == "slow-one"
    assert answer["error"]["code"] == -32800
    deadline = time.monotonic() + 5
    pattern = re.compile(r"echo: cancelled (\S+)")
    while time.monotonic() < deadline:
        found = [m.group(1) for line in bridge.log if (m := pattern.search(line))]
        if found:
            break
        time.sleep(0.05)
    assert found, "the child never saw notifications/cancelled"
    assert all(re.fullmatch(r"\d+", value) for value in found), found


def test_child_stderr_is_logged_with_the_session_tag(bridge: Bridge, http) -> None:
    initialize(http, bridge.mcp_url)
    lines = [line for line in bridge.log if "echo: started pid" in line]
    assert lines
    tags = {m.group(1) for line in lines if (m := re.search(r"\[(\w+)\] echo: started", line))}
    assert len(tags) >= 1
    if "--stateful" in bridge.args:  # a child per session, and one for 2026 requests
        assert all(re.fullmatch(r"s\d+|stateless", tag) for tag in tags)
    else:
        assert tags == {"shared"}


def test_get_requires_event_stream_accept(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url)
    response = http.get(bridge.mcp_url, headers={**headers(sid), "accept": "application/json"})
    assert response.status_code == 406


def test_a_server_that_negotiates_2024_11_05_keeps_working(bridge: Bridge, http) -> None:
    """Old stdio servers answer 2024-11-05; clients then name it in MCP-Protocol-Version."""
    bridge_url = bridge.mcp_url
    response = http.post(
        bridge_url, json=initialize_body(0, "2024-11-05"), headers=headers(version=None)
    )
    sid = response.headers["mcp-session-id"]
    if "--stateful" in bridge.args:  # shared mode answers from the first client's cached result
        assert response.json()["result"]["protocolVersion"] == "2024-11-05"
    hdrs = headers(sid, "2024-11-05")
    answer = http.post(bridge_url, json=call(1, "echo", {"v": 1}), headers=hdrs)
    assert answer.status_code == 200
    assert json.loads(tool_text(answer.json())) == {"v": 1}
    batch = [call("x", "echo", {"b": 1})]
    batched = http.post(bridge_url, json=batch, headers=headers(sid, "2024-11-05"))
    assert batched.status_code == 200
    assert batched.json()[0]["id"] == "x"


def test_unusual_ids_come_back_exactly_and_never_cross(bridge: Bridge, http) -> None:
    """Ids that compare loosely ("1" and 1, 0 and False-like) stay distinct per session."""
    first = initialize(http, bridge.mcp_url)
    second = initialize(http, bridge.mcp_url)
    ids: list[Any] = ["1", 1, 0, -7, 2**53, "é-ü-∑", "", "00"]

    async def scenario() -> list[tuple[Any, Any, str]]:
        async with httpx.AsyncClient(timeout=20) as client:

            async def one(sid: str, request_id: Any, tag: str) -> tuple[Any, Any, str]:
                message = call(request_id, "echo", {"tag": tag, "id": request_id})
                response = await client.post(bridge.mcp_url, json=message, headers=headers(sid))
                body = response.json()
                return request_id, body["id"], json.loads(tool_text(body))["tag"]

            jobs = [one(first, i, "first") for i in ids] + [one(second, i, "second") for i in ids]
            return list(await asyncio.gather(*jobs))

    results = asyncio.run(scenario())
    for index, (sent, received, tag) in enumerate(results):
        assert received == sent
        assert type(received) is type(sent)
        assert tag == ("first" if index < len(ids) else "second")


def test_a_second_get_stream_replaces_the_first(shared_bridge: Bridge, http) -> None:
    bridge = shared_bridge
    sid = initialize(http, bridge.mcp_url)
    hdrs = {**headers(sid), "accept": "text/event-stream"}

    async def scenario() -> tuple[list[str], list[dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=20) as client:
            old_lines: list[str] = []
            new_messages: list[dict[str, Any]] = []
            opened = asyncio.Event()

            async def old_stream() -> None:
                async with client.stream("GET", bridge.mcp_url, headers=hdrs) as response:
                    assert response.status_code == 200
                    opened.set()
                    async for line in response.aiter_lines():  # ends when replaced
                        old_lines.append(line)

            async def new_stream() -> None:
                async with client.stream("GET", bridge.mcp_url, headers=hdrs) as response:
                    assert response.status_code == 200
                    async for line in response.aiter_lines():
                        if line.startswith("data:"):
                            new_messages.append(json.loads(line[5:]))
                            return

            old = asyncio.create_task(old_stream())
            await asyncio.wait_for(opened.wait(), 10)
            new = asyncio.create_task(new_stream())
            await asyncio.wait_for(old, 10)  # the first stream was closed by the bridge
            response = await client.post(
                bridge.mcp_url, json=call(1, "notify_changed", {}), headers=headers(sid)
            )
            assert response.status_code == 200
            await asyncio.wait_for(new, 10)
            return old_lines, new_messages

    old_lines, new_messages = asyncio.run(scenario())
    assert not [line for line in old_lines if line.startswith("data:")]
    assert new_messages == [{"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}]


def test_a_batch_printed_by_the_child_is_unpacked(bridge: Bridge, http) -> None:
    sid = initialize(http, bridge.mcp_url)
    response = http.post(bridge.mcp_url, json=call(1, "batch_notes", {}), headers=headers(sid))
    events = sse_messages(response.text)
    assert [e["params"]["data"] for e in events if "method" in e] == ["batched 1", "batched 2"]
    assert events[-1]["id"] == 1
