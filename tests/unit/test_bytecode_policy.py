"""When the loader compiles a tree ahead: only if the server would not cache its own bytecode."""

from __future__ import annotations

from typing import Any

import pytest

from mcpb.bundle.errors import ManifestError
from mcpb.bundle.manifest_view import ManifestView, read_manifest_view
from mcpb.loader.bytecode import server_writes_bytecode


def raw(env: Any = None) -> dict[str, Any]:
    config: dict[str, Any] = {"command": "python3", "args": ["${__dirname}/server/main.py"]}
    if env is not None:
        config["env"] = env
    server = {"type": "python", "entry_point": "server/main.py", "mcp_config": config}
    return {"name": "x", "version": "1.0.0", "server": server}


def manifest(env: dict[str, str] | None = None) -> ManifestView:
    return read_manifest_view(raw(env), source="manifest.json")


@pytest.mark.parametrize(
    ("environ", "env", "expected"),
    [
        ({}, None, True),
        ({"PYTHONDONTWRITEBYTECODE": ""}, None, True),  # empty means unset to CPython
        ({"PYTHONDONTWRITEBYTECODE": "1"}, None, False),
        ({}, {"PYTHONDONTWRITEBYTECODE": "1"}, False),
        ({}, {"PYTHONPATH": "${__dirname}/server/lib"}, True),
    ],
)
def test_compile_ahead_only_when_bytecode_writing_is_off(
    environ: dict[str, str], env: dict[str, str] | None, expected: bool
) -> None:
    assert server_writes_bytecode(manifest(env), environ) is expected


def test_malformed_manifest_shapes_are_refused_when_the_view_is_read() -> None:
    with pytest.raises(ManifestError, match=r"server\.mcp_config\.env: must be an object"):
        read_manifest_view(raw(["x"]), source="manifest.json")
    with pytest.raises(ManifestError, match="server: must be an object"):
        read_manifest_view({"name": "x", "version": "1", "server": "python"}, source="m")
