"""How the build-time check fills required user_config values, and when it cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpb.bundle.errors import UsageError
from mcpb.bundle.manifest_view import OptionView, read_manifest_view
from mcpb.bundle.platform import host_platform, parse_platform
from mcpb.bundler.builder.check import _fill_values, parse_check_options, skip_reason
from tests.support.manifests import minimal_manifest


def options(**user_config: dict[str, object]) -> dict[str, OptionView]:
    manifest = minimal_manifest(
        user_config={
            key: {"title": key, "description": key, **spec} for key, spec in user_config.items()
        }
    )
    return dict(read_manifest_view(manifest, source="m").user_config)


def test_directories_and_files_get_fresh_paths_and_given_values_win(tmp_path: Path) -> None:
    view = options(
        root={"type": "directory", "required": True},
        db={"type": "file", "required": True},
        mode={"type": "string", "required": True},
        opt={"type": "string"},
        port={"type": "number", "required": True, "default": 1},
    )
    values = _fill_values(view, {"mode": "ro"}, tmp_path)
    assert isinstance(values, dict)
    assert values["mode"] == "ro"
    assert Path(values["root"]).is_dir() and Path(values["root"]).parent == tmp_path
    assert not Path(values["db"]).exists() and Path(values["db"]).parent.is_dir()
    assert "opt" not in values and "port" not in values  # optional, or defaulted


def test_a_value_the_check_cannot_invent_skips_it_naming_the_key(tmp_path: Path) -> None:
    view = options(token={"type": "string", "required": True})
    assert _fill_values(view, {}, tmp_path) == (
        "check skipped: user_config.token is required; pass --check-config token=VALUE"
    )
    with pytest.raises(UsageError, match="--check-config nope: not a user_config key"):
        _fill_values(view, {"nope": "x"}, tmp_path)


def test_foreign_platforms_are_not_checked_here_and_flags_are_checked() -> None:
    host = host_platform()
    other = parse_platform("linux/arm64" if host.arch == "amd64" else "linux/amd64")
    reason = skip_reason(other, "binary")
    assert reason is not None and reason.startswith(f"{other}: not checked (this machine is")
    assert skip_reason(host, "binary") is None
    missing = skip_reason(host, "python:3.99")  # no such Python anywhere
    assert missing == f"{host}: not checked (python3.99 is not installed here)"
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        parse_check_options(True, ("novalue",), 60)
    with pytest.raises(UsageError, match="positive number of seconds"):
        parse_check_options(True, (), 0)
