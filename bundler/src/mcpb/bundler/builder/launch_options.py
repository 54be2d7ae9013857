"""What ``mcpb build`` is told about starting a server: ``--arg``, ``--env``, ``--user-config``
and ``--manifest-overlay``.

A bundle built from ``pypi:``/``npm:`` has a fixed command; servers that need arguments (a
directory to serve, a database path) are made configurable here instead of through a
hand-written wrapper project. The flags are parsed once into :class:`LaunchOptions` and applied
to the staged manifest (derived or the author's) before it is validated, so a placeholder naming
an undeclared key fails the build, not the first run.

``--user-config KEY:TYPE[:required][:multiple][=DEFAULT]`` declares one ``user_config`` option;
``--arg`` values are appended to ``server.mcp_config.args`` (``${user_config.KEY}`` and
``${__dirname}`` allowed; an argument that is exactly ``${user_config.KEY}`` of a ``multiple``
option expands to one argument per value); ``--env KEY=VALUE`` sets a variable of the server;
``--manifest-overlay FILE`` is a JSON merge patch (RFC 7396) applied last.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from mcpb.bundle.errors import PlaceholderError, UsageError
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object
from mcpb.bundle.manifest import UserConfigType
from mcpb.bundle.placeholders import coerce_user_config, env_var_name

USER_CONFIG_TYPES: tuple[str, ...] = get_args(UserConfigType)
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FLAGS = ("required", "multiple")
_MAX_OVERLAY = 1 << 20
_PLACEHOLDER_KEY = re.compile(r"\$\{user_config\.([^}]*)\}")


@dataclass(frozen=True)
class UserConfigDeclaration:
    """One ``--user-config`` option, already checked."""

    key: str
    type: str
    required: bool = False
    multiple: bool = False
    default: object = None

    @property
    def min(self) -> float | None:  # what placeholders' UserConfigLike asks for
        return None

    @property
    def max(self) -> float | None:
        return None

    def to_manifest(self) -> dict[str, Any]:
        """The manifest's ``user_config`` entry; title and description are required there."""
        kind = "values" if self.multiple else "value"
        entry: dict[str, Any] = {
            "type": self.type,
            "title": self.key.replace("_", " ").replace("-", " ").capitalize(),
            "description": (
                f"The {self.type} {kind} for {self.key}: mcpb run --user-config "
                f"{self.key}=..., or {env_var_name(self.key)} in the image."
            ),
        }
        if self.required:
            entry["required"] = True
        if self.multiple:
            entry["multiple"] = True
        if self.default is not None:
            entry["default"] = self.default
        return entry


@dataclass(frozen=True)
class LaunchOptions:
    """Everything the launch flags say; empty means "leave the manifest as staged"."""

    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    user_config: tuple[UserConfigDeclaration, ...] = ()
    overlay: dict[str, Any] | None = None
    overlay_path: str | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return bool(self.args or self.env or self.user_config or self.overlay is not None)


def parse_user_config_option(text: str) -> UserConfigDeclaration:
    """``KEY:TYPE[:required][:multiple][=DEFAULT]`` → a declaration (``--user-config``)."""
    where = f"--user-config {text!r}"
    spec, has_default, default_text = text.partition("=")
    parts = spec.split(":")
    if len(parts) < 2:
        raise UsageError(f"{where}: expected KEY:TYPE[:required][:multiple][=DEFAULT]")
    key, kind, *flags = parts
    if not _KEY.fullmatch(key):
        raise UsageError(f"{where}: key must be letters, digits, '_' or '-' (not first)")
    if kind not in USER_CONFIG_TYPES:
        raise UsageError(f"{where}: type must be one of {', '.join(USER_CONFIG_TYPES)}")
    for flag in flags:
        if flag not in _FLAGS:
            raise UsageError(f"{where}: unknown flag {flag!r} (required, multiple)")
    declared = UserConfigDeclaration(key, kind, "required" in flags, "multiple" in flags)
    if not has_default:
        return declared
    try:
        typed = coerce_user_config({key: declared}, {key: default_text})[key]
    except PlaceholderError as exc:
        raise UsageError(f"{where}: default: {exc}") from None
    return UserConfigDeclaration(key, kind, declared.required, declared.multiple, typed)


