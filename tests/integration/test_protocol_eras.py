"""Both protocol eras on one running bridge and one running vMCP, with the official Python SDK
client (``mcp`` 2.3).

In its default mode the client probes ``server/discover`` and settles on 2026-07-28; a client
pinned to the handshake era gets a 2025-11-25 session on the same endpoint at the same time.
A stdio server's questions (elicitation, sampling, roots) reach a 2026 client as
``input_required`` results that the SDK answers through its callbacks and retries.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    ListRootsResult,
    Root,
    TextContent,
)

from tests.support.aggregator import aggregating, write_config
from tests.support.conformance import conformance_server_command
from tests.support.mcp_calls import run, text_of
from tests.support.servers import bridged
from tests.support.ts_client import run_ts_client

pytestmark = pytest.mark.slow

MODES = ["shared", "stateful", "vmcp"]


@pytest.fixture(params=MODES, scope="module")
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The conformance server behind a bridge (shared, stateful) or a vMCP."""
    if request.param == "vmcp":
        config = {
            "upstreams": {"conf": {"stdio": conformance_server_command()}},
            "vmcps": {"conf": {"namespace": "none"}},
        }
        with aggregating(write_config(tmp_path_factory.mktemp("eras"), config)) as running:
            running.wait_for({"conf": "up"})
            yield running.url("conf")
        return
    args = ("--stateful",) if request.param == "stateful" else ()
    with bridged(conformance_server_command(), *args) as bridge:
        yield bridge.mcp_url


async def elicit(context: Any, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"name": "Ada"})


async def sample(context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
    reply = TextContent(type="text", text="Paris")
    return CreateMessageResult(role="assistant", content=reply, model="stand-in")


async def roots(context: Any) -> ListRootsResult:
    root = Root.model_validate({"uri": "file:///srv/project", "name": "project"})
    return ListRootsResult(roots=[root])


def test_a_default_client_settles_on_2026_while_a_2025_session_works_beside_it(
    url: str,
) -> None:
    async def scenario() -> tuple[str, str, str, str, int]:
        async with (
            Client(url) as modern,
            Client(url, mode="legacy") as legacy,
        ):
            both = await asyncio.gather(
                modern.call_tool("test_simple_text", {}),
                legacy.call_tool("test_simple_text", {}),
            )
            listed = await modern.list_tools()
            return (
                modern.protocol_version,
                legacy.protocol_version,
                text_of(both[0]),
                text_of(both[1]),
                len(listed.tools),
            )

    modern_version, legacy_version, modern_text, legacy_text, tools = run(scenario(), timeout=60)
    assert (modern_version, legacy_version) == ("2026-07-28", "2025-11-25")
    assert modern_text == legacy_text == "This is a simple text response for testing."
    assert tools >= 20


def test_a_servers_questions_reach_a_2026_client_as_input_required_rounds(url: str) -> None:
    async def scenario() -> list[str]:
        client = Client(
            url,
            elicitation_callback=elicit,
            sampling_callback=sample,
            list_roots_callback=roots,
        )
        async with client:
            assert client.protocol_version == "2026-07-28"
            texts = []
            for tool in ("elicitation", "sampling", "list_roots", "multiple_inputs", "multi_round"):
                result = await client.call_tool(f"test_input_required_result_{tool}", {})
                texts.append(text_of(result))
            prompt = await client.get_prompt("test_input_required_result_prompt", {})
            content = prompt.messages[0].content
            assert isinstance(content, TextContent)
            texts.append(content.text)
            return texts

    texts = run(scenario(), timeout=60)
    assert texts[0] == "Hello, Ada!"
    assert texts[1] == "LLM response: Paris"
    assert texts[2] == "Roots: file:///srv/project"
    assert texts[3] == "Got 3 answers"
    assert texts[4].startswith("Rounds: ") and texts[4].count('"Ada"') == 2
    assert texts[5] == "A prompt for Ada"


def test_a_2026_client_without_a_capability_gets_the_servers_refusal(url: str) -> None:
    async def scenario() -> Any:
        async with Client(url) as client:  # declares no sampling
            try:
                await client.call_tool("test_missing_capability", {})
            except MCPError as refused:
                return refused.error
        return None

    error = run(scenario(), timeout=60)
    assert error is not None and error.code == -32021
    assert error.data == {"requiredCapabilities": {"sampling": {}}}


def test_progress_reaches_a_2026_client_on_its_request_stream(url: str) -> None:
    async def scenario() -> tuple[str, list[float]]:
        seen: list[float] = []

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(progress)

        async with Client(url) as client:
            result = await client.call_tool(
                "test_tool_with_progress", {}, progress_callback=progress
            )
            return text_of(result), seen

    text, seen = run(scenario(), timeout=60)
    assert text == "Progress tool completed"
    assert seen == [0, 50, 100]


def test_the_typescript_sdk_client_keeps_its_era_beside_2026_clients(url: str) -> None:
    async def scenario() -> tuple[dict[str, Any], str, str]:
        async with Client(url) as modern:
            ts = asyncio.create_task(
                asyncio.to_thread(run_ts_client, url, "streamable", "conformance")
            )
            texts = []
            while not ts.done():  # 2026 calls all the while the TypeScript session runs
                texts.append(text_of(await modern.call_tool("test_simple_text", {})))
                await asyncio.sleep(0.05)
            return await ts, modern.protocol_version, texts[0]

    seen, modern_version, modern_text = run(scenario(), timeout=120)
    assert modern_version == "2026-07-28"
    assert seen["protocolVersion"] == "2025-11-25" and seen["sessionId"]
    assert seen["simple"] == [modern_text]
    # The server's question during the TypeScript call reaches that client, unless a 2026 call
    # was in flight at that moment: then nobody is certainly its owner and it is refused. It
    # never goes to the 2026 client (which has no elicitation handler and would fail).
    if seen["elicit"]["asked"]:
        assert seen["elicit"]["asked"] == ["Who?"]
        assert '"action": "accept"' in seen["elicit"]["text"][0]
    else:
        assert "cannot be routed" in seen["elicit"]["text"][0], seen["elicit"]
