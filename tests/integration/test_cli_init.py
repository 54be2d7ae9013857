"""``mcpb init``: inference from project files, flags, no prompt without a TTY, prompts on one,
refusal to overwrite, and manifests that validate."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mcpb.bundle.manifest import DEFAULT_VERSION, validate_manifest_data
from mcpb.bundler.cli import main
from mcpb.bundler.scaffold import Author, render_ignore_file

MCPB = [sys.executable, "-c", "from mcpb.bundler.cli import main; main(prog_name='mcpb')"]


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def read_manifest(directory: Path) -> dict[str, object]:
    data = json.loads((directory / "manifest.json").read_text())
    assert validate_manifest_data(data) == []
    return data  # type: ignore[no-any-return]


def test_no_prompt_when_stdin_is_closed(tmp_path: Path) -> None:
    """A real subprocess with stdin closed: defaults are used, nothing waits for input."""
    target = tmp_path / "my-server"
    target.mkdir()
    proc = subprocess.run(
        [*MCPB, "init", str(target)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        f"wrote {target}/manifest.json: my-server 0.1.0, python server, entry point server/main.py"
    )
    data = read_manifest(target)
    assert data == {
        "manifest_version": DEFAULT_VERSION,
        "name": "my-server",
        "version": "0.1.0",
        "description": "my-server MCP server",
        "author": {"name": "Unknown Author"},
        "server": {
            "type": "python",
            "entry_point": "server/main.py",
            "mcp_config": {
                "command": "python3",
                "args": ["${__dirname}/server/main.py"],
                "env": {"PYTHONPATH": "${__dirname}/server/lib"},
                "platform_overrides": {"win32": {"command": "python"}},
            },
        },
    }
    assert (target / ".mcpbignore").read_text() == render_ignore_file()


def test_infers_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\n"
        'name = "weather-mcp"\nversion = "2.1.0"\ndescription = "Weather tools"\n'
        'requires-python = ">=3.11,<3.14"\nlicense = "Apache-2.0"\n'
        'authors = [{name = "Ada Lovelace", email = "ada@example.org"}]\n'
    )
    (tmp_path / "server.py").write_text("print()\n")
    result = run("init", tmp_path, "--yes")
    assert result.exit_code == 0, result.output
    assert "(from pyproject.toml)" in result.stdout
    data = read_manifest(tmp_path)
    assert data["name"] == "weather-mcp"
    assert data["version"] == "2.1.0"
    assert data["description"] == "Weather tools"
    assert data["author"] == {"name": "Ada Lovelace", "email": "ada@example.org"}
    assert data["license"] == "Apache-2.0"
    assert data["server"]["entry_point"] == "server.py"  # type: ignore[index]
    assert data["compatibility"] == {"runtimes": {"python": ">=3.11 <3.14"}}


def test_infers_node_from_package_json(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(
        json.dumps(
            {
                "name": "@acme/files-mcp",
                "version": "0.4.2",
                "description": "File tools",
                "author": "Grace Hopper <grace@example.org> (https://example.org)",
                "main": "./dist/index.js",
                "license": "MIT",
                "engines": {"node": ">=20"},
            }
        )
    )
    result = run("init", tmp_path, "--yes", "--manifest-version", "0.2")
    assert result.exit_code == 0, result.output
    data = read_manifest(tmp_path)
    assert data["manifest_version"] == "0.2"
    assert data["name"] == "@acme/files-mcp"
    assert data["author"] == {
        "name": "Grace Hopper",
        "email": "grace@example.org",
        "url": "https://example.org",
    }
    assert data["server"] == {
        "type": "node",
        "entry_point": "dist/index.js",
        "mcp_config": {"command": "node", "args": ["${__dirname}/dist/index.js"], "env": {}},
    }
    assert data["compatibility"] == {"runtimes": {"node": ">=20"}}


def test_flags_override_inference(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"name": "from-package", "main": "a.js"}))
    result = run(
        "init",
        tmp_path,
        "--name",
        "flagged",
        "--type",
        "binary",
        "--entry-point",
        "./bin/server",
        "--description",
        "A binary server",
        "--author",
        "Linus <l@example.org>",
        "--version",
        "9.9.9",
        "--manifest-version",
        "0.4",
    )
    assert result.exit_code == 0, result.output
    data = read_manifest(tmp_path)
    assert data["name"] == "flagged"
    assert data["version"] == "9.9.9"
    assert data["manifest_version"] == "0.4"
    assert data["author"] == {"name": "Linus", "email": "l@example.org"}
    assert data["server"] == {
        "type": "binary",
        "entry_point": "bin/server",
        "mcp_config": {"command": "${__dirname}/bin/server", "args": [], "env": {}},
    }


def test_every_manifest_version_validates(tmp_path: Path) -> None:
    for version in ("0.1", "0.2", "0.3", "0.4"):
        for kind in ("python", "node", "binary"):
            target = tmp_path / f"{version}-{kind}"
            result = run("init", target, "--yes", "--type", kind, "--manifest-version", version)
            assert result.exit_code == 0, result.output
            assert read_manifest(target)["manifest_version"] == version


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"keep": true}\n')
    result = run("init", tmp_path, "--yes")
    assert result.exit_code == 2
    assert result.stderr == (
        f"mcpb: error: {tmp_path}/manifest.json: already exists (use --force to overwrite)\n"
    )
    assert (tmp_path / "manifest.json").read_text() == '{"keep": true}\n'
    assert not (tmp_path / ".mcpbignore").exists()
    result = run("init", tmp_path, "--yes", "--force", "--name", "replaced")
    assert result.exit_code == 0
    assert read_manifest(tmp_path)["name"] == "replaced"


def test_existing_mcpbignore_is_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / ".mcpbignore").write_text("/mine\n")
    result = run("init", tmp_path, "--yes")
    assert result.exit_code == 0
    assert f"kept existing {tmp_path}/.mcpbignore" in result.stdout
    assert (tmp_path / ".mcpbignore").read_text() == "/mine\n"
    assert run("init", tmp_path, "--yes", "--force").exit_code == 0
    assert (tmp_path / ".mcpbignore").read_text() == render_ignore_file()


def test_bad_entry_point_is_refused_and_nothing_written(tmp_path: Path) -> None:
    result = run("init", tmp_path, "--yes", "--entry-point", "../outside.py")
    assert result.exit_code == 2
    assert result.stderr == (
        "mcpb: error: --entry-point: must be a path inside the bundle, got '../outside.py'\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_creates_a_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "new" / "proj"
    assert run("init", target, "--yes").exit_code == 0
    assert read_manifest(target)["name"] == "proj"


def test_author_parsing() -> None:
    assert Author.parse("Jane Doe") == Author("Jane Doe")
    assert Author.parse("Jane <j@x.org>") == Author("Jane", "j@x.org")
    assert Author.parse("Jane (https://x.org)") == Author("Jane", None, "https://x.org")


def test_ignore_file_explains_anchoring_and_is_valid_gitignore(tmp_path: Path) -> None:
    text = render_ignore_file()
    assert "Anchor" in text and "leading '/'" in text
    active = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert active == ["/tests/", "/.github/"]


def _read_until(fd: int, needle: bytes, buffer: bytearray, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while needle not in buffer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {needle!r} in output: {bytes(buffer)!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"EOF before {needle!r}: {bytes(buffer)!r}")
            buffer.extend(chunk)


def on_terminal(args: list[str], dialogue: list[tuple[bytes, bytes]]) -> bytes:
    """Run ``mcpb ARGS`` on a pseudo-terminal, answer each prompt, return everything shown."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*MCPB, *args], stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = bytearray()
    try:
        for prompt, answer in dialogue:
            _read_until(master, prompt, out)
            os.write(master, answer)
        _read_until(master, b"next: mcpb validate", out)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return bytes(out)


