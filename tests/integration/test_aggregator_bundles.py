"""Bundle and server.json upstreams: real bundles built with ``mcpb build``, run by the loader
library inside the aggregator, and refused when this machine lacks their runtime."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import TextContent

from mcpb.bundle.platform import host_platform
from mcpb.bundler.builder.pipeline import BuildOptions, BuildResult, build
from mcpb.bundler.builder.serverjson import Publishing
from mcpb.bundler.builder.source import parse_source
from tests.support.aggregator import aggregating, start_aggregator, write_config

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def run(scenario: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, timeout))


def _build(source: str, out: Path) -> BuildResult:
    options = BuildOptions(
        source=parse_source(source),
        platforms=(host_platform(),),
        out_dir=out,
        publishing=Publishing(repo="example/servers"),
    )
    return build(options)


@pytest.fixture(scope="module")
def time_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return _build("pypi:mcp-server-time", tmp_path_factory.mktemp("time") / "dist")


@pytest.fixture(scope="module")
def node_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    source = tmp_path_factory.mktemp("node-src") / "node-stdio"
    shutil.copytree(REPO / "examples" / "node-stdio", source)
    return _build(str(source), tmp_path_factory.mktemp("node") / "dist")


def local_server_json(result: BuildResult, directory: Path) -> Path:
    """The build's server.json with its packages pointing at the local files, plus
    NimbleTools' ``_meta`` labels."""
    document = json.loads(result.server_json.read_text())
    for package in document["packages"]:
        name = package["identifier"].rsplit("/", 1)[-1]
        package["identifier"] = (result.server_json.parent / name).as_uri()
    document["_meta"]["ai.nimbletools.mcp/v1"] = {
        "runtime": "python:3.13",
        "display": {"category": "developer-tools", "tags": ["clock", "time"]},
    }
    path = directory / "server.json"
    path.write_text(json.dumps(document))
    return path


def test_bundle_and_server_json_upstreams(time_build: BuildResult, tmp_path: Path) -> None:
    bundle = time_build.bundles[0]
    config = {
        "upstreams": {
            "time": {"bundle": str(bundle.path), "sha256": bundle.sha256, "tags": ["utility"]},
            "clock": {"server_json": str(local_server_json(time_build, tmp_path))},
        },
        "vmcps": {
            "tagged": {"select": [{"tags": ["clock"]}]},
            "categorized": {"select": [{"categories": ["developer-tools"], "tools": ["*/get_*"]}]},
            "all": {},
        },
    }
    env = {"MCPB_CACHE_DIR": str(tmp_path / "cache")}
    with aggregating(write_config(tmp_path, config), env=env) as running:
        running.wait_for({"time": "up", "clock": "up"}, timeout=60)

        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for vmcp in ("tagged", "categorized", "all"):
                async with Client(running.url(vmcp)) as client:
                    out[vmcp] = [t.name for t in (await client.list_tools()).tools]
            async with Client(running.url("all")) as client:
                result = await client.call_tool("clock__get_current_time", {"timezone": "UTC"})
                content = result.content[0]
                assert isinstance(content, TextContent)
                out["call"] = json.loads(content.text)
            return out

        out = run(scenario())
    assert out["tagged"] == ["clock__get_current_time", "clock__convert_time"]
    assert out["categorized"] == ["clock__get_current_time"]
    assert sorted(out["all"]) == sorted(
        f"{u}__{t}" for u in ("time", "clock") for t in ("get_current_time", "convert_time")
    )
    assert out["call"]["timezone"] == "UTC"


def test_a_wrong_digest_refuses_the_configuration(time_build: BuildResult, tmp_path: Path) -> None:
    bundle = time_build.bundles[0]
    config = {"upstreams": {"time": {"bundle": str(bundle.path), "sha256": "0" * 64}}}
    env = {"MCPB_CACHE_DIR": str(tmp_path / "cache")}
    with pytest.raises(RuntimeError) as caught:
        start_aggregator(write_config(tmp_path, config), env=env, timeout=60)
    assert "upstream time:" in str(caught.value)
    assert f"SHA256 mismatch: expected {'0' * 64}, got {bundle.sha256}" in str(caught.value)


def test_a_bundle_whose_runtime_is_missing_is_refused_naming_it(
    node_build: BuildResult, tmp_path: Path
) -> None:
    bundle = node_build.bundles[0]
    config = {
        "upstreams": {
            "greeter": {
                "bundle": str(bundle.path),
                "sha256": bundle.sha256,
                "env": {"PATH": str(tmp_path / "no-runtimes-here")},
            }
        }
    }
    env = {"MCPB_CACHE_DIR": str(tmp_path / "cache")}
    with pytest.raises(RuntimeError) as caught:
        start_aggregator(write_config(tmp_path, config), env=env, timeout=60)
    message = str(caught.value)
    assert "upstream greeter: this machine has no node runtime" in message
    assert "mcpb-node:20" in message and "url upstream" in message


def test_a_node_bundle_runs_where_node_exists(node_build: BuildResult, tmp_path: Path) -> None:
    bundle = node_build.bundles[0]
    config = {
        "upstreams": {"greeter": {"bundle": str(bundle.path), "sha256": bundle.sha256}},
        "vmcps": {"hello": {}},
    }
    env = {"MCPB_CACHE_DIR": str(tmp_path / "cache")}
    with aggregating(write_config(tmp_path, config), env=env) as running:
        running.wait_for({"greeter": "up"}, timeout=60)

        async def scenario() -> str:
            async with Client(running.url("hello")) as client:
                result = await client.call_tool("greeter__greet", {"name": "vmcp"})
                content = result.content[0]
                assert isinstance(content, TextContent)
                return content.text

        assert run(scenario()) == "Hello, vmcp!"
