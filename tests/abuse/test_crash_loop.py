"""A server that cannot start is not restarted forever.

After ``crash_limit`` exits in a row within 10 s of their start, restarting stops: requests get
503 at once, ``/ready`` says why with the server's last stderr lines, and the entry point exits
(the images' loader and ``mcpb run`` with status 75) so the platform's restart policy decides.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mcpb.loader.bridge import StdioBackend, StdioSettings
from mcpb.mcphttp import BackendUnavailableError, HttpSettings, McpHttpApp, SessionTable
from tests.inprocess.asgi_driver import call
from tests.support.fake_child import FakeChild, install
from tests.support.loader_bundles import free_port, loader_env, make_bundle
from tests.support.servers import mcpb_executable

pytestmark = pytest.mark.abuse

FAILING = "import sys; print('error: --db-path is required', file=sys.stderr); sys.exit(2)"


def test_restarting_stops_after_the_crash_limit_and_ready_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(monkeypatch)
    FakeChild.stderr = ["usage: server --db-path PATH", "error: --db-path is required"]
    reasons: list[str] = []

    async def scenario() -> None:
        settings = HttpSettings()
        stdio = StdioSettings(crash_limit=3, restart_backoff_min=0.01, restart_backoff_max=0.02)

        def factory(label: str) -> StdioBackend:
            return StdioBackend(["x"], {}, Path("."), label, stdio, on_gave_up=reasons.append)

        app = McpHttpApp(settings, SessionTable(settings, factory, shared=True))
        FakeChild.exit_at_start = 2
        await app.startup()
        for _ in range(300):
            if reasons:
                break
            await asyncio.sleep(0.01)
        assert len(FakeChild.made) == 3  # the first start and two restarts, then no more
        await asyncio.sleep(0.1)
        assert len(FakeChild.made) == 3
        ready = await call(app, "GET", "/ready")
        assert ready.status == 503
        reason = ready.json()["reason"]
        assert "exited 3 times within 10s" in reason and "last exit code 2" in reason
        assert "--db-path is required" in reason
        assert reasons == [reason]
        backend = app.sessions.shared
        assert isinstance(backend, StdioBackend)
        with pytest.raises(BackendUnavailableError):
            await backend.supervisor.ready_child()  # at once, no 30 s wait
        await app.shutdown()

    asyncio.run(scenario())


def test_mcpb_bridge_exits_with_the_reason() -> None:
    stdio = shlex.join([sys.executable, "-c", FAILING])
    done = subprocess.run(
        [mcpb_executable(), "bridge", "--stdio", stdio, "--port", "0", "--crash-limit", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mcpb: error: the MCP server exited 2 times")
    assert "--db-path is required" in last


def test_the_loader_exits_75_when_the_server_keeps_failing(tmp_path: Path) -> None:
    path, sha = make_bundle(tmp_path / "failing.mcpb", FAILING)
    env = loader_env(
        BUNDLE_URL=str(path),
        BUNDLE_SHA256=sha,
        PORT=str(free_port()),
        MCPB_CACHE_DIR=str(tmp_path / "cache"),
        MCPB_CRASH_LIMIT="2",
    )
    done = subprocess.run(
        [sys.executable, "-m", "mcpb.loader"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 75, done.stderr
    assert "--db-path is required" in done.stderr
