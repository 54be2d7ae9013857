"""A vMCP's tasks belong to the client that made them (the spec's auth binding).

Two API-key clients of one vMCP over a real stdio upstream (the conformance server, which
knows nothing of tasks): one makes a task, the other, knowing its id, is told it does not
exist and cannot cancel it; its owner follows it to the end. ``task_after: null`` in the file
turns the tasks off.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aggregator import Aggregator, aggregating, write_config
from tests.support.conformance import conformance_server_command
from tests.support.mcp_http import modern_post

pytestmark = pytest.mark.slow

OWNER_KEY = "owner-key-0123456789"
OTHER_KEY = "other-key-9876543210"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aggregator]:
    config = {
        "clients": {
            name: {"key_sha256": hashlib.sha256(key.encode()).hexdigest()}
            for name, key in (("owner", OWNER_KEY), ("other", OTHER_KEY))
        },
        "upstreams": {"conf": {"stdio": conformance_server_command()}},
        "vmcps": {"t": {"namespace": "none", "auth": {"keys": ["owner", "other"]}}},
    }
    with aggregating(write_config(tmp_path_factory.mktemp("tasks"), config)) as running:
        running.wait_for({"conf": "up"})
        yield running


def post(gateway: Aggregator, key: str, method: str, params: dict[str, Any], name: str) -> Any:
    authorization = f"Bearer {key}" if key else None
    return modern_post(gateway.url("t"), method, params, name=name, authorization=authorization)


def test_only_the_client_that_made_a_task_sees_it(gateway: Aggregator) -> None:
    arguments = {"seconds": 1.5, "label": "mine"}
    _, created = post(
        gateway,
        OWNER_KEY,
        "tools/call",
        {"name": "slow_compute", "arguments": arguments},
        "slow_compute",
    )
    task_id = created["result"]["taskId"]
    for method in ("tasks/get", "tasks/cancel"):
        status, refused = post(gateway, OTHER_KEY, method, {"taskId": task_id}, task_id)
        assert (status, refused["error"]["code"]) == (400, -32602), method
    for _ in range(100):
        status, got = post(gateway, OWNER_KEY, "tasks/get", {"taskId": task_id}, task_id)
        assert status == 200
        if got["result"]["status"] != "working":
            break
        time.sleep(0.05)
    assert got["result"]["status"] == "completed"  # the other's cancel changed nothing
    assert got["result"]["result"]["content"][0]["text"] == "Computed mine in 1.5s"


def test_task_after_null_offers_no_tasks(tmp_path: Path) -> None:
    config = {
        "task_after": None,
        "upstreams": {"conf": {"stdio": conformance_server_command()}},
        "vmcps": {"t": {"namespace": "none"}},
    }
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"conf": "up"})
        arguments = {"seconds": 1, "label": "sync"}
        status, result = post(
            running,
            "",
            "tools/call",
            {"name": "slow_compute", "arguments": arguments},
            "slow_compute",
        )
        assert status == 200 and result["result"]["resultType"] == "complete"
        status, refused = post(running, "", "tasks/get", {"taskId": "x"}, "x")
        assert (status, refused["error"]["code"]) == (404, -32601)
