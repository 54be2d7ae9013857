"""The official MCP conformance suite (npm ``@modelcontextprotocol/conformance``) as a test client.

It needs Node 22 (``fs.globSync``); Debian's node may be older, so a Node 22 binary comes from
the npm package ``node-linux-<arch>@22`` through the machine's configured npm registry.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.npm import npm_package

SUITE_2025 = "@modelcontextprotocol/conformance@0.1.16"
#: The prerelease carrying the 2026-07-28 server scenarios and its frozen requirement set.
SUITE_2026 = "@modelcontextprotocol/conformance@0.2.0-alpha.12"
SERVER = Path(__file__).resolve().parent / "conformance_server.py"
_TOTAL = re.compile(r"^Total: (\d+) passed, (\d+) failed$", re.M)
_SCENARIO = re.compile(r"^([✓✗]) ([\w-]+): (\d+) passed, (\d+) failed$", re.M)


def conformance_server_command() -> str:
    """The stdio conformance server (stdlib only) as a command line."""
    return f"{sys.executable} -I -S {SERVER}"


def node22() -> Path:
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x64"
    spec = f"node-linux-{arch}@22"
    path = npm_package(spec) / "node_modules" / f"node-linux-{arch}" / "bin" / "node"
    if not path.exists():
        raise RuntimeError(f"{spec} has no bin/node")
    return path


@dataclass
class SuiteResult:
    passed: int
    failed: int
    scenarios: dict[str, tuple[int, int]]
    output: str


def _entry(spec: str) -> Path:
    return npm_package(spec) / "node_modules" / "@modelcontextprotocol" / "conformance"


@dataclass
class Check:
    """One check of one scenario, as the suite wrote it to ``checks.json``."""

    scenario: str
    id: str
    status: str
    message: str


def run_requirements(url: str, revision: str, *, timeout: float = 600) -> list[Check]:
    """The frozen requirement set of ``revision`` (pending scenarios included) against ``url``;
    every check of every scenario, read from the results the suite saves."""
    with tempfile.TemporaryDirectory(prefix="conformance-") as out:
        subprocess.run(
            [
                str(node22()),
                str(_entry(SUITE_2026) / "dist" / "index.js"),
                "server",
                "--url",
                url,
                "--requirements",
                revision,
                "-o",
                out,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=out,
        )
        checks = []
        for path in sorted(Path(out).glob("*/checks.json")):
            scenario = re.sub(r"^server-|-\d{4}-\d\d-\d\dT.*$", "", path.parent.name)
            for item in json.loads(path.read_text()):
                text = str(item.get("errorMessage") or "")
                checks.append(Check(scenario, str(item["id"]), str(item["status"]), text))
    if not checks:
        raise AssertionError(f"the suite saved no results for {url}")
    return checks


def run_suite(url: str, *, spec: str = SUITE_2025, timeout: float = 240) -> SuiteResult:
    """Every server scenario (``--suite all``, pending ones included) against ``url``."""
    completed = subprocess.run(
        [
            str(node22()),
            str(_entry(spec) / "dist" / "index.js"),
            "server",
            "--suite",
            "all",
            "--url",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = completed.stdout + completed.stderr
    total = _TOTAL.search(output)
    if total is None:
        raise AssertionError(f"the suite printed no total (exit {completed.returncode}):\n{output}")
    scenarios = {m.group(2): (int(m.group(3)), int(m.group(4))) for m in _SCENARIO.finditer(output)}
    return SuiteResult(int(total.group(1)), int(total.group(2)), scenarios, output)
