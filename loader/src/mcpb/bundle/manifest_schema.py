"""JSON Schemas of the manifest, generated from our models, one per manifest_version.

Run ``python -m mcpb.bundle.manifest_schema [DIR]`` to (re)write ``DIR/mcpb-manifest-vX.Y.schema
.json`` (default ``schemas``), or with ``--check`` to fail when the files there are stale. The
schemas say what :mod:`mcpb.bundle.manifest` enforces, including what the official schemas leave
out: no ``null`` for optional keys, and one of ``manifest_version``/``dxt_version`` required.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from mcpb.bundle.atomic import write_atomic
from mcpb.bundle.errors import UsageError
from mcpb.bundle.manifest import (
    FIELD_SINCE,
    SERVER_TYPE_SINCE,
    SUPPORTED_VERSIONS,
    Manifest,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _ManifestSchemaGenerator(GenerateJsonSchema):
    """Our optional keys reject ``null`` and have no default in the file: say exactly that."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def schema_file_name(version: str) -> str:
    return f"mcpb-manifest-v{version}.schema.json"


def manifest_json_schema(version: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of a manifest of ``version``, derived from :class:`Manifest`."""
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(SUPPORTED_VERSIONS)
        raise UsageError(f"unsupported manifest version {version!r} (supported: {supported})")
    base = Manifest.model_json_schema(by_alias=True, schema_generator=_ManifestSchemaGenerator)
    schema: dict[str, Any] = copy.deepcopy(base)
    rank = SUPPORTED_VERSIONS.index(version)
    properties: dict[str, Any] = schema["properties"]
    for key, since in FIELD_SINCE.items():
        if rank < SUPPORTED_VERSIONS.index(since):
            del properties[key]
    for key in ("manifest_version", "dxt_version"):
        properties[key] = {"type": "string", "const": version}
    server_type = schema["$defs"]["Server"]["properties"]["type"]
    server_type["enum"] = [
        name
        for name in server_type["enum"]
        if rank >= SUPPORTED_VERSIONS.index(SERVER_TYPE_SINCE.get(name, SUPPORTED_VERSIONS[0]))
    ]
    schema.pop("description", None)
    for definition in schema["$defs"].values():
        definition.pop("description", None)  # docstrings are for Python readers
    schema["anyOf"] = [{"required": ["manifest_version"]}, {"required": ["dxt_version"]}]
    schema["title"] = f"MCPB manifest, manifest_version {version}"
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def render_schema(version: str) -> str:
    """The exact text of a schema file: 2-space indented JSON ending in a newline."""
    return json.dumps(manifest_json_schema(version), indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    """Write every version's schema into ``directory`` atomically; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for version in SUPPORTED_VERSIONS:
        target = directory / schema_file_name(version)
        write_atomic(target, render_schema(version).encode("utf-8"))
        written.append(target)
    return written


def stale_schemas(directory: Path) -> list[Path]:
    """Schema files in ``directory`` that are missing or differ from what the models generate."""
    stale = []
    for version in SUPPORTED_VERSIONS:
        path = directory / schema_file_name(version)
        if not path.is_file() or path.read_text(encoding="utf-8") != render_schema(version):
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mcpb.bundle.manifest_schema",
        description="Write the manifest JSON Schemas generated from the models.",
    )
    parser.add_argument("directory", nargs="?", default="schemas", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_schemas(args.directory)
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(args.directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
