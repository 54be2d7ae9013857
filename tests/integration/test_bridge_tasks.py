"""Tasks through a running ``mcpb bridge`` in front of a real stdio server, over loopback HTTP.

The conformance suite checks the extension's rules (tests/integration/test_conformance_2026.py);
these check the bridge's own switch, ``--task-after``, and a task's whole life with a server
process that sees only 2025-era requests.
"""

from __future__ import annotations

import time

from tests.support.conformance import conformance_server_command
from tests.support.mcp_http import TASKS, modern_post
from tests.support.servers import bridged


def test_a_long_call_becomes_a_task_after_the_delay_given() -> None:
    with bridged(conformance_server_command(), "--task-after", "0.3") as bridge:
        _, discovered = modern_post(bridge.mcp_url, "server/discover", {})
        assert discovered["result"]["capabilities"]["extensions"] == {TASKS: {}}
        _, quick = modern_post(
            bridge.mcp_url,
            "tools/call",
            {"name": "greet", "arguments": {"name": "Ada"}},
            name="greet",
        )
        assert quick["result"]["content"][0]["text"] == "Hello, Ada!"
        arguments = {"seconds": 1.5, "label": "long"}
        started = time.monotonic()
        _, created = modern_post(
            bridge.mcp_url,
            "tools/call",
            {"name": "slow_compute", "arguments": arguments},
            name="slow_compute",
        )
        assert time.monotonic() - started < 1.2  # answered before the work was done
        task_id = created["result"]["taskId"]
        assert created["result"]["resultType"] == "task"
        for _ in range(100):
            status, got = modern_post(
                bridge.mcp_url, "tasks/get", {"taskId": task_id}, name=task_id
            )
            assert status == 200
            if got["result"]["status"] == "completed":
                break
            time.sleep(0.05)
        assert got["result"]["result"]["content"][0]["text"] == "Computed long in 1.5s"


def test_task_after_zero_offers_no_tasks() -> None:
    with bridged(conformance_server_command(), "--task-after", "0") as bridge:
        _, discovered = modern_post(bridge.mcp_url, "server/discover", {})
        assert "extensions" not in discovered["result"]["capabilities"]
        arguments = {"seconds": 1, "label": "sync"}
        _, result = modern_post(
            bridge.mcp_url,
            "tools/call",
            {"name": "slow_compute", "arguments": arguments},
            name="slow_compute",
        )
        assert result["result"]["resultType"] == "complete"
        assert result["result"]["content"][0]["text"] == "Computed sync in 1s"
        status, refused = modern_post(bridge.mcp_url, "tasks/get", {"taskId": "x"}, name="x")
        assert (status, refused["error"]["code"]) == (404, -32601)
