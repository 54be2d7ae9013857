"""The aggregator as a real process, over real upstreams, driven by the official Python SDK.

Upstreams: the stdlib echo server spawned over stdio (``local``), the same server behind a real
``mcpb bridge`` reached over streamable HTTP (``web``) and over legacy SSE (``old``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.types import CreateMessageRequestParams, CreateMessageResult, TextContent

from tests.support.aggregator import (
    Aggregator,
    aggregating,
    hearing,
    methods_heard,
    start_aggregator,
    write_config,
)
from tests.support.mcp_calls import run, text_of
from tests.support.mcp_http import headers, initialize, initialize_body
from tests.support.ports import free_port
from tests.support.servers import Bridge, bridged, descendants, echo_command, start_bridge

ECHO_TOOLS = ["echo", "progress", "sample", "sleep", "stats", "pid", "notify_changed"]
ECHO_TOOLS += ["batch_notes", "flood"]


@pytest.fixture(scope="module")
def echo_bridge() -> Iterator[Bridge]:
    with bridged(echo_command()) as bridge:
        yield bridge


def three_upstreams(bridge: Bridge) -> dict[str, Any]:
    return {
        "upstreams": {
            "local": {"stdio": echo_command(), "tags": ["utility"], "categories": ["echo"]},
            "web": {"url": bridge.mcp_url, "headers": {"X-Team": "core"}, "tags": ["remote"]},
            "old": {"sse": bridge.sse_url, "tags": ["remote"]},
        },
        "vmcps": {
            "dev": {"title": "Developer tools", "exclude": ["*/sleep", "*/flood"]},
            "plain": {"select": [{"upstreams": ["local"]}], "namespace": "none"},
            "remote": {"select": [{"tags": ["remote"], "tools": ["*/echo", "*/sample"]}]},
        },
    }


@pytest.fixture(scope="module")
def aggregator(
    echo_bridge: Bridge, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Aggregator]:
    path = write_config(tmp_path_factory.mktemp("agg"), three_upstreams(echo_bridge))
    with aggregating(path) as running:
        running.wait_for({"local": "up", "web": "up", "old": "up"})
        yield running


def test_discovery_and_readiness_describe_what_is_served(aggregator: Aggregator) -> None:
    listing = httpx.get(f"{aggregator.base_url}/vmcps").json()["vmcps"]
    by_name = {v["name"]: v for v in listing}
    assert by_name["dev"] == {
        "name": "dev",
        "title": "Developer tools",
        "endpoint": "/vmcp/dev/mcp",
        "tools": 3 * (len(ECHO_TOOLS) - 2),
        "upstreams": ["local", "web", "old"],
    }
    assert by_name["plain"]["tools"] == len(ECHO_TOOLS)
    assert by_name["remote"]["tools"] == 4 and by_name["remote"]["upstreams"] == ["web", "old"]
    ready = aggregator.ready()
    assert ready["ready"] is True
    assert ready["upstreams"]["web"] == {
        "state": "up",
        "kind": "url",
        "error": None,
        "tools": len(ECHO_TOOLS),
    }
    assert httpx.get(f"{aggregator.base_url}/health").text == "ok"
    assert httpx.get(f"{aggregator.base_url}/vmcp/nope/mcp").status_code == 404


def test_every_selected_tool_is_callable_by_its_namespaced_name(aggregator: Aggregator) -> None:
    async def scenario() -> tuple[list[str], dict[str, str], str]:
        async with Client(aggregator.url("dev")) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            answers = {}
            for upstream in ("local", "web", "old"):
                result = await client.call_tool(f"{upstream}__echo", {"via": upstream})
                answers[upstream] = text_of(result)
            return names, answers, client.protocol_version

    names, answers, version = run(scenario())
    expected = [f"{u}__{t}" for u in ("local", "web", "old") for t in ECHO_TOOLS]
    assert names == [n for n in expected if not n.endswith(("__sleep", "__flood"))]
    assert {u: json.loads(a) for u, a in answers.items()} == {
        u: {"via": u} for u in ("local", "web", "old")
    }
    assert version == "2026-07-28"  # the default SDK client settles on the newest era


@pytest.mark.parametrize(
    "name", ["local__sleep", "web__flood", "sleep", "nope__echo", "local/echo"]
)
def test_tools_outside_the_selection_are_refused_like_unknown_ones(
    aggregator: Aggregator, name: str
) -> None:
    async def scenario() -> MCPError:
        async with Client(aggregator.url("dev")) as client:
            with pytest.raises(MCPError) as caught:
                await client.call_tool(name, {"seconds": 0})
            return caught.value

    error = run(scenario())
    assert error.error.code == -32602
    assert error.error.message == f"Unknown tool: {name}"


def test_namespace_none_serves_the_upstream_names(aggregator: Aggregator) -> None:
    async def scenario() -> tuple[list[str], str, str]:
        async with Client(aggregator.url("plain")) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            result = await client.call_tool("echo", {"plain": True})
            init = client.server_info
            return names, text_of(result), init.name if init else ""

    names, text, server_name = run(scenario())
    assert names == ECHO_TOOLS
    assert json.loads(text) == {"plain": True}
    assert server_name == "plain"


def test_progress_and_logging_are_relayed_with_the_callers_token(aggregator: Aggregator) -> None:
    for upstream in ("local", "web", "old"):
        seen: list[float] = []
        logs: list[Any] = []

        async def on_progress(
            progress: float, total: float | None, message: str | None, seen: list[float] = seen
        ) -> None:
            seen.append(progress)

        async def on_log(params: Any, logs: list[Any] = logs) -> None:
            logs.append(params.data)

        async def scenario(upstream: str = upstream) -> str:
            # 2026-07-28: a request's logs come only when it asks (log_level stamps every one)
            client = Client(aggregator.url("dev"), logging_callback=on_log, log_level="debug")
            async with client:
                result = await client.call_tool(
                    f"{upstream}__progress", {"steps": 3}, progress_callback=on_progress
                )
                return text_of(result)

        assert run(scenario()) == "done 3", upstream
        assert seen == [1, 2, 3], upstream
        assert logs == ["step 1", "step 2", "step 3"], upstream


def test_sampling_from_each_kind_of_upstream_reaches_the_asking_client(
    aggregator: Aggregator,
) -> None:
    async def sample(context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
        asked = params.messages[0].content
        assert isinstance(asked, TextContent)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=f"re: {asked.text}"), model="m"
        )

    async def scenario() -> dict[str, str]:
        out = {}
        async with Client(aggregator.url("remote"), sampling_callback=sample) as client:
            for upstream in ("web", "old"):
                result = await client.call_tool(f"{upstream}__sample", {"prompt": upstream})
                out[upstream] = text_of(result)
        async with Client(aggregator.url("dev"), sampling_callback=sample) as client:
            out["local"] = text_of(await client.call_tool("local__sample", {"prompt": "local"}))
        return out

    assert run(scenario()) == {u: f"sampled: re: {u}" for u in ("web", "old", "local")}


def test_a_legacy_sse_client_on_a_vmcp(aggregator: Aggregator) -> None:
    async def scenario() -> tuple[int, str]:
        async with Client(sse_client(aggregator.url("remote", "sse"))) as client:
            tools = (await client.list_tools()).tools
            return len(tools), text_of(await client.call_tool("web__echo", {"legacy": 1}))

    count, text = run(scenario())
    assert count == 4
    assert json.loads(text) == {"legacy": 1}


def test_an_idle_session_holds_nothing_upstream(
    aggregator: Aggregator, echo_bridge: Bridge
) -> None:
    """Upstream sessions open lazily: initialize, a GET stream and lists reach no upstream;
    a 2026-07-28 upstream never holds one."""

    def upstream_sessions() -> int:
        count: int = httpx.get(f"{echo_bridge.base_url}/ready").json()["sessions"]
        return count

    before = upstream_sessions()
    with httpx.Client(timeout=10) as client:
        url = aggregator.url("dev")
        session = initialize(client, url)
        stream_headers = headers(session, accept="text/event-stream")
        with client.stream("GET", url, headers=stream_headers) as got:
            assert got.status_code == 200
            listed = client.post(
                url,
                json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                headers=headers(session),
            )
            assert len(listed.json()["result"]["tools"]) == 21
            assert upstream_sessions() == before

            def call(tool: str, request_id: int) -> None:
                body = {"name": tool, "arguments": {}}
                message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call"}
                called = client.post(
                    url, json={**message, "params": body}, headers=headers(session)
                )
                assert called.status_code == 200

            call("web__echo", 3)  # the bridge speaks 2026-07-28: no upstream session, ever
            assert upstream_sessions() == before
            call("old__echo", 4)  # legacy SSE: a session, opened by the first call needing it
            assert upstream_sessions() == before + 1
        client.delete(url, headers=headers(session))
    deadline = time.monotonic() + 5
    while upstream_sessions() != before:
        assert time.monotonic() < deadline, "the upstream session outlived the client's"
        time.sleep(0.05)


def test_a_killed_stdio_upstream_is_restarted_and_keeps_serving(aggregator: Aggregator) -> None:
    async def scenario() -> tuple[int, int, str]:
        async with Client(aggregator.url("plain")) as client:
            first = int(text_of(await client.call_tool("pid", {})))
            os.kill(first, signal.SIGKILL)
            deadline = time.monotonic() + 15
            while True:
                try:
                    second = int(text_of(await client.call_tool("pid", {})))
                    if second != first:
                        break
                except MCPError:
                    pass
                assert time.monotonic() < deadline, "the upstream was not restarted"
                await asyncio.sleep(0.1)
            return first, second, text_of(await client.call_tool("echo", {"after": "restart"}))

    first, second, text = run(scenario())
    assert first != second
    assert json.loads(text) == {"after": "restart"}


def test_an_http_upstream_down_then_back(tmp_path: Path) -> None:
    """Its tools leave the lists (announced), calls name it unavailable, then it comes back."""
    port = free_port()
    bridge = start_bridge(echo_command(), "--port", str(port))
    config = {
        "upstreams": {
            "web": {"url": f"http://127.0.0.1:{port}/mcp"},
            "local": {"stdio": echo_command()},
        },
        "vmcps": {"dev": {"select": [{"tools": ["*/echo"]}]}},
    }
    changed, on_message = methods_heard()

    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"web": "up", "local": "up"})

        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            async with (
                Client(running.url("dev"), message_handler=on_message) as client,
                hearing(client, changed),
            ):
                out["before"] = [t.name for t in (await client.list_tools()).tools]
                bridge.stop()
                await asyncio.to_thread(running.wait_for, {"web": "down"})
                await asyncio.sleep(0.2)
                out["down"] = [t.name for t in (await client.list_tools()).tools]
                with pytest.raises(MCPError) as caught:
                    await client.call_tool("web__echo", {})
                out["error"] = caught.value.error.message
                out["local"] = text_of(await client.call_tool("local__echo", {"still": "ok"}))
                out["ready"] = running.ready()["upstreams"]["web"]
                nonlocal_bridge.append(start_bridge(echo_command(), "--port", str(port)))
                await asyncio.to_thread(running.wait_for, {"web": "up"}, 40)
                await asyncio.sleep(0.2)
                out["after"] = [t.name for t in (await client.list_tools()).tools]
                out["call"] = text_of(await client.call_tool("web__echo", {"back": 1}))
            return out

        nonlocal_bridge: list[Bridge] = []
        try:
            out = run(scenario(), 90)
        finally:
            for started in nonlocal_bridge:
                started.stop()
    assert out["before"] == ["web__echo", "local__echo"]
    assert out["down"] == ["local__echo"]
    assert out["error"].startswith("upstream web is unavailable")
    assert json.loads(out["local"]) == {"still": "ok"}
    assert out["ready"]["state"] == "down" and out["ready"]["error"]
    assert out["after"] == ["web__echo", "local__echo"]
    assert json.loads(out["call"]) == {"back": 1}
    assert changed.count("notifications/tools/list_changed") >= 2


def test_sigterm_ends_streams_stops_every_child_and_exits_0(tmp_path: Path) -> None:
    config = {
        "upstreams": {
            "a": {"stdio": echo_command()},
            "b": {"stdio": echo_command(), "process": "per-session"},
        },
        "vmcps": {"all": {}},
    }
    running = start_aggregator(write_config(tmp_path, config))
    try:
        running.wait_for({"a": "up", "b": "up"})
        with httpx.Client(timeout=10) as client:
            session = initialize(client, running.url("all"))
            body = {"jsonrpc": "2.0", "id": 5, "method": "tools/call"}
            body["params"] = {"name": "b__echo", "arguments": {}}
            answer = client.post(running.url("all"), json=body, headers=headers(session))
            assert answer.status_code == 200
        children = descendants(running.process.pid)
        assert len(children) >= 3  # a, b's catalog child, b's child for the session
        started = time.monotonic()
        assert running.stop() == 0
        assert time.monotonic() - started < 10
    finally:
        running.stop()
    time.sleep(0.2)
    alive = [pid for pid in children if _alive(pid)]
    assert alive == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split()[2] != "Z"


def test_an_invalid_configuration_never_starts_a_gateway(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"upstreams": {"a": {"url": "ftp://x"}}})
    with pytest.raises(RuntimeError, match=r"upstreams\.a\.url: .*http:// or https://"):
        start_aggregator(path, timeout=20)


def test_initialize_body_names_no_upstream(aggregator: Aggregator) -> None:
    with httpx.Client(timeout=10) as client:
        response = client.post(aggregator.url("dev"), json=initialize_body(), headers=headers())
    result = response.json()["result"]
    assert result["serverInfo"]["name"] == "dev"
    assert result["serverInfo"]["title"] == "Developer tools"
    assert result["capabilities"]["tools"] == {"listChanged": True}
    assert response.headers["mcp-session-id"]


def _echo(version: str) -> dict[str, Any]:
    return {"stdio": echo_command(), "env": {"ECHO_SERVER_VERSION": version}}


def _version_behind(pid_text: str) -> str:
    environ = Path(f"/proc/{int(pid_text)}/environ").read_bytes().split(b"\0")
    found = [e for e in environ if e.startswith(b"ECHO_SERVER_VERSION=")]
    return found[0].split(b"=", 1)[1].decode()


def test_conflicting_names_follow_the_conflicts_policy(tmp_path: Path) -> None:
    config = {
        "upstreams": {"a": _echo("1.0.0"), "b": _echo("2.0.0")},
        "vmcps": {
            "error": {"namespace": "none"},
            "first": {"namespace": "none", "conflicts": "first"},
            "newest": {"namespace": "none", "conflicts": "highest-version"},
            "conditional": {"namespace": "conditional", "select": [{"upstreams": ["a"]}]},
        },
    }
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"a": "up", "b": "up"})

        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            async with Client(running.url("error")) as client:
                out["error_tools"] = (await client.list_tools()).tools
                with pytest.raises(MCPError) as caught:
                    await client.call_tool("pid", {})
                out["error"] = caught.value.error
            for vmcp in ("first", "newest", "conditional"):
                async with Client(running.url(vmcp)) as client:
                    out[vmcp] = [t.name for t in (await client.list_tools()).tools]
                    out[f"{vmcp}_pid"] = text_of(await client.call_tool("pid", {}))
            return out

        out = run(scenario())
        log = "\n".join(running.log)
        first, newest = _version_behind(out["first_pid"]), _version_behind(out["newest_pid"])
    assert out["error_tools"] == []
    assert out["error"].code == -32602
    assert "the tool 'pid' is offered by upstreams 'a' and 'b'" in out["error"].message
    assert "offered by upstreams 'a' and 'b'" in log
    assert out["first"] == ECHO_TOOLS
    assert first == "1.0.0"
    assert out["newest"] == ECHO_TOOLS
    assert newest == "2.0.0"
    assert out["conditional"] == ECHO_TOOLS  # one upstream: no prefix


def test_names_over_64_characters_are_shortened_and_mapped(tmp_path: Path) -> None:
    prefix = "p" * 48
    config = {
        "separator": "____",
        "upstreams": {"long": {"stdio": echo_command(), "prefix": prefix}},
        "vmcps": {"v": {}},
    }
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"long": "up"})

        async def scenario() -> tuple[list[Any], str]:
            async with Client(running.url("v")) as client:
                tools = (await client.list_tools()).tools
                long = next(t for t in tools if t.name.startswith(prefix) and len(t.name) == 64)
                return tools, text_of(await client.call_tool(long.name, {}))

        tools, text = run(scenario())
    names = [t.name for t in tools]
    assert f"{prefix}____echo" in names
    assert all(len(n) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", n) for n in names)
    key = "io.github.mcpb-toolchain"
    shortened = [t for t in tools if t.meta and key in t.meta]
    assert [(t.meta[key] if t.meta else None) for t in shortened] == [
        {"upstream": "long", "name": "notify_changed"}  # 48 + 4 + 14 = 66 characters
    ]
    assert len(shortened[0].name) == 64
    assert sorted(names) == sorted(
        [f"{prefix}____{t}" for t in ECHO_TOOLS if t != "notify_changed"] + [shortened[0].name]
    )
    assert text == "notified"


def test_the_watched_file_is_reloaded_and_a_broken_one_is_ignored(tmp_path: Path) -> None:
    config: dict[str, Any] = {
        "watch": True,
        "upstreams": {"a": {"stdio": echo_command()}},
        "vmcps": {"one": {"select": [{"tools": ["a/echo"]}]}},
    }
    path = write_config(tmp_path, config)
    with aggregating(path) as running:
        running.wait_for({"a": "up"})
        config["vmcps"]["two"] = {"select": [{"tools": ["a/pid"]}]}
        path.write_text(json.dumps(config))
        deadline = time.monotonic() + 15
        while len(httpx.get(f"{running.base_url}/vmcps").json()["vmcps"]) != 2:
            assert time.monotonic() < deadline, "the changed file was not reloaded"
            time.sleep(0.1)
        path.write_text('{"vmcps": {"three": {"namespace": "sideways"}}}')
        deadline = time.monotonic() + 15
        while not any("is not used" in line for line in running.log):
            assert time.monotonic() < deadline, "\n".join(running.log)
            time.sleep(0.1)
        names = [v["name"] for v in httpx.get(f"{running.base_url}/vmcps").json()["vmcps"]]
        assert names == ["one", "two"]
        assert any("vmcps.three.namespace" in line for line in running.log)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_an_upstreams_list_change_reaches_only_the_vmcps_whose_view_changed(
    tmp_path: Path, mode: Any
) -> None:
    config = {
        "upstreams": {"a": {"stdio": echo_command()}},
        "vmcps": {
            "added": {"select": [{"tools": ["a/added_*"]}]},
            "fixed": {"select": [{"tools": ["a/echo"]}]},
            "all": {},
        },
    }
    heard_added, on_added = methods_heard()
    heard_fixed, on_fixed = methods_heard()
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"a": "up"})

        async def scenario() -> tuple[list[str], list[str]]:
            async with (
                Client(running.url("added"), message_handler=on_added, mode=mode) as added,
                Client(running.url("fixed"), message_handler=on_fixed, mode=mode) as fixed,
                Client(running.url("all")) as everything,
                hearing(added, heard_added),
                hearing(fixed, heard_fixed),
            ):
                before = [t.name for t in (await added.list_tools()).tools]
                await fixed.list_tools()
                await everything.call_tool("a__notify_changed", {"add": "added_1"})
                deadline = time.monotonic() + 10
                while "notifications/tools/list_changed" not in heard_added:
                    assert time.monotonic() < deadline, "the changed vMCP was not told"
                    await asyncio.sleep(0.02)
                await asyncio.sleep(0.5)  # time for a wrong notification to arrive too
                after = [t.name for t in (await added.list_tools()).tools]
                return before, after

        before, after = run(scenario())
    assert before == []
    assert after == ["a__added_1"]
    assert "notifications/tools/list_changed" not in heard_fixed


def test_lists_page_across_upstreams_with_cursors(tmp_path: Path) -> None:
    config = {
        "page_size": 4,
        "upstreams": {"a": {"stdio": echo_command()}, "b": {"stdio": echo_command()}},
        "vmcps": {"v": {}},
    }
    with aggregating(write_config(tmp_path, config)) as running, httpx.Client(timeout=10) as client:
        running.wait_for({"a": "up", "b": "up"})
        url = running.url("v")
        session = initialize(client, url)
        names: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"cursor": cursor} if cursor is not None else {}
            body = {"jsonrpc": "2.0", "id": pages, "method": "tools/list", "params": params}
            result = client.post(url, json=body, headers=headers(session)).json()["result"]
            names += [t["name"] for t in result["tools"]]
            pages += 1
            cursor = result.get("nextCursor")
            if cursor is None:
                break
        bad = {"jsonrpc": "2.0", "id": 99, "method": "tools/list", "params": {"cursor": "x"}}
        refused = client.post(url, json=bad, headers=headers(session)).json()
    assert names == [f"{u}__{t}" for u in ("a", "b") for t in ECHO_TOOLS]
    assert pages == 5  # 18 tools, 4 a page
    assert refused["error"]["code"] == -32602


def test_per_session_processes_are_one_per_client_session_and_end_with_it(
    tmp_path: Path,
) -> None:
    config = {
        "upstreams": {"own": {"stdio": echo_command(), "process": "per-session"}},
        "vmcps": {"v": {}},
    }
    with aggregating(write_config(tmp_path, config)) as running, httpx.Client(timeout=10) as client:
        running.wait_for({"own": "up"})
        url = running.url("v")
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
        body["params"] = {"name": "own__pid", "arguments": {}}
        pids = []
        sessions = [initialize(client, url) for _ in range(2)]
        for session in sessions:
            answer = client.post(url, json=body, headers=headers(session)).json()
            pids.append(int(answer["result"]["content"][0]["text"]))
        again = client.post(url, json=body, headers=headers(sessions[0])).json()
        assert int(again["result"]["content"][0]["text"]) == pids[0]
        assert pids[0] != pids[1]
        assert client.delete(url, headers=headers(sessions[0])).status_code == 200
        deadline = time.monotonic() + 10
        while _alive(pids[0]):
            assert time.monotonic() < deadline, "the session's own child outlived it"
            time.sleep(0.05)
        assert _alive(pids[1])


def test_a_hanging_upstream_stalls_no_list(tmp_path: Path) -> None:
    """An upstream that never answers ``initialize`` stays out; the others serve at once."""
    hang = f"{sys.executable} -c 'import time; time.sleep(600)'"
    config = {
        "upstreams": {
            "stuck": {"stdio": hang, "timeout": 1},
            "fine": {"stdio": echo_command()},
        },
        "vmcps": {"v": {}},
    }
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"fine": "up"})

        async def scenario() -> tuple[float, list[str]]:
            async with Client(running.url("v")) as client:
                started = time.monotonic()
                names = [t.name for t in (await client.list_tools()).tools]
                return time.monotonic() - started, names

        elapsed, names = run(scenario())
        ready = running.wait_for({"stuck": "down"}, timeout=15)
    assert names == [f"fine__{t}" for t in ECHO_TOOLS]
    assert elapsed < 1.0
    assert ready["ready"] is True
    assert ready["upstreams"]["stuck"]["error"] == "no answer to initialize within 1s"
