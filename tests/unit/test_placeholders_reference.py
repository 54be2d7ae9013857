"""Differential test: our placeholder resolution against the reference's own function.

The reference package exports ``getMcpConfigForManifest`` (what Claude Desktop uses); we run
it under Node on the same manifests and values. Where we match, outputs must be equal; where
we deliberately differ (see :mod:`mcpb.bundle.placeholders`), both sides are pinned.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mcpb.bundle.errors import PlaceholderError
from mcpb.bundle.placeholders import resolve_launch
from tests.support.npm import REFERENCE_MCPB, npm_package
from tests.unit.test_placeholders import Config, Option, Override

pytestmark = pytest.mark.interop

BUNDLE = "/srv/bundles/demo"
HOME = "/home/alice"
SYSTEM_DIRS = {
    "HOME": HOME,
    "DESKTOP": f"{HOME}/Desktop",
    "DOCUMENTS": f"{HOME}/Documents",
    "DOWNLOADS": f"{HOME}/Downloads",
}

DRIVER = """
import { pathToFileURL } from "node:url";
const mod = await import(pathToFileURL(process.argv[2]).href);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const c of JSON.parse(input)) {
  const r = await mod.getMcpConfigForManifest({
    manifest: c.manifest, extensionPath: c.extensionPath, systemDirs: c.systemDirs,
    userConfig: c.userConfig, pathSeparator: "/",
  });
  out.push(r === undefined ? null : r);
}
process.stdout.write(JSON.stringify(out));
"""


def manifest(mcp_config: dict[str, Any], user_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "manifest_version": "0.3",
        "name": "demo",
        "version": "1.0.0",
        "description": "d",
        "author": {"name": "a"},
        "server": {"type": "python", "entry_point": "server/main.py", "mcp_config": mcp_config},
        "user_config": user_config,
    }


def ours_ok(case: dict[str, Any]) -> dict[str, Any]:
    result = ours(case)
    assert result is not None
    return result


def ours(case: dict[str, Any]) -> dict[str, Any] | None:
    m = case["manifest"]
    raw = m["server"]["mcp_config"]
    config = Config(
        command=raw["command"],
        args=raw.get("args", []),
        env=raw.get("env", {}),
        platform_overrides={k: Override(**v) for k, v in raw.get("platform_overrides", {}).items()},
    )
    schema = {k: Option(**v) for k, v in m["user_config"].items()}
    try:
        spec = resolve_launch(
            config, schema, case["userConfig"], bundle_dir=Path(BUNDLE), home=Path(HOME)
        )
    except PlaceholderError:
        return None
    return {"command": spec.command, "args": spec.args, "env": spec.env}


def reference(reference_mcpb: Path, cases: list[dict[str, Any]], tmp_path: Path) -> list[Any]:
    node = shutil.which("node")
    assert node is not None, "node comes with npm, which installs the reference CLI"
    del reference_mcpb  # requested so the package is installed
    entry = npm_package(REFERENCE_MCPB) / "node_modules/@anthropic-ai/mcpb/dist/browser.js"
    assert entry.is_file(), entry
    driver = tmp_path / "driver.mjs"
    driver.write_text(DRIVER)
    result = subprocess.run(
        [node, str(driver), str(entry)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outputs: list[Any] = json.loads(result.stdout)
    return outputs


def case(mcp_config: dict[str, Any], user_config: dict[str, Any], values: dict[str, Any]):
    return {
        "manifest": manifest(mcp_config, user_config),
        "extensionPath": BUNDLE,
        "systemDirs": SYSTEM_DIRS,
        "userConfig": values,
    }


SAME = {
    "system placeholders": case(
        {
            "command": "${__dirname}/bin/run",
            "args": [
                "${HOME}",
                "${DESKTOP}/${DOCUMENTS}",
                "${DOWNLOADS}",
                "a${/}b${pathSeparator}c",
            ],
            "env": {"PYTHONPATH": "${__dirname}/server/lib"},
        },
        {},
        {},
    ),
    "typed user values": case(
        {
            "command": "python",
            "args": ["--port=${user_config.port}", "${user_config.debug}", "${user_config.ratio}"],
            "env": {"TOKEN": "${user_config.token}", "FLAG": "${user_config.quiet}"},
        },
        {
            "port": {"type": "number"},
            "debug": {"type": "boolean"},
            "quiet": {"type": "boolean"},
            "ratio": {"type": "number"},
            "token": {"type": "string", "required": True},
        },
        {"port": 8080, "debug": True, "quiet": False, "ratio": 0.25, "token": "t0k"},
    ),
    "list spliced into args": case(
        {"command": "srv", "args": ["a", "${user_config.dirs}", "z"]},
        {"dirs": {"type": "directory", "multiple": True}},
        {"dirs": ["/x", "/y z"]},
    ),
    "plain default": case(
        {"command": "srv", "args": ["--level", "${user_config.level}"]},
        {"level": {"type": "number", "default": 3}},
        {},
    ),
    "unknown placeholders": case(
        {"command": "${NOPE}", "args": ["${user_config.undeclared}", "${HOME", "$HOME"]},
        {},
        {},
    ),
    "linux override replaces whole keys": case(
        {
            "command": "python",
            "args": ["generic"],
            "env": {"A": "1"},
            "platform_overrides": {
                "linux": {"args": ["${__dirname}/linux"], "env": {"B": "${HOME}"}},
                "darwin": {"command": "mac"},
            },
        },
        {},
        {},
    ),
    "required missing": case(
        {"command": "srv", "args": ["${user_config.key}"]},
        {"key": {"type": "string", "required": True}},
        {},
    ),
    "required blank": case(
        {"command": "srv", "args": ["${user_config.key}"]},
        {"key": {"type": "string", "required": True}},
        {"key": ""},
    ),
}


def test_same_results_as_the_reference(reference_mcpb, tmp_path):
    names = list(SAME)
    theirs = reference(reference_mcpb, [SAME[n] for n in names], tmp_path)
    for name, expected in zip(names, theirs, strict=True):
        got = ours(SAME[name])
        if expected is None:
            assert got is None, name
            continue
        assert got is not None, name
        trimmed = {k: expected.get(k, {} if k == "env" else []) for k in ("command", "args", "env")}
        assert got == trimmed, name
    refused = [n for n, e in zip(names, theirs, strict=True) if e is None]
    assert refused == ["required missing", "required blank"]  # both sides refuse to start


def test_deliberate_differences_are_pinned(reference_mcpb, tmp_path):
    cases = {
        "default with a placeholder": case(
            {"command": "srv", "args": ["${user_config.dir}"]},
            {"dir": {"type": "directory", "default": "${HOME}/notes"}},
            {},
        ),
        "optional unset": case(
            {
                "command": "srv",
                "args": ["${user_config.t}", "-t=${user_config.t}"],
                "env": {"T": "${user_config.t}"},
            },
            {"t": {"type": "string"}},
            {},
        ),
        "required satisfied by default": case(
            {"command": "srv", "args": ["${user_config.r}"]},
            {"r": {"type": "string", "required": True, "default": "eu"}},
            {},
        ),
    }
    theirs = dict(
        zip(cases, reference(reference_mcpb, list(cases.values()), tmp_path), strict=True)
    )

    # The reference does one pass, so the default reaches the server unexpanded.
    assert theirs["default with a placeholder"]["args"] == ["${HOME}/notes"]
    assert ours_ok(cases["default with a placeholder"])["args"] == [f"{HOME}/notes"]

    # The reference passes the placeholder text itself to the server.
    assert theirs["optional unset"]["args"] == ["${user_config.t}", "-t=${user_config.t}"]
    assert theirs["optional unset"]["env"] == {"T": "${user_config.t}"}
    assert ours(cases["optional unset"]) == {"command": "srv", "args": ["-t="], "env": {}}

    # The reference counts only values the user gave; a default satisfies `required` for us.
    assert theirs["required satisfied by default"] is None
    assert ours_ok(cases["required satisfied by default"])["args"] == ["eu"]
