"""Invalid manifest cases, each with the exact set of JSON paths our validator must report."""

from __future__ import annotations

from typing import Any

from tests.data.manifests.cases import F2, F3, M, both, delp, minimal, mutate, setp

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
