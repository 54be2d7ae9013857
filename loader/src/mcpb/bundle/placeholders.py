"""Resolve a manifest's ``mcp_config`` into the command line, environment and directory to launch.

Semantics follow the reference implementation (``getMcpConfigForManifest`` in npm
``@anthropic-ai/mcpb``), with its rough edges decided on purpose:

* ``platform_overrides[os]`` is applied first and replaces whole keys (``command`` when
  non-empty, ``args``/``env`` when present); there is no merging.
* Placeholders: ``${__dirname}`` (the extracted bundle), ``${HOME}``, ``${DESKTOP}``,
  ``${DOCUMENTS}``, ``${DOWNLOADS}`` (``HOME/Desktop`` etc.), ``${pathSeparator}`` and its alias
  ``${/}``, and ``${user_config.KEY}``. Anything else, including ``${user_config.X}`` for a key
  the manifest does not declare, is left as written, as the reference does.
* Substitution is one pass and inserts values literally: a value containing ``${HOME}`` is not
  expanded again. Defaults are the exception: placeholders other than ``user_config`` inside a
  default are expanded first, so a default such as ``${HOME}/notes`` reaches the server as a
  path (the reference passes it through unexpanded).
* An ``args`` element that is exactly ``${user_config.KEY}`` takes a list value (``multiple``)
  as several arguments. Inside a longer string a list value cannot be placed: that is a
  :class:`PlaceholderError` (the reference leaves the placeholder and logs a warning).
* Booleans render as ``true``/``false``; numbers as the shortest form (``1``, not ``1.0``).
* A required key with neither a value nor a default (or an empty one: ``""``, ``[]``, a list
  holding ``""``) is a :class:`PlaceholderError` naming the key. A default satisfies
  ``required`` here; the reference counts only values the user typed.
* An optional key with no value and no default: an ``args`` element that is exactly its
  placeholder is dropped, an ``env`` entry that is exactly its placeholder is omitted, and
  inside a longer string it becomes empty (the reference passes the placeholder text through).
* Values for keys the manifest does not declare are refused, so a typo cannot go unnoticed.

Values from the environment arrive as strings: ``MCPB_USER_CONFIG`` holds a JSON object, and
``MCPB_USER_CONFIG_<KEY>`` (the key upper-cased, other characters than letters and digits as
``_``) one value, which wins over the JSON object. :func:`coerce_user_config` types them:
numbers (``8080``, ``0.5``), booleans (``true/false``, ``1/0``, ``yes/no``, ``on/off``) and,
for ``multiple: true``, a JSON array (``["a","b"]``); any other text is a single value (a
one-element list), because commas and colons are legal in paths.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mcpb.bundle.errors import MissingUserConfigError, PlaceholderError

ENV_PREFIX = "MCPB_USER_CONFIG"
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_USER = "user_config."
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_INTEGER = re.compile(r"[+-]?\d+")
_STRING_TYPES = frozenset({"string", "directory", "file"})


class McpConfigOverrideLike(Protocol):
    """One ``platform_overrides`` entry: ``None`` means "keep the base value"."""

    @property
    def command(self) -> str | None: ...
    @property
    def args(self) -> Sequence[str] | None: ...
    @property
    def env(self) -> Mapping[str, str] | None: ...


class McpConfigLike(Protocol):
    """``server.mcp_config`` as :mod:`mcpb.bundle.manifest` models it."""

    @property
    def command(self) -> str: ...
    @property
    def args(self) -> Sequence[str]: ...
    @property
    def env(self) -> Mapping[str, str]: ...
    @property
    def platform_overrides(self) -> Mapping[str, McpConfigOverrideLike]: ...


class UserConfigLike(Protocol):
    """One ``user_config`` option as :mod:`mcpb.bundle.manifest` models it."""

    @property
    def type(self) -> str: ...
    @property
    def required(self) -> bool | None: ...
    @property
    def default(self) -> object: ...
    @property
    def multiple(self) -> bool | None: ...
    @property
    def min(self) -> float | None: ...
    @property
    def max(self) -> float | None: ...


@dataclass(frozen=True)
class ResolvedConfig:
    """``mcp_config`` resolved; ``env`` holds only the manifest's variables (callers add theirs)."""

    command: str
    args: list[str]
    env: dict[str, str]
    cwd: Path


# --- typing values ---------------------------------------------------------------------------


def _fail(key: str, problem: str) -> PlaceholderError:
    return PlaceholderError(f"user_config.{key}: {problem}")


def _check_range(key: str, option: UserConfigLike, number: float) -> None:
    if option.min is not None and number < option.min:
        raise _fail(key, f"{render_value(number)} is below the minimum {render_value(option.min)}")
    if option.max is not None and number > option.max:
        raise _fail(key, f"{render_value(number)} is above the maximum {render_value(option.max)}")


