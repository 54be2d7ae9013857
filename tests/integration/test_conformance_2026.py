"""The official conformance suite's 2026-07-28 requirement set against the bridge and a vMCP.

Both stand in front of a stdio server of the handshake era (the project's conformance
server), so every 2026-07-28 check tests the translation: discover, the request checks and
headers, result shapes and caching hints, listen, questions turned into ``input_required``
results, and the ``tasks`` extension the transport offers for a server that knows nothing of
tasks. Every scenario of the frozen set runs, the pending ones included; the one check the
suite itself skips (``tasks-status-notifications``, whose harness it has not rewritten for
listen streams) is covered by tests/inprocess/test_modern_tasks.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.aggregator import aggregating, write_config
from tests.support.conformance import Check, conformance_server_command, run_requirements
from tests.support.servers import bridged

pytestmark = [pytest.mark.slow, pytest.mark.interop]

#: Scenarios in the frozen 2026-07-28 set of 0.2.0-alpha.12 (pending and tasks included).
SCENARIOS = 50
#: Checks that a full pass yields; fewer means scenarios stopped early.
CHECKS_OUTSIDE_TASKS = 150
CHECKS_IN_TASKS = 44
#: What the suite skips for every server (its harness for it is not written yet).
SKIPPED_BY_THE_SUITE = {("tasks-status-notifications", "tasks-status-notifications")}


def assert_clean(checks: list[Check]) -> None:
    scenarios = {check.scenario for check in checks}
    assert len(scenarios) == SCENARIOS, sorted(scenarios)
    bad = [
        f"{c.scenario} {c.id} {c.status}: {c.message[:300]}"
        for c in checks
        if c.status not in ("SUCCESS", "INFO") and (c.scenario, c.id) not in SKIPPED_BY_THE_SUITE
    ]
    assert bad == []
    passed = [check for check in checks if check.status == "SUCCESS"]
    in_tasks = [check for check in passed if check.scenario.startswith("tasks-")]
    assert len(passed) - len(in_tasks) >= CHECKS_OUTSIDE_TASKS, len(passed) - len(in_tasks)
    assert len(in_tasks) >= CHECKS_IN_TASKS, len(in_tasks)


@pytest.mark.parametrize("mode", ["shared", "stateful"])
def test_the_bridge_meets_the_2026_requirements(mode: str) -> None:
    args = ("--stateful",) if mode == "stateful" else ()
    with bridged(conformance_server_command(), *args) as bridge:
        assert_clean(run_requirements(bridge.mcp_url, "2026-07-28"))


def test_a_vmcp_meets_the_2026_requirements(tmp_path: Path) -> None:
    config = {
        "upstreams": {"conf": {"stdio": conformance_server_command()}},
        "vmcps": {"conf": {"namespace": "none"}},
    }
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"conf": "up"})
        assert_clean(run_requirements(running.url("conf"), "2026-07-28"))
