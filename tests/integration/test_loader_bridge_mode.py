"""The loader's bridge mode: ``MCPB_BRIDGE_MODE`` / ``mcpb run --bridge-mode`` and session limits.

Real ``mcpb run`` processes serving a packed bundle of the stdlib echo server (its ``pid`` tool
names the process that answered), real MCP SDK clients. Shared mode answers every session from
one child; stateful mode gives each session its own child, within ``--max-sessions``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from mcp import Client

from mcpb.bundle.errors import UsageError
from mcpb.loader.config import from_env
from mcpb.loader.run import exit_code_for
from tests.support.loader_bundles import (
    free_port,
    loader_env,
    make_bundle,
    reap,
    start_loader,
    wait_http,
)
from tests.support.mcp_http import headers, initialize_body
from tests.support.servers import ECHO_SERVER, descendants

MCPB = str(Path(sys.executable).parent / "mcpb")
BASE = {"BUNDLE_URL": "/b.mcpb", "BUNDLE_SHA256": "a" * 64}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mode") / "echo.mcpb"
    path, _ = make_bundle(out, ECHO_SERVER.read_text())
    return path


async def _pids(url: str, sessions: int, loader: int) -> tuple[list[str], set[int]]:
    """``pid`` from ``sessions`` clients connected at once, and the loader's process tree then."""
    async with AsyncExitStack() as stack:
        clients = [  # sessions (2026-07-28 has none): the handshake era
            await stack.enter_async_context(Client(url, mode="legacy")) for _ in range(sessions)
        ]
        results = [await client.call_tool("pid", {}) for client in clients]
        echoed = await clients[0].call_tool("echo", {"word": "hi"})
        assert '"word": "hi"' in str(echoed.content[0].text)  # type: ignore[union-attr]
        tree = set(descendants(loader))
        return [str(r.content[0].text) for r in results], tree  # type: ignore[union-attr]


def _serve(
    bundle: Path, tmp_path: Path, *flags: str, **env: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [MCPB, "run", str(bundle), "--port", str(port), "--cache-dir", str(tmp_path), *flags]
    proc = start_loader(loader_env(**env), *argv)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/ready", proc)
    return proc, base


def test_default_is_shared_one_child_for_every_session(bundle: Path, tmp_path: Path) -> None:
    proc, base = _serve(bundle, tmp_path)
    try:
        pids, tree = asyncio.run(asyncio.wait_for(_pids(f"{base}/mcp", 2, proc.pid), 30))
        assert pids[0] == pids[1]
        assert int(pids[0]) in tree
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
        reap(proc)


def test_env_stateful_gives_two_sessions_two_children(bundle: Path, tmp_path: Path) -> None:
    proc, base = _serve(bundle, tmp_path, MCPB_BRIDGE_MODE="stateful")
    try:
        pids, tree = asyncio.run(asyncio.wait_for(_pids(f"{base}/mcp", 2, proc.pid), 30))
        assert pids[0] != pids[1]
        assert {int(p) for p in pids} <= tree
        # The clients ended their sessions (DELETE): both children are stopped and reaped.
        deadline = time.monotonic() + 10
        while {int(p) for p in pids} & set(descendants(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not {int(p) for p in pids} & set(descendants(proc.pid))
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
        reap(proc)


def test_flag_wins_over_env_and_limits_sessions(bundle: Path, tmp_path: Path) -> None:
    flags = ("--bridge-mode", "stateful", "--max-sessions", "1", "--session-timeout", "30")
    proc, base = _serve(bundle, tmp_path, *flags, MCPB_BRIDGE_MODE="shared")
    try:
        # Stateful despite MCPB_BRIDGE_MODE=shared: no child until a session asks for one.
        assert descendants(proc.pid) == []
        with httpx.Client(timeout=15) as http:
            first = http.post(f"{base}/mcp", json=initialize_body(), headers=headers(version=None))
            assert first.status_code == 200
            assert len(descendants(proc.pid)) == 1  # the session's own child
            second = http.post(f"{base}/mcp", json=initialize_body(), headers=headers(version=None))
            assert second.status_code == 503
            assert "limit is 1" in second.text
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0
        reap(proc)


@pytest.mark.parametrize(
    ("env", "mode", "limit", "timeout"),
    [
        ({}, "shared", 1000, 600.0),
        ({"MCPB_BRIDGE_MODE": "Stateful"}, "stateful", 64, 600.0),
        ({"MCPB_BRIDGE_MODE": "stateful", "MCPB_MAX_SESSIONS": "8"}, "stateful", 8, 600.0),
        ({"MCPB_SESSION_TIMEOUT": "0"}, "shared", 1000, None),
        ({"MCPB_SESSION_TIMEOUT": "never"}, "shared", 1000, None),
        ({"MCPB_SESSION_TIMEOUT": "2.5"}, "shared", 1000, 2.5),
    ],
)
def test_env_parsing(env: dict[str, str], mode: str, limit: int, timeout: float | None) -> None:
    config = from_env({**BASE, **env})
    assert (config.bridge_mode, config.session_limit, config.session_timeout) == (
        mode,
        limit,
        timeout,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MCPB_BRIDGE_MODE": "stateless"}, "MCPB_BRIDGE_MODE: expected shared or stateful"),
        ({"MCPB_MAX_SESSIONS": "0"}, "MCPB_MAX_SESSIONS: expected at least 1"),
        ({"MCPB_MAX_SESSIONS": "many"}, "MCPB_MAX_SESSIONS: expected a whole number"),
        ({"MCPB_SESSION_TIMEOUT": "-5"}, "MCPB_SESSION_TIMEOUT: expected idle seconds"),
        ({"MCPB_SESSION_TIMEOUT": "nan"}, "MCPB_SESSION_TIMEOUT: expected idle seconds"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        from_env({**BASE, **env})
    assert str(err.value.message).startswith(message)
    assert "\n" not in err.value.message
    assert exit_code_for(err.value) == 64


def test_loader_refuses_a_bad_mode_before_fetching(tmp_path: Path) -> None:
    env = loader_env(
        BUNDLE_URL=str(tmp_path / "absent.mcpb"),
        BUNDLE_SHA256="a" * 64,
        MCPB_BRIDGE_MODE="both",
        MCPB_CACHE_DIR=str(tmp_path / "cache"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "mcpb.loader"], env=env, capture_output=True, timeout=30
    )
    assert done.returncode == 64
    assert "MCPB_BRIDGE_MODE: expected shared or stateful, got 'both'" in done.stderr.decode()
    assert not (tmp_path / "cache").exists()
