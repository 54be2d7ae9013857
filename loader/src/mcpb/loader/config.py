"""The loader's configuration: one vocabulary, one precedence, parsed once at the edge.

The images' loader (``python -m mcpb.loader``) is configured by environment variables; ``mcpb
run`` by the same variables plus flags. Both go through :func:`load_config`, whose precedence is
defaults < environment < flags, so one concept has one name and one default wherever it is
set, and every bad value is reported under the name the user actually used (``PORT`` or
``--port``) before anything is downloaded. :data:`SETTINGS` is the table of names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpb.bundle.digest import normalize_sha256
from mcpb.bundle.errors import UsageError
from mcpb.bundle.placeholders import ENV_PREFIX, env_var_name
from mcpb.loader.bridge.settings import MAX_SESSIONS

USER_CONFIG_PREFIX = "MCPB_USER_CONFIG_"
DEFAULT_PORT = 8000
DEFAULT_MCP_PATH = "/mcp"
DEFAULT_STOP_GRACE = 10.0
DEFAULT_MAX_BUNDLE_SIZE = 2 * 1024**3
BRIDGE_MODES = ("shared", "stateful")
DEFAULT_BRIDGE_MODE = "shared"
#: Session limits per bridge mode: a stateful session costs a whole server process.
DEFAULT_MAX_SESSIONS = MAX_SESSIONS
DEFAULT_SESSION_TIMEOUT = 600.0
DEFAULT_REQUEST_TIMEOUT = 600.0
#: Seconds a 2026-07-28 tools/call (of a client declaring the tasks extension) runs before
#: it becomes a task.
DEFAULT_TASK_AFTER = 1.0
DEFAULT_CRASH_LIMIT = 5
DEFAULT_DOWNLOAD_TIMEOUT = 600.0
LOCAL_HOST = "127.0.0.1"
IMAGE_HOST = "0.0.0.0"  # noqa: S104 - a container listens on all its interfaces

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class LoaderConfig:
    """Everything the loader needs to fetch, verify and serve one bundle.

    ``user_config`` holds typed values from the ``MCPB_USER_CONFIG`` JSON object;
    ``user_config_strings`` the raw ``MCPB_USER_CONFIG_<KEY>`` / ``--user-config KEY=VALUE``
    values, coerced against the manifest's ``user_config`` once the bundle is known (they win
    over the JSON). ``local`` is ``mcpb run``: a local file the user named is trusted (its
    digest computed) and messages name flags. ``max_sessions=None`` means the bridge mode's
    default; ``session_timeout=None``: sessions never expire.
    """

    bundle_url: str
    sha256: str | None = None
    allow_unverified: bool = False
    host: str = LOCAL_HOST
    port: int = DEFAULT_PORT
    mcp_path: str = DEFAULT_MCP_PATH
    cache_dir: Path = field(default_factory=lambda: default_cache_dir({}))
    user_config: Mapping[str, object] = field(default_factory=dict)
    user_config_strings: Mapping[str, str] = field(default_factory=dict)
    stop_grace: float = DEFAULT_STOP_GRACE
    max_bundle_size: int = DEFAULT_MAX_BUNDLE_SIZE
    local: bool = False
    bridge_mode: str = DEFAULT_BRIDGE_MODE
    max_sessions: int | None = None
    session_timeout: float | None = DEFAULT_SESSION_TIMEOUT
    request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT
    task_after: float | None = DEFAULT_TASK_AFTER
    crash_limit: int = DEFAULT_CRASH_LIMIT
    download_timeout: float | None = DEFAULT_DOWNLOAD_TIMEOUT

    @property
    def session_limit(self) -> int:
        """The session limit: ``max_sessions``, else the default of the bridge mode."""
        return self.max_sessions or DEFAULT_MAX_SESSIONS[self.bridge_mode]

    @property
    def stateful_hint(self) -> str:
        """How this user would ask for one server process per session."""
        return "--bridge-mode stateful" if self.local else "MCPB_BRIDGE_MODE=stateful"


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """``MCPB_CACHE_DIR``, else ``$XDG_CACHE_HOME/mcpb``, else ``~/.cache/mcpb``."""
    if env.get("MCPB_CACHE_DIR"):
        return Path(env["MCPB_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "mcpb"
    return Path.home() / ".cache" / "mcpb"


# ----------------------------------------------------------------- parsers: (name, text) -> value


def parse_bool(name: str, value: str) -> bool:
    """A boolean: ``1/true/yes/on`` or ``0/false/no/off`` (empty is false)."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{name}: expected 1 or 0 (true/false), got {value!r}")


