"""The loader's configuration, parsed once from the environment (or from ``mcpb run`` flags).

The base images are configured only through environment variables (DESIGN.md, "Loader
environment"); parsing them here, at the edge, means the rest of the loader works with typed
values and every bad variable is reported by name before anything is downloaded.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mcpb.bundle.digest import normalize_sha256
from mcpb.bundle.errors import UsageError

USER_CONFIG_PREFIX = "MCPB_USER_CONFIG_"
DEFAULT_PORT = 8000
DEFAULT_MCP_PATH = "/mcp"
DEFAULT_STOP_GRACE = 10.0
DEFAULT_MAX_BUNDLE_SIZE = 2 * 1024**3
BRIDGE_MODES = ("shared", "stateful")
DEFAULT_BRIDGE_MODE = "shared"
#: Session limits per bridge mode: a stateful session costs a whole server process.
DEFAULT_MAX_SESSIONS = {"shared": 1000, "stateful": 64}
DEFAULT_SESSION_TIMEOUT = 600.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class LoaderConfig:
    """Everything the loader needs to fetch, verify and serve one bundle.

    ``user_config`` holds typed values from the ``MCPB_USER_CONFIG`` JSON object;
    ``user_config_strings`` the raw ``MCPB_USER_CONFIG_<KEY>`` values, which are coerced against
    the manifest's ``user_config`` schema once the bundle is known (they win over the JSON).
    ``trust_local`` lets ``mcpb run`` compute the digest of a local file the user named.
    ``bridge_mode`` picks how a stdio server is bridged (``stateful``: a child per session);
    ``max_sessions=None`` means the mode's default; ``session_timeout=None``: never expire.
    """

    bundle_url: str
    sha256: str | None = None
    allow_unverified: bool = False
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    mcp_path: str = DEFAULT_MCP_PATH
    cache_dir: Path = field(default_factory=lambda: default_cache_dir(os.environ))
    user_config: Mapping[str, object] = field(default_factory=dict)
    user_config_strings: Mapping[str, str] = field(default_factory=dict)
    stop_grace: float = DEFAULT_STOP_GRACE
    max_bundle_size: int = DEFAULT_MAX_BUNDLE_SIZE
    trust_local: bool = False
    bridge_mode: str = DEFAULT_BRIDGE_MODE
    max_sessions: int | None = None
    session_timeout: float | None = DEFAULT_SESSION_TIMEOUT

    @property
    def session_limit(self) -> int:
        """The session limit: ``max_sessions``, else the default of the bridge mode."""
        return self.max_sessions or DEFAULT_MAX_SESSIONS[self.bridge_mode]


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """``MCPB_CACHE_DIR``, else ``$XDG_CACHE_HOME/mcpb``, else ``~/.cache/mcpb``."""
    if env.get("MCPB_CACHE_DIR"):
        return Path(env["MCPB_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "mcpb"
    return Path.home() / ".cache" / "mcpb"


def parse_bool(name: str, value: str) -> bool:
    """A boolean variable: ``1/true/yes/on`` or ``0/false/no/off`` (empty is false)."""
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


def parse_mcp_path(name: str, value: str) -> str:
    """An absolute URL path such as ``/mcp``."""
    path = value.strip()
    if not path.startswith("/") or any(c in path for c in "?# \t"):
        raise UsageError(f"{name}: expected an absolute path such as /mcp, got {value!r}")
    return path


def parse_positive(name: str, value: str, *, integer: bool = False) -> float:
    """A positive number of seconds or bytes."""
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        raise UsageError(f"{name}: expected a positive number, got {value!r}") from None
    if number <= 0:
        raise UsageError(f"{name}: expected a positive number, got {value!r}")
    return number


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


def parse_session_timeout(name: str, value: str) -> float | None:
    """Idle seconds before a session expires; ``0`` (or ``never``) means sessions never expire."""
    text = value.strip().lower()
    if not text:
        return DEFAULT_SESSION_TIMEOUT
    if text == "never":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"{name}: expected idle seconds (0 = never), got {value!r}")
    return seconds or None


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


def user_config_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """Every ``MCPB_USER_CONFIG_<KEY>`` variable, keyed by ``<KEY>`` as written."""
    return {
        name[len(USER_CONFIG_PREFIX) :]: value
        for name, value in env.items()
        if name.startswith(USER_CONFIG_PREFIX) and len(name) > len(USER_CONFIG_PREFIX)
    }


def from_env(env: Mapping[str, str], *, local: bool = False) -> LoaderConfig:
    """Parse the loader environment; ``local`` picks the local default host (loopback).

    Raises :class:`UsageError` naming the first bad variable.
    """
    url = env.get("BUNDLE_URL", "").strip()
    if not url:
        raise UsageError("BUNDLE_URL is not set: give the bundle's https://, file:// URL or path")
    raw_sha = env.get("BUNDLE_SHA256", "").strip()
    sha = normalize_sha256(raw_sha, what="BUNDLE_SHA256") if raw_sha else None
    allow = parse_bool("MCPB_ALLOW_UNVERIFIED", env.get("MCPB_ALLOW_UNVERIFIED", ""))
    if sha is None and not allow:
        raise UsageError(
            "BUNDLE_SHA256 is not set: the bundle's SHA-256 is required "
            "(set MCPB_ALLOW_UNVERIFIED=1 to run an unverified bundle)"
        )
    host = env.get("HOST", "").strip() or ("127.0.0.1" if local else "0.0.0.0")  # noqa: S104
    grace = parse_positive("MCPB_STOP_GRACE", env.get("MCPB_STOP_GRACE", str(DEFAULT_STOP_GRACE)))
    max_size = parse_positive(
        "MCPB_MAX_BUNDLE_SIZE",
        env.get("MCPB_MAX_BUNDLE_SIZE", str(DEFAULT_MAX_BUNDLE_SIZE)),
        integer=True,
    )
    return LoaderConfig(
        bundle_url=url,
        sha256=sha,
        allow_unverified=allow,
        host=host,
        port=parse_port("PORT", env.get("PORT", str(DEFAULT_PORT))),
        mcp_path=parse_mcp_path("MCP_PATH", env.get("MCP_PATH", DEFAULT_MCP_PATH)),
        cache_dir=default_cache_dir(env),
        user_config=parse_user_config_json("MCPB_USER_CONFIG", env.get("MCPB_USER_CONFIG", "")),
        user_config_strings=user_config_from_env(env),
        stop_grace=grace,
        max_bundle_size=int(max_size),
        bridge_mode=parse_bridge_mode("MCPB_BRIDGE_MODE", env.get("MCPB_BRIDGE_MODE", "")),
        max_sessions=parse_max_sessions("MCPB_MAX_SESSIONS", env.get("MCPB_MAX_SESSIONS", "")),
        session_timeout=parse_session_timeout(
            "MCPB_SESSION_TIMEOUT", env.get("MCPB_SESSION_TIMEOUT", "")
        ),
    )
