"""``--with/--constraint/--override``: uv's options for Python, npm overrides for Node; and the
record of resolved versions read from what the installers left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpb.bundle.errors import UsageError
from mcpb.bundler.builder.dependencies import (
    add_npm_overrides,
    node_versions,
    npm_overrides,
    parse_pins,
    python_requirements,
    python_versions,
)


def test_python_pins(tmp_path: Path) -> None:
    constraints = tmp_path / "c.txt"
    constraints.write_text("anyio<5\n")
    pins = parse_pins(("mcp<2", "httpx==0.28.1"), constraints, None)
    assert python_requirements(pins) == ["mcp<2", "httpx==0.28.1"]
    assert pins.uv_arguments() == ["--constraint", str(constraints.resolve())]
    with pytest.raises(UsageError, match="--with 'mcp<<2': not a Python requirement"):
        python_requirements(parse_pins(("mcp<<2",), None, None))
    with pytest.raises(UsageError, match=r"--override .*: no such file"):
        parse_pins((), None, tmp_path / "nope.txt")


def test_node_pins_become_overrides_in_the_staging_package(tmp_path: Path) -> None:
    overrides = tmp_path / "o.json"
    overrides.write_text('{"zod": "3.25.0", "express": {"qs": "6.13.0"}}')
    pins = parse_pins(("@scope/lib@1.2.3", "ajv@^8"), None, overrides)
    wanted = {"zod": "3.25.0", "express": {"qs": "6.13.0"}, "@scope/lib": "1.2.3", "ajv": "^8"}
    assert npm_overrides(pins) == wanted
    package = tmp_path / "package.json"
    package.write_text('{"name": "x", "version": "1.0.0", "overrides": {"old": "1"}}')
    add_npm_overrides(package, npm_overrides(pins))
    assert json.loads(package.read_text())["overrides"] == {"old": "1", **wanted}
    with pytest.raises(UsageError, match="expected NAME@VERSION"):
        npm_overrides(parse_pins(("zod",), None, None))
    constraint = tmp_path / "c.txt"
    constraint.write_text("x\n")
    with pytest.raises(UsageError, match="npm has no constraints"):
        npm_overrides(parse_pins((), constraint, None))


def test_recorded_versions(tmp_path: Path) -> None:
    site = tmp_path / "lib"
    for stem in ("mcp-1.9.4", "Typing_Extensions-4.12.2", "pydantic_core-2.33.1"):
        (site / f"{stem}.dist-info").mkdir(parents=True)
    assert python_versions(site) == {
        "mcp": "1.9.4", "typing-extensions": "4.12.2", "pydantic-core": "2.33.1",
    }  # fmt: skip
    modules = tmp_path / "node_modules"
    modules.mkdir()
    (modules / ".package-lock.json").write_text(
        json.dumps(
            {
                "packages": {
                    "node_modules/a": {"version": "1.0.0"},
                    "node_modules/@s/b": {"version": "2.0.0"},
                    "node_modules/a/node_modules/c": {"version": "1.0.0"},
                    "node_modules/c": {"version": "2.0.0"},
                    "node_modules/linked": {"link": True, "resolved": "../x"},
                }
            }
        )
    )
    assert node_versions(modules) == {"@s/b": "2.0.0", "a": "1.0.0", "c": "1.0.0, 2.0.0"}
    assert node_versions(tmp_path / "none") == {}
