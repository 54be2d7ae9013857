"""``python -m mcpb.loader`` as a real process: proxying, signals, reaping, exit codes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mcp import Client

from tests.support.faulty_http import FaultyServer, faulty_server
from tests.support.loader_bundles import (
    HTTP_SERVER,
    PROCESS_SERVER,
    free_port,
    loader_env,
    make_bundle,
    manifest,
    reap,
    start_loader,
    wait_http,
)


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def read_pids(path: Path, timeout: float = 20) -> dict[str, int]:
    assert wait_for(path.exists, timeout), "server never wrote its pids"
    data: dict[str, int] = json.loads(path.read_text())
    return data


@pytest.fixture
def process_bundle(tmp_path: Path) -> tuple[Path, str]:
    return make_bundle(tmp_path / "proc.mcpb", PROCESS_SERVER, transport="streamable-http")


def process_env(tmp_path: Path, bundle: tuple[Path, str], port: int, **extra: str):
    path, sha = bundle
    values = {
        "BUNDLE_URL": str(path),
        "BUNDLE_SHA256": sha,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "MCPB_CACHE_DIR": str(tmp_path / "cache"),
        "PIDS_FILE": str(tmp_path / "pids.json"),
    }
    values.update(extra)
    return loader_env(**values)


def pack_http_bundle(tmp_path: Path) -> tuple[Path, str]:
    """`mcpb pack` a directory whose manifest declares the transport in our _meta record."""
    src = tmp_path / "src"
    (src / "server").mkdir(parents=True)
    (src / "server" / "main.py").write_text(HTTP_SERVER)
    data = manifest(_meta={"io.github.mcpb-toolchain": {"transport": "streamable-http"}})
    (src / "manifest.json").write_text(json.dumps(data))
    out = tmp_path / "http.mcpb"
    mcpb = str(Path(sys.executable).parent / "mcpb")
    packed = subprocess.run([mcpb, "pack", str(src), str(out)], capture_output=True, text=True)
    assert packed.returncode == 0, packed.stderr
    return out, hashlib.sha256(out.read_bytes()).hexdigest()


def test_http_bundle_is_proxied_with_health_and_ready(tmp_path: Path) -> None:
    path, sha = pack_http_bundle(tmp_path)
    port = free_port()
    env = loader_env(
        BUNDLE_URL=path.as_uri(),
        BUNDLE_SHA256=sha,
        PORT=str(port),
        HOST="127.0.0.1",
        MCPB_CACHE_DIR=str(tmp_path / "cache"),
        MCPB_USER_CONFIG_GREETING="hey",
    )
    proc = start_loader(env)
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            assert (resp.status, resp.read()) == (200, b"ok")  # the one /health body

        async def call() -> str:
            url = f"http://127.0.0.1:{port}/mcp"
            async with Client(url) as client, Client(url, mode="legacy") as legacy:
                # The SDK server speaks 2026-07-28 itself: the proxy passes its requests (the
                # routing headers the server checks included) through untouched.
                assert client.protocol_version == "2026-07-28"
                assert legacy.protocol_version == "2025-11-25"
                tools = await client.list_tools()
                assert [t.name for t in tools.tools] == ["echo"]
                assert [t.name for t in (await legacy.list_tools()).tools] == ["echo"]
                result = await client.call_tool("echo", {"text": "abc"})
                return str(result.content[0].text)  # type: ignore[union-attr]

        text = asyncio.run(asyncio.wait_for(call(), 30))
        greeting, echoed, internal = text.split(":")
        assert (greeting, echoed) == ("hey", "abc")  # MCPB_USER_CONFIG_GREETING reached the env
        assert int(internal) != port  # the server listened on its own internal port
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        reap(proc)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_stops_the_whole_tree(
    tmp_path: Path, process_bundle: tuple[Path, str], sig: signal.Signals
) -> None:
    port = free_port()
    proc = start_loader(process_env(tmp_path, process_bundle, port, MCPB_STOP_GRACE="5"))
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc)
        pids = read_pids(tmp_path / "pids.json")
        assert alive(pids["server"])
        assert alive(pids["grandchild"])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as resp:
            assert resp.read() == b"pong"  # proxied to the bundle's own server
        started = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        reap(proc)
    assert code == 0
    assert elapsed < 5  # within the grace period: the server honoured SIGTERM
    for name in ("server", "grandchild", "orphan"):
        assert not exists(pids[name]), f"{name} {pids[name]} survived"


def test_server_ignoring_sigterm_is_killed_after_grace(
    tmp_path: Path, process_bundle: tuple[Path, str]
) -> None:
    port = free_port()
    env = process_env(tmp_path, process_bundle, port, MCPB_STOP_GRACE="1", MODE="ignore-term")
    proc = start_loader(env)
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc)
        pids = read_pids(tmp_path / "pids.json")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        reap(proc)
    assert code == 0
    assert 0.9 <= elapsed < 4  # waited the 1 s grace, then SIGKILL
    assert not exists(pids["server"])
    assert not exists(pids["grandchild"])


def test_orphans_are_reparented_and_reaped(
    tmp_path: Path, process_bundle: tuple[Path, str]
) -> None:
    port = free_port()
    proc = start_loader(process_env(tmp_path, process_bundle, port))
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc)
        orphan = read_pids(tmp_path / "pids.json")["orphan"]
        # its shell parent is gone: the orphan now belongs to the loader (subreaper)
        assert exists(orphan)
        assert ppid(orphan) == proc.pid
        # it exits after 1.5 s; the loader must reap it: no zombie left behind
        assert wait_for(lambda: not exists(orphan), 10), "orphan left as a zombie"
        assert proc.poll() is None  # the loader keeps serving
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_server_exit_code_is_the_loaders(tmp_path: Path, process_bundle: tuple[Path, str]) -> None:
    proc = start_loader(process_env(tmp_path, process_bundle, free_port(), MODE="exit-3"))
    assert proc.wait(timeout=30) == 3


def test_digest_mismatch_exits_65_and_extracts_nothing(
    tmp_path: Path, process_bundle: tuple[Path, str]
) -> None:
    env = process_env(tmp_path, process_bundle, free_port(), BUNDLE_SHA256="0" * 64)
    proc = start_loader(env)
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 65
    assert "SHA256 mismatch" in out
    trees = tmp_path / "cache" / "trees"
    assert not trees.exists() or list(trees.iterdir()) == []
    assert not (tmp_path / "pids.json").exists()


def test_config_errors_exit_64_before_any_fetch(tmp_path: Path) -> None:
    with faulty_server(FaultyServer(b"x")) as srv:
        env = loader_env(BUNDLE_URL=srv.url, MCPB_CACHE_DIR=str(tmp_path / "c"))
        proc = start_loader(env)
        out = proc.communicate(timeout=30)[0].decode()
        assert srv.requests == []
    assert proc.returncode == 64
    assert "BUNDLE_SHA256 is not set" in out
    bad_port = loader_env(BUNDLE_URL="x.mcpb", BUNDLE_SHA256="a" * 64, PORT="http")
    proc = start_loader(bad_port)
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 64
    assert "PORT" in out


def test_fetch_failure_exits_69_naming_the_url(tmp_path: Path) -> None:
    with faulty_server(FaultyServer(b"x", plan=["404"])) as srv:
        env = loader_env(
            BUNDLE_URL=srv.url, BUNDLE_SHA256="a" * 64, MCPB_CACHE_DIR=str(tmp_path / "c")
        )
        proc = start_loader(env)
        out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 69
    assert f"{srv.url}: HTTP 404" in out


def test_incompatible_bundle_exits_67(tmp_path: Path) -> None:
    other = "linux/arm64" if os.uname().machine == "x86_64" else "linux/amd64"
    path, sha = make_bundle(tmp_path / "o.mcpb", PROCESS_SERVER, platform=other)
    env = loader_env(BUNDLE_URL=str(path), BUNDLE_SHA256=sha, MCPB_CACHE_DIR=str(tmp_path / "c"))
    proc = start_loader(env)
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 67
    assert f"built for {other}" in out


def test_unknown_user_config_key_exits_78(tmp_path: Path, process_bundle) -> None:
    env = process_env(tmp_path, process_bundle, free_port(), MCPB_USER_CONFIG_GREETNG="typo")
    proc = start_loader(env)
    out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 78
    assert "MCPB_USER_CONFIG_GREETNG" in out
    assert not (tmp_path / "pids.json").exists()


def test_sigterm_during_download_cleans_up_and_exits_0(tmp_path: Path) -> None:
    path, sha = make_bundle(tmp_path / "b.mcpb", PROCESS_SERVER)
    with faulty_server(FaultyServer(path.read_bytes(), plan=["stall"], stall=5)) as srv:
        cache = tmp_path / "cache"
        env = loader_env(BUNDLE_URL=srv.url, BUNDLE_SHA256=sha, MCPB_CACHE_DIR=str(cache))
        proc = start_loader(env)
        assert wait_for(lambda: len(srv.requests) == 1, 20)  # the download is under way
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 3
    for sub in ("bundles", "trees", "staging"):
        assert [p.name for p in (cache / sub).iterdir()] == [], sub


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if ppid(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_as_pid1_in_a_pid_namespace(tmp_path: Path, process_bundle: tuple[Path, str]) -> None:
    """The real container situation: the loader is PID 1 of its PID namespace."""
    probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a PID namespace here: {probe.stderr.decode().strip()}")
    port = free_port()
    env = process_env(tmp_path, process_bundle, port)
    proc = start_loader(env, "unshare", "--pid", "--fork", sys.executable, "-m", "mcpb.loader")
    try:
        wait_http(f"http://127.0.0.1:{port}/ready", proc)
        [loader] = children_of(proc.pid)
        nspid = Path(f"/proc/{loader}/status").read_text().split("NSpid:")[1].split("\n")[0]
        assert nspid.split()[-1] == "1"  # PID 1 inside its namespace
        read_pids(tmp_path / "pids.json")
        # the orphaned `sleep` was re-parented to PID 1 (our init), then reaped when it exited
        orphans = [p for p in children_of(loader) if comm(p) == "sleep"]
        assert len(orphans) == 1
        assert wait_for(lambda: not exists(orphans[0]), 10), "orphan left as a zombie"
        started = time.monotonic()
        os.kill(loader, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 5
    finally:
        reap(proc)