def parse_port(name: str, value: str) -> int:
    """A TCP port number 1..65535 (0 is allowed: pick a free port, useful in tests)."""
    try:
        port = int(value.strip())
    except ValueError:
        raise UsageError(f"{name}: expected a port number, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"{name}: port {port} is out of range 0..65535")
    return port


def parse_host(name: str, value: str) -> str:
    """A listen address (name or IP literal)."""
    host = value.strip()
    if not host or any(c in host for c in "/ \t"):
        raise UsageError(f"{name}: expected a host name or address, got {value!r}")
    return host


def parse_mcp_path(name: str, value: str) -> str:
    """An absolute URL path such as ``/mcp``."""
    path = value.strip()
    if not path.startswith("/") or any(c in path for c in "?# \t"):
        raise UsageError(f"{name}: expected an absolute path such as /mcp, got {value!r}")
    return path


def parse_seconds(name: str, value: str) -> float:
    """A positive number of seconds."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise UsageError(f"{name}: expected a positive number of seconds, got {value!r}")
    return number


def parse_size(name: str, value: str) -> int:
    """A positive number of bytes."""
    try:
        number = int(value.strip())
    except ValueError:
        raise UsageError(f"{name}: expected a positive number of bytes, got {value!r}") from None
    if number <= 0:
        raise UsageError(f"{name}: expected a positive number of bytes, got {value!r}")
    return number


def parse_sha256(name: str, value: str) -> str | None:
    """64 hex digits (``sha256:`` prefix allowed); empty means none given."""
    return normalize_sha256(value.strip(), what=name) if value.strip() else None


def parse_bridge_mode(name: str, value: str) -> str:
    """``shared`` (one server process for every session) or ``stateful`` (one per session)."""
    mode = value.strip().lower() or DEFAULT_BRIDGE_MODE
    if mode not in BRIDGE_MODES:
        raise UsageError(f"{name}: expected shared or stateful, got {value!r}")
    return mode


def parse_max_sessions(name: str, value: str) -> int | None:
    """A session limit of at least 1; empty means the bridge mode's default."""
    if not value.strip():
        return None
    try:
        limit = int(value.strip())
    except ValueError:
        raise UsageError(f"{name}: expected a whole number of sessions, got {value!r}") from None
    if limit < 1:
        raise UsageError(f"{name}: expected at least 1 session, got {value!r}")
    return limit


def _seconds_or_never(name: str, value: str, default: float, what: str) -> float | None:
    text = value.strip().lower()
    if not text:
        return default
    if text == "never":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"{name}: expected {what} (0 = never), got {value!r}")
    return seconds or None


def parse_session_timeout(name: str, value: str) -> float | None:
    """Idle seconds before a session expires; ``0`` (or ``never``) means sessions never expire."""
    return _seconds_or_never(name, value, DEFAULT_SESSION_TIMEOUT, "idle seconds")


def parse_request_timeout(name: str, value: str) -> float | None:
    """Seconds a request may wait for the server's answer; ``0`` (or ``never``): no limit."""
    return _seconds_or_never(name, value, DEFAULT_REQUEST_TIMEOUT, "seconds")


def parse_task_after(name: str, value: str) -> float | None:
    """Seconds a tools/call runs before it becomes a task; ``0`` (or ``never``): no tasks."""
    return _seconds_or_never(name, value, DEFAULT_TASK_AFTER, "seconds")


def parse_download_timeout(name: str, value: str) -> float | None:
    """Seconds the whole download may take, retries included; ``0`` (or ``never``): no limit."""
    return _seconds_or_never(name, value, DEFAULT_DOWNLOAD_TIMEOUT, "seconds")


def parse_crash_limit(name: str, value: str) -> int:
    """Consecutive fast exits of the server before restarting stops; ``0``: never stop."""
    try:
        limit = int(value.strip())
    except ValueError:
        limit = -1
    if limit < 0:
        raise UsageError(
            f"{name}: expected a whole number of exits (0 = never stop), got {value!r}"
        )
    return limit


def parse_user_config_json(name: str, value: str) -> dict[str, object]:
    """``MCPB_USER_CONFIG``: a JSON object of user_config values."""
    if not value.strip():
        return {}
    try:
        data = json.loads(value)
    except json.JSONDecodeError as err:
        where = f"line {err.lineno}:{err.colno}"
        raise UsageError(f"{name}: invalid JSON at {where}: {err.msg}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{name}: expected a JSON object of user_config values")
    return data


def parse_cache_dir(name: str, value: str) -> Path:
    """A directory path (created when needed)."""
    if not value.strip():
        raise UsageError(f"{name}: expected a directory, got an empty value")
    return Path(value)


# ----------------------------------------------------------------- the table and the precedence


