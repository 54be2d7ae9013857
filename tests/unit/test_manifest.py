"""The manifest API: typed access, version folding, dumping, loading files and error messages."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mcpb.bundle.errors import Issue, ManifestError, McpbError
from mcpb.bundle.manifest import (
    DEFAULT_VERSION,
    SUPPORTED_VERSIONS,
    Manifest,
    dump_manifest,
    json_path,
    load_manifest,
    load_manifest_data,
    parse_manifest,
    resolve_manifest_version,
    validate_manifest_data,
)
from tests.data.manifests.official import corpus, load

FULL_03 = load(corpus("valid")[0].with_name("v03-full.json"))


def test_version_constants() -> None:
    assert SUPPORTED_VERSIONS == ("0.1", "0.2", "0.3", "0.4")
    assert DEFAULT_VERSION == "0.3"


def test_full_manifest_is_typed() -> None:
    m = parse_manifest(FULL_03)
    assert m.manifest_version == "0.3"
    assert m.schema_uri == "https://example.com/mcpb-manifest.schema.json"
    assert (m.name, m.version, m.display_name) == ("hello-full", "2.3.4-beta.1", "Hello (full)")
    assert m.author.name == "Ada"
    assert m.author.email == "ada@example.com"
    assert m.repository is not None and m.repository.url == "https://github.com/example/hello"
    assert m.server.type == "node"
    assert m.server.entry_point == "server/index.js"
    config = m.server.mcp_config
    assert config.command == "node"
    assert config.args == ["${__dirname}/server/index.js", "--key=${user_config.api_key}"]
    assert config.env == {"API_KEY": "${user_config.api_key}", "EMPTY": ""}
    win = config.platform_overrides["win32"]
    assert (win.command, win.args, win.env) == ("node.exe", None, {"PATHEXT": ".EXE"})
    assert config.platform_overrides["darwin"].args == []
    assert config.platform_overrides["linux"].command is None
    assert [t.name for t in m.tools] == ["greet", "wave"]
    assert m.prompts[0].arguments == ["who"]
    assert m.compatibility is not None
    assert m.compatibility.platforms == ["darwin", "win32", "linux"]
    assert m.compatibility.runtimes == {"python": ">=3.11 <3.14", "node": ">=20"}
    assert m.icons[1].theme == "dark"
    assert m.localization is not None and m.localization.default_locale == "en-US"
    assert m.meta["dev.mcpb-toolchain/v1"]["platform"] == "linux/amd64"
    assert m.privacy_policies[1] == "mailto:privacy@example.com"


def test_user_config_values_keep_their_json_types() -> None:
    m = parse_manifest(FULL_03)
    limit = m.user_config["limit"]
    assert limit.type == "number"
    assert limit.default == 10 and type(limit.default) is int
    assert limit.min == 1 and type(limit.min) is int
    assert limit.max == 100.5
    assert m.user_config["verbose"].default is False
    assert m.user_config["workspace"].default == ["${HOME}/work", "${DOCUMENTS}"]
    assert m.user_config["workspace"].multiple is True
    key = m.user_config["api_key"]
    assert (key.required, key.sensitive, key.multiple, key.default) == (True, True, False, None)
    assert (key.title, key.description) == ("API key", "Key for the service")


def test_minimal_manifest_defaults() -> None:
    m = parse_manifest(load(corpus("valid")[0].with_name("v01-minimal.json")))
    assert m.manifest_version == "0.1"
    assert m.display_name is None and m.compatibility is None and m.repository is None
    assert m.user_config == {} and m.meta == {} and m.tools == []
    assert m.server.mcp_config.env == {} and m.server.mcp_config.platform_overrides == {}


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_dxt_version_is_folded_into_manifest_version(version: str) -> None:
    data = {k: v for k, v in FULL_03.items() if k not in ("manifest_version", "_meta", "icons")}
    data = {k: v for k, v in data.items() if k not in ("localization", "privacy_policies")}
    data["dxt_version"] = version
    m = parse_manifest(data)
    assert m.manifest_version == version
    assert m.dxt_version == version
    dumped = dump_manifest(m)
    assert "manifest_version" not in dumped
    assert dumped == data


@pytest.mark.parametrize("path", corpus("valid"), ids=lambda p: p.stem)
def test_dump_round_trips_every_valid_case(path: Path) -> None:
    data = load(path)
    dumped = dump_manifest(parse_manifest(data))
    assert dumped == data
    assert json.loads(json.dumps(dumped)) == data
    # Key order follows the schema, whatever the input order was.
    reordered = dict(reversed(list(data.items())))
    assert list(dump_manifest(parse_manifest(reordered))) == list(dumped)
    order = [f.alias or name for name, f in Manifest.model_fields.items()]
    assert list(dumped) == [k for k in order if k in data]


def test_dump_sees_in_place_changes_and_assignments() -> None:
    m = parse_manifest(load(corpus("valid")[0].with_name("v03-minimal.json")))
    m.meta["dev.example/v1"] = {"arch": "arm64"}
    m.server.mcp_config.env["PYTHONPATH"] = "lib"
    m.display_name = "Hello"
    dumped = dump_manifest(m)
    assert dumped["_meta"] == {"dev.example/v1": {"arch": "arm64"}}
    assert dumped["server"]["mcp_config"]["env"] == {"PYTHONPATH": "lib"}
    assert dumped["display_name"] == "Hello"
    assert list(dumped).index("display_name") == list(dumped).index("name") + 1
    assert "user_config" not in dumped and "tools" not in dumped
    assert parse_manifest(dumped).meta == m.meta


def test_dump_keeps_integers_integers() -> None:
    data = load(corpus("valid")[0].with_name("user-config-number-defaults.json"))
    text = json.dumps(dump_manifest(parse_manifest(data)))
    assert '"default": 100000000000000000000' in text
    assert '"min": 0, "max": 0' in text


def test_parse_manifest_raises_with_every_issue() -> None:
    data = copy.deepcopy(FULL_03)
    data["server"]["mcp_config"]["args"][1] = 7
    data["user_config"]["api_key"]["type"] = "secret"
    data["author"]["email"] = "nobody"
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data, source="bundle/manifest.json")
    err = caught.value
    assert isinstance(err, McpbError)
    assert err.source == "bundle/manifest.json"
    assert err.issues == [
        Issue("author.email", "not a valid email address"),
        Issue("server.mcp_config.args[1]", "expected a string, got a number"),
        Issue(
            "user_config.api_key.type",
            "expected 'string', 'number', 'boolean', 'directory' or 'file'",
        ),
    ]
    assert str(err).startswith("bundle/manifest.json: 3 errors: author.email: not a valid")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, Issue("manifest_version", "required (one of 0.1, 0.2, 0.3, 0.4)")),
        (
            {"manifest_version": "0.7"},
            Issue("manifest_version", "unsupported version '0.7' (supported: 0.1, 0.2, 0.3, 0.4)"),
        ),
        (
            {"manifest_version": "0.3", "dxt_version": "0.2"},
            Issue("dxt_version", "'0.2' conflicts with manifest_version '0.3'"),
        ),
        (
            {"manifest_version": "0.1", "icons": []},
            Issue("icons", "not allowed in manifest_version 0.1 (since 0.3)"),
        ),
        (
            {"manifest_version": "0.2", "server": {"type": "uv"}},
            Issue("server.type", "'uv' needs manifest_version 0.4 or later"),
        ),
        (
            {"manifest_version": "0.3", "zz": 1},
            Issue("zz", "unknown key (not allowed by the schema)"),
        ),
        ({"manifest_version": "0.3", "name": None}, Issue("name", "must not be null")),
        (
            {"manifest_version": "0.3", "compatibility": {"runtimes": {"go": "1"}}},
            Issue("compatibility.runtimes.go", "unknown key (expected 'python' or 'node')"),
        ),
        (
            {"manifest_version": "0.3", "icons": [{"src": "a", "size": "big"}]},
            Issue("icons[0].size", "must match the pattern ^[0-9]+x[0-9]+$"),
        ),
        (
            {"manifest_version": "0.3", "user_config": {"a b": {"default": ["x", 2]}}},
            Issue(
                'user_config["a b"].default',
                "an array default holds strings only; item 1 is a number",
            ),
        ),
        (
            {"manifest_version": "0.3", "homepage": "x"},
            Issue("homepage", "not a valid absolute URL"),
        ),
        (
            {"manifest_version": "0.3", "author": []},
            Issue("author", "expected an object, got an array"),
        ),
        (
            {"manifest_version": "0.3", "tools_generated": 1},
            Issue("tools_generated", "expected a boolean, got a number"),
        ),
    ],
)
def test_issue_messages(data: dict[str, Any], expected: Issue) -> None:
    assert expected in validate_manifest_data(data)


def test_not_an_object() -> None:
    assert validate_manifest_data([]) == [Issue("", "expected a JSON object, got an array")]
    assert validate_manifest_data(None) == [Issue("", "expected a JSON object, got null")]


def test_model_validate_enforces_version_rules_too() -> None:
    """Code that builds a Manifest directly cannot bypass the version gates."""
    data = load(corpus("valid")[0].with_name("v03-minimal.json"))
    data["server"]["type"] = "uv"
    with pytest.raises(ValidationError, match=r"'uv' needs manifest_version 0\.4"):
        Manifest.model_validate(data)
    del data["manifest_version"]
    data["server"]["type"] = "node"
    with pytest.raises(ValidationError, match="manifest_version: required"):
        Manifest.model_validate(data)


@pytest.mark.parametrize("kind", ["valid", "invalid"])
def test_model_validate_agrees_with_validate_manifest_data(kind: str) -> None:
    for path in corpus(kind):
        data = load(path)
        try:
            Manifest.model_validate(data)
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted is (validate_manifest_data(data) == []), path.name


def test_resolve_manifest_version() -> None:
    assert resolve_manifest_version({"manifest_version": "0.2", "dxt_version": "0.1"}) == "0.2"
    assert resolve_manifest_version({"manifest_version": "9", "dxt_version": "0.1"}) == "0.1"
    assert resolve_manifest_version({"manifest_version": 0.2}) is None
    assert resolve_manifest_version({}) is None


def test_json_path() -> None:
    assert json_path(["server", "mcp_config", "args", 2]) == "server.mcp_config.args[2]"
    assert json_path(["user_config", "api_key", "type"]) == "user_config.api_key.type"
    assert json_path(["_meta", "dev.x/v1"]) == '_meta["dev.x/v1"]'
    assert json_path(["$schema"]) == "$schema"
    assert json_path(["user_config", ""]) == 'user_config[""]'
    assert json_path([]) == ""


# --- files ----------------------------------------------------------------------------------


def write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    return path


def test_load_manifest(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(FULL_03, indent=2).encode())
    assert load_manifest_data(path) == FULL_03
    m = load_manifest(path)
    assert m.name == "hello-full"
    assert dump_manifest(m) == FULL_03


def test_load_invalid_manifest_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"manifest_version": "0.3"}).encode())
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}: 5 errors: name: required")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{\n  "name": "x",\n  oops\n}',
            "invalid JSON at line 3, column 3: Expecting property name enclosed in double quotes",
        ),
        (b"", "invalid JSON at line 1, column 1: Expecting value"),
        (b"[1, 2]", "expected a JSON object, got an array"),
        (b'"manifest"', "expected a JSON object, got a string"),
        (b'{"a": NaN}', "invalid JSON: NaN is not a JSON value"),
        (b'{"a": -Infinity}', "invalid JSON: -Infinity is not a JSON value"),
        (b'\xef\xbb\xbf{"a": 1}', "starts with a UTF-8 byte order mark"),
        (b'{"name": "\xff"}', "not UTF-8 (byte 10)"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid JSON: nested too deeply"),
    ],
)
def test_load_manifest_data_rejects_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ManifestError) as caught:
        load_manifest_data(path)
    assert caught.value.issues == [Issue("", message)]
    assert str(caught.value) == f"{path}: <root>: {message}"


def test_load_manifest_data_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"manifest\.json: <root>: cannot read: No such file"):
        load_manifest_data(tmp_path / "manifest.json")
    with pytest.raises(ManifestError, match="cannot read: Is a directory"):
        load_manifest_data(tmp_path)
