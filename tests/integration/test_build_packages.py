"""``mcpb build`` of real published servers: pypi:mcp-server-time and npm server-everything.

Each package is built once per module for both platforms (uv's and npm's caches make reruns
cheap). The tests check names, digests, server.json, that every ELF file matches its platform,
and that both bundles start and answer ``tools/list`` to the official MCP client: amd64
natively, arm64 under qemu-user with aarch64 interpreters (Debian's python3.11, npm's Node).
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import jsonschema
import pytest

from mcpb.bundle.digest import parse_sha256sums, sha256_file
from mcpb.bundle.platform import parse_platforms
from mcpb.bundler.builder.elf import parse_elf_header
from mcpb.bundler.builder.pipeline import BuildOptions, BuildResult, build
from mcpb.bundler.builder.serverjson import Publishing, load_schema
from mcpb.bundler.builder.source import parse_source
from tests.support.arm64 import arm64_node, arm64_python, emulation_env
from tests.support.bundles import extract_launch, list_tools

pytestmark = pytest.mark.slow

BOTH = tuple(parse_platforms("linux/amd64,linux/arm64"))
TIME_TOOLS = ["convert_time", "get_current_time"]


def _build(source: str, out: Path, **kwargs) -> BuildResult:
    options = BuildOptions(source=parse_source(source), platforms=BOTH, out_dir=out, **kwargs)
    return build(options)


@pytest.fixture(scope="module")
def time_build(tmp_path_factory) -> BuildResult:
    out = tmp_path_factory.mktemp("time") / "dist"
    return _build("pypi:mcp-server-time", out, publishing=Publishing(repo="example/time"))


@pytest.fixture(scope="module")
def everything_build(tmp_path_factory) -> BuildResult:
    out = tmp_path_factory.mktemp("everything") / "dist"
    return _build("npm:@modelcontextprotocol/server-everything", out)


def _elf_machines(bundle: Path) -> dict[str, int]:
    machines = {}
    with zipfile.ZipFile(bundle) as zf:
        for info in zf.infolist():
            with zf.open(info) as f:
                header = parse_elf_header(f.read(20))
            if header is not None:
                machines[info.filename] = header.machine
    return machines


def _check_outputs(result: BuildResult, stem: str) -> None:
    out = result.sha256sums.parent
    names = sorted(p.name for p in out.iterdir())
    expected = [f"{stem}-linux-amd64.mcpb", f"{stem}-linux-arm64.mcpb"]
    assert names == sorted([*expected, "SHA256SUMS", "server.json"])
    sums = parse_sha256sums(result.sha256sums.read_text())
    assert sorted(sums) == expected
    for name, digest in sums.items():
        assert sha256_file(out / name) == digest
    assert [b.path.name for b in result.bundles] == expected
    doc = json.loads(result.server_json.read_text())
    jsonschema.Draft7Validator(load_schema()).validate(doc)
    assert [p["fileSha256"] for p in doc["packages"]] == [sums[n] for n in expected]
    assert all(
        p["registryType"] == "mcpb" and p["transport"] == {"type": "stdio"} for p in doc["packages"]
    )
    assert doc["version"] == result.version


def test_time_names_digests_and_server_json(time_build: BuildResult) -> None:
    version = time_build.version
    _check_outputs(time_build, f"mcp-server-time-v{version}")
    doc = json.loads(time_build.server_json.read_text())
    assert doc["name"] == "io.github.modelcontextprotocol/server-time"  # the package's mcp-name
    assert [p["identifier"] for p in doc["packages"]] == [
        f"https://github.com/example/time/releases/download/v{version}/"
        f"mcp-server-time-v{version}-linux-{arch}.mcpb"
        for arch in ("amd64", "arm64")
    ]
    assert doc["_meta"]["io.github.mcpb-toolchain"]["runtime"] == "python:3.11"
    assert time_build.runtime == "python:3.11"


def test_time_bundles_hold_only_their_architecture(time_build: BuildResult) -> None:
    amd64, arm64 = (b.path for b in time_build.bundles)
    amd64_elf, arm64_elf = _elf_machines(amd64), _elf_machines(arm64)
    # pydantic-core, rpds-py, cryptography and cffi ship compiled modules: the check is not vacuous
    assert len(arm64_elf) >= 4
    assert set(arm64_elf.values()) == {183}
    assert set(amd64_elf.values()) == {62}
    assert any("pydantic_core" in n and "aarch64" in n for n in arm64_elf)
    assert time_build.bundles[1].elf_files == len(arm64_elf)


def test_time_bundle_manifest_and_pruning(time_build: BuildResult) -> None:
    with zipfile.ZipFile(time_build.bundles[0].path) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["server"]["mcp_config"]["env"] == {"PYTHONPATH": "${__dirname}/server/lib"}
    assert manifest["compatibility"]["runtimes"]["python"] == ">=3.11 <3.12"
    ours = manifest["_meta"]["io.github.mcpb-toolchain"]
    assert (ours["platform"], ours["python"]) == ("linux/amd64", "3.11")
    assert "server/main.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("server/lib/bin/")]
    assert not [n for n in names if "/jsonschema/tests/" in n]
    assert time_build.bundles[0].pruned_bytes > 0


def test_time_amd64_bundle_answers_tools_list(time_build: BuildResult, tmp_path: Path) -> None:
    launch = extract_launch(time_build.bundles[0].path, tmp_path / "x")
    assert launch.command == "python3"
    tools = list_tools(launch.command, launch.args, env=launch.env, cwd=launch.cwd)
    assert tools == TIME_TOOLS


def test_time_arm64_bundle_answers_tools_list_under_qemu(
    time_build: BuildResult, tmp_path: Path
) -> None:
    launch = extract_launch(time_build.bundles[1].path, tmp_path / "x")
    env = {**launch.env, **emulation_env()}
    tools = list_tools(str(arm64_python()), launch.args, env=env, cwd=launch.cwd, timeout=240)
    assert tools == TIME_TOOLS


def test_everything_names_digests_and_server_json(everything_build: BuildResult) -> None:
    _check_outputs(everything_build, f"server-everything-v{everything_build.version}")
    doc = json.loads(everything_build.server_json.read_text())
    assert doc["title"] == "@modelcontextprotocol/server-everything"
    assert everything_build.runtime == "node:20"
    for bundle in everything_build.bundles:
        with zipfile.ZipFile(bundle.path) as zf:
            names = zf.namelist()
        assert not [n for n in names if "/.bin/" in n or n.endswith(".package-lock.json")]
        machines = set(_elf_machines(bundle.path).values())
        assert machines <= {bundle.platform.elf_machine}


def test_everything_amd64_bundle_answers_tools_list(
    everything_build: BuildResult, tmp_path: Path
) -> None:
    launch = extract_launch(everything_build.bundles[0].path, tmp_path / "x")
    assert launch.command == "node"
    tools = list_tools(launch.command, launch.args, env=launch.env, cwd=launch.cwd)
    assert "echo" in tools and len(tools) >= 5


def test_everything_arm64_bundle_answers_tools_list_under_qemu(
    everything_build: BuildResult, tmp_path: Path
) -> None:
    launch = extract_launch(everything_build.bundles[1].path, tmp_path / "x")
    env = {**launch.env, **emulation_env()}
    tools = list_tools(str(arm64_node()), launch.args, env=env, cwd=launch.cwd, timeout=240)
    assert "echo" in tools and len(tools) >= 5


def test_time_rebuild_elsewhere_is_byte_identical(
    time_build: BuildResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same source and versions, another run and another output directory: same bytes."""
    monkeypatch.chdir(tmp_path)
    pinned = f"pypi:mcp-server-time=={time_build.version}"
    again = _build(
        pinned, tmp_path / "elsewhere" / "out", publishing=Publishing(repo="example/time")
    )
    for first, second in zip(time_build.bundles, again.bundles, strict=True):
        assert first.path.name == second.path.name
        assert first.sha256 == second.sha256
        assert first.path.read_bytes() == second.path.read_bytes()
    assert time_build.sha256sums.read_bytes() == again.sha256sums.read_bytes()


@pytest.mark.interop
def test_reference_cli_accepts_built_manifests(
    time_build: BuildResult, everything_build: BuildResult, reference_mcpb: Path, tmp_path: Path
) -> None:
    """Our derived 0.3 manifests, _meta included, pass the reference CLI's strict validator."""
    for result in (time_build, everything_build):
        for bundle in result.bundles:
            with zipfile.ZipFile(bundle.path) as zf:
                manifest = tmp_path / f"{bundle.path.stem}.json"
                manifest.write_bytes(zf.read("manifest.json"))
            proc = subprocess.run(
                [str(reference_mcpb), "validate", str(manifest)],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert "validation passes" in proc.stdout
