"""``mcpb build --arg/--env/--user-config/--manifest-overlay``: parsed once, applied to the
staged manifest, and the result validates as a manifest."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mcpb.bundle.errors import UsageError
from mcpb.bundle.manifest import validate_manifest_data
from mcpb.bundle.manifest_view import read_manifest_view
from mcpb.bundle.placeholders import resolve_launch
from mcpb.bundler.builder.launch_options import (
    LaunchOptions,
    apply_launch_options,
    merge_patch,
    parse_launch_options,
    parse_user_config_option,
)
from tests.support.manifests import minimal_manifest

DERIVED: dict[str, Any] = minimal_manifest(
    server={
        "type": "node",
        "entry_point": "server/index.js",
        "mcp_config": {"command": "node", "args": ["${__dirname}/server/index.js"]},
    }
)


def test_user_config_spec_forms() -> None:
    plain = parse_user_config_option("root:directory")
    assert (plain.key, plain.type, plain.required, plain.multiple, plain.default) == (
        "root", "directory", False, False, None,
    )  # fmt: skip
    full = parse_user_config_option("dirs:directory:required:multiple=/srv")
    assert (full.required, full.multiple, full.default) == (True, True, ["/srv"])
    number = parse_user_config_option("port:number=8080")
    assert number.default == 8080
    listed = parse_user_config_option('paths:file:multiple=["/a","/b"]')
    assert listed.default == ["/a", "/b"]
    flag = parse_user_config_option("verbose:boolean=yes")
    assert flag.default is True


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("root", "expected KEY:TYPE"),
        ("root:folder", "type must be one of string, number, boolean, directory, file"),
        ("9x:string", "key must be"),
        ("root:directory:optional", "unknown flag 'optional'"),
        ("port:number=eighty", "default: user_config.port"),
    ],
)
def test_user_config_spec_errors_name_the_flag(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_user_config_option(text)
    assert str(err.value).startswith(f"--user-config {text!r}: ")
    assert problem in str(err.value)


def test_flags_become_a_valid_manifest_whose_multiple_value_expands(tmp_path: Path) -> None:
    options = parse_launch_options(
        ("--root", "${user_config.dirs}", "--mode=${user_config.mode}"),
        ("LOG_LEVEL=debug", "HOME_DIR=${HOME}"),
        ("dirs:directory:required:multiple", "mode:string=ro"),
        None,
    )
    manifest = copy.deepcopy(DERIVED)
    notes = apply_launch_options(manifest, options)
    assert notes == []
    assert validate_manifest_data(manifest) == []
    config = manifest["server"]["mcp_config"]
    assert config["args"] == [
        "${__dirname}/server/index.js",
        "--root",
        "${user_config.dirs}",
        "--mode=${user_config.mode}",
    ]
    assert config["env"] == {"LOG_LEVEL": "debug", "HOME_DIR": "${HOME}"}
    assert manifest["user_config"]["dirs"]["required"] is True
    assert "MCPB_USER_CONFIG_DIRS" in manifest["user_config"]["dirs"]["description"]
    view = read_manifest_view(manifest, source="m")
    resolved = resolve_launch(
        view.mcp_config, view.user_config, {"dirs": ["/a", "/b"]}, bundle_dir=tmp_path
    )
    assert resolved.args == [f"{tmp_path}/server/index.js", "--root", "/a", "/b", "--mode=ro"]


def test_undeclared_placeholder_and_unused_key() -> None:
    with pytest.raises(UsageError) as err:
        apply_launch_options(copy.deepcopy(DERIVED), LaunchOptions(args=("${user_config.db}",)))
    assert "declare it with --user-config db:TYPE" in str(err.value)
    options = parse_launch_options((), (), ("db:file",), None)
    notes = apply_launch_options(copy.deepcopy(DERIVED), options)
    assert notes == [
        "user_config.db is declared but no argument or variable uses it; "
        "add --arg '${user_config.db}'"
    ]


def test_duplicates_and_bad_env_are_refused() -> None:
    with pytest.raises(UsageError, match="'a' is declared twice"):
        parse_launch_options((), (), ("a:string", "a:number"), None)
    with pytest.raises(UsageError, match="--env 'NOVALUE'"):
        parse_launch_options((), ("NOVALUE",), (), None)
    with pytest.raises(UsageError, match="--env: X is given twice"):
        parse_launch_options((), ("X=1", "X=2"), (), None)


def test_overlay_is_a_merge_patch_applied_last(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.json"
    overlay.write_text(
        '{"display_name": "Files", "server": {"mcp_config": {"env": {"A": null, "B": "2"}}},'
        ' "keywords": ["fs"]}'
    )
    options = parse_launch_options((), ("A=1",), (), overlay)
    manifest = copy.deepcopy(DERIVED)
    apply_launch_options(manifest, options)
    assert manifest["display_name"] == "Files"
    assert manifest["keywords"] == ["fs"]
    assert manifest["server"]["mcp_config"]["env"] == {"B": "2"}
    assert manifest["server"]["mcp_config"]["command"] == "node"  # untouched siblings stay
    assert merge_patch({"a": {"b": 1}}, {"a": 2}) == {"a": 2}
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    with pytest.raises(UsageError, match=f"--manifest-overlay {bad}: "):
        parse_launch_options((), (), (), bad)
    with pytest.raises(UsageError, match="cannot read"):
        parse_launch_options((), (), (), tmp_path / "missing.json")
