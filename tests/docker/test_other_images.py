"""The arm64 image under qemu, the node image, the binary image and ``mcpb test``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mcpb.bundle.digest import sha256_file
from mcpb.bundler.image import engine
from tests.docker.conftest import ARM64, REPO, TIME_TOOLS
from tests.support.arm64 import require_binfmt
from tests.support.mcp_calls import TOKYO_NOON, list_and_call
from tests.support.servers import mcpb_executable

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.mark.parametrize(
    ("runtime", "size_limit"),
    # Debian's Node 20 (libnode + ICU data); the official 22/24 binaries are ~120 MB each
    [("node:20", 200e6), ("node:22", 230e6), ("node:24", 240e6)],
)
def test_node_images_run_server_everything(
    runtime, size_limit, images, bundles, bundle_server, run_container
) -> None:
    image = images.get(runtime)
    assert image.size < size_limit
    bundle = bundles.everything()
    c = run_container(
        image.refs[0],
        bundle_server.url(bundle),
        sha256_file(bundle),
        read_only=True,
        tmpfs=("/tmp",),
    )
    c.wait_ready()
    tools, text = list_and_call(f"{c.base}/mcp", "echo", {"message": "from docker"})
    assert "echo" in tools and len(tools) >= 5
    assert "from docker" in text
    code, version = engine.exec_in(c.cid, ["node", "--version"])
    assert code == 0 and version.startswith(f"v{runtime.split(':')[1]}.")
    assert c.wait_health("healthy") == "healthy"
    engine.stop(c.cid)
    assert c.state()["ExitCode"] == 0


def test_python_314_image_runs_a_bundle_vendored_for_314(
    images, bundles, bundle_server, run_container
) -> None:
    """python:3.14 comes from Debian forky (testing); the bundle's wheels are cp314."""
    image = images.get("python:3.14")
    assert image.size < 100e6
    bundle = bundles.time("3.14")
    c = run_container(image.refs[0], bundle_server.url(bundle), sha256_file(bundle))
    c.wait_ready()
    tools, text = list_and_call(f"{c.base}/mcp", "convert_time", TOKYO_NOON)
    assert tools == TIME_TOOLS
    assert "21:00:00+09:00" in text
    code, version = engine.exec_in(c.cid, ["python3", "-c", "import sys; print(sys.version)"])
    assert code == 0 and version.startswith("3.14.")
    engine.stop(c.cid)
    assert c.state()["ExitCode"] == 0


def test_binary_image_runs_the_c_example(images, bundles, bundle_server, run_container) -> None:
    image = images.get("binary")
    bundle = bundles.c_example()
    c = run_container(
        image.refs[0],
        bundle_server.url(bundle),
        sha256_file(bundle),
        read_only=True,
        tmpfs=("/tmp",),
    )
    c.wait_ready()
    tools, text = list_and_call(f"{c.base}/mcp", "add", {"a": 2, "b": 40})
    assert tools == ["add"]
    assert "42" in text
    engine.stop(c.cid)
    assert c.state()["ExitCode"] == 0


def test_mcpb_test_passes_a_good_bundle_and_fails_a_wrong_expectation(
    images, bundles, tmp_path: Path
) -> None:
    images.get("python:3.13")
    bundle = bundles.time("3.13")
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps([{"name": "convert_time", "arguments": TOKYO_NOON, "expect": "21:00"}])
    )
    proc = subprocess.run(
        [mcpb_executable(), "test", str(bundle), "--call", str(good), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] and report["exit_code"] == 0
    assert report["image"] == "mcpb-python:3.13-amd64"
    assert report["tools"] == TIME_TOOLS
    assert report["calls"][0]["ok"] and "21:00" in report["calls"][0]["text"]
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps([{"name": "convert_time", "arguments": TOKYO_NOON, "expect": "22:00"}])
    )
    proc = subprocess.run(
        [mcpb_executable(), "test", str(bundle), "--call", str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1
    assert "call FAIL convert_time" in proc.stdout and proc.stdout.rstrip().endswith("FAIL")


@pytest.mark.timeout(900)  # builds the arm64 image; a Python server under emulation
def test_arm64_image_runs_the_arm64_time_bundle_under_qemu(images, bundles, tmp_path) -> None:
    """Through `mcpb test` (its emulated path): the arm64 image, the arm64 bundle, list + call."""
    require_binfmt()
    image = images.get("python:3.13", ARM64)
    info = engine.inspect_image(image.refs[0])
    assert info is not None and info.architecture == "arm64"
    bundle = bundles.time("3.13", ARM64)
    calls = tmp_path / "tools.json"
    call = {"name": "convert_time", "arguments": TOKYO_NOON, "expect": "21:00:00+09:00"}
    calls.write_text(json.dumps([call]))
    proc = subprocess.run(
        [
            mcpb_executable(),
            "test",
            str(bundle),
            "--call",
            str(calls),
            "--json",
            "--timeout",
            "400",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert (report["image"], report["platform"]) == ("mcpb-python:3.13-arm64", "linux/arm64")
    assert report["tools"] == TIME_TOOLS and report["exit_code"] == 0
    assert report["calls"][0]["ok"] and "21:00:00+09:00" in report["calls"][0]["text"]


def test_the_users_dockerfile_path_builds_from_a_base_image(
    images, bundles, bundle_server, run_container, tmp_path: Path
) -> None:
    """`mcpb image context` + `docker build --build-arg BASE=...` of base_images/python, with
    our bootstrapped root standing in for an official python image."""
    result = images.get("python:3.13")
    context = tmp_path / "ctx"
    made = subprocess.run(
        [mcpb_executable(), "image", "context", str(context), "-r", "python:3.13"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    dockerfile = (context / "Dockerfile").read_text()
    assert dockerfile == (REPO / "base_images" / "python" / "Dockerfile").read_text()
    tag = "mcpb-test-users-path:latest"
    built = subprocess.run(
        ["docker", "build", "-q", "--network", "none", "-t", tag,
         "--build-arg", f"BASE={result.spec.rootfs_ref}", str(context)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )  # fmt: skip
    try:
        assert built.returncode == 0, built.stderr
        bundle = bundles.time("3.13")
        c = run_container(tag, bundle_server.url(bundle), sha256_file(bundle))
        c.wait_ready()
        tools, _ = list_and_call(f"{c.base}/mcp", "get_current_time", {"timezone": "UTC"})
        assert tools == TIME_TOOLS
        engine.stop(c.cid)
        assert c.state()["ExitCode"] == 0
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", *_containers_of(tag)], capture_output=True)
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, check=False)


def _containers_of(image: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"ancestor={image}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.split()


def test_mcpb_test_names_a_missing_image(bundles, docker_engine) -> None:
    proc = subprocess.run(
        [mcpb_executable(), "test", str(bundles.time("3.13")), "--image", "mcpb-nothing:0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "image mcpb-nothing:0 not found: build it with `mcpb image build`" in proc.stderr
