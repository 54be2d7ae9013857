"""Loader configuration from the environment, and user_config values from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpb.bundle.errors import PlaceholderError, UsageError
from mcpb.bundle.manifest_view import read_manifest_view
from mcpb.loader.config import SETTINGS, LoaderConfig, default_cache_dir, from_env, load_config
from mcpb.loader.launch import user_config_values
from mcpb.loader.run import exit_code_for
from tests.support.loader_bundles import manifest

SHA = "ab" * 32
BASE = {"BUNDLE_URL": "https://example.test/b.mcpb", "BUNDLE_SHA256": SHA, "HOME": "/h"}


def test_defaults_for_images_and_local() -> None:
    cfg = from_env({**BASE, "XDG_CACHE_HOME": "/xdg"})
    assert (cfg.host, cfg.port, cfg.mcp_path) == ("0.0.0.0", 8000, "/mcp")
    assert cfg.cache_dir == Path("/xdg/mcpb")
    assert cfg.sha256 == SHA
    assert not cfg.allow_unverified
    assert from_env(BASE, local=True).host == "127.0.0.1"


def test_values_are_parsed() -> None:
    cfg = from_env(
        {
            **BASE,
            "BUNDLE_SHA256": "SHA256:" + SHA.upper(),
            "PORT": "9001",
            "HOST": "::1",
            "MCP_PATH": "/x/mcp",
            "MCPB_CACHE_DIR": "/cache",
            "XDG_CACHE_HOME": "/ignored",
            "MCPB_USER_CONFIG": '{"a": 1, "b": [true]}',
            "MCPB_USER_CONFIG_API_KEY": "s3cret",
            "MCPB_STOP_GRACE": "2.5",
            "MCPB_MAX_BUNDLE_SIZE": "1000",
            "MCPB_TASK_AFTER": "2.5",
        }
    )
    assert cfg.sha256 == SHA
    assert (cfg.host, cfg.port, cfg.mcp_path) == ("::1", 9001, "/x/mcp")
    assert cfg.cache_dir == Path("/cache")
    assert cfg.user_config == {"a": 1, "b": [True]}
    assert cfg.user_config_strings == {"API_KEY": "s3cret"}
    assert (cfg.stop_grace, cfg.max_bundle_size) == (2.5, 1000)
    assert cfg.task_after == 2.5
    assert from_env({**BASE, "MCPB_TASK_AFTER": "never"}).task_after is None
    assert from_env(BASE).task_after == 1.0


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"BUNDLE_URL": ""}, "BUNDLE_URL"),
        ({"BUNDLE_SHA256": ""}, "MCPB_ALLOW_UNVERIFIED=1"),
        ({"BUNDLE_SHA256": "abc"}, "BUNDLE_SHA256"),
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"MCP_PATH": "mcp"}, "MCP_PATH"),
        ({"MCPB_ALLOW_UNVERIFIED": "maybe"}, "MCPB_ALLOW_UNVERIFIED"),
        ({"MCPB_USER_CONFIG": "{oops"}, "MCPB_USER_CONFIG: invalid JSON at line 1:2"),
        ({"MCPB_USER_CONFIG": "[1]"}, "MCPB_USER_CONFIG: expected a JSON object"),
        ({"MCPB_STOP_GRACE": "-1"}, "MCPB_STOP_GRACE"),
        ({"MCPB_MAX_BUNDLE_SIZE": "1.5"}, "MCPB_MAX_BUNDLE_SIZE"),
        ({"MCPB_TASK_AFTER": "soon"}, "MCPB_TASK_AFTER"),
    ],
)
def test_bad_variables_are_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(UsageError) as err:
        from_env({**BASE, **env})
    assert named in str(err.value)
    assert exit_code_for(err.value) == 64


def test_precedence_is_defaults_then_environment_then_flags() -> None:
    env = {**BASE, "PORT": "9001", "MCPB_MAX_SESSIONS": "5", "MCPB_MAX_BUNDLE_SIZE": "4096"}
    env["MCPB_USER_CONFIG_GREETING"] = "from-env"
    env["MCPB_USER_CONFIG_COUNT"] = "1"
    cfg = load_config(
        env,
        {"port": "9002", "bridge_mode": "stateful", "session_timeout": "0", "task_after": "0"},
        user_config_flags=("greeting=from-flag",),
        local=True,
    )
    assert cfg.port == 9002  # the flag wins over PORT
    assert cfg.max_sessions == 5 and cfg.session_limit == 5  # the variable applies
    assert cfg.max_bundle_size == 4096  # mcpb run honours MCPB_MAX_BUNDLE_SIZE
    assert cfg.user_config_strings == {"GREETING": "from-flag", "COUNT": "1"}
    assert (cfg.bridge_mode, cfg.session_timeout, cfg.task_after) == ("stateful", None, None)
    assert cfg.host == "127.0.0.1" and cfg.local
    assert cfg.stateful_hint == "--bridge-mode stateful"
    defaults = load_config({"BUNDLE_URL": "b.mcpb"}, local=True)
    assert (defaults.port, defaults.session_limit, defaults.session_timeout) == (8000, 1000, 600.0)
    assert (
        load_config({"BUNDLE_URL": "b", "MCPB_BRIDGE_MODE": "stateful"}, local=True).session_limit
        == 64
    )
    assert from_env(BASE).stateful_hint == "MCPB_BRIDGE_MODE=stateful"


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("port", "x", "--port: expected a port number"),
        ("max_sessions", "0", "--max-sessions: expected at least 1"),
        ("bridge_mode", "both", "--bridge-mode: expected shared or stateful"),
        ("session_timeout", "-2", "--session-timeout"),
        ("max_bundle_size", "big", "--max-bundle-size"),
        ("mcp_path", "mcp", "--mcp-path"),
        ("sha256", "abc", "--sha256"),
        ("stop_grace", "0", "--stop-grace"),
    ],
)
def test_a_bad_flag_is_named_as_the_flag(field: str, value: str, named: str) -> None:
    env = {**BASE, "PORT": "9001"}
    with pytest.raises(UsageError, match=named) as err:
        load_config(env, {field: value}, local=True)
    assert exit_code_for(err.value) == 64


def test_every_setting_has_a_field_and_one_name_per_source() -> None:
    fields = set(LoaderConfig.__dataclass_fields__)
    assert {s.field for s in SETTINGS} <= fields
    variables = [s.variable for s in SETTINGS]
    flags = [s.flag for s in SETTINGS if s.flag]
    assert len(set(variables)) == len(variables) and len(set(flags)) == len(flags)


def test_unverified_needs_the_explicit_switch() -> None:
    cfg = from_env({**BASE, "BUNDLE_SHA256": "", "MCPB_ALLOW_UNVERIFIED": "1"})
    assert cfg.sha256 is None
    assert cfg.allow_unverified


def test_cache_dir_fallback_to_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir({}) == tmp_path / ".cache" / "mcpb"


def test_user_config_json_and_per_key_variables_merge() -> None:
    data = manifest()
    data["user_config"]["count"] = {
        "type": "number",
        "title": "Count",
        "description": "how many",
        "min": 1,
        "max": 10,
    }
    m = read_manifest_view(data, source="manifest.json")
    cfg = LoaderConfig(
        bundle_url="x",
        user_config={"greeting": "from-json", "count": 2},
        user_config_strings={"COUNT": "7"},
    )
    assert user_config_values(cfg, m) == {"greeting": "from-json", "count": 7}
    too_big = LoaderConfig(bundle_url="x", user_config_strings={"COUNT": "70"})
    with pytest.raises(PlaceholderError, match="count"):
        user_config_values(too_big, m)
    unknown = LoaderConfig(bundle_url="x", user_config={"nope": 1})
    with pytest.raises(PlaceholderError, match="nope"):
        user_config_values(unknown, m)


def test_exit_codes_per_error_family() -> None:
    from mcpb.bundle.errors import (
        ArchiveError,
        FetchError,
        IncompatibleError,
        IntegrityError,
        Issue,
        ManifestError,
        McpbError,
        SignatureError,
        UnsafeArchiveError,
    )
    from mcpb.loader.cache import CacheError

    cases = {
        UsageError("x"): 64,
        IntegrityError("x"): 65,
        ArchiveError("x"): 66,
        UnsafeArchiveError("x"): 66,
        IncompatibleError("x"): 67,
        FetchError("x"): 69,
        McpbError("x"): 70,
        CacheError("x"): 73,
        PlaceholderError("x"): 78,
        ManifestError("m.json", [Issue("name", "missing")]): 66,
        SignatureError("x"): 66,
    }
    assert {type(e).__name__: exit_code_for(e) for e in cases} == {
        type(e).__name__: c for e, c in cases.items()
    }


@pytest.mark.parametrize(
    ("text", "minor"),
    [("3.13", "3.13"), ("3.11.7", "3.11"), ("python:3.12", "3.12"), ("cp313", "3.13")],
)
def test_python_minor_spellings(text: str, minor: str) -> None:
    from mcpb.loader.compat import python_minor

    assert python_minor(text) == minor


def test_unreadable_python_version_is_refused() -> None:
    from mcpb.bundle.errors import IncompatibleError
    from mcpb.loader.compat import python_minor

    with pytest.raises(IncompatibleError, match="'three'"):
        python_minor("three")


def test_the_exit_code_table_in_the_docs_matches_the_error_classes() -> None:
    import re
    from pathlib import Path

    import mcpb.aggregator.errors as aggregator_errors
    import mcpb.bundle.errors as errors
    from mcpb.bundler.release.github import GitHubError
    from mcpb.loader.cache import CacheError

    table = (Path(__file__).resolve().parents[2] / "docs" / "exit-codes.md").read_text()
    classes = {name: getattr(errors, name) for name in dir(errors)} | {"CacheError": CacheError}
    classes |= {n: getattr(aggregator_errors, n) for n in ("ConfigError", "UpstreamError")}
    classes["GitHubError"] = GitHubError
    rows = re.findall(r"^\| (`[A-Za-z`, ]+`) \|[^|]*\| (\d+) \| (\d+) \|$", table, re.M)
    assert len(rows) >= 12
    for names, cli, service in rows:
        for name in re.findall(r"`(\w+)`", names):
            cls = classes[name]
            assert (cls.exit_code, cls.service_exit_code) == (int(cli), int(service)), name
