"""The admin API end to end, and names, resources and prompts over two namespaced upstreams."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client, MCPError
from mcp.types import EmbeddedResource, PromptReference, TextContent

from tests.support.aggregator import (
    Aggregator,
    aggregating,
    hearing,
    methods_heard,
    write_config,
)
from tests.support.conformance import conformance_server_command
from tests.support.mcp_http import headers, initialize
from tests.support.servers import echo_command

TOKEN = "admin-secret-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def run(scenario: Any, timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, timeout))


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Aggregator]:
    config = {
        "upstreams": {"a": {"stdio": echo_command(), "tags": ["t"]}},
        "vmcps": {"first": {"select": [{"tools": ["a/echo"]}]}},
    }
    path = write_config(tmp_path, config)
    with aggregating(path, env={"MCPB_AGGREGATOR_ADMIN_TOKEN": TOKEN}) as running:
        running.wait_for({"a": "up"})
        yield running


def test_without_a_token_the_admin_api_does_not_exist(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"vmcps": {}})
    with aggregating(path) as running:
        response = httpx.get(f"{running.base_url}/admin/vmcps", headers=AUTH)
        assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_a_missing_or_wrong_token_is_401(admin: Aggregator, authorization: str | None) -> None:
    sent = {"authorization": authorization} if authorization else {}
    for method, path in (("GET", "vmcps"), ("PUT", "vmcps/x"), ("DELETE", "upstreams/a")):
        response = httpx.request(method, f"{admin.base_url}/admin/{path}", headers=sent, json={})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert "first" in httpx.get(f"{admin.base_url}/vmcps").text  # nothing changed


def test_put_creates_then_replaces_and_a_new_vmcp_serves_at_once(admin: Aggregator) -> None:
    base = f"{admin.base_url}/admin"
    created = httpx.put(f"{base}/vmcps/second", headers=AUTH, json={"title": "Second"})
    assert created.status_code == 201
    assert created.json()["endpoint"] == "/vmcp/second/mcp"
    started = time.monotonic()
    with httpx.Client(timeout=10) as client:
        session = initialize(client, admin.url("second"))
        listed = client.post(
            admin.url("second"),
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers=headers(session),
        )
    elapsed = time.monotonic() - started
    assert len(listed.json()["result"]["tools"]) == 9
    assert elapsed < 2.0  # the bench measures it properly; here: no waiting on upstreams
    replaced = httpx.put(f"{base}/vmcps/second", headers=AUTH, json={"title": "Again"})
    assert replaced.status_code == 200
    assert replaced.json()["title"] == "Again"
    listing = httpx.get(f"{base}/vmcps", headers=AUTH).json()["vmcps"]
    assert [v["name"] for v in listing] == ["first", "second"]


def test_changes_announce_list_changed_to_open_sessions(admin: Aggregator) -> None:
    """A new upstream and a changed selection reach an open session of the changed vMCP."""
    base = f"{admin.base_url}/admin"
    seen, on_message = methods_heard()

    async def scenario() -> tuple[list[str], list[str], str]:
        async with (
            Client(admin.url("first"), message_handler=on_message) as client,
            hearing(client, seen),
        ):
            before = [t.name for t in (await client.list_tools()).tools]
            upstream = {"stdio": echo_command(), "tags": ["t"]}
            response = await asyncio.to_thread(
                httpx.put, f"{base}/upstreams/b", headers=AUTH, json=upstream
            )
            assert response.status_code == 201
            await asyncio.to_thread(admin.wait_for, {"b": "up"})
            seen.clear()
            vmcp = {"title": "First", "select": [{"tools": ["a/echo", "b/echo", "b/pid"]}]}
            response = await asyncio.to_thread(
                httpx.put, f"{base}/vmcps/first", headers=AUTH, json=vmcp
            )
            assert response.status_code == 200
            deadline = time.monotonic() + 10
            while "notifications/tools/list_changed" not in seen:
                assert time.monotonic() < deadline, "no list_changed reached the open session"
                await asyncio.sleep(0.02)
            after = [t.name for t in (await client.list_tools()).tools]
            content = (await client.call_tool("b__echo", {"same": "session"})).content[0]
            assert isinstance(content, TextContent)
            return before, after, content.text

    before, after, text = run(scenario())
    assert before == ["a__echo"]
    assert after == ["a__echo", "b__echo", "b__pid"]
    assert json.loads(text) == {"same": "session"}


def test_an_upstream_added_later_is_announced_to_a_session_of_an_unchanged_vmcp(
    admin: Aggregator,
) -> None:
    base = f"{admin.base_url}/admin"
    httpx.put(f"{base}/vmcps/tagged", headers=AUTH, json={"select": [{"tags": ["late"]}]})
    seen, on_message = methods_heard()

    async def scenario() -> tuple[list[str], list[str]]:
        async with (
            Client(admin.url("tagged"), message_handler=on_message) as client,
            hearing(client, seen),
        ):
            before = [t.name for t in (await client.list_tools()).tools]
            upstream = {"stdio": echo_command(), "tags": ["late"]}
            response = await asyncio.to_thread(
                httpx.put, f"{base}/upstreams/late", headers=AUTH, json=upstream
            )
            assert response.status_code == 201
            deadline = time.monotonic() + 15
            while "notifications/tools/list_changed" not in seen:
                assert time.monotonic() < deadline, "no list_changed reached the session"
                await asyncio.sleep(0.05)
            after = [t.name for t in (await client.list_tools()).tools]
            return before, after

    before, after = run(scenario())
    assert before == []
    assert "late__echo" in after and len(after) == 9


def test_delete_makes_a_vmcp_and_its_sessions_answer_404_at_once(admin: Aggregator) -> None:
    base = f"{admin.base_url}/admin"
    with httpx.Client(timeout=10) as client:
        session = initialize(client, admin.url("first"))
        assert client.delete(f"{base}/vmcps/first", headers=AUTH).status_code == 204
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        response = client.post(admin.url("first"), json=body, headers=headers(session))
        assert response.status_code == 404
        assert client.get(f"{base}/vmcps/first", headers=AUTH).status_code == 404
        assert client.delete(f"{base}/vmcps/first", headers=AUTH).status_code == 404
    assert json.loads(httpx.get(f"{admin.base_url}/vmcps").text) == {"vmcps": []}


@pytest.mark.parametrize(
    ("path", "body", "status", "text"),
    [
        ("upstreams/x", {"url": "ftp://nope"}, 422, "upstreams.x.url"),
        ("upstreams/x", {}, 422, "exactly one of"),
        ("vmcps/v", {"select": [{"upstreams": ["ghost"]}]}, 422, "'ghost', which is not"),
        ("vmcps/bad name", {}, 422, "pattern"),
        ("upstreams/a", "not an object", 400, "expected a JSON object"),
    ],
)
def test_bad_bodies_change_nothing(
    admin: Aggregator, path: str, body: Any, status: int, text: str
) -> None:
    before = httpx.get(f"{admin.base_url}/admin/upstreams", headers=AUTH).json()
    response = httpx.put(f"{admin.base_url}/admin/{path}", headers=AUTH, json=body)
    assert response.status_code == status
    assert text in response.json()["error"]
    assert httpx.get(f"{admin.base_url}/admin/upstreams", headers=AUTH).json() == before


def test_an_upstream_a_vmcp_names_cannot_be_deleted(admin: Aggregator) -> None:
    base = f"{admin.base_url}/admin"
    httpx.put(f"{base}/vmcps/named", headers=AUTH, json={"select": [{"upstreams": ["a"]}]})
    response = httpx.delete(f"{base}/upstreams/a", headers=AUTH)
    assert response.status_code == 409
    assert "named" in response.json()["error"]
    httpx.delete(f"{base}/vmcps/named", headers=AUTH)
    assert httpx.delete(f"{base}/upstreams/a", headers=AUTH).status_code == 204
    upstreams = httpx.get(f"{base}/upstreams", headers=AUTH).json()["upstreams"]
    assert upstreams == []


def test_resources_prompts_and_completion_over_two_prefixed_upstreams(tmp_path: Path) -> None:
    config = {
        "upstreams": {
            "one": {"stdio": conformance_server_command()},
            "two": {"stdio": conformance_server_command(), "prefix": "Second_Source"},
        },
        "vmcps": {"both": {"exclude": ["two/test_prompt_with_image"]}},
    }
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"one": "up", "two": "up"})

        async def scenario() -> dict[str, Any]:
            async with Client(running.url("both")) as client:
                resources = [str(r.uri) for r in (await client.list_resources()).resources]
                templates = [
                    t.uri_template
                    for t in (await client.list_resource_templates()).resource_templates
                ]
                prompts = [p.name for p in (await client.list_prompts()).prompts]
                one = await client.read_resource("one+test://static-text")
                two = await client.read_resource("second-source+test://template/7/data")
                prompt = await client.get_prompt(
                    "Second_Source__test_prompt_with_arguments", {"arg1": "x", "arg2": "y"}
                )
                done = await client.complete(
                    PromptReference(type="ref/prompt", name="one__test_prompt_with_arguments"),
                    {"name": "arg1", "value": "par"},
                )
                watched = "one+test://watched-resource"
                if client.protocol_version < "2026":
                    await client.subscribe_resource(watched)
                else:  # 2026-07-28: a listen stream names the URIs
                    async with client.listen(resource_subscriptions=[watched]) as listening:
                        assert watched in (listening.honored.resource_subscriptions or [])
                tool = await client.call_tool("Second_Source__test_embedded_resource", {})
                with pytest.raises(MCPError) as unknown:
                    await client.read_resource("three+test://static-text")
                with pytest.raises(MCPError) as excluded:
                    await client.get_prompt("Second_Source__test_prompt_with_image")
                said = prompt.messages[0].content
                embedded = tool.content[0]
                assert isinstance(said, TextContent)
                assert isinstance(embedded, EmbeddedResource)
                return {
                    "resources": resources,
                    "templates": templates,
                    "prompts": prompts,
                    "one": one.contents[0],
                    "two": two.contents[0],
                    "prompt": said.text,
                    "completion": done.completion.values,
                    "tool": embedded.resource.uri,
                    "unknown": unknown.value.error,
                    "excluded": excluded.value.error,
                }

        out = run(scenario())
    assert out["resources"] == [
        "one+test://static-text",
        "one+test://static-binary",
        "one+test://watched-resource",
        "second-source+test://static-text",
        "second-source+test://static-binary",
        "second-source+test://watched-resource",
    ]
    assert out["templates"] == [
        "one+test://template/{id}/data",
        "second-source+test://template/{id}/data",
    ]
    assert "one__test_prompt_with_image" in out["prompts"]
    assert "Second_Source__test_prompt_with_image" not in out["prompts"]
    assert str(out["one"].uri) == "one+test://static-text"
    assert str(out["two"].uri) == "second-source+test://template/7/data"
    assert json.loads(out["two"].text)["id"] == "7"
    assert out["prompt"] == "Prompt with arguments: arg1='x', arg2='y'"
    assert out["completion"] == ["paris", "park", "party"]
    assert str(out["tool"]) == "second-source+test://embedded-resource"
    assert out["unknown"].code == -32602  # 2026-07-28's resource-not-found (2025: -32002)
    assert out["excluded"].code == -32602
    assert out["excluded"].message == "Unknown prompt: Second_Source__test_prompt_with_image"


def test_a_replaced_upstream_serves_open_sessions_through_its_new_process(
    admin: Aggregator,
) -> None:
    base = f"{admin.base_url}/admin"

    async def scenario() -> tuple[str, str]:
        async with Client(admin.url("first")) as client:
            before = (await client.call_tool("a__echo", {"n": 1})).content[0]
            replaced = await asyncio.to_thread(
                httpx.put,
                f"{base}/upstreams/a",
                headers=AUTH,
                json={"stdio": echo_command(), "tags": ["t"], "env": {"REPLACED": "1"}},
            )
            assert replaced.status_code == 200
            await asyncio.to_thread(admin.wait_for, {"a": "up"})
            deadline = time.monotonic() + 10
            while True:
                try:
                    after = (await client.call_tool("a__echo", {"n": 2})).content[0]
                    break
                except MCPError:  # down while the new process starts
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.1)
            assert isinstance(before, TextContent) and isinstance(after, TextContent)
            return before.text, after.text

    before, after = run(scenario())
    assert json.loads(before) == {"n": 1}
    assert json.loads(after) == {"n": 2}