def _coerce_scalar(key: str, option: UserConfigLike, text: str) -> object:
    """Type one string according to ``option.type``."""
    kind = option.type
    if kind in _STRING_TYPES:
        return text
    shown = text if len(text) <= 40 else text[:37] + "..."
    if kind == "boolean":
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise _fail(key, f"expected a boolean (true/false), got {shown!r}")
    if kind == "number":
        stripped = text.strip()
        try:
            number: float = int(stripped) if _INTEGER.fullmatch(stripped) else float(stripped)
        except ValueError:
            raise _fail(key, f"expected a number, got {shown!r}") from None
        if not math.isfinite(number):
            raise _fail(key, f"expected a finite number, got {shown!r}")
        _check_range(key, option, number)
        return number
    raise _fail(key, f"unknown type {kind!r}")


def _check_scalar(key: str, option: UserConfigLike, value: object) -> object:
    """Accept an already-typed value (a string is coerced, as environment input would be)."""
    if isinstance(value, str):
        return _coerce_scalar(key, option, value)
    kind = option.type
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise _fail(key, "expected a finite number")
        _check_range(key, option, value)
        return value
    expected = "a string" if kind in _STRING_TYPES else f"a {kind}"
    raise _fail(key, f"expected {expected}, got {type(value).__name__}")


def check_value(key: str, option: UserConfigLike, value: object) -> object:
    """Validate a typed value for ``option``: a list only when ``multiple`` (a scalar then
    becomes a one-element list); numbers within ``min``/``max``."""
    if isinstance(value, list | tuple):
        if not option.multiple:
            raise _fail(key, "takes one value, not a list (the option is not 'multiple')")
        return [_check_scalar(key, option, item) for item in value]
    checked = _check_scalar(key, option, value)
    return [checked] if option.multiple else checked


def coerce_user_config(
    schema: Mapping[str, UserConfigLike], raw: Mapping[str, str]
) -> dict[str, object]:
    """Turn string values (from environment variables) into typed values for ``schema``.

    Raises :class:`PlaceholderError` naming the key for an undeclared key or a value that
    does not fit its type or range.
    """
    result: dict[str, object] = {}
    for key, text in raw.items():
        option = schema.get(key)
        if option is None:
            raise _fail(key, "not declared in the manifest's user_config")
        if option.multiple and text.lstrip().startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _fail(key, f"not a JSON array: {exc.msg}") from None
            if not isinstance(items, list):
                raise _fail(key, "expected a JSON array")
            result[key] = check_value(key, option, items)
        else:
            result[key] = check_value(key, option, _coerce_scalar(key, option, text))
    return result


def env_var_name(key: str) -> str:
    """The environment variable carrying ``key``: ``MCPB_USER_CONFIG_API_KEY`` for ``api-key``."""
    return f"{ENV_PREFIX}_{re.sub(r'[^A-Za-z0-9]', '_', key).upper()}"


def user_config_from_environ(
    schema: Mapping[str, UserConfigLike], environ: Mapping[str, str]
) -> dict[str, object]:
    """Typed user_config values from ``MCPB_USER_CONFIG`` (JSON) and ``MCPB_USER_CONFIG_<KEY>``.

    Per-key variables win. A variable that names no declared key is an error, so is a JSON
    document that is not an object or names an undeclared key.
    """
    values: dict[str, object] = {}
    document = environ.get(ENV_PREFIX)
    if document is not None and document.strip():
        try:
            parsed = json.loads(document)
        except json.JSONDecodeError as exc:
            raise PlaceholderError(f"{ENV_PREFIX}: not valid JSON: {exc.msg}") from None
        if not isinstance(parsed, dict):
            raise PlaceholderError(f"{ENV_PREFIX}: expected a JSON object of user_config values")
        for key, value in parsed.items():
            option = schema.get(key)
            if option is None:
                raise _fail(key, f"not declared in the manifest's user_config (from {ENV_PREFIX})")
            values[key] = check_value(key, option, value)
    by_name: dict[str, str] = {}
    for key in schema:
        name = env_var_name(key)
        if name in by_name:
            raise PlaceholderError(f"{name}: ambiguous, keys {by_name[name]!r} and {key!r}")
        by_name[name] = key
    raw: dict[str, str] = {}
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX + "_"):
            continue
        if name not in by_name:
            raise PlaceholderError(f"{name}: no user_config key of the manifest matches it")
        raw[by_name[name]] = text
    values.update(coerce_user_config(schema, raw))
    return values


# --- rendering and substitution ------------------------------------------------------------