def parse_env_option(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (``--env``); the value may hold placeholders."""
    name, has_value, value = text.partition("=")
    if not has_value or not _ENV_NAME.fullmatch(name):
        raise UsageError(f"--env {text!r}: expected NAME=VALUE with NAME a variable name")
    return name, value


def read_overlay(path: Path) -> dict[str, Any]:
    """The JSON object of ``--manifest-overlay FILE`` (bounded in size and depth)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--manifest-overlay {path}: cannot read: {exc.strerror}") from None
    try:
        return parse_json_object(raw, max_size=_MAX_OVERLAY)
    except JsonDocumentError as exc:
        raise UsageError(f"--manifest-overlay {path}: {exc}") from None


def parse_launch_options(
    args: tuple[str, ...],
    env: tuple[str, ...],
    user_config: tuple[str, ...],
    overlay: Path | None,
) -> LaunchOptions:
    """The CLI's strings, checked once; duplicate keys are refused rather than overwritten."""
    declarations = tuple(parse_user_config_option(t) for t in user_config)
    seen: set[str] = set()
    for item in declarations:
        if item.key in seen:
            raise UsageError(f"--user-config: {item.key!r} is declared twice")
        seen.add(item.key)
    pairs = tuple(parse_env_option(t) for t in env)
    names = [name for name, _ in pairs]
    for name in names:
        if names.count(name) > 1:
            raise UsageError(f"--env: {name} is given twice")
    return LaunchOptions(
        args=args,
        env=pairs,
        user_config=declarations,
        overlay=read_overlay(overlay) if overlay is not None else None,
        overlay_path=str(overlay) if overlay is not None else None,
    )


def apply_launch_options(manifest: dict[str, Any], options: LaunchOptions) -> list[str]:
    """Apply ``options`` to ``manifest`` in place; return notes worth telling the author.

    A ``--user-config`` key the manifest already declares is replaced (the flag is the later
    word); a declared key that no argument or variable uses is reported, since the value would
    reach nothing.
    """
    if not options:
        return []
    notes: list[str] = []
    server = manifest.get("server")
    config = server.get("mcp_config") if isinstance(server, dict) else None
    if not isinstance(config, dict):
        raise UsageError("manifest.json: server.mcp_config is missing; --arg/--env need it")
    if options.args:
        current = config.get("args", [])
        config["args"] = [*(current if isinstance(current, list) else []), *options.args]
    if options.env:
        current_env = config.get("env")
        merged = dict(current_env) if isinstance(current_env, dict) else {}
        merged.update(options.env)
        config["env"] = merged
    if options.user_config:
        existing = manifest.get("user_config")
        table = dict(existing) if isinstance(existing, dict) else {}
        for item in options.user_config:
            if item.key in table:
                notes.append(f"--user-config {item.key} replaces the manifest's declaration")
            table[item.key] = item.to_manifest()
        manifest["user_config"] = table
    if options.overlay is not None:
        merged_doc = merge_patch(manifest, options.overlay)
        manifest.clear()
        manifest.update(merged_doc)
    used = _referenced_keys(manifest)
    table_now = manifest.get("user_config")
    declared = set(table_now) if isinstance(table_now, dict) else set()
    missing = sorted(used - declared)
    if missing:
        key = missing[0]
        raise UsageError(
            f"${{user_config.{key}}}: no user_config key {key!r} is declared; "
            f"declare it with --user-config {key}:TYPE"
        )
    for item in options.user_config:
        if item.key not in used:
            notes.append(
                f"user_config.{item.key} is declared but no argument or variable uses it; "
                f"add --arg '${{user_config.{item.key}}}'"
            )
    return notes


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge key by key, ``null`` deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _referenced_keys(manifest: dict[str, Any]) -> set[str]:
    server = manifest.get("server")
    config = server.get("mcp_config") if isinstance(server, dict) else None
    return set(_PLACEHOLDER_KEY.findall(json.dumps(config)))
