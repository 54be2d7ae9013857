"""Placeholder substitution in mcp_config and typing of user_config values."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mcpb.bundle.errors import PlaceholderError
from mcpb.bundle.placeholders import (
    ResolvedConfig,
    coerce_user_config,
    env_var_name,
    render_value,
    resolve_launch,
    user_config_from_environ,
)

BUNDLE = Path("/srv/bundles/demo")
HOME = Path("/home/alice")


@dataclass
class Override:
    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None


@dataclass
class Config:
    command: str = "python"
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    platform_overrides: dict[str, Override] = field(default_factory=dict)


@dataclass
class Option:
    type: str = "string"
    required: bool = False
    default: object = None
    multiple: bool = False
    min: float | None = None
    max: float | None = None


def resolve(
    config: Config,
    schema: Mapping[str, Option] | None = None,
    values: Mapping[str, object] | None = None,
    **kw,
) -> ResolvedConfig:
    return resolve_launch(config, schema or {}, values or {}, bundle_dir=BUNDLE, home=HOME, **kw)


def test_system_placeholders_everywhere():
    config = Config(
        command="${__dirname}/bin/server",
        args=["${HOME}", "${DESKTOP}", "${DOCUMENTS}", "${DOWNLOADS}", "a${pathSeparator}b${/}c"],
        env={"PYTHONPATH": "${__dirname}${/}server${/}lib", "PLAIN": "value"},
    )
    spec = resolve(config)
    assert spec == ResolvedConfig(
        command="/srv/bundles/demo/bin/server",
        args=[
            "/home/alice",
            "/home/alice/Desktop",
            "/home/alice/Documents",
            "/home/alice/Downloads",
            "a/b/c",
        ],
        env={"PYTHONPATH": "/srv/bundles/demo/server/lib", "PLAIN": "value"},
        cwd=BUNDLE,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.command = "other"  # type: ignore[misc]


def test_windows_path_separator():
    spec = resolve(Config(args=["a${/}b", "${pathSeparator}"]), os_name="win32")
    assert spec.args == ["a\\b", "\\"]


def test_user_values_are_inserted_and_rendered():
    schema = {
        "token": Option(),
        "port": Option(type="number"),
        "ratio": Option(type="number"),
        "whole": Option(type="number"),
        "debug": Option(type="boolean"),
        "quiet": Option(type="boolean"),
    }
    values = {"token": "s3cr$t&", "port": 8080, "ratio": 0.25, "whole": 3.0, "debug": True}
    values["quiet"] = False
    config = Config(
        args=[
            "--port=${user_config.port}",
            "${user_config.ratio}",
            "${user_config.whole}",
            "--debug=${user_config.debug}",
            "${user_config.quiet}",
        ],
        env={"TOKEN": "${user_config.token}", "MIXED": "p${user_config.port}-${user_config.token}"},
    )
    spec = resolve(config, schema, values)
    assert spec.args == ["--port=8080", "0.25", "3", "--debug=true", "false"]
    assert spec.env == {"TOKEN": "s3cr$t&", "MIXED": "p8080-s3cr$t&"}


def test_defaults_are_expanded_before_substitution():
    schema = {
        "notes": Option(type="directory", default="${HOME}/notes"),
        "roots": Option(type="directory", multiple=True, default=["${DOCUMENTS}", "${/}tmp"]),
        "level": Option(type="number", default=2),
    }
    config = Config(
        args=["--dir=${user_config.notes}", "${user_config.roots}", "${user_config.level}"]
    )
    spec = resolve(config, schema)
    assert spec.args == ["--dir=/home/alice/notes", "/home/alice/Documents", "/tmp", "2"]


def test_user_values_are_not_expanded_again():
    schema = {"dir": Option(type="directory", default="${HOME}/x")}
    spec = resolve(Config(args=["${user_config.dir}"]), schema, {"dir": "${HOME}/literal"})
    assert spec.args == ["${HOME}/literal"]


def test_list_values_are_spliced_into_args():
    schema = {"paths": Option(type="directory", multiple=True)}
    config = Config(args=["serve", "${user_config.paths}", "--end"])
    spec = resolve(config, schema, {"paths": ["/a", "/b c", "/d"]})
    assert spec.args == ["serve", "/a", "/b c", "/d", "--end"]
    # A single value for a 'multiple' option is a one-element list.
    assert resolve(config, schema, {"paths": "/only"}).args == ["serve", "/only", "--end"]


@pytest.mark.parametrize(
    "config",
    [
        Config(args=["--paths=${user_config.paths}"]),
        Config(env={"PATHS": "${user_config.paths}"}),
        Config(command="${user_config.paths}"),
    ],
)
def test_list_value_inside_a_string_is_an_error(config):
    schema = {"paths": Option(multiple=True)}
    with pytest.raises(PlaceholderError, match=r"user_config\.paths: has several values"):
        resolve(config, schema, {"paths": ["/a", "/b"]})


@pytest.mark.parametrize(
    "value", [None, "", [], [""], ["/a", ""]], ids=["absent", "empty", "no-items", "blank", "hole"]
)
def test_required_missing_names_the_key(value):
    schema = {"api_key": Option(required=True, multiple=isinstance(value, list))}
    values = {} if value is None else {"api_key": value}
    with pytest.raises(PlaceholderError, match=r"^user_config\.api_key: required"):
        resolve(Config(args=["${user_config.api_key}"]), schema, values)


def test_required_is_satisfied_by_a_default():
    schema = {"region": Option(required=True, default="eu")}
    assert resolve(Config(args=["${user_config.region}"]), schema).args == ["eu"]


def test_unknown_placeholders_are_left_as_written():
    config = Config(
        command="${NOPE}",
        args=["${user_config.undeclared}", "${HOME", "$HOME", "${}", "x${user_config.undeclared}"],
        env={"A": "${PATH}"},
    )
    spec = resolve(config)
    assert spec.command == "${NOPE}"
    assert spec.args == [
        "${user_config.undeclared}",
        "${HOME",
        "$HOME",
        "${}",
        "x${user_config.undeclared}",
    ]
    assert spec.env == {"A": "${PATH}"}


def test_optional_unset_values():
    schema = {"token": Option(), "dirs": Option(multiple=True)}
    config = Config(
        args=["a", "${user_config.token}", "${user_config.dirs}", "--t=${user_config.token}"],
        env={"TOKEN": "${user_config.token}", "URL": "https://x/?t=${user_config.token}"},
    )
    spec = resolve(config, schema)
    assert spec.args == ["a", "--t="]
    assert spec.env == {"URL": "https://x/?t="}
    # An empty string counts as unset too.
    assert resolve(config, schema, {"token": ""}).env == {"URL": "https://x/?t="}


def test_platform_overrides_replace_whole_keys():
    config = Config(
        command="python",
        args=["-m", "server", "${user_config.x}"],
        env={"A": "1", "B": "2"},
        platform_overrides={
            "linux": Override(args=["${__dirname}/linux.py"], env={"C": "${HOME}"}),
            "darwin": Override(command="python3", args=["mac"]),
            "win32": Override(command="", env={}),
        },
    )
    schema = {"x": Option(default="d")}
    linux = resolve(config, schema)
    assert (linux.command, linux.args, linux.env) == (
        "python",
        ["/srv/bundles/demo/linux.py"],
        {"C": "/home/alice"},
    )
    darwin = resolve(config, schema, os_name="darwin")
    assert (darwin.command, darwin.args, darwin.env) == ("python3", ["mac"], {"A": "1", "B": "2"})
    # An empty command keeps the base one; an empty env replaces it (no merge).
    win = resolve(config, schema, os_name="win32")
    assert (win.command, win.args, win.env) == ("python", ["-m", "server", "d"], {})
    no_override = resolve(Config(args=["x"]), os_name="linux")
    assert no_override.args == ["x"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (Option(type="number"), "abc", "expected a number, got 'abc'"),
        (Option(type="number", min=1, max=10), 11, "11 is above the maximum 10"),
        (Option(type="number", min=1.5), 1, "1 is below the minimum 1.5"),
        (Option(type="number"), True, "expected a number, got bool"),
        (Option(type="boolean"), "maybe", "expected a boolean"),
        (Option(type="string"), 5, "expected a string, got int"),
        (Option(type="string"), ["a"], "takes one value, not a list"),
        (Option(type="number"), float("nan"), "expected a finite number"),
    ],
)
def test_bad_values_name_the_key(option, value, message):
    with pytest.raises(PlaceholderError) as err:
        resolve(Config(args=["${user_config.k}"]), {"k": option}, {"k": value})
    assert str(err.value).startswith("user_config.k: ")
    assert message in str(err.value)


def test_undeclared_value_is_refused():
    with pytest.raises(PlaceholderError, match=r"user_config\.typo: not declared"):
        resolve(Config(), {"k": Option()}, {"typo": "x"})


def test_render_value():
    assert [render_value(v) for v in (1, 1.0, -2.0, 0.5, 1e21, True, False, "t")] == [
        "1",
        "1",
        "-2",
        "0.5",
        "1e+21",
        "true",
        "false",
        "t",
    ]


SCHEMA = {
    "port": Option(type="number", min=1, max=65535),
    "ratio": Option(type="number"),
    "debug": Option(type="boolean"),
    "name": Option(),
    "dirs": Option(type="directory", multiple=True),
    "ids": Option(type="number", multiple=True),
    "api-key": Option(),
}


def test_coerce_user_config_types_values():
    raw = {
        "port": " 8080 ",
        "ratio": "1e3",
        "debug": "Yes",
        "name": " spaced, kept ",
        "dirs": '["/a", "/b,c"]',
        "ids": '[1, "2", 3.5]',
    }
    assert coerce_user_config(SCHEMA, raw) == {
        "port": 8080,
        "ratio": 1000.0,
        "debug": True,
        "name": " spaced, kept ",
        "dirs": ["/a", "/b,c"],
        "ids": [1, 2, 3.5],
    }
    assert type(coerce_user_config(SCHEMA, {"port": "80"})["port"]) is int
    assert coerce_user_config(SCHEMA, {"dirs": "/one,with:comma"}) == {"dirs": ["/one,with:comma"]}
    for word, expected in [("0", False), ("off", False), ("TRUE", True), ("on", True)]:
        assert coerce_user_config(SCHEMA, {"debug": word}) == {"debug": expected}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"port": "eighty"}, "user_config.port: expected a number, got 'eighty'"),
        ({"port": "0"}, "user_config.port: 0 is below the minimum 1"),
        ({"port": "inf"}, "user_config.port: expected a finite number"),
        ({"debug": "2"}, "user_config.debug: expected a boolean"),
        ({"dirs": "[1, 2"}, "user_config.dirs: not a JSON array"),
        ({"dirs": "[1]"}, "user_config.dirs: expected a string, got int"),
        ({"ids": '["x"]'}, "user_config.ids: expected a number, got 'x'"),
        ({"nope": "1"}, "user_config.nope: not declared"),
    ],
)
def test_coerce_user_config_errors(raw, message):
    with pytest.raises(PlaceholderError) as err:
        coerce_user_config(SCHEMA, raw)
    assert str(err.value).startswith(message)


def test_user_config_from_environ():
    assert env_var_name("api-key") == "MCPB_USER_CONFIG_API_KEY"
    environ = {
        "PATH": "/usr/bin",
        "MCPB_USER_CONFIG": '{"port": 8000, "name": "from-json", "dirs": ["/x"]}',
        "MCPB_USER_CONFIG_PORT": "9000",
        "MCPB_USER_CONFIG_API_KEY": "k",
    }
    assert user_config_from_environ(SCHEMA, environ) == {
        "port": 9000,
        "name": "from-json",
        "dirs": ["/x"],
        "api-key": "k",
    }
    with pytest.raises(PlaceholderError, match=r"^MCPB_USER_CONFIG_PROT: no user_config key"):
        user_config_from_environ(SCHEMA, {"MCPB_USER_CONFIG_PROT": "1"})
    with pytest.raises(PlaceholderError, match=r"^MCPB_USER_CONFIG: expected a JSON object"):
        user_config_from_environ(SCHEMA, {"MCPB_USER_CONFIG": "[1]"})
    with pytest.raises(PlaceholderError, match=r"^user_config\.port: 70000 is above"):
        user_config_from_environ(SCHEMA, {"MCPB_USER_CONFIG": '{"port": 70000}'})
    with pytest.raises(PlaceholderError, match="ambiguous"):
        user_config_from_environ({"a-b": Option(), "a_b": Option()}, {})


def test_environment_values_flow_into_the_launch():
    schema = {"port": Option(type="number", required=True), "dirs": SCHEMA["dirs"]}
    values = user_config_from_environ(
        schema, {"MCPB_USER_CONFIG_PORT": "8080", "MCPB_USER_CONFIG_DIRS": '["/a","/b"]'}
    )
    config = Config(args=["--port", "${user_config.port}", "${user_config.dirs}"])
    assert resolve(config, schema, values).args == ["--port", "8080", "/a", "/b"]
