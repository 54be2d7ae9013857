"""``mcpb run`` end to end: a packed stdio bundle behind the bridge, called by the MCP client."""

from __future__ import annotations

import asyncio
import signal
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
    proc = start_loader(loader_env(), *argv, "--user-config", "greeting=yo")
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc)
        answer = asyncio.run(asyncio.wait_for(echo(f"http://127.0.0.1:{port}/mcp", "abc"), 30))
        assert answer == "yo:abc"
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
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
        if proc.poll() is None:
            proc.kill()
            proc.wait()
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
            if proc.poll() is None:
                proc.kill()
                proc.wait()
