"""The official TypeScript SDK client (npm) against bridged real servers, in both process modes.

``tests/support/ts_client/client.mjs`` drives ``@modelcontextprotocol/sdk``'s
``StreamableHTTPClientTransport`` and ``SSEClientTransport`` against ``mcpb bridge`` in front of
``@modelcontextprotocol/server-everything`` (stdio) and ``mcp-server-time`` (PyPI), and prints
what it saw as JSON; the assertions are here. One client run per mode × transport covers tools,
resources, prompts, progress, logging, sampling, elicitation, cancellation, resource
subscriptions and session termination; two clients at once check that progress, sampling and
elicitation reach the client that caused them. The same client scenario also runs through a
vMCP of the aggregator (``namespace: none``) whose only upstream is the same stdio server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.aggregator import aggregating, write_config
from tests.support.servers import Bridge, bridged
from tests.support.stdio_peers import everything_command, time_command
from tests.support.ts_client import run_ts_client

pytestmark = pytest.mark.slow

MODES = [pytest.param((), id="shared"), pytest.param(("--stateful",), id="stateful")]
TRANSPORTS = ["streamable", "sse"]


@dataclass
class Endpoint:
    """Where a client connects: a bridge, or a vMCP of the aggregator."""

    mcp_url: str
    sse_url: str


def _url(bridge: Bridge | Endpoint, transport: str) -> str:
    return bridge.mcp_url if transport == "streamable" else bridge.sse_url


@pytest.fixture(scope="module", params=[*MODES, pytest.param("vmcp", id="through-a-vmcp")])
def everything_bridge(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "vmcp":
        config = {
            "upstreams": {"everything": {"stdio": everything_command()}},
            "vmcps": {"all": {"namespace": "none"}},
        }
        path = write_config(tmp_path_factory.mktemp("vmcp"), config)
        with aggregating(path) as running:
            running.wait_for({"everything": "up"})
            yield Endpoint(running.url("all"), running.url("all", "sse"))
        return
    with bridged(everything_command(), *request.param) as bridge:
        yield bridge


@pytest.fixture(scope="module", params=TRANSPORTS)
def seen(everything_bridge: Bridge | Endpoint, request: pytest.FixtureRequest) -> dict[str, Any]:
    """What the TS client observed in the ``everything`` scenario over one transport."""
    return run_ts_client(_url(everything_bridge, request.param), request.param, "everything")


def _ok(seen: dict[str, Any], step: str) -> Any:
    value = seen[step]
    assert not (isinstance(value, dict) and "error" in value), f"{step} failed: {value}"
    return value


def test_connects_through_the_bridge(seen: dict[str, Any], everything_bridge: Any) -> None:
    # the bridge passes the server's own initialize through; a vMCP answers as itself
    expected = "all" if isinstance(everything_bridge, Endpoint) else "mcp-servers/everything"
    assert seen["serverInfo"]["name"] == expected
    if seen["transport"] == "streamable":
        # The bridge's own session id, not the child's (stdio has none).
        assert isinstance(seen["sessionId"], str)
        assert len(seen["sessionId"]) >= 16


def test_tools_list_and_call(seen: dict[str, Any], everything_bridge: Any) -> None:
    tools = _ok(seen, "tools")
    for name in ("echo", "get-sum", "trigger-long-running-operation", "toggle-simulated-logging"):
        assert name in tools
    # Registered by the child only after it saw the client's sampling/elicitation capabilities.
    assert "trigger-sampling-request" in tools
    assert "trigger-elicitation-request" in tools
    assert _ok(seen, "echo") == ["Echo: hello bridge"]
    assert _ok(seen, "sum") == ["The sum of 2 and 40 is 42."]
    if isinstance(everything_bridge, Endpoint):
        # a vMCP refuses a name outside its selection itself, as the issue asks: -32602
        assert seen["unknownTool"]["code"] == -32602
        assert "Unknown tool: no-such-tool" in seen["unknownTool"]["error"]
    else:
        assert _ok(seen, "unknownTool")["isError"] is True
        assert "no-such-tool" in seen["unknownTool"]["text"][0]


def test_resources(seen: dict[str, Any]) -> None:
    assert "demo://resource/static/document/features.md" in _ok(seen, "resources")
    assert _ok(seen, "templates") == [
        "demo://resource/dynamic/text/{resourceId}",
        "demo://resource/dynamic/blob/{resourceId}",
    ]
    (content,) = _ok(seen, "read")
    assert content["uri"] == "demo://resource/dynamic/text/7"
    assert content["text"].startswith("Resource 7: This is a plaintext resource")


def test_prompts(seen: dict[str, Any]) -> None:
    assert _ok(seen, "prompts") == [
        "simple-prompt",
        "args-prompt",
        "completable-prompt",
        "resource-prompt",
    ]
    assert _ok(seen, "prompt") == ["What's weather in Lyon, Rhone?"]


def test_progress_notifications(seen: dict[str, Any]) -> None:
    progress = _ok(seen, "progress")
    assert progress["text"] == ["Long running operation completed. Duration: 1 seconds, Steps: 4."]
    if seen["transport"] == "streamable":
        assert progress["progress"] == [[1, 4], [2, 4], [3, 4], [4, 4]]
    else:
        # server-everything served directly over legacy SSE shows the same: the TS client
        # drops the last step, which lands after the result. Order and values must hold.
        assert progress["progress"] in ([[1, 4], [2, 4], [3, 4]], [[1, 4], [2, 4], [3, 4], [4, 4]])


def test_logging_notifications(seen: dict[str, Any]) -> None:
    logging = _ok(seen, "logging")
    assert logging["started"][0].startswith("Started simulated, random-leveled logging")
    assert logging["logs"], "no notifications/message reached the client within 4 s"
    levels = {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}
    for entry in logging["logs"]:
        assert entry["level"] in levels
        assert "message" in entry["data"]


def test_sampling_round_trip(seen: dict[str, Any]) -> None:
    sampling = _ok(seen, "sampling")
    assert sampling["asked"] == ["Resource trigger-sampling-request context: what is 6x7"]
    result = json.loads(sampling["text"][0].split("\n", 1)[1])
    assert result == {
        "model": "model-A",
        "role": "assistant",
        "content": {"type": "text", "text": "sampled-by-A"},
    }


def test_elicitation_round_trip(seen: dict[str, Any]) -> None:
    elicitation = _ok(seen, "elicitation")
    assert elicitation["asked"] == ["Please provide inputs for the following fields:"]
    assert elicitation["text"][0] == "✅ User provided the requested information!"
    assert "- Name: Ada A" in elicitation["text"][1]
    assert "- Favorite Integer: 7" in elicitation["text"][1]


def test_cancellation(seen: dict[str, Any]) -> None:
    cancel = _ok(seen, "cancel")
    # The 4 s operation was aborted after 300 ms: the client gives up at once ...
    assert "rejected" in cancel, cancel
    assert "test cancels" in cancel["rejected"]
    assert cancel["elapsedMs"] < 2000
    # ... and the session keeps serving right after.
    assert cancel["pingMs"] < 2000
    assert cancel["after"] == ["Echo: after cancel"]


def test_resource_subscription_updates(seen: dict[str, Any]) -> None:
    subscription = _ok(seen, "subscription")
    assert subscription["updated"], "no notifications/resources/updated within 4 s"
    assert set(subscription["updated"]) == {"demo://resource/static/document/features.md"}


def test_terminated_session_is_gone(seen: dict[str, Any]) -> None:
    if seen["transport"] == "sse":
        assert seen["terminate"] is None  # the legacy transport has no DELETE
        return
    terminate = _ok(seen, "terminate")
    assert terminate == {"status": 404, "cleared": True}


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param((), id="shared"),
        pytest.param(("--stateful",), id="stateful"),
    ],
)
def test_two_clients_get_their_own_sampling_and_progress(mode: tuple[str, ...]) -> None:
    with bridged(everything_command(), *mode) as bridge:
        seen = run_ts_client(bridge.mcp_url, "streamable", "pair")
    assert seen["sessionIds"][0] != seen["sessionIds"][1]
    # Progress tokens are per client: each sees only its own operation's steps.
    assert _ok(seen["A"], "progress") == [[1, 2], [2, 2]]
    assert _ok(seen["B"], "progress") == [[1, 3], [2, 3], [3, 3]]
    for tag in ("A", "B"):
        assert _ok(seen[tag], "echo") == [f"Echo: I am {tag}"]
        own = f"Resource trigger-sampling-request context: question from {tag}"
        if "--stateful" not in mode and not seen[tag]["askedSampling"]:
            # Shared mode: asked while the other client also had calls in flight, the owner
            # is not certain, so the bridge refused the question instead of guessing.
            assert "cannot be routed" in json.dumps(seen[tag]["sampling"])
            continue
        sampling = _ok(seen[tag], "sampling")
        # Each client's handler was asked exactly its own question, and answered its own call.
        assert seen[tag]["askedSampling"] == sampling["asked"] == [own]
        assert f'"text": "sampled-by-{tag}"' in sampling["text"][0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_mcp_server_time(mode: tuple[str, ...], transport: str) -> None:
    with bridged(time_command(), *mode) as bridge:
        seen = run_ts_client(_url(bridge, transport), transport, "time")
    assert seen["serverInfo"]["name"] == "mcp-time"
    assert _ok(seen, "tools") == ["get_current_time", "convert_time"]
    now = _ok(seen, "now")
    assert now["isError"] is False
    assert json.loads(now["text"][0])["timezone"] == "UTC"
    convert = _ok(seen, "convert")
    assert convert["isError"] is False
    converted = json.loads(convert["text"][0])
    source = datetime.fromisoformat(converted["source"]["datetime"])
    target = datetime.fromisoformat(converted["target"]["datetime"])
    assert (source.hour, source.minute) == (12, 0)
    assert source == target  # the same instant, seen from Paris and from Tokyo
    assert target.utcoffset() == timedelta(hours=9)
    offset = target.utcoffset() - source.utcoffset()  # type: ignore[operator]
    assert converted["time_difference"] == f"+{offset.total_seconds() / 3600:.1f}h"
    bad = _ok(seen, "badZone")
    assert bad["isError"] is True
    assert "Mars/Olympus" in bad["text"][0]


@pytest.mark.parametrize("mode", MODES)
def test_two_clients_answer_only_their_own_elicitation(mode: tuple[str, ...]) -> None:
    # The child's two elicitation/create requests are identical (the tool takes no
    # arguments), so nothing but the bridge's routing decides who answers which.
    with bridged(everything_command(), *mode) as bridge:
        seen = run_ts_client(bridge.mcp_url, "streamable", "pair-elicit")
    for tag in ("A", "B"):
        if "--stateful" not in mode and seen[tag]["asked"] == 0:
            # Shared mode, both calls in flight: refused rather than handed to the wrong client.
            assert "cannot be routed" in json.dumps(seen[tag]["elicitation"])
            continue
        assert seen[tag]["asked"] == 1
        texts = _ok(seen[tag], "elicitation")["text"]
        assert f"- Name: Ada {tag}" in texts[1]
