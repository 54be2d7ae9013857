"""Valid manifest cases, the helpers that build cases, and the reference-semantics cases.

Edit here (or in ``invalid_cases.py``), then run ``python -m tests.data.manifests.make_corpus``.
"""

from __future__ import annotations

import copy
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
