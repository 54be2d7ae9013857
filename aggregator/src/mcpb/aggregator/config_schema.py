"""The JSON Schema of the aggregator's configuration, generated from the models.

Run ``python -m mcpb.aggregator.config_schema [DIR]`` to (re)write
``DIR/aggregator-config.schema.json`` (default ``schemas``), or with ``--check`` to fail when
the file there is stale. Editors use it for completion and checking; the rules that relate
parts of the file (selectors naming known upstreams, distinct prefixes) are checked only by
the aggregator itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mcpb.aggregator.config import UPSTREAM_KINDS, AggregatorConfig
from mcpb.bundle.atomic import write_atomic

FILE_NAME = "aggregator-config.schema.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def aggregator_config_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a configuration file."""
    schema = AggregatorConfig.model_json_schema()
    upstream = schema["$defs"]["UpstreamConfig"]
    upstream["oneOf"] = [{"required": [kind]} for kind in UPSTREAM_KINDS]
    upstream["allOf"] = [
        {"if": {"required": ["bundle"]}, "then": {"required": ["sha256"]}},
    ]
    schema["title"] = "mcpb aggregator configuration"
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def render() -> str:
    """The schema file's text."""
    return json.dumps(aggregator_config_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema into a directory, or check that the one there is current."""
    parser = argparse.ArgumentParser(prog="python -m mcpb.aggregator.config_schema")
    parser.add_argument("directory", nargs="?", default="schemas", type=Path)
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args(argv)
    path = args.directory / FILE_NAME
    text = render()
    if args.check:
        current = path.read_text("utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run python -m mcpb.aggregator.config_schema", file=sys.stderr)
            return 1
        return 0
    write_atomic(path, text.encode("utf-8"))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