@dataclass(frozen=True)
class Setting:
    """One loader setting: its field, its environment variable, its ``mcpb run`` flag."""

    field: str
    variable: str
    flag: str | None
    parse: Callable[[str, str], Any]


SETTINGS: tuple[Setting, ...] = (
    Setting("bundle_url", "BUNDLE_URL", "BUNDLE", lambda name, v: v.strip()),
    Setting("sha256", "BUNDLE_SHA256", "--sha256", parse_sha256),
    Setting("allow_unverified", "MCPB_ALLOW_UNVERIFIED", "--allow-unverified", parse_bool),
    Setting("host", "HOST", "--host", parse_host),
    Setting("port", "PORT", "--port", parse_port),
    Setting("mcp_path", "MCP_PATH", "--mcp-path", parse_mcp_path),
    Setting("cache_dir", "MCPB_CACHE_DIR", "--cache-dir", parse_cache_dir),
    Setting("user_config", "MCPB_USER_CONFIG", None, parse_user_config_json),
    Setting("stop_grace", "MCPB_STOP_GRACE", "--stop-grace", parse_seconds),
    Setting("max_bundle_size", "MCPB_MAX_BUNDLE_SIZE", "--max-bundle-size", parse_size),
    Setting("bridge_mode", "MCPB_BRIDGE_MODE", "--bridge-mode", parse_bridge_mode),
    Setting("max_sessions", "MCPB_MAX_SESSIONS", "--max-sessions", parse_max_sessions),
    Setting("session_timeout", "MCPB_SESSION_TIMEOUT", "--session-timeout", parse_session_timeout),
    Setting("request_timeout", "MCPB_REQUEST_TIMEOUT", "--request-timeout", parse_request_timeout),
    Setting("task_after", "MCPB_TASK_AFTER", "--task-after", parse_task_after),
    Setting("crash_limit", "MCPB_CRASH_LIMIT", "--crash-limit", parse_crash_limit),
    Setting(
        "download_timeout", "MCPB_DOWNLOAD_TIMEOUT", "--download-timeout", parse_download_timeout
    ),
)
#: Read by :func:`mcpb.loader.run.configure_logging`, not part of :class:`LoaderConfig`.
LOG_LEVEL_VARIABLE = "MCPB_LOG_LEVEL"


def load_config(
    env: Mapping[str, str],
    flags: Mapping[str, str | None] | None = None,
    *,
    user_config_flags: tuple[str, ...] = (),
    local: bool = False,
) -> LoaderConfig:
    """The configuration: defaults < ``env`` < ``flags`` (raw flag text by field name).

    ``local`` is ``mcpb run``: loopback by default, a named local file trusted. An empty
    variable counts as unset. Raises :class:`UsageError` naming the first bad setting as the
    user wrote it.
    """
    flags = flags or {}
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = flags.get(setting.field)
        if raw is not None and setting.flag is not None:
            values[setting.field] = setting.parse(setting.flag, raw)
        elif env.get(setting.variable, "").strip():
            values[setting.field] = setting.parse(setting.variable, env[setting.variable])
    if not values.get("bundle_url"):
        raise UsageError("BUNDLE_URL is not set: give the bundle's https://, file:// URL or path")
    if values.get("sha256") is None and not values.get("allow_unverified") and not local:
        raise UsageError(
            "BUNDLE_SHA256 is not set: the bundle's SHA-256 is required "
            "(set MCPB_ALLOW_UNVERIFIED=1 to run an unverified bundle)"
        )
    values.setdefault("host", LOCAL_HOST if local else IMAGE_HOST)
    values.setdefault("cache_dir", default_cache_dir(env))
    strings = user_config_from_env(env)
    strings.update(user_config_pairs(user_config_flags))
    return LoaderConfig(**values, user_config_strings=strings, local=local)


def user_config_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """Every ``MCPB_USER_CONFIG_<KEY>`` variable, keyed by ``<KEY>`` as written."""
    return {
        name[len(USER_CONFIG_PREFIX) :]: value
        for name, value in env.items()
        if name.startswith(USER_CONFIG_PREFIX) and len(name) > len(USER_CONFIG_PREFIX)
    }


def user_config_pairs(values: tuple[str, ...]) -> dict[str, str]:
    """``--user-config KEY=VALUE`` flags keyed like ``MCPB_USER_CONFIG_<KEY>`` (same matching)."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--user-config: expected KEY=VALUE, got {item!r}")
        out[env_var_name(key.strip()).removeprefix(f"{ENV_PREFIX}_")] = value
    return out


def from_env(env: Mapping[str, str], *, local: bool = False) -> LoaderConfig:
    """The images' loader configuration: :func:`load_config` with no flags."""
    return load_config(env, local=local)
