"""The aggregator image with two bundle containers on their base images, composed by
``docker-compose`` through ``pytest-docker``: tools of both reach an SDK client through one
vMCP; the aggregator runs as a non-root user on a read-only root and stops cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.types import TextContent

from mcpb.bundle.digest import sha256_file
from mcpb.bundler.image import engine
from tests.docker.conftest import ARM64, REPO, Bundles, BundleServer, Images
from tests.support.conformance import SERVER as CONFORMANCE_SERVER
from tests.support.conformance_server import TOOLS as CONFORMANCE_TOOLS
from tests.support.ports import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]

COMPOSE_FILE = REPO / "tests" / "docker" / "compose" / "aggregator.yml"
TOKEN = "compose-admin-token"


@pytest.fixture(scope="session")
def compose_ports(
    images: Images,
    bundles: Bundles,
    bundle_server: BundleServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, int]]:
    """Images and bundles built, the configuration written, the compose variables set."""
    for runtime in ("python:3.13", "node:20", "aggregator"):
        images.get(runtime)
    time_bundle, everything_bundle = bundles.time("3.13"), bundles.everything()
    ports = {"time": free_port(), "everything": free_port(), "aggregator": free_port()}
    config = {
        "upstreams": {
            "time": {"url": f"http://127.0.0.1:{ports['time']}/mcp", "tags": ["clock"]},
            "everything": {"url": f"http://127.0.0.1:{ports['everything']}/mcp"},
        },
        "vmcps": {
            # the image listens on 0.0.0.0: serving without authentication is said explicitly
            "all": {"select": [{"tools": ["time/*", "everything/echo"]}], "auth": {"none": True}},
            "clock": {
                "select": [{"tags": ["clock"]}],
                "namespace": "none",
                "auth": {"none": True},
            },
        },
    }
    directory = tmp_path_factory.mktemp("compose")
    config_file = directory / "aggregator.json"
    config_file.write_text(json.dumps(config))
    config_file.chmod(0o644)
    variables = {
        "MCPB_T_TIME_PORT": str(ports["time"]),
        "MCPB_T_TIME_URL": bundle_server.url(time_bundle),
        "MCPB_T_TIME_SHA256": sha256_file(time_bundle),
        "MCPB_T_EVERYTHING_PORT": str(ports["everything"]),
        "MCPB_T_EVERYTHING_URL": bundle_server.url(everything_bundle),
        "MCPB_T_EVERYTHING_SHA256": sha256_file(everything_bundle),
        "MCPB_T_AGGREGATOR_PORT": str(ports["aggregator"]),
        "MCPB_T_AGGREGATOR_CONFIG": str(config_file),
        "MCPB_T_ADMIN_TOKEN": TOKEN,
    }
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    yield ports
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def docker_compose_file(compose_ports: dict[str, int]) -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    # Debian bookworm ships Compose v1 (docker-compose 1.29), not the v2 plugin
    return "docker-compose" if shutil.which("docker-compose") else "docker compose"


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"mcpb-aggregator-test-{os.getpid()}"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    return ["up -d"]  # the images are local; Compose v1 has no --wait


@pytest.fixture(scope="session")
def aggregator_url(docker_services: Any, compose_ports: dict[str, int]) -> str:
    base = f"http://127.0.0.1:{compose_ports['aggregator']}"

    def both_up() -> bool:
        try:
            ready = httpx.get(f"{base}/ready", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        states = {name: u["state"] for name, u in ready.get("upstreams", {}).items()}
        return states == {"time": "up", "everything": "up"}

    docker_services.wait_until_responsive(check=both_up, timeout=240.0, pause=0.5)
    return base


def container_id(docker_services: Any, service: str) -> str:
    output: bytes = docker_services._docker_compose.execute(f"ps -q {service}")
    return output.decode().strip()


def test_one_vmcp_serves_tools_of_both_bundle_containers(aggregator_url: str) -> None:
    async def scenario() -> tuple[list[str], dict[str, Any], str, list[str]]:
        async with Client(f"{aggregator_url}/vmcp/all/mcp") as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            now = await client.call_tool("time__get_current_time", {"timezone": "UTC"})
            echoed = await client.call_tool("everything__echo", {"message": "through compose"})
        async with Client(f"{aggregator_url}/vmcp/clock/mcp") as client:
            plain = sorted(t.name for t in (await client.list_tools()).tools)
        first, second = now.content[0], echoed.content[0]
        assert isinstance(first, TextContent) and isinstance(second, TextContent)
        return names, json.loads(first.text), second.text, plain

    names, now, echoed, plain = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert names == ["everything__echo", "time__convert_time", "time__get_current_time"]
    assert now["timezone"] == "UTC"
    assert echoed == "Echo: through compose"
    assert plain == ["convert_time", "get_current_time"]
    listing = httpx.get(f"{aggregator_url}/vmcps").json()["vmcps"]
    assert [(v["name"], v["tools"]) for v in listing] == [("all", 3), ("clock", 2)]


def test_the_admin_api_works_in_the_container(aggregator_url: str) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{aggregator_url}/admin/vmcps").status_code == 401
    refused = httpx.put(
        f"{aggregator_url}/admin/vmcps/echo",
        headers=auth,
        json={"select": [{"tools": ["everything/echo"]}]},
    )
    assert refused.status_code == 422
    assert "vmcps.echo: no auth while listening on 0.0.0.0" in refused.json()["error"]
    made = httpx.put(
        f"{aggregator_url}/admin/vmcps/echo",
        headers=auth,
        json={"select": [{"tools": ["everything/echo"]}], "auth": {"none": True}},
    )
    assert made.status_code == 201
    assert made.json()["tools"] == 1


def test_non_root_read_only_and_a_clean_stop(aggregator_url: str, docker_services: Any) -> None:
    cid = container_id(docker_services, "aggregator")
    info = engine.inspect_container(cid)
    assert info["Config"]["User"] == "10001:10001"
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    started = time.monotonic()
    docker_services._docker_compose.execute("stop -t 10 aggregator")
    assert time.monotonic() - started < 10
    state = engine.container_state(cid)
    assert state["Status"] == "exited"
    assert state["ExitCode"] == 0


def test_the_arm64_image_runs_a_stdio_upstream_under_qemu(images: Images, tmp_path: Path) -> None:
    """arm64 image, emulated: the aggregator spawns a stdio server inside the container."""
    result = images.get("aggregator", ARM64)
    server = tmp_path / "conformance_server.py"
    shutil.copy2(CONFORMANCE_SERVER, server)
    server.chmod(0o644)
    config = tmp_path / "aggregator.yaml"
    config.write_text(
        "upstreams:\n  conf:\n    stdio: python3 -I /srv/conformance_server.py\n"
        "vmcps:\n  conf: {namespace: none, auth: {none: true}}\n"
    )
    config.chmod(0o644)
    port = free_port()
    cid = engine.run_detached(
        result.refs[0],
        engine.RunOptions(
            env={"PORT": str(port)},
            platform=ARM64,
            network="host",
            read_only=True,
            tmpfs=("/tmp",),
            volumes=(
                (str(config), "/etc/mcpb/aggregator.yaml", True),
                (str(server), "/srv/conformance_server.py", True),
            ),
        ),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                ready = httpx.get(f"{base}/ready", timeout=3).json()
                if ready["upstreams"]["conf"]["state"] == "up":
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            assert time.monotonic() < deadline, engine.logs(cid)
            time.sleep(0.5)
        assert ready["upstreams"]["conf"]["tools"] == len(CONFORMANCE_TOOLS)
        listing = httpx.get(f"{base}/vmcps").json()["vmcps"]
        assert listing[0]["tools"] == len(CONFORMANCE_TOOLS)
        code, machine = engine.exec_in(
            cid, ["python3", "-c", "import platform; print(platform.machine())"]
        )
        assert (code, machine.strip()) == (0, "aarch64")
    finally:
        engine.remove(cid)
