"""Origin validation against DNS rebinding, and the CORS headers that go with it.

A request without an Origin header (every non-browser client) is always allowed. A present
Origin is allowed when it is on the allow-list or the CORS list (``*`` allows all); with no
list, a bridge bound to loopback allows only loopback origins and a bridge bound elsewhere
allows any (it is then behind whatever the deployment puts in front of it).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from mcpb.loader.bridge.config import BridgeConfig

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` names and loopback IP literals (brackets allowed)."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OriginPolicy:
    """Decides whether a browser Origin may talk to the bridge, and which CORS headers to send."""

    def __init__(self, config: BridgeConfig) -> None:
        self._allowed = frozenset(o.rstrip("/").lower() for o in config.allow_origins)
        self._cors = frozenset(o.rstrip("/").lower() for o in config.cors_origins)
        self._cors_all = "*" in self._cors
        self._loopback_only = not self._allowed and is_loopback_host(config.host)
        self._open = not self._allowed and not self._loopback_only
        self.cors_enabled = bool(self._cors)

    def allows(self, origin: str | None) -> bool:
        """Whether a request carrying this Origin header may proceed."""
        if origin is None:
            return True
        normal = origin.rstrip("/").lower()
        if self._cors_all or normal in self._cors or normal in self._allowed or self._open:
            return True
        if self._loopback_only:
            parts = urlsplit(normal)
            return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname or "")
        return False

    def cors_headers(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        """CORS response headers for an allowed Origin, when CORS is enabled."""
        if not self.cors_enabled or origin is None:
            return []
        allow = b"*" if self._cors_all else origin.encode("latin-1")
        return [
            (b"access-control-allow-origin", allow),
            (b"access-control-expose-headers", b"mcp-session-id, mcp-protocol-version"),
            (b"vary", b"origin"),
        ]
