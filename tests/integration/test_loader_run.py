"""``mcpb run`` end to end: a packed stdio bundle behind the bridge, called by the MCP client."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client

from tests.support.faulty_http import FaultyServer, faulty_server
from tests.support.loader_bundles import (
    STDIO_SERVER,
    free_port,
    loader_env,
    make_bundle,
    reap,
    start_loader,
    wait_http,
)

MCPB = str(Path(sys.executable).parent / "mcpb")


async def echo(url: str, text: str) -> str:
    async with Client(url) as client:
        result = await client.call_tool("echo", {"text": text})
        return str(result.content[0].text)  # type: ignore[union-attr]


def test_mcpb_run_serves_a_stdio_bundle(tmp_path: Path) -> None:
    path, _ = make_bundle(tmp_path / "hello.mcpb", STDIO_SERVER)
    port = free_port()
    cache = tmp_path / "cache"
    argv = [MCPB, "run", str(path), "--port", str(port), "--cache-dir", str(cache)]
    env = loader_env(PORT="1234", MCPB_LOG_LEVEL="INFO", KEEP_ME="kept")
    proc = start_loader(env, *argv, "--user-config", "greeting=yo")

    async def environment() -> list[str]:
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            got = []
            for name in ("PORT", "MCPB_LOG_LEVEL", "KEEP_ME", "GREETING"):
                result = await client.call_tool("getenv", {"name": name})
                got.append(str(result.content[0].text))  # type: ignore[union-attr]
            return got

    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc)
        answer = asyncio.run(asyncio.wait_for(echo(f"http://127.0.0.1:{port}/mcp", "abc"), 30))
        assert answer == "yo:abc"
        # the loader's own settings stay out of the server's environment, the rest is inherited
        seen = asyncio.run(asyncio.wait_for(environment(), 30))
        assert seen == ["<unset>", "<unset>", "kept", "yo"]
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=15) == 0
    finally:
        reap(proc)
    # a second run of the same file starts from the cache: no re-extraction
    trees = list((cache / "trees").iterdir())
    assert len(trees) == 1
    stamp = trees[0].stat().st_mtime_ns
    port = free_port()
    proc = start_loader(loader_env(), MCPB, "run", str(path), "--port", str(port),
                        "--cache-dir", str(cache))  # fmt: skip
    try:
        started = time.monotonic()
        wait_http(f"http://127.0.0.1:{port}/ready", proc)
        ready_after = time.monotonic() - started
        answer = asyncio.run(asyncio.wait_for(echo(f"http://127.0.0.1:{port}/mcp", "x"), 30))
        assert answer == "hi:x"  # the manifest default
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        reap(proc)
    assert trees[0].stat().st_mtime_ns == stamp
    assert ready_after < 10


def test_mcpb_run_wrong_sha256_exits_65(tmp_path: Path) -> None:
    path, _ = make_bundle(tmp_path / "hello.mcpb", STDIO_SERVER)
    cache = tmp_path / "cache"
    proc = start_loader(
        loader_env(), MCPB, "run", str(path), "--sha256", "1" * 64, "--cache-dir", str(cache)
    )
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 65
    assert "SHA256 mismatch" in out
    assert not (cache / "trees").exists() or list((cache / "trees").iterdir()) == []


@pytest.mark.parametrize("flag", [[], ["--allow-unverified"]])
def test_mcpb_run_url_needs_sha256(tmp_path: Path, flag: list[str]) -> None:
    path, _ = make_bundle(tmp_path / "hello.mcpb", STDIO_SERVER)
    port = free_port()
    with faulty_server(FaultyServer(path.read_bytes())) as srv:
        argv = [MCPB, "run", srv.url, "--port", str(port), "--cache-dir", str(tmp_path / "c")]
        proc = start_loader(loader_env(), *argv, *flag)
        try:
            if not flag:
                out = proc.communicate(timeout=30)[0].decode()
                assert proc.returncode == 64
                assert "SHA-256 is required" in out
                assert srv.requests == []
            else:
                wait_http(f"http://127.0.0.1:{port}/ready", proc)
                proc.send_signal(signal.SIGTERM)
                out = proc.communicate(timeout=15)[0].decode()
                assert proc.returncode == 0
                assert "WITHOUT checking its SHA-256" in out
        finally:
            reap(proc)


@pytest.mark.slow
def test_mcpb_build_then_mcpb_run_hello_python(tmp_path: Path) -> None:
    """The issue's end to end: `mcpb build examples/hello-python`, then `mcpb run` it with a
    Python that does not have the SDK installed: the bundle's vendored copy must be used."""
    repo = Path(__file__).resolve().parents[2]
    venv_bin = str(Path(sys.executable).parent)
    built = subprocess.run(
        [MCPB, "build", str(repo / "examples" / "hello-python"), "-p", "linux/amd64",
         "--python", f"{sys.version_info.major}.{sys.version_info.minor}",
         "-o", str(tmp_path / "dist")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    [bundle] = (tmp_path / "dist").glob("hello-python-v*-linux-amd64.mcpb")
    sums = (tmp_path / "dist" / "SHA256SUMS").read_text().split()
    sha = sums[sums.index(bundle.name) - 1]
    env = loader_env()
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    env.pop("VIRTUAL_ENV", None)
    port = free_port()
    argv = [MCPB, "run", str(bundle), "--sha256", sha, "--port", str(port)]
    proc = start_loader(env, *argv, "--cache-dir", str(tmp_path / "c"), "--user-config",
                        "greeting=salut")  # fmt: skip

    async def call() -> tuple[str, str]:
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            hello = await client.call_tool("greet", {"name": "bob"})
            info = await client.call_tool("runtime_info", {})
            return str(hello.content[0].text), str(info.content[0].text)  # type: ignore[union-attr]

    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc, timeout=60)
        hello, info = asyncio.run(asyncio.wait_for(call(), 30))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        reap(proc)
    assert hello == "Hello, bob!"
    assert '"greeting": "salut"' in info
