"""Reading the configuration file: YAML or JSON by extension, validated, errors in one line.

The file is hostile input like any other: bounded in size and depth, YAML read with the safe
loader, anchors and aliases refused (an alias bomb expands to gigabytes in whatever walks the
tree), duplicate keys refused (YAML and JSON would silently keep the last one). Every error
names the file, the path inside it and what is wrong, and nothing is served from a file that
fails: the caller gets a :class:`ConfigError` or a complete :class:`AggregatorConfig`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mcpb.aggregator.config import AggregatorConfig
from mcpb.aggregator.errors import ConfigError
from mcpb.bundle.jsondoc import MAX_DEPTH, TOO_DEEP, depth_over

#: The largest configuration file read, bytes.
MAX_CONFIG_SIZE = 4 << 20
SUFFIXES = (".json", ".yaml", ".yml")


def load_config_file(path: Path) -> AggregatorConfig:
    """The validated configuration in ``path``; :class:`ConfigError` names what is wrong."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ConfigError(f"{path}: the file name must end in .json, .yaml or .yml")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_SIZE + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    if len(raw) > MAX_CONFIG_SIZE:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_SIZE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 (byte {err.start})") from None
    data = parse_json(path, text) if suffix == ".json" else parse_yaml(path, text)
    return validate(data, str(path))


def validate(data: Any, source: str) -> AggregatorConfig:
    """``data`` (a decoded document) as a configuration; errors are prefixed with ``source``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping at the top level")
    if depth_over(data, MAX_DEPTH):
        raise ConfigError(f"{source}: {TOO_DEEP}")
    try:
        return AggregatorConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}: {describe(err)}") from None


def describe(err: ValidationError) -> str:
    """The first problems of a validation error, each as ``path: what``."""
    problems = []
    for item in err.errors()[:5]:
        where = dotted(item["loc"])
        text = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {text}" if where else text)
    more = len(err.errors()) - len(problems)
    if more > 0:
        problems.append(f"and {more} more")
    return "; ".join(problems)


def dotted(location: tuple[Any, ...]) -> str:
    """A pydantic location as a path: ``vmcps.dev.select[0].tools``."""
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("list[str]", "str", "function-after[_split_command(), union[list[str],str]]"):
            continue  # the union branch pydantic tried, not a place in the file
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_json(path: Path, text: str) -> Any:
    """Decode JSON, refusing duplicate keys and non-JSON constants."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise ConfigError(f"{path}: the key {key!r} appears twice in one object")
            out[key] = value
        return out

    def constant(name: str) -> Any:
        raise ConfigError(f"{path}: {name} is not a JSON value")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: {TOO_DEEP}") from None


class _StrictLoader(yaml.SafeLoader):
    """The safe loader without aliases and without duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                problem="anchors and aliases are not supported", problem_mark=event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"the key {key!r} appears twice in one mapping",
                    problem_mark=key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_yaml(path: Path, text: str) -> Any:
    """Decode YAML with :class:`_StrictLoader`; errors carry the line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path}: invalid YAML at {where}{err.problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{path}: {TOO_DEEP}") from None
