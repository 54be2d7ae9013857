"""Run ``client.mjs`` (the official MCP TypeScript SDK client) and return what it printed.

The SDK version comes from this folder's ``package.json`` and is installed once into
``.cache/npm`` by :func:`tests.support.npm.npm_package`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.npm import npm_package
from tests.support.stdio_peers import node_executable

HERE = Path(__file__).resolve().parent
CLIENT = HERE / "client.mjs"


def sdk_spec() -> str:
    """``@modelcontextprotocol/sdk@VERSION`` as pinned in package.json."""
    deps = json.loads((HERE / "package.json").read_text())["dependencies"]
    return f"@modelcontextprotocol/sdk@{deps['@modelcontextprotocol/sdk']}"


def run_ts_client(url: str, transport: str, scenario: str, timeout: float = 90) -> dict[str, Any]:
    """Run one scenario (everything, pair, time) over ``streamable`` or ``sse``; its JSON."""
    env = {**os.environ, "MCPB_TS_NODE_PREFIX": str(npm_package(sdk_spec()))}
    argv = [node_executable(), str(CLIENT), "--url", url, "--transport", transport]
    done = subprocess.run(
        [*argv, "--scenario", scenario], env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"client.mjs failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if "fatal" in result:
        raise RuntimeError(f"client.mjs {scenario} over {transport}: {result['fatal']}")
    return result
