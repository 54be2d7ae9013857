"""When the loader compiles a tree ahead: only if the server would not cache its own bytecode."""

from __future__ import annotations

from typing import Any

import pytest

from mcpb.loader.bytecode import server_writes_bytecode


def manifest(env: dict[str, str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"command": "python3", "args": ["${__dirname}/server/main.py"]}
    if env is not None:
        config["env"] = env
    return {"server": {"type": "python", "entry_point": "server/main.py", "mcp_config": config}}


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


def test_malformed_manifest_shapes_do_not_raise() -> None:
    assert server_writes_bytecode({"server": "python"}, {}) is True
    assert server_writes_bytecode({"server": {"mcp_config": {"env": ["x"]}}}, {}) is True
