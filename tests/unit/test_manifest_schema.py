"""Our generated manifest JSON Schemas: committed copies are current, and they mean what we do."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mcpb.bundle.errors import UsageError
from mcpb.bundle.manifest import SUPPORTED_VERSIONS, validate_manifest_data
from mcpb.bundle.manifest_schema import (
    manifest_json_schema,
    schema_file_name,
    stale_schemas,
    write_schemas,
)
from tests.data.manifests.official import REPO, applicable_version, corpus, load

SCHEMAS = REPO / "schemas"


@functools.cache
def our_validator(version: str) -> Draft202012Validator:
    schema = manifest_json_schema(version)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def our_schema_accepts(data: Any) -> bool:
    version = applicable_version(data)
    return version is not None and our_validator(version).is_valid(data)


def test_committed_schemas_are_up_to_date() -> None:
    stale = stale_schemas(SCHEMAS)
    assert stale == [], "run: uv run python -m mcpb.bundle.manifest_schema schemas"
    assert sorted(p.name for p in SCHEMAS.glob("mcpb-manifest-*.json")) == [
        schema_file_name(v) for v in SUPPORTED_VERSIONS
    ]


@pytest.mark.parametrize("kind", ["valid", "invalid"])
def test_generated_schemas_agree_with_the_models_on_the_corpus(kind: str) -> None:
    cases = corpus(kind)
    assert cases
    for path in cases:
        data = load(path)
        assert our_schema_accepts(data) is (validate_manifest_data(data) == []), path.name


def test_version_differences_are_in_the_schemas() -> None:
    props = {v: manifest_json_schema(v)["properties"] for v in SUPPORTED_VERSIONS}
    assert "privacy_policies" not in props["0.1"] and "privacy_policies" in props["0.2"]
    for key in ("icons", "localization", "_meta"):
        assert key not in props["0.2"] and key in props["0.3"] and key in props["0.4"]
    for version in SUPPORTED_VERSIONS:
        schema = manifest_json_schema(version)
        assert schema["properties"]["manifest_version"] == {"type": "string", "const": version}
        assert schema["additionalProperties"] is False
        server_types = schema["$defs"]["Server"]["properties"]["type"]["enum"]
        expected = ["python", "node", "binary"] + (["uv"] if version == "0.4" else [])
        assert server_types == expected
        assert set(schema["required"]) == {"name", "version", "description", "author", "server"}


def test_generated_schema_rejects_null_and_missing_version() -> None:
    data = load(corpus("valid")[0].with_name("v03-minimal.json"))
    validator = our_validator("0.3")
    assert validator.is_valid(data)
    assert not validator.is_valid({**data, "display_name": None})
    assert not validator.is_valid({k: v for k, v in data.items() if k != "manifest_version"})
    assert validator.is_valid(
        {**{k: v for k, v in data.items() if k != "manifest_version"}, "dxt_version": "0.3"}
    )


def test_unknown_version_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unsupported manifest version '0\.9'"):
        manifest_json_schema("0.9")


def test_schema_writer_entry_point(tmp_path: Path) -> None:
    """``python -m mcpb.bundle.manifest_schema`` writes, then ``--check`` spots a stale file."""
    run = [sys.executable, "-m", "mcpb.bundle.manifest_schema"]
    done = subprocess.run([*run, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for version in SUPPORTED_VERSIONS:
        written = tmp_path / schema_file_name(version)
        assert written.read_bytes() == (SCHEMAS / schema_file_name(version)).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        schema_file_name(v) for v in SUPPORTED_VERSIONS
    )
    check = subprocess.run(
        [*run, "--check", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stderr
    target = tmp_path / schema_file_name("0.2")
    target.write_text("{}", encoding="utf-8")
    check = subprocess.run(
        [*run, "--check", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 1
    assert f"stale: {target}" in check.stderr


def test_write_schemas_replaces_files_whole(tmp_path: Path) -> None:
    target = tmp_path / schema_file_name("0.1")
    target.write_text("old", encoding="utf-8")
    written = write_schemas(tmp_path)
    assert target in written
    assert target.read_text(encoding="utf-8").startswith('{\n  "$schema"')
    assert not list(tmp_path.glob(".*.tmp"))