def render_value(value: object) -> str:
    """A scalar as the server sees it: ``true``/``false``, ``8080`` (not ``8080.0``), text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _is_empty(value: object) -> bool:
    if value is None or value == "":
        return True
    return isinstance(value, list) and (not value or any(v is None or v == "" for v in value))


def system_variables(bundle_dir: Path, *, os_name: str, home: Path) -> dict[str, str]:
    """The non-user placeholders and their values."""
    separator = "\\" if os_name == "win32" else "/"
    return {
        "__dirname": str(bundle_dir),
        "HOME": str(home),
        "DESKTOP": str(home / "Desktop"),
        "DOCUMENTS": str(home / "Documents"),
        "DOWNLOADS": str(home / "Downloads"),
        "pathSeparator": separator,
        "/": separator,
    }


def _expand_system(value: object, system: Mapping[str, str]) -> object:
    """Expand non-user placeholders inside a default (strings and lists of strings)."""

    def one(text: str) -> str:
        return _PLACEHOLDER.sub(lambda m: system.get(m.group(1), m.group(0)), text)

    if isinstance(value, str):
        return one(value)
    if isinstance(value, list):
        return [one(v) if isinstance(v, str) else v for v in value]
    return value


@dataclass(frozen=True)
class _Resolver:
    system: Mapping[str, str]
    user: Mapping[str, str | list[str] | None]  # None: declared, optional, no value

    def whole_user_key(self, text: str) -> str | None:
        """The key if ``text`` is exactly one declared ``${user_config.KEY}``."""
        match = _PLACEHOLDER.fullmatch(text)
        if match and match.group(1).startswith(_USER):
            key = match.group(1)[len(_USER) :]
            if key in self.user:
                return key
        return None

    def string(self, text: str, where: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.system:
                return self.system[name]
            key = name[len(_USER) :] if name.startswith(_USER) else None
            if key is None or key not in self.user:
                return match.group(0)  # unknown: left as written, like the reference
            value = self.user[key]
            if isinstance(value, list):
                raise _fail(
                    key,
                    f"has several values and cannot be placed inside {where}; "
                    "use it as a whole args element",
                )
            return value or ""

        return _PLACEHOLDER.sub(replace, text)

    def args(self, args: Sequence[str]) -> list[str]:
        result: list[str] = []
        for i, arg in enumerate(args):
            key = self.whole_user_key(arg)
            if key is None:
                result.append(self.string(arg, f"args[{i}]"))
                continue
            value = self.user[key]
            if isinstance(value, list):
                result.extend(value)
            elif value is not None:
                result.append(value)
        return result

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for name, text in env.items():
            key = self.whole_user_key(text)
            if key is not None and self.user[key] is None:
                continue
            result[name] = self.string(text, f"env.{name}")
        return result


def _effective(
    mcp_config: McpConfigLike, os_name: str
) -> tuple[str, Sequence[str], Mapping[str, str]]:
    command, args, env = mcp_config.command, mcp_config.args, mcp_config.env
    override = (mcp_config.platform_overrides or {}).get(os_name)
    if override is not None:
        command = override.command or command
        args = override.args if override.args is not None else args
        env = override.env if override.env is not None else env
    return command, args, env


def resolve_launch(
    mcp_config: McpConfigLike,
    user_config_schema: Mapping[str, UserConfigLike],
    values: Mapping[str, object],
    *,
    bundle_dir: Path,
    os_name: str = "linux",
    home: Path | None = None,
) -> ResolvedConfig:
    """Apply platform overrides, merge values over defaults, check them, substitute.

    Raises :class:`PlaceholderError` naming the key when a required value is missing, a value
    does not fit its option, or a key is not declared.
    """
    for key in values:
        if key not in user_config_schema:
            raise _fail(key, "not declared in the manifest's user_config")
    system = system_variables(bundle_dir, os_name=os_name, home=home or Path.home())
    user: dict[str, str | list[str] | None] = {}
    for key, option in user_config_schema.items():
        if key in values and values[key] is not None:
            value = check_value(key, option, values[key])
        elif option.default is not None:
            value = check_value(key, option, _expand_system(option.default, system))
        else:
            value = None
        if _is_empty(value):
            if option.required:
                raise MissingUserConfigError(
                    f"user_config.{key}: required but no value was given and it has no default",
                    key,
                )
            value = None if value is None or value == "" or value == [] else value
        if isinstance(value, list):
            user[key] = [render_value(v) for v in value]
        else:
            user[key] = None if value is None else render_value(value)
    resolver = _Resolver(system, user)
    command, args, env = _effective(mcp_config, os_name)
    return ResolvedConfig(
        command=resolver.string(command, "command"),
        args=resolver.args(args),
        env=resolver.env(env),
        cwd=bundle_dir,
    )
