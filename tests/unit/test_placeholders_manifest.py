"""Placeholder resolution fed by the real manifest models (mcpb.bundle.manifest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpb.bundle.errors import PlaceholderError
from mcpb.bundle.manifest import parse_manifest
from mcpb.bundle.placeholders import ResolvedConfig, resolve_launch, user_config_from_environ

MANIFEST = {
    "manifest_version": "0.3",
    "name": "notes",
    "version": "1.2.0",
    "description": "A notes server",
    "author": {"name": "mcpb tests"},
    "server": {
        "type": "python",
        "entry_point": "server/main.py",
        "mcp_config": {
            "command": "python3",
            "args": [
                "${__dirname}/server/main.py",
                "--notes=${user_config.notes_dir}",
                "--max=${user_config.max_notes}",
                "${user_config.extra_dirs}",
            ],
            "env": {
                "PYTHONPATH": "${__dirname}${/}server${/}lib",
                "NOTES_TOKEN": "${user_config.token}",
                "NOTES_DEBUG": "${user_config.debug}",
            },
            "platform_overrides": {"win32": {"command": "python.exe"}},
        },
    },
    "user_config": {
        "notes_dir": {
            "type": "directory",
            "title": "Notes",
            "description": "Where notes live",
            "default": "${HOME}/notes",
        },
        "max_notes": {
            "type": "number",
            "title": "Max",
            "description": "Upper bound",
            "default": 100,
            "min": 1,
            "max": 1000,
        },
        "extra_dirs": {
            "type": "directory",
            "title": "Extra",
            "description": "More folders",
            "multiple": True,
        },
        "token": {
            "type": "string",
            "title": "Token",
            "description": "API token",
            "sensitive": True,
            "required": True,
        },
        "debug": {"type": "boolean", "title": "Debug", "description": "Verbose", "default": False},
    },
}


def test_resolves_a_parsed_manifest_with_environment_values():
    manifest = parse_manifest(MANIFEST)
    environ = {
        "MCPB_USER_CONFIG_TOKEN": "t-123",
        "MCPB_USER_CONFIG_EXTRA_DIRS": '["/data/a", "/data/b"]',
        "MCPB_USER_CONFIG_MAX_NOTES": "250",
    }
    values = user_config_from_environ(manifest.user_config, environ)
    spec = resolve_launch(
        manifest.server.mcp_config,
        manifest.user_config,
        values,
        bundle_dir=Path("/opt/bundle"),
        home=Path("/home/bob"),
    )
    assert spec == ResolvedConfig(
        command="python3",
        args=[
            "/opt/bundle/server/main.py",
            "--notes=/home/bob/notes",
            "--max=250",
            "/data/a",
            "/data/b",
        ],
        env={
            "PYTHONPATH": "/opt/bundle/server/lib",
            "NOTES_TOKEN": "t-123",
            "NOTES_DEBUG": "false",
        },
        cwd=Path("/opt/bundle"),
    )
    windows = resolve_launch(
        manifest.server.mcp_config,
        manifest.user_config,
        values,
        bundle_dir=Path("/opt/bundle"),
        os_name="win32",
        home=Path("/home/bob"),
    )
    assert windows.command == "python.exe"
    assert windows.env["PYTHONPATH"] == "/opt/bundle\\server\\lib"


def test_missing_required_and_out_of_range_values():
    manifest = parse_manifest(MANIFEST)
    with pytest.raises(PlaceholderError, match=r"^user_config\.token: required"):
        resolve_launch(
            manifest.server.mcp_config, manifest.user_config, {}, bundle_dir=Path("/opt/b")
        )
    with pytest.raises(PlaceholderError, match=r"^user_config\.max_notes: 5000 is above"):
        user_config_from_environ(
            manifest.user_config,
            {"MCPB_USER_CONFIG_TOKEN": "t", "MCPB_USER_CONFIG_MAX_NOTES": "5000"},
        )
