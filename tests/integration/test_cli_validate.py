"""``mcpb validate``: manifests, directories and bundles; every error with its JSON path; file
reference checks (errors vs warnings); exit codes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from mcpb.bundler.cli import main
from mcpb.bundler.validation import validate_path

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def manifest(**extra: Any) -> dict[str, Any]:
    return {
        "manifest_version": "0.3",
        "name": "v",
        "version": "1.0.0",
        "description": "d",
        "author": {"name": "a"},
        "server": {
            "type": "node",
            "entry_point": "server/index.js",
            "mcp_config": {
                "command": "node",
                "args": ["${__dirname}/server/index.js", "--data=${__dirname}/data"],
                "env": {"NODE_PATH": "${__dirname}/node_modules"},
            },
        },
        **extra,
    }


def project(root: Path, data: dict[str, Any], files: dict[str, bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(data))
    for name, content in {"server/index.js": b"1\n", **(files or {})}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def test_valid_directory_with_warnings_exits_zero(tmp_path: Path) -> None:
    root = project(tmp_path / "p", manifest())
    result = run("validate", root)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "warning: server.mcp_config.args[1]: data: does not exist",
        "warning: server.mcp_config.env.NODE_PATH: node_modules: does not exist",
        f"{root}/manifest.json: valid directory (v 1.0.0, manifest_version 0.3)",
    ]


def test_schema_errors_are_listed_with_json_paths_and_exit_one(tmp_path: Path) -> None:
    data = manifest()
    data["author"] = {}
    data["server"]["mcp_config"]["args"] = ["ok", 7]
    data["user_config"] = {"k": {"type": "colour", "title": "t", "description": "d"}}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    result = run("validate", path)
    assert result.exit_code == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    paths = {line.removeprefix("error: ").split(":")[0] for line in errors}
    assert paths == {"author.name", "server.mcp_config.args[1]", "user_config.k.type"}
    assert result.stderr == f"{path}: invalid (3 errors)\n"


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"name": "x",\n  oops}\n')
    result = run("validate", path)
    assert result.exit_code == 1
    assert result.stdout.startswith("error: ")
    assert "2" in result.stdout.splitlines()[0]  # the line of the syntax error


def test_entry_point_and_command_files_are_errors(tmp_path: Path) -> None:
    data = manifest()
    data["server"] = {
        "type": "binary",
        "entry_point": "bin/server",
        "mcp_config": {"command": "${__dirname}/bin/server", "args": []},
    }
    root = project(tmp_path / "p", data)
    report = validate_path(root)
    assert [str(e) for e in report.errors] == [
        "server.entry_point: bin/server: no such file in the project",
        "server.mcp_config.command: bin/server: no such file in the project",
    ]
    (root / "bin").mkdir()
    (root / "bin" / "server").write_bytes(b"\x7fELF")
    report = validate_path(root)
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        "server.mcp_config.command: bin/server: not executable (no exec bit)"
    ]
    (root / "bin" / "server").chmod(0o755)
    assert validate_path(root).warnings == ()


def test_platform_override_paths_are_only_warnings(tmp_path: Path) -> None:
    data = manifest()
    data["server"]["mcp_config"]["platform_overrides"] = {
        "win32": {"command": "${__dirname}${/}bin${/}server.exe"}
    }
    report = validate_path(project(tmp_path / "p", data, {"data/x": b"", "node_modules/a": b""}))
    assert report.ok
    assert [str(w) for w in report.warnings] == [
        "server.mcp_config.platform_overrides.win32.command: bin/server.exe: "
        "no such file in the project"
    ]


def test_icon_checks_match_the_reference_rules(tmp_path: Path) -> None:
    base = {"data/x": b"", "node_modules/a": b""}
    root = project(tmp_path / "p", manifest(icon="icon.png"), base)
    assert [str(e) for e in validate_path(root).errors] == [
        "icon: icon.png: no such file in the project"
    ]
    (root / "icon.png").write_bytes(b"GIF89a")
    assert [str(e) for e in validate_path(root).errors] == ["icon: icon.png: not a PNG file"]
    (root / "icon.png").write_bytes(PNG)
    assert validate_path(root).ok
    root2 = project(tmp_path / "q", manifest(icon="${__dirname}/icon.png"), base)
    assert "without ${__dirname}" in str(validate_path(root2).errors[0])
    root3 = project(tmp_path / "r", manifest(icon="https://example.org/i.png"), base)
    report = validate_path(root3)
    assert report.ok and "remote URL" in str(report.warnings[0])


def test_files_hidden_by_mcpbignore_count_as_missing(tmp_path: Path) -> None:
    root = project(tmp_path / "p", manifest(), {".mcpbignore": b"/server/\n"})
    report = validate_path(root)
    assert [str(e) for e in report.errors] == [
        "server.entry_point: server/index.js: "
        "excluded from the bundle by .mcpbignore or a default exclude"
    ]


def test_a_manifest_with_another_name_is_checked_against_the_schema_only(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(manifest()))
    result = run("validate", path)
    assert result.exit_code == 0
    assert "note: file references not checked: other.json is not named manifest.json" in (
        result.stdout
    )


def test_directory_without_manifest(tmp_path: Path) -> None:
    result = run("validate", tmp_path)
    assert result.exit_code == 1
    assert (
        result.stdout
        == f"error: <root>: no manifest.json (create one with `mcpb init {tmp_path}`)\n"
    )


def test_bundle_validation_uses_its_members(tmp_path: Path) -> None:
    bundle = tmp_path / "b.mcpb"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest()))
        zf.writestr("data/readme.txt", "x")
        zf.writestr("node_modules/a/index.js", "x")
    result = run("validate", bundle)
    assert result.exit_code == 1
    assert (
        result.stdout == "error: server.entry_point: server/index.js: no such file in the bundle\n"
    )
    with zipfile.ZipFile(bundle, "a") as zf:
        zf.writestr("server/index.js", "x")
    result = run("validate", bundle, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "path": str(bundle),
        "kind": "bundle",
        "valid": True,
        "errors": [],
        "warnings": [],
        "notes": [],
    }


def test_a_corrupt_bundle_is_a_one_line_error(tmp_path: Path) -> None:
    bundle = tmp_path / "bad.mcpb"
    bundle.write_bytes(b"PK\x03\x04 not really a zip")
    result = run("validate", bundle)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"mcpb: error: {bundle}")
    assert result.stderr.count("\n") == 1


def test_json_output_lists_errors(tmp_path: Path) -> None:
    data = manifest()
    del data["description"]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    result = run("validate", path, "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["valid"] is False
    assert [e["path"] for e in payload["errors"]] == ["description"]


def test_paths_with_spaces_and_path_lists(tmp_path: Path) -> None:
    data = manifest()
    config = data["server"]["mcp_config"]
    config["args"] = ["${__dirname}/server/index.js", "${__dirname}/my data/conf file.json"]
    config["env"] = {"NODE_PATH": "${__dirname}/node_modules:${__dirname}/extra libs"}
    root = project(tmp_path / "p", data, {"node_modules/a": b""})
    assert [str(w) for w in validate_path(root).warnings] == [
        "server.mcp_config.args[1]: my data/conf file.json: does not exist",
        "server.mcp_config.env.NODE_PATH: extra libs: does not exist",
    ]
    (root / "my data").mkdir()
    (root / "my data" / "conf file.json").write_text("{}")
    (root / "extra libs").mkdir()
    (root / "extra libs" / "x.js").write_text("1")
    assert validate_path(root).warnings == ()


def test_entry_points_under_node_modules_are_vendored_by_build(tmp_path: Path) -> None:
    """A Node project whose manifest starts a dependency: before ``npm install`` (or ``mcpb
    build``) the file is absent, which is a warning in a project and an error in a bundle."""
    data = manifest()
    entry = "node_modules/@acme/server/dist/index.js"
    data["server"] = {
        "type": "node",
        "entry_point": entry,
        "mcp_config": {"command": "node", "args": [f"${{__dirname}}/{entry}"]},
    }
    root = project(tmp_path / "p", data)
    result = run("validate", root)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        f"warning: server.entry_point: {entry}: not yet "
        "(dependencies are vendored there by `mcpb build`)"
    )
    bundle = tmp_path / "b.mcpb"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("manifest.json", json.dumps(data))
    result = run("validate", bundle)
    assert result.exit_code == 1
    assert result.stdout == f"error: server.entry_point: {entry}: no such file in the bundle\n"
