"""The aggregator's configuration file: formats, validation, one-line errors, the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from mcpb.aggregator.config_file import load_config_file, validate
from mcpb.aggregator.config_schema import FILE_NAME, aggregator_config_schema, main
from mcpb.aggregator.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

EXAMPLE = """
upstreams:
  time:
    url: http://time:8000/mcp
    headers: {X-Team: core}
    tags: [utility]
    categories: [time]
  everything:
    stdio: ["node", "/srv/everything/dist/index.js"]
    env: {LOG_LEVEL: info}
  git:
    bundle: https://example.org/git-v1.0.0-linux-amd64.mcpb
    sha256: "%s"
  legacy:
    sse: http://old:3000/sse
vmcps:
  dev:
    title: Developer tools
    select:
      - upstreams: [time]
      - tags: [utility]
      - tools: ["everything/echo", "git/git_*"]
    exclude: ["*/delete_*"]
    namespace: prefix
""" % ("ab" * 32)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_issue_example_loads_from_yaml_and_json_alike(tmp_path: Path) -> None:
    from_yaml = load_config_file(write(tmp_path, "a.yaml", EXAMPLE))
    data = yaml.safe_load(EXAMPLE)
    from_json = load_config_file(write(tmp_path, "a.json", json.dumps(data)))
    assert from_yaml == from_json
    assert [u.kind for u in from_yaml.upstreams.values()] == ["url", "stdio", "bundle", "sse"]
    assert from_yaml.upstreams["everything"].command == ["node", "/srv/everything/dist/index.js"]
    assert from_yaml.vmcps["dev"].exclude == ["*/delete_*"]
    assert from_yaml.max_sessions >= 10_000
    assert from_yaml.separator == "__"


def test_stdio_as_one_string_is_split_like_a_shell_never_run_through_one(tmp_path: Path) -> None:
    text = "upstreams:\n  a:\n    stdio: \"python3 -c 'print(1); import os' --flag=$HOME\"\n"
    config = load_config_file(write(tmp_path, "c.yml", text))
    assert config.upstreams["a"].command == ["python3", "-c", "print(1); import os", "--flag=$HOME"]


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("upstreams:\n  a: {}\n", "upstreams.a", "exactly one of url, sse, stdio"),
        (
            "upstreams:\n  a: {url: 'http://x/mcp', stdio: [x]}\n",
            "upstreams.a",
            "(got url, stdio)",
        ),
        ("upstreams:\n  a: {url: 'ftp://x'}\n", "upstreams.a.url", "http:// or https://"),
        ("upstreams:\n  a: {bundle: x.mcpb}\n", "upstreams.a", "needs its sha256"),
        ("upstreams:\n  a: {stdio: ''}\n", "upstreams.a.stdio", "the command is empty"),
        ("upstreams:\n  a: {stdio: [x], headers: {A: b}}\n", "upstreams.a", "headers apply"),
        ("upstreams:\n  a: {url: 'http://x', bogus: 1}\n", "upstreams.a.bogus", "Extra inputs"),
        ("upstreams:\n  'bad name': {url: 'http://x'}\n", "upstreams.bad name", "pattern"),
        (
            "upstreams:\n  a: {url: 'http://x'}\nvmcps:\n  v:\n    select: [{upstreams: [b]}]\n",
            "",
            "vmcps.v.select[0].upstreams names 'b', which is not an upstream",
        ),
        (
            "upstreams:\n  a: {url: 'http://x'}\n  b: {url: 'http://y', prefix: a}\n",
            "",
            "upstreams 'a' and 'b' have the same prefix 'a'",
        ),
        ("vmcps:\n  v: {namespace: sideways}\n", "vmcps.v.namespace", "'prefix', 'none'"),
        ("separator: '::'\n", "separator", "pattern"),
    ],
)
def test_invalid_configurations_name_the_file_the_path_and_the_problem(
    tmp_path: Path, text: str, where: str, what: str
) -> None:
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    assert where in message and what in message
    assert caught.value.service_exit_code == 78


@pytest.mark.parametrize(
    ("name", "text", "what"),
    [
        ("x.toml", "", "must end in .json, .yaml or .yml"),
        ("x.yaml", "a: [1, 2\n", "invalid YAML at line 2"),
        ("x.yaml", "base: &b {url: x}\nother: *b\n", "anchors and aliases are not supported"),
        ("x.yaml", "separator: a\nseparator: b\n", "the key 'separator' appears twice"),
        ("x.json", '{"separator": "a", "separator": "b"}', "the key 'separator' appears twice"),
        ("x.json", '{"a": NaN}', "NaN is not a JSON value"),
        ("x.json", "[1]", "must be a mapping at the top level"),
        ("x.yaml", "- 1\n", "must be a mapping at the top level"),
        ("x.json", '{"a": ' * 100 + "1" + "}" * 100, "nested too deeply"),
    ],
)
def test_hostile_or_broken_files_get_one_line_errors(
    tmp_path: Path, name: str, text: str, what: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert what in str(caught.value)


def test_a_missing_or_oversized_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "absent.yaml")
    big = write(tmp_path, "big.yaml", "# " + "x" * (5 << 20))
    with pytest.raises(ConfigError, match="larger than"):
        load_config_file(big)


def test_the_committed_schema_is_current() -> None:
    assert main([str(REPO / "schemas"), "--check"]) == 0, (
        "run: uv run python -m mcpb.aggregator.config_schema"
    )
    assert (REPO / "schemas" / FILE_NAME).is_file()


def schema_accepts(data: Any) -> bool:
    schema = aggregator_config_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema).is_valid(data)


@pytest.mark.parametrize(
    "data",
    [
        yaml.safe_load(EXAMPLE),
        {"upstreams": {"a": {}}},
        {"upstreams": {"a": {"url": "http://x", "stdio": ["y"]}}},
        {"upstreams": {"a": {"bundle": "x.mcpb"}}},
        {"vmcps": {"v": {"namespace": "sideways"}}},
        {"unknown": 1},
    ],
)
def test_the_schema_agrees_with_the_models(data: Any) -> None:
    try:
        validate(data, "inline")
        valid = True
    except ConfigError:
        valid = False
    assert schema_accepts(data) is valid
