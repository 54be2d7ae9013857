"""The official conformance suite (0.1.16, every server scenario) through a vMCP.

The upstream is a stdio server offering what the suite calls; the vMCP serves it with
``namespace: none`` so the suite's fixed names reach it. The same suite against the bridge
in front of the same server is the baseline: the aggregator hop must lose nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.aggregator import aggregating, write_config
from tests.support.conformance import conformance_server_command, run_suite
from tests.support.servers import bridged

pytestmark = [pytest.mark.slow, pytest.mark.interop]

#: Scenarios of the 2025 suite 0.1.16, pending ones included.
SCENARIOS = 32


def assert_clean(result) -> None:
    failing = {name: counts for name, counts in result.scenarios.items() if counts[1]}
    assert failing == {}, result.output[-4000:]
    assert result.failed == 0
    assert len(result.scenarios) == SCENARIOS, sorted(result.scenarios)
    assert result.passed >= 43  # a scenario that aborts early passes fewer checks


def test_the_bridge_passes_every_scenario_in_front_of_the_conformance_server() -> None:
    with bridged(conformance_server_command()) as bridge:
        assert_clean(run_suite(bridge.mcp_url))


def test_a_vmcp_passes_every_scenario(tmp_path: Path) -> None:
    config = {
        "upstreams": {"conf": {"stdio": conformance_server_command()}},
        "vmcps": {"conf": {"namespace": "none"}},
    }
    with aggregating(write_config(tmp_path, config)) as running:
        running.wait_for({"conf": "up"})
        assert_clean(run_suite(running.url("conf")))
