"""server.json rendering: identifiers, names, environment variables, schema validation."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mcpb.bundle.errors import BuildError, UsageError
from mcpb.bundle.platform import parse_platform
from mcpb.bundler.builder.serverjson import (
    BuiltBundle,
    Publishing,
    environment_variables,
    load_schema,
    registry_name,
    render_server_json,
    validate_server_json,
)

OFFICIAL = (
    Path(__file__).resolve().parents[3] / "shared" / "schemas" / "server.schema.2025-12-11.json"
)
AMD = BuiltBundle(parse_platform("amd64"), "srv-v1.2.0-linux-amd64.mcpb", "a" * 64, 10)
ARM = BuiltBundle(parse_platform("arm64"), "srv-v1.2.0-linux-arm64.mcpb", "b" * 64, 11)

MANIFEST = {
    "manifest_version": "0.3",
    "name": "srv",
    "display_name": "Server",
    "version": "1.2.0",
    "description": "does things",
    "author": {"name": "me"},
    "homepage": "https://example.org/srv",
    "server": {
        "type": "python",
        "entry_point": "server/main.py",
        "mcp_config": {
            "command": "python3",
            "args": ["${__dirname}/server/main.py"],
            "env": {
                "PYTHONPATH": "${__dirname}/server/lib",
                "API_KEY": "${user_config.api_key}",
                "DEBUG": "${user_config.debug}",
                "ROOT": "${user_config.root}",
            },
        },
    },
    "user_config": {
        "api_key": {
            "type": "string",
            "title": "API key",
            "description": "Key",
            "required": True,
            "sensitive": True,
        },
        "debug": {"type": "boolean", "title": "Debug", "description": "Verbose", "default": False},
        "root": {"type": "directory", "title": "Root", "description": "Where", "default": "/srv"},
    },
}


def test_shipped_schema_is_the_official_one() -> None:
    if OFFICIAL.exists():  # CI checks out shared/ beside the repository
        assert load_schema() == json.loads(OFFICIAL.read_text())
    assert load_schema()["$id"].endswith("/2025-12-11/server.schema.json")


def test_render_both_platforms_with_github_releases() -> None:
    doc = render_server_json(
        MANIFEST, [ARM, AMD], Publishing(repo="acme/srv"), runtime="python:3.11"
    )
    validate_server_json(doc)
    jsonschema.Draft7Validator(load_schema()).validate(doc)
    assert doc["name"] == "io.github.acme/srv"
    assert doc["title"] == "Server" and doc["websiteUrl"] == "https://example.org/srv"
    assert doc["repository"] == {"url": "https://github.com/acme/srv", "source": "github"}
    assert [(p["identifier"], p["fileSha256"]) for p in doc["packages"]] == [
        (
            "https://github.com/acme/srv/releases/download/v1.2.0/srv-v1.2.0-linux-amd64.mcpb",
            "a" * 64,
        ),
        (
            "https://github.com/acme/srv/releases/download/v1.2.0/srv-v1.2.0-linux-arm64.mcpb",
            "b" * 64,
        ),
    ]
    ours = doc["_meta"]["io.github.mcpb-toolchain"]
    assert ours["runtime"] == "python:3.11"
    assert [b["platform"] for b in ours["builds"]] == ["linux/amd64", "linux/arm64"]


def test_environment_variables_from_user_config_only() -> None:
    assert environment_variables(MANIFEST) == [
        {"name": "API_KEY", "description": "Key", "isRequired": True, "isSecret": True},
        {
            "name": "DEBUG",
            "description": "Verbose",
            "isRequired": False,
            "isSecret": False,
            "format": "boolean",
            "default": "false",
        },
        {
            "name": "ROOT",
            "description": "Where",
            "isRequired": False,
            "isSecret": False,
            "format": "filepath",
            "default": "/srv",
        },
    ]


@pytest.mark.parametrize(
    ("publishing", "expected"),
    [
        (Publishing(base_url="https://dl.example.org/x/"), "https://dl.example.org/x/f.mcpb"),
        (Publishing(base_url="https://h.example/{version}/{file}"), "https://h.example/2.0/f.mcpb"),
        (Publishing(), "f.mcpb"),
    ],
)
def test_identifier_templates(publishing: Publishing, expected: str) -> None:
    assert publishing.identifier("2.0", "f.mcpb") == expected


def test_bad_publishing_options() -> None:
    with pytest.raises(UsageError, match="--repo 'nope': expected OWNER/REPO"):
        Publishing(repo="nope")
    with pytest.raises(UsageError, match="--base-url"):
        Publishing(base_url="ftp://x")
    with pytest.raises(UsageError, match="--server-name 'no slash': expected NAMESPACE/NAME"):
        Publishing(server_name="no slash")


def test_registry_name_precedence() -> None:
    assert (
        registry_name(MANIFEST, Publishing(server_name="org.x/y", repo="a/b"), "m/n") == "org.x/y"
    )
    assert registry_name(MANIFEST, Publishing(repo="a/b"), "io.github.z/srv") == "io.github.z/srv"
    assert registry_name({"name": "my srv!"}, Publishing(), None) == "local/my-srv"


def test_long_description_is_cut_to_the_schema_limit() -> None:
    doc = render_server_json({**MANIFEST, "description": "x" * 150}, [AMD], Publishing())
    assert len(doc["description"]) == 100 and doc["description"].endswith("…")
    validate_server_json(doc)


def test_invalid_document_is_a_build_error_naming_the_field() -> None:
    doc = render_server_json(MANIFEST, [AMD], Publishing())
    doc["packages"][0]["fileSha256"] = "XYZ"
    doc["name"] = "no-slash"
    with pytest.raises(BuildError) as err:
        validate_server_json(doc)
    assert str(err.value).startswith("server.json: 2 schema error(s): name: ")
    assert "packages.0.fileSha256: 'XYZ' does not match" in str(err.value)
