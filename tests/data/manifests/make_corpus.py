"""Write the manifest corpus: ``valid/*.json``, ``invalid/*.json`` and ``expected_paths.json``.

Run ``python tests/data/manifests/make_corpus.py`` after editing a case. Each invalid case names
the JSON paths our validator must report (``expected_paths.json``); the verdicts themselves are
checked against the official schemas by tests/unit/test_manifest_corpus.py. ``reference/`` holds
hand-written cases where the official JSON Schemas (read by Python's jsonschema) and the reference
CLI disagree on string formats or regex semantics; there we follow the reference.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

Data = dict[str, Any]


def minimal(version: str | None = "0.3", **extra: Any) -> Data:
    data: Data = {}
    if version is not None:
        data["manifest_version"] = version
    data.update(
        {
            "name": "hello",
            "version": "1.0.0",
            "description": "Says hello",
            "author": {"name": "Ada"},
            "server": {
                "type": "python",
                "entry_point": "server/main.py",
                "mcp_config": {"command": "python", "args": ["${__dirname}/server/main.py"]},
            },
        }
    )
    data.update(extra)
    return data


USER_CONFIG: Data = {
    "api_key": {
        "type": "string",
        "title": "API key",
        "description": "Key for the service",
        "required": True,
        "sensitive": True,
    },
    "workspace": {
        "type": "directory",
        "title": "Workspace",
        "description": "Folders to expose",
        "multiple": True,
        "default": ["${HOME}/work", "${DOCUMENTS}"],
    },
    "config_file": {
        "type": "file",
        "title": "Config",
        "description": "A config file",
        "default": "${HOME}/.hello.toml",
    },
    "limit": {
        "type": "number",
        "title": "Limit",
        "description": "Max results",
        "default": 10,
        "min": 1,
        "max": 100.5,
    },
    "verbose": {
        "type": "boolean",
        "title": "Verbose",
        "description": "Log more",
        "default": False,
        "required": False,
    },
}


def full(version: str) -> Data:
    data: Data = {
        "$schema": "https://example.com/mcpb-manifest.schema.json",
        "manifest_version": version,
        "name": "hello-full",
        "display_name": "Hello (full)",
        "version": "2.3.4-beta.1",
        "description": "Every field",
        "long_description": "A *long* description\nwith lines.",
        "author": {"name": "Ada", "email": "ada@example.com", "url": "https://example.com/ada"},
        "repository": {"type": "git", "url": "https://github.com/example/hello"},
        "homepage": "https://example.com",
        "documentation": "https://example.com/docs",
        "support": "https://example.com/support",
        "screenshots": ["shots/1.png", "shots/2.png"],
        "server": {
            "type": "node",
            "entry_point": "server/index.js",
            "mcp_config": {
                "command": "node",
                "args": ["${__dirname}/server/index.js", "--key=${user_config.api_key}"],
                "env": {"API_KEY": "${user_config.api_key}", "EMPTY": ""},
                "platform_overrides": {
                    "win32": {"command": "node.exe", "env": {"PATHEXT": ".EXE"}},
                    "darwin": {"args": []},
                    "linux": {},
                    "freebsd": {"command": "node20", "args": ["x"], "env": {}},
                },
            },
        },
        "tools": [{"name": "greet", "description": "Greets"}, {"name": "wave"}],
        "tools_generated": True,
        "prompts": [
            {"name": "p1", "text": "Say ${arguments.who}", "arguments": ["who"]},
            {"name": "p2", "description": "No args", "text": "Hi"},
        ],
        "prompts_generated": False,
        "keywords": ["hello", "demo"],
        "license": "MIT",
        "compatibility": {
            "claude_desktop": ">=0.10.0",
            "platforms": ["darwin", "win32", "linux"],
            "runtimes": {"python": ">=3.11 <3.14", "node": ">=20"},
        },
        "user_config": copy.deepcopy(USER_CONFIG),
    }
    rank = ["0.1", "0.2", "0.3", "0.4"].index(version)
    if rank >= 1:
        data["privacy_policies"] = ["https://example.com/privacy", "mailto:privacy@example.com"]
    if rank >= 2:
        data["icons"] = [
            {"src": "icon-16.png", "size": "16x16"},
            {"src": "icon-512-dark.png", "size": "512x512", "theme": "dark"},
        ]
        data["localization"] = {"resources": "locales/${locale}.json", "default_locale": "en-US"}
        data["_meta"] = {
            "dev.mcpb-toolchain/v1": {"platform": "linux/amd64", "files": {"a": [1, None, True]}},
            "com.example": {},
        }
    if rank >= 3:
        data["server"]["type"] = "uv"
    return data


def mutate(base: Data, fn: Callable[[Data], None]) -> Data:
    data = copy.deepcopy(base)
    fn(data)
    return data


def setp(path: str, value: Any) -> Callable[[Data], None]:
    """Set a dotted path (integers index lists); the last component is created if absent."""

    def apply(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def delp(path: str) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return apply


def both(*fns: Callable[[Data], None]) -> Callable[[Data], None]:
    def apply(data: Data) -> None:
        for fn in fns:
            fn(data)

    return apply


M = minimal()
F2, F3 = full("0.2"), full("0.3")

VALID: dict[str, Any] = {
    "v01-minimal": minimal("0.1"),
    "v02-minimal": minimal("0.2"),
    "v03-minimal": minimal("0.3"),
    "v04-minimal": minimal("0.4"),
    "v01-full": full("0.1"),
    "v02-full": F2,
    "v03-full": F3,
    "v04-full": full("0.4"),
    "v04-uv": mutate(minimal("0.4"), setp("server.type", "uv")),
    "v04-binary": mutate(minimal("0.4"), setp("server.type", "binary")),
    "v01-node": mutate(minimal("0.1"), setp("server.type", "node")),
    "dxt-01-only": mutate(minimal(None), setp("dxt_version", "0.1")),
    "dxt-03-only-with-meta": mutate(minimal(None, _meta={"x": {}}), setp("dxt_version", "0.3")),
    "both-versions-equal": mutate(minimal("0.2"), setp("dxt_version", "0.2")),
    "empty-strings": mutate(
        minimal("0.3"),
        both(
            setp("name", ""),
            setp("version", ""),
            setp("description", ""),
            setp("author.name", ""),
            setp("server.entry_point", ""),
            setp("server.mcp_config.command", ""),
        ),
    ),
    "empty-collections": mutate(
        minimal("0.3"),
        both(
            setp("server.mcp_config.args", []),
            setp("server.mcp_config.env", {}),
            setp("server.mcp_config.platform_overrides", {}),
            setp("user_config", {}),
            setp("tools", []),
            setp("prompts", []),
            setp("keywords", []),
            setp("screenshots", []),
            setp("icons", []),
            setp("_meta", {}),
            setp("compatibility", {}),
        ),
    ),
    "unicode-text": mutate(
        minimal("0.2"),
        both(
            setp("name", "héllo-世界"),
            setp("description", "Ünïcödé ✓ 🚀"),
            setp("author.name", "Zoë"),
        ),
    ),
    "user-config-all-types": mutate(minimal("0.2"), setp("user_config", USER_CONFIG)),
    "user-config-odd-keys": mutate(
        minimal("0.3"),
        setp(
            "user_config",
            {
                "a key.with dots": {"type": "string", "title": "", "description": ""},
                "": {"type": "boolean", "title": "t", "description": "d", "default": True},
            },
        ),
    ),
    "user-config-number-defaults": mutate(
        minimal("0.3"),
        setp(
            "user_config",
            {
                "neg": {"type": "number", "title": "t", "description": "d", "default": -3.25},
                "big": {"type": "number", "title": "t", "description": "d", "default": 10**20},
                "zero": {"type": "number", "title": "t", "description": "d", "min": 0, "max": 0},
                "str_default_on_number": {
                    "type": "number",
                    "title": "t",
                    "description": "d",
                    "default": "${user_config.neg}",
                },
                "empty_list": {"type": "string", "title": "t", "description": "d", "default": []},
            },
        ),
    ),
    "compat-platforms-empty": mutate(minimal("0.2"), setp("compatibility", {"platforms": []})),
    "compat-runtimes-python-only": mutate(
        minimal("0.2"), setp("compatibility", {"runtimes": {"python": ">=3.11"}})
    ),
    "compat-claude-only": mutate(minimal("0.1"), setp("compatibility", {"claude_desktop": "*"})),
    "platform-overrides-any-key": mutate(
        minimal("0.3"),
        setp(
            "server.mcp_config.platform_overrides",
            {"win32": {"command": "x.exe"}, "solaris": {"env": {"A": "b"}}, "": {}},
        ),
    ),
    "meta-nested-values": mutate(
        minimal("0.3"),
        setp("_meta", {"a.b/c": {"n": None, "l": [1, "x", {"y": False}], "f": 1.5}}),
    ),
    "localization-variants": mutate(
        minimal("0.3"),
        setp("localization", {"resources": "${locale}", "default_locale": "zh-Hant-TW"}),
    ),
    "localization-two-letter": mutate(
        minimal("0.4"),
        setp("localization", {"resources": "i18n/${locale}/m.json", "default_locale": "en"}),
    ),
    "icons-sizes": mutate(
        minimal("0.3"),
        setp("icons", [{"src": "a.png", "size": "1x1"}, {"src": "", "size": "0x10000"}]),
    ),
    "schema-key-any-string": mutate(minimal("0.1"), setp("$schema", "not even a url")),
    "homepage-mailto": mutate(minimal("0.2"), setp("homepage", "mailto:hi@example.com")),
    "author-email-url": mutate(
        minimal("0.1"),
        setp(
            "author",
            {"name": "A", "email": "first.last+tag@mail.example.org", "url": "http://a.io:8080/x"},
        ),
    ),
    "repository-any-type": mutate(
        minimal("0.1"), setp("repository", {"type": "", "url": "git+ssh://git@host/x.git"})
    ),
    "privacy-policies-empty": mutate(minimal("0.2"), setp("privacy_policies", [])),
    "prompts-no-description": mutate(
        minimal("0.1"), setp("prompts", [{"name": "p", "text": "", "arguments": []}])
    ),
    "env-values-with-placeholders": mutate(
        minimal("0.2"),
        setp("server.mcp_config.env", {"PYTHONPATH": "${__dirname}/server/lib${pathSeparator}x"}),
    ),
    "tools-generated-only": mutate(
        minimal("0.2"), both(setp("tools_generated", False), setp("prompts_generated", True))
    ),
    "binary-server": mutate(
        minimal("0.2"),
        setp(
            "server",
            {
                "type": "binary",
                "entry_point": "bin/server",
                "mcp_config": {"command": "${__dirname}/bin/server"},
            },
        ),
    ),
}

# name -> (data, the exact set of paths our validator must report)
INVALID: dict[str, tuple[Any, list[str]]] = {
    # which schema applies
    "no-version": (minimal(None), ["manifest_version"]),
    "version-unknown": (minimal("0.5"), ["manifest_version"]),
    "version-1.0": (minimal("1.0"), ["manifest_version"]),
    "version-number": (mutate(M, setp("manifest_version", 0.3)), ["manifest_version"]),
    "version-null": (mutate(M, setp("manifest_version", None)), ["manifest_version"]),
    "version-empty": (mutate(M, setp("manifest_version", "")), ["manifest_version"]),
    "dxt-unknown": (mutate(minimal(None), setp("dxt_version", "0.0")), ["dxt_version"]),
    "dxt-conflicts": (mutate(minimal("0.3"), setp("dxt_version", "0.2")), ["dxt_version"]),
    "version-unknown-dxt-known": (
        mutate(minimal("9.9"), setp("dxt_version", "0.2")),
        ["manifest_version"],
    ),
    "version-number-dxt-known": (
        mutate(minimal(None, manifest_version=3), setp("dxt_version", "0.2")),
        ["manifest_version"],
    ),
    # version gates
    "privacy-in-01": (
        minimal("0.1", privacy_policies=["https://example.com/p"]),
        ["privacy_policies"],
    ),
    "icons-in-02": (minimal("0.2", icons=[{"src": "a.png", "size": "16x16"}]), ["icons"]),
    "localization-in-02": (
        minimal("0.2", localization={"resources": "${locale}.json", "default_locale": "en"}),
        ["localization"],
    ),
    "meta-in-02": (minimal("0.2", _meta={"a": {}}), ["_meta"]),
    "meta-in-dxt-01": (
        mutate(minimal(None, _meta={"a": {}}), setp("dxt_version", "0.1")),
        ["_meta"],
    ),
    "uv-in-03": (mutate(minimal("0.3"), setp("server.type", "uv")), ["server.type"]),
    "uv-in-01": (mutate(minimal("0.1"), setp("server.type", "uv")), ["server.type"]),
    "full-03-as-02": (
        mutate(F3, setp("manifest_version", "0.2")),
        ["icons", "localization", "_meta"],
    ),
    # required keys
    "missing-name": (mutate(M, delp("name")), ["name"]),
    "missing-version": (mutate(M, delp("version")), ["version"]),
    "missing-description": (mutate(M, delp("description")), ["description"]),
    "missing-author": (mutate(M, delp("author")), ["author"]),
    "missing-author-name": (mutate(M, setp("author", {"email": "a@example.com"})), ["author.name"]),
    "missing-server": (mutate(M, delp("server")), ["server"]),
    "missing-server-type": (mutate(M, delp("server.type")), ["server.type"]),
    "missing-entry-point": (mutate(M, delp("server.entry_point")), ["server.entry_point"]),
    "missing-mcp-config": (mutate(M, delp("server.mcp_config")), ["server.mcp_config"]),
    "missing-command": (
        mutate(M, delp("server.mcp_config.command")),
        ["server.mcp_config.command"],
    ),
    "missing-everything": (
        {"manifest_version": "0.3"},
        ["name", "version", "description", "author", "server"],
    ),
    # wrong types
    "top-level-array": ([M], [""]),
    "top-level-string": ("manifest", [""]),
    "name-number": (mutate(M, setp("name", 1)), ["name"]),
    "version-is-number": (mutate(M, setp("version", 1.0)), ["version"]),
    "description-null": (mutate(M, setp("description", None)), ["description"]),
    "author-string": (mutate(M, setp("author", "Ada")), ["author"]),
    "display-name-null": (mutate(M, setp("display_name", None)), ["display_name"]),
    "args-string": (mutate(M, setp("server.mcp_config.args", "a b")), ["server.mcp_config.args"]),
    "args-item-number": (
        mutate(M, setp("server.mcp_config.args", ["a", "b", 3])),
        ["server.mcp_config.args[2]"],
    ),
    "env-value-number": (
        mutate(M, setp("server.mcp_config.env", {"PORT": 8000})),
        ["server.mcp_config.env.PORT"],
    ),
    "env-array": (mutate(M, setp("server.mcp_config.env", ["A=1"])), ["server.mcp_config.env"]),
    "env-null": (mutate(M, setp("server.mcp_config.env", None)), ["server.mcp_config.env"]),
    "override-string": (
        mutate(M, setp("server.mcp_config.platform_overrides", {"win32": "node.exe"})),
        ["server.mcp_config.platform_overrides.win32"],
    ),
    "override-command-number": (
        mutate(M, setp("server.mcp_config.platform_overrides", {"linux": {"command": 1}})),
        ["server.mcp_config.platform_overrides.linux.command"],
    ),
    "override-env-value-bool": (
        mutate(M, setp("server.mcp_config.platform_overrides", {"linux": {"env": {"A": True}}})),
        ["server.mcp_config.platform_overrides.linux.env.A"],
    ),
    "tools-object": (mutate(M, setp("tools", {"name": "t"})), ["tools"]),
    "tool-missing-name": (
        mutate(M, setp("tools", [{"name": "a"}, {"description": "x"}])),
        ["tools[1].name"],
    ),
    "prompt-missing-text": (mutate(M, setp("prompts", [{"name": "p"}])), ["prompts[0].text"]),
    "prompt-arguments-numbers": (
        mutate(M, setp("prompts", [{"name": "p", "text": "t", "arguments": [1]}])),
        ["prompts[0].arguments[0]"],
    ),
    "tools-generated-string": (mutate(M, setp("tools_generated", "yes")), ["tools_generated"]),
    "prompts-generated-number": (mutate(M, setp("prompts_generated", 1)), ["prompts_generated"]),
    "keywords-item-number": (mutate(M, setp("keywords", ["a", 2])), ["keywords[1]"]),
    "license-object": (mutate(M, setp("license", {"spdx": "MIT"})), ["license"]),
    "screenshots-string": (mutate(M, setp("screenshots", "a.png")), ["screenshots"]),
    "icon-number": (mutate(M, setp("icon", 1)), ["icon"]),
    "compatibility-null": (mutate(M, setp("compatibility", None)), ["compatibility"]),
    "user-config-null": (mutate(M, setp("user_config", None)), ["user_config"]),
    "user-config-array": (mutate(M, setp("user_config", [])), ["user_config"]),
    "meta-value-string": (mutate(M, setp("_meta", {"a": "b"})), ["_meta.a"]),
    "meta-value-array": (mutate(M, setp("_meta", {"a": []})), ["_meta.a"]),
    "meta-array": (mutate(M, setp("_meta", [])), ["_meta"]),
    # unknown keys at every level
    "unknown-top": (mutate(M, setp("homepage_url", "https://x.io")), ["homepage_url"]),
    "unknown-meta-spelling": (mutate(M, setp("meta", {"a": {}})), ["meta"]),
    "unknown-in-author": (mutate(M, setp("author.twitter", "@ada")), ["author.twitter"]),
    "unknown-in-repository": (
        mutate(M, setp("repository", {"type": "git", "url": "https://x.io", "branch": "main"})),
        ["repository.branch"],
    ),
    "unknown-in-server": (mutate(M, setp("server.transport", "stdio")), ["server.transport"]),
    "unknown-in-mcp-config": (
        mutate(M, setp("server.mcp_config.cwd", "/tmp")),
        ["server.mcp_config.cwd"],
    ),
    "unknown-in-override": (
        mutate(M, setp("server.mcp_config.platform_overrides", {"linux": {"cwd": "/"}})),
        ["server.mcp_config.platform_overrides.linux.cwd"],
    ),
    "unknown-in-compatibility": (
        mutate(M, setp("compatibility", {"arch": ["x64"]})),
        ["compatibility.arch"],
    ),
    "unknown-runtime": (
        mutate(M, setp("compatibility", {"runtimes": {"python": "3", "ruby": "3"}})),
        ["compatibility.runtimes.ruby"],
    ),
    "unknown-in-user-config": (
        mutate(
            M,
            setp(
                "user_config",
                {"k": {"type": "string", "title": "t", "description": "d", "secret": True}},
            ),
        ),
        ["user_config.k.secret"],
    ),
    "unknown-in-tool": (
        mutate(M, setp("tools", [{"name": "t", "schema": {}}])),
        ["tools[0].schema"],
    ),
    "unknown-in-prompt": (
        mutate(M, setp("prompts", [{"name": "p", "text": "t", "role": "user"}])),
        ["prompts[0].role"],
    ),
    "unknown-in-icon": (
        mutate(M, setp("icons", [{"src": "a.png", "size": "1x1", "alt": "a"}])),
        ["icons[0].alt"],
    ),
    "unknown-in-localization": (
        mutate(
            M,
            setp("localization", {"resources": "${locale}", "default_locale": "en", "x": 1}),
        ),
        ["localization.x"],
    ),
    "unknown-in-full-02": (
        mutate(F2, setp("server.mcp_config.extra", [])),
        ["server.mcp_config.extra"],
    ),
    # enums
    "server-type-ruby": (mutate(M, setp("server.type", "ruby")), ["server.type"]),
    "server-type-case": (mutate(M, setp("server.type", "Python")), ["server.type"]),
    "platform-macos": (
        mutate(M, setp("compatibility", {"platforms": ["linux", "macos"]})),
        ["compatibility.platforms[1]"],
    ),
    "platforms-string": (
        mutate(M, setp("compatibility", {"platforms": "linux"})),
        ["compatibility.platforms"],
    ),
    "runtime-number": (
        mutate(M, setp("compatibility", {"runtimes": {"node": 20}})),
        ["compatibility.runtimes.node"],
    ),
    "user-config-type-integer": (
        mutate(
            M, setp("user_config", {"n": {"type": "integer", "title": "t", "description": "d"}})
        ),
        ["user_config.n.type"],
    ),
    # user_config options
    "user-config-missing-title": (
        mutate(M, setp("user_config", {"k": {"type": "string", "description": "d"}})),
        ["user_config.k.title"],
    ),
    "user-config-missing-description": (
        mutate(M, setp("user_config", {"k": {"type": "string", "title": "t"}})),
        ["user_config.k.description"],
    ),
    "user-config-missing-type": (
        mutate(M, setp("user_config", {"k": {"title": "t", "description": "d"}})),
        ["user_config.k.type"],
    ),
    "user-config-required-string": (
        mutate(
            M,
            setp(
                "user_config",
                {"k": {"type": "string", "title": "t", "description": "d", "required": "true"}},
            ),
        ),
        ["user_config.k.required"],
    ),
    "user-config-default-object": (
        mutate(
            M,
            setp(
                "user_config",
                {"k": {"type": "string", "title": "t", "description": "d", "default": {"a": 1}}},
            ),
        ),
        ["user_config.k.default"],
    ),
    "user-config-default-mixed-list": (
        mutate(
            M,
            setp(
                "user_config",
                {"k": {"type": "string", "title": "t", "description": "d", "default": ["a", 1]}},
            ),
        ),
        ["user_config.k.default"],
    ),
    "user-config-default-null": (
        mutate(
            M,
            setp(
                "user_config",
                {"k": {"type": "string", "title": "t", "description": "d", "default": None}},
            ),
        ),
        ["user_config.k.default"],
    ),
    "user-config-min-string": (
        mutate(
            M,
            setp(
                "user_config",
                {"k": {"type": "number", "title": "t", "description": "d", "min": "1"}},
            ),
        ),
        ["user_config.k.min"],
    ),
    "user-config-max-bool": (
        mutate(
            M,
            setp(
                "user_config",
                {"k": {"type": "number", "title": "t", "description": "d", "max": True}},
            ),
        ),
        ["user_config.k.max"],
    ),
    "user-config-sensitive-number": (
        mutate(
            M,
            setp(
                "user_config",
                {"k": {"type": "string", "title": "t", "description": "d", "sensitive": 1}},
            ),
        ),
        ["user_config.k.sensitive"],
    ),
    "user-config-multiple-null": (
        mutate(
            M,
            setp(
                "user_config",
                {"k": {"type": "file", "title": "t", "description": "d", "multiple": None}},
            ),
        ),
        ["user_config.k.multiple"],
    ),
    "user-config-option-string": (
        mutate(M, setp("user_config", {"k": "string"})),
        ["user_config.k"],
    ),
    # icons and localization
    "icon-missing-size": (mutate(M, setp("icons", [{"src": "a.png"}])), ["icons[0].size"]),
    "icon-size-one-number": (
        mutate(M, setp("icons", [{"src": "a", "size": "16"}])),
        ["icons[0].size"],
    ),
    "icon-size-trailing-x": (
        mutate(M, setp("icons", [{"src": "a", "size": "16x"}])),
        ["icons[0].size"],
    ),
    "icon-size-word": (
        mutate(M, setp("icons", [{"src": "a", "size": "large"}])),
        ["icons[0].size"],
    ),
    "icon-size-spaces": (
        mutate(M, setp("icons", [{"src": "a", "size": "16 x 16"}])),
        ["icons[0].size"],
    ),
    "icon-theme-empty": (
        mutate(M, setp("icons", [{"src": "a", "size": "1x1", "theme": ""}])),
        ["icons[0].theme"],
    ),
    "icons-object": (mutate(M, setp("icons", {"src": "a", "size": "1x1"})), ["icons"]),
    "localization-no-placeholder": (
        mutate(M, setp("localization", {"resources": "locales/en.json", "default_locale": "en"})),
        ["localization.resources"],
    ),
    "localization-locale-short": (
        mutate(M, setp("localization", {"resources": "${locale}", "default_locale": "e"})),
        ["localization.default_locale"],
    ),
    "localization-locale-underscore": (
        mutate(M, setp("localization", {"resources": "${locale}", "default_locale": "en_US"})),
        ["localization.default_locale"],
    ),
    "localization-locale-long-subtag": (
        mutate(
            M, setp("localization", {"resources": "${locale}", "default_locale": "en-abcdefghi"})
        ),
        ["localization.default_locale"],
    ),
    "localization-uppercase-placeholder": (
        mutate(M, setp("localization", {"resources": "${LOCALE}.json", "default_locale": "en"})),
        ["localization.resources"],
    ),
    "localization-missing-default": (
        mutate(M, setp("localization", {"resources": "${locale}"})),
        ["localization.default_locale"],
    ),
    # formats and repository
    "email-no-at": (mutate(M, setp("author.email", "ada.example.com")), ["author.email"]),
    "author-url-words": (mutate(M, setp("author.url", "my homepage")), ["author.url"]),
    "homepage-no-scheme": (mutate(M, setp("homepage", "example.com")), ["homepage"]),
    "documentation-text": (mutate(M, setp("documentation", "see README")), ["documentation"]),
    "support-empty": (mutate(M, setp("support", "")), ["support"]),
    "repository-url-relative": (
        mutate(M, setp("repository", {"type": "git", "url": "/x/y"})),
        ["repository.url"],
    ),
    "repository-missing-url": (mutate(M, setp("repository", {"type": "git"})), ["repository.url"]),
    "repository-missing-type": (
        mutate(M, setp("repository", {"url": "https://x.io"})),
        ["repository.type"],
    ),
    "privacy-not-url": (
        mutate(minimal("0.2"), setp("privacy_policies", ["privacy"])),
        ["privacy_policies[0]"],
    ),
    "privacy-string": (
        mutate(minimal("0.2"), setp("privacy_policies", "https://x.io")),
        ["privacy_policies"],
    ),
    # several problems at once: every one is reported
    "many-problems": (
        mutate(
            minimal("0.1"),
            both(
                setp("name", None),
                setp("author.email", "nope"),
                setp("icons", []),
                setp("server.type", "uv"),
                setp("server.mcp_config.args", ["ok", False]),
                setp("extra", 1),
            ),
        ),
        ["name", "author.email", "icons", "server.type", "server.mcp_config.args[1]", "extra"],
    ),
}


# Where the Python reading of the official schemas and the reference CLI differ (jsonschema's
# email check is "contains @", its uri check is RFC 3986, and Python regexes let "$" match before
# a final newline and "\\d" match any Unicode digit), we follow the reference (zod, WHATWG URL).
REFERENCE_VALID: dict[str, Any] = {
    "url-with-space-in-path": minimal("0.2", homepage="https://example.com/a b"),
    "url-with-braces": mutate(M, setp("author.url", "https://example.com/{user}")),
    "url-non-ascii-path": minimal("0.3", documentation="https://example.com/dokumentü"),
}
REFERENCE_INVALID: dict[str, Any] = {
    "email-without-tld": mutate(M, setp("author.email", "ada@localhost")),
    "email-double-dot": mutate(M, setp("author.email", "ada..b@example.com")),
    "icon-size-trailing-newline": mutate(M, setp("icons", [{"src": "a", "size": "16x16\n"}])),
    "icon-size-arabic-digits": mutate(M, setp("icons", [{"src": "a", "size": "\u0661x\u0661"}])),
    "url-http-no-host": minimal("0.2", homepage="http://"),
}


def write(directory: Path, name: str, data: Any) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    (directory / f"{name}.json").write_text(text, encoding="utf-8")


def main() -> None:
    for sub in ("valid", "invalid", "reference/valid", "reference/invalid"):
        for old in (HERE / sub).glob("*.json"):
            old.unlink()
    for name, data in VALID.items():
        write(HERE / "valid", name, data)
    for name, data in REFERENCE_VALID.items():
        write(HERE / "reference" / "valid", name, data)
    for name, data in REFERENCE_INVALID.items():
        write(HERE / "reference" / "invalid", name, data)
    expected = {}
    for name, (data, paths) in INVALID.items():
        write(HERE / "invalid", name, data)
        expected[f"{name}.json"] = sorted(paths)
    text = json.dumps(expected, indent=2, sort_keys=True) + "\n"
    (HERE / "expected_paths.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