@pytest.mark.timeout(120)
def test_prompts_on_a_terminal(tmp_path: Path) -> None:
    """On a real pseudo-terminal, init asks for every value not given by a flag."""
    (tmp_path / "package.json").write_text(json.dumps({"name": "pkg-name", "version": "3.0.0"}))
    dialogue = [
        (b"Version [3.0.0]: ", b"\n"),  # accept the inferred default
        (b"Description [flag-name MCP server]: ", b"Typed on a TTY\n"),
        (b"Author name [Unknown Author]: ", b"Tty User <tty@example.org>\n"),
        (b"Server type (python, node, binary) [node]: ", b"python\n"),
        (b"Entry point [server/main.py]: ", b"app/run.py\n"),
    ]
    out = on_terminal(["init", str(tmp_path), "--name", "flag-name"], dialogue)
    assert b"Bundle name" not in out  # given by --name: not asked
    data = read_manifest(tmp_path)
    assert data["name"] == "flag-name"
    assert data["version"] == "3.0.0"
    assert data["description"] == "Typed on a TTY"
    assert data["author"] == {"name": "Tty User", "email": "tty@example.org"}
    assert data["server"]["entry_point"] == "app/run.py"  # type: ignore[index]


@pytest.mark.timeout(120)
def test_yes_never_prompts_even_on_a_terminal(tmp_path: Path) -> None:
    out = on_terminal(["init", str(tmp_path), "--yes"], [])
    assert b"[" not in out  # no "Question [default]:" prompt was shown
    assert read_manifest(tmp_path)["name"] == tmp_path.name


def test_no_prompt_when_stdin_is_really_closed(tmp_path: Path) -> None:
    """fd 0 closed (``<&-``), not just /dev/null: Python starts with ``sys.stdin = None``."""
    script = 'exec "$@" <&-'
    proc = subprocess.run(
        ["sh", "-c", script, "sh", *MCPB, "init", str(tmp_path), "--type", "node"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_manifest(tmp_path)["server"]["type"] == "node"  # type: ignore[index]
