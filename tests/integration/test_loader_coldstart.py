"""What the loader's first start does so that later starts are fast (behaviour, not timing).

One real ``python -m mcpb.loader`` start of a Python bundle that vendors a real package
(``sortedcontainers``, copied from the dev environment) and one file that does not compile,
run with ``PYTHONDONTWRITEBYTECODE=1`` as containers do: the server process is spawned before
any HTTP request arrives, the cached tree holds ``unchecked-hash`` bytecode recorded under the
tree's final path, the broken file is a warning and the server answers anyway. Then a cached
start without the manifest models, a manifest refused before its tree is in place, and how the
compiling interpreter is chosen.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import marshal
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sortedcontainers  # type: ignore[import-untyped]
from mcp import Client

from mcpb.bundle.archive import Entry
from mcpb.bundle.manifest_view import ManifestView, read_manifest_view
from mcpb.bundle.meta import pack_bundle
from mcpb.loader.bytecode import compile_tree, launch_python
from tests.support.loader_bundles import free_port, loader_env, manifest, reap, wait_http

SERVER = """
import os, sys
marker = os.environ["MARKER_FILE"]
with open(marker + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.replace(marker + ".tmp", marker)

import sortedcontainers  # type: ignore[import-untyped]
from mcp.server.mcpserver import MCPServer

server = MCPServer("coldstart")

@server.tool()
def whoami() -> str:
    \"\"\"This server's pid and where sortedcontainers came from.\"\"\"
    return f"{os.getpid()} {sortedcontainers.__file__}"

@server.tool()
def sorted_list(values: list[int]) -> list[int]:
    \"\"\"The values, sorted by the vendored package.\"\"\"
    return list(sortedcontainers.SortedList(values))

server.run()
"""
BROKEN = "def broken(:\n    pass\n"
VENDORED = Path(sortedcontainers.__file__).parent


def coldstart_manifest(**extra: Any) -> dict[str, Any]:
    data = manifest("coldstart")
    data["server"]["mcp_config"]["env"]["PYTHONPATH"] = "${__dirname}/server/lib"
    data.update(extra)
    return data


def build(path: Path, data: dict[str, Any]) -> tuple[Path, str]:
    entries = [Entry.from_bytes("server/main.py", SERVER.encode())]
    entries.append(Entry.from_bytes("server/lib/broken_module.py", BROKEN.encode()))
    for source in sorted(VENDORED.rglob("*.py")):
        name = f"server/lib/sortedcontainers/{source.relative_to(VENDORED).as_posix()}"
        entries.append(Entry.from_file(name, source))
    info = pack_bundle(data, entries, path)
    return info.path, info.sha256


def wait_for_file(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not path.exists():
        assert proc.poll() is None, f"loader exited {proc.returncode} before the server started"
        time.sleep(0.01)
    assert path.exists(), f"the server did not start within {timeout}s"


def http_connections_to(port: int) -> int:
    """Established TCP connections to ``port`` on this host (from /proc/net/tcp)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01":  # ESTABLISHED
                count += 1
    return count


@pytest.fixture(scope="module")
def first_start(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One first start, observed from outside; what it did, for the tests below."""
    tmp = tmp_path_factory.mktemp("coldstart")
    path, sha = build(tmp / "coldstart.mcpb", coldstart_manifest())
    port = free_port()
    marker = tmp / "server.pid"
    env = loader_env(
        BUNDLE_URL=str(path),
        BUNDLE_SHA256=sha,
        PORT=str(port),
        HOST="127.0.0.1",
        MCPB_CACHE_DIR=str(tmp / "cache"),
        MARKER_FILE=str(marker),
        PYTHONDONTWRITEBYTECODE="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpb.loader"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    async def call() -> tuple[str, str]:
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            who = await client.call_tool("whoami", {})
            ordered = await client.call_tool("sorted_list", {"values": [3, 1, 2]})
            return str(who.content[0].text), str(ordered.structured_content)  # type: ignore[union-attr]

    try:
        wait_for_file(marker, proc, timeout=60)  # no HTTP request has been sent yet
        connections_when_spawned = http_connections_to(port)
        server_pid = int(marker.read_text())
        wait_http(f"http://127.0.0.1:{port}/ready", proc, timeout=60)
        who, ordered = asyncio.run(asyncio.wait_for(call(), 30))
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        reap(proc)
    return {
        "tree": tmp / "cache" / "trees" / sha,
        "cache": tmp / "cache",
        "bundle": path,
        "sha": sha,
        "server_pid": server_pid,
        "connections_when_spawned": connections_when_spawned,
        "who": who,
        "ordered": ordered,
        "log": out.decode(),
        "exit": proc.returncode,
    }


def test_the_server_is_spawned_before_any_http_request(first_start: dict[str, Any]) -> None:
    assert first_start["connections_when_spawned"] == 0
    pid, _, origin = first_start["who"].partition(" ")
    assert int(pid) == first_start["server_pid"]  # the child spawned early is the one serving
    assert origin == str(first_start["tree"] / "server/lib/sortedcontainers/__init__.py")
    assert first_start["exit"] == 0


def test_vendored_packages_have_unchecked_hash_bytecode(first_start: dict[str, Any]) -> None:
    tree: Path = first_start["tree"]
    sources = sorted((tree / "server/lib/sortedcontainers").rglob("*.py"))
    assert len(sources) == len(list(VENDORED.rglob("*.py"))) >= 4
    for source in [*sources, tree / "server/main.py"]:
        pyc = Path(importlib.util.cache_from_source(str(source)))
        data = pyc.read_bytes()
        assert data[:4] == importlib.util.MAGIC_NUMBER, pyc
        assert int.from_bytes(data[4:8], "little") == 0b01, pyc  # hash-based, source unchecked
        assert data[8:16] == importlib.util.source_hash(source.read_bytes()), pyc
        code = marshal.loads(data[16:])
        assert code.co_filename == str(source)  # the tree's final path, not the staging one
    assert not list((tree.parent.parent / "staging").iterdir())  # nothing left behind
    log = first_start["log"]
    assert f"bytecode: compiled {tree}" not in log  # the broken file made it a warning


def test_a_file_that_does_not_compile_is_only_a_warning(first_start: dict[str, Any]) -> None:
    tree: Path = first_start["tree"]
    broken = tree / "server/lib/broken_module.py"
    assert broken.is_file()
    assert not Path(importlib.util.cache_from_source(str(broken))).exists()
    warnings = [line for line in first_start["log"].splitlines() if "bytecode:" in line]
    assert len(warnings) == 1, first_start["log"]
    assert "WARNING" in warnings[0] and "1 file(s)" in warnings[0]
    assert "broken_module.py" in warnings[0]
    assert first_start["ordered"] == "{'result': [1, 2, 3]}"  # the server answered regardless


def test_a_cached_start_skips_the_models(first_start: dict[str, Any]) -> None:
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from mcpb.loader.config import LoaderConfig\n"
        "from mcpb.loader.launch import plan_launch\n"
        "from mcpb.loader.obtain import obtain\n"
        f"c = LoaderConfig(bundle_url={str(first_start['bundle'])!r}, "
        f"sha256={first_start['sha']!r}, cache_dir=Path({first_start['cache'].name!r}))\n"
        "b = obtain(c)\n"
        "p = plan_launch(c, b)\n"
        "print(json.dumps({'models': 'pydantic' in sys.modules, 'cached': b.from_cache,\n"
        "    'command': p.command, 'pythonpath': p.env['PYTHONPATH'], 'name': p.name}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=first_start["cache"].parent,  # a relative cache directory, as --cache-dir may give
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    got = json.loads(done.stdout)
    tree = str(first_start["tree"])
    assert got == {
        "models": False,
        "cached": True,
        "command": [sys.executable, f"{tree}/server/main.py"],
        "pythonpath": f"{tree}/server/lib",
        "name": "coldstart",
    }


def test_an_invalid_manifest_never_reaches_the_trees(tmp_path: Path) -> None:
    path, sha = build(tmp_path / "bad.mcpb", coldstart_manifest(surprise="unknown key"))
    env = loader_env(
        BUNDLE_URL=str(path),
        BUNDLE_SHA256=sha,
        PORT=str(free_port()),
        MCPB_CACHE_DIR=str(tmp_path / "cache"),
        MARKER_FILE=str(tmp_path / "never"),
    )
    done = subprocess.run(
        [sys.executable, "-m", "mcpb.loader"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 66, done.stderr
    assert "surprise" in done.stderr
    assert list((tmp_path / "cache" / "trees").iterdir()) == []
    assert list((tmp_path / "cache" / "staging").iterdir()) == []
    assert not (tmp_path / "never").exists()


def test_the_compiler_is_the_launch_commands_python(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    other = bin_dir / "python3.99"
    other.symlink_to(sys.executable)
    (bin_dir / "wrapper").write_text('#!/bin/sh\nexec python3 "$@"\n')
    (bin_dir / "wrapper").chmod(0o755)
    env = {"PATH": str(bin_dir)}

    def data(command: str, kind: str = "python", linux: str = "") -> ManifestView:
        config: dict[str, Any] = {"command": command}
        if linux:
            config["platform_overrides"] = {"linux": {"command": linux}}
        raw = {"name": "x", "version": "1", "server": {"type": kind, "mcp_config": config}}
        return read_manifest_view(raw, source="test")

    tree = tmp_path / "tree"
    assert launch_python(data("python3.99"), tree, env) == str(other)
    assert launch_python(data("${__dirname}/venv/bin/python"), tree, env) == sys.executable
    (tree / "venv" / "bin").mkdir(parents=True)
    (tree / "venv" / "bin" / "python").symlink_to(sys.executable)
    assert launch_python(data("${__dirname}/venv/bin/python"), tree, env) == str(
        tree / "venv" / "bin" / "python"
    )
    assert launch_python(data("node", linux="python3.99"), tree, env) == str(other)
    assert launch_python(data("wrapper"), tree, env) == sys.executable  # not a python: ours
    assert launch_python(data("node", "node"), tree, env) is None
    assert launch_python(data("${__dirname}/server/app", "binary"), tree, env) is None


def test_compile_failures_are_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("X = 1\n")
    (tmp_path / "bad.py").write_text(BROKEN)
    result = compile_tree(tmp_path, sys.executable)
    assert (result.ok, result.failed_files) == (False, 1)
    assert Path(importlib.util.cache_from_source(str(tmp_path / "ok.py"))).is_file()
    missing = compile_tree(tmp_path, str(tmp_path / "no-such-python"))
    assert (missing.ok, missing.failed_files) == (False, 0)
    stuck = tmp_path / "stuck"
    stuck.write_text("#!/bin/sh\nexec sleep 30\n")
    stuck.chmod(0o755)
    started = time.monotonic()
    assert compile_tree(tmp_path, str(stuck), timeout=0.5).ok is False
    assert time.monotonic() - started < 10
    shutil.rmtree(tmp_path / "__pycache__")
    assert compile_tree(tmp_path, sys.executable, recorded_as=Path("/x")).failed_files == 1
    assert os.path.exists(importlib.util.cache_from_source(str(tmp_path / "ok.py")))


def test_a_stop_while_compiling_leaves_no_compiler_and_no_tree(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    compiler_pid = tmp_path / "compiler.pid"
    fake = bin_dir / "python3.99"  # the launch python: compiles forever, runs servers normally
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$3" = compileall ]; then echo $$ > {compiler_pid}; exec sleep 60; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    fake.chmod(0o755)
    data = coldstart_manifest()
    data["server"]["mcp_config"]["command"] = "python3.99"
    path, _ = build(tmp_path / "slow.mcpb", data)
    cache = tmp_path / "cache"
    env = loader_env(PATH=f"{bin_dir}:{os.environ['PATH']}", MARKER_FILE=str(tmp_path / "never"))
    mcpb = str(Path(sys.executable).parent / "mcpb")
    argv = [mcpb, "run", str(path), "--port", str(free_port()), "--cache-dir", str(cache)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_file(compiler_pid, proc, timeout=60)
        time.sleep(0.05)  # the pid is written just before the exec
        pid = int(compiler_pid.read_text())
        assert Path(f"/proc/{pid}").exists()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        reap(proc)
    assert proc.returncode == 0, out.decode()
    assert not Path(f"/proc/{pid}").exists()  # killed with its process group, and reaped
    assert list((cache / "trees").iterdir()) == []
    assert list((cache / "staging").iterdir()) == []
    assert not (tmp_path / "never").exists()
