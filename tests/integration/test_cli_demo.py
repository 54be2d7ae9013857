"""The demo (``./dev demo``) and the example server it packs: the bundle's manifest resolves to a
command that starts a real MCP server, answering the official SDK client over stdio."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from mcpb.bundle.digest import sha256_file
from mcpb.bundle.manifest import load_manifest
from mcpb.bundle.placeholders import resolve_launch
from mcpb.bundle.platform import host_platform
from mcpb.bundler.cli import main
from mcpb.bundler.demo import find_example

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_demo_builds_and_serves_over_http(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mcpb.bundler.demo", "--out", str(tmp_path), "--port=0", "--check"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=200,
        cwd=tmp_path,  # the demo must find the example from its own location, not the cwd
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for command in ("build", "info", "run"):
        assert f"$ mcpb {command} " in out
    assert "-> tools/list: add, greet, runtime_info" in out
    assert "-> tools/call greet {'name': 'mcpb'}: Hello, mcpb!" in out
    name = f"hello-python-v0.1.0-linux-{host_platform().arch}.mcpb"
    assert out.rstrip().endswith(f"demo: OK ({name})")
    bundle = tmp_path / name
    assert bundle.is_file()
    sums = (tmp_path / "SHA256SUMS").read_text()
    assert f"{sha256_file(bundle)}  {name}" in sums
    # served from the cache the run filled, by digest
    assert (tmp_path / "cache" / "trees" / sha256_file(bundle) / "server" / "main.py").is_file()


def test_find_example_locates_the_checkout() -> None:
    assert find_example() == REPO / "examples" / "hello-python"


@pytest.mark.timeout(120)
def test_example_bundle_serves_tools_over_stdio(tmp_path: Path) -> None:
    bundle = tmp_path / "hello.mcpb"
    dest = tmp_path / "unpacked"
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["pack", str(REPO / "examples" / "hello-python"), str(bundle)]
        ).exit_code
        == 0
    )
    assert runner.invoke(main, ["unpack", str(bundle), str(dest)]).exit_code == 0
    manifest = load_manifest(dest / "manifest.json")
    spec = resolve_launch(
        manifest.server.mcp_config,
        manifest.user_config,
        {"greeting": "bonjour"},
        bundle_dir=dest,
    )
    assert spec.command == "python3"
    assert spec.args == [f"{dest}/server/main.py"]
    assert spec.env == {"PYTHONPATH": f"{dest}/server/lib", "GREETING": "bonjour"}
    # a plain pack vendors nothing (that is `mcpb build`): run it with this venv's interpreter,
    # where the `mcp` package is installed
    params = StdioServerParameters(
        command=sys.executable, args=spec.args, env=spec.env, cwd=str(spec.cwd)
    )

    async def session() -> tuple[list[str], str, str]:
        async with Client(params, read_timeout_seconds=30) as client:
            tools = sorted(t.name for t in (await client.list_tools()).tools)
            greeting = await client.call_tool("greet", {"name": "bundle"})
            info = await client.call_tool("runtime_info", {})
            return tools, greeting.content[0].text, info.content[0].text  # type: ignore[union-attr]

    tools, greeting, info = anyio.run(session)
    assert tools == ["add", "greet", "runtime_info"]
    assert greeting == "Hello, bundle!"
    assert json.loads(info)["greeting"] == "bonjour"
    assert tools == sorted(t.name for t in manifest.tools or [])  # the manifest tells the truth
