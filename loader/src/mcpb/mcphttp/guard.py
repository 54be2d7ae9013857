"""DNS-rebinding protection: Origin validation and a Host allow-list.

A request without an Origin header (every non-browser client) passes the Origin check. A
present Origin is allowed when it is on the allow-list or the CORS list (``*`` allows all);
with no list, a server bound to loopback allows only loopback origins and a server bound
elsewhere allows any (it is then behind whatever the deployment puts in front of it).

The Host header is checked the same way: with ``allowed_hosts`` configured only those names
(port ignored, ``*`` for any) pass; with none, a server bound to loopback accepts only loopback
host names and addresses, so a rebinding page whose name resolves to 127.0.0.1 still sends its
own name and is refused. Refusals: 403 for an Origin, 421 (Misdirected Request) for a Host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from mcpb.mcphttp.errors import HTTPError
from mcpb.mcphttp.settings import HttpSettings

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


def host_name(value: str) -> str:
    """The name part of a Host header value: ``[::1]:8000`` → ``::1``, ``a:80`` → ``a``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


class OriginPolicy:
    """Decides whether a browser Origin may talk to the server."""

    def __init__(self, settings: HttpSettings) -> None:
        self._allowed = frozenset(o.rstrip("/").lower() for o in settings.allow_origins)
        cors = frozenset(o.rstrip("/").lower() for o in settings.cors_origins)
        self._listed = self._allowed | cors
        self._any = "*" in cors or "*" in self._allowed
        self._loopback_only = not self._allowed and is_loopback_host(settings.host)
        self._open = self._any or (not self._allowed and not self._loopback_only)

    def allows(self, origin: str | None) -> bool:
        """Whether a request carrying this Origin header may proceed."""
        if origin is None or self._open:
            return True
        normal = origin.rstrip("/").lower()
        if normal in self._listed:
            return True
        if self._loopback_only:
            parts = urlsplit(normal)
            return parts.scheme in ("http", "https") and is_loopback_host(parts.hostname or "")
        return False


#: Host header values remembered per policy (a client sends the same one on every request).
_REMEMBERED = 64


class HostPolicy:
    """Decides whether a Host header names this server."""

    def __init__(self, settings: HttpSettings) -> None:
        names = frozenset(host_name(h) for h in settings.allowed_hosts)
        self._names = names
        self._any = "*" in names or (not names and not is_loopback_host(settings.host))
        self._verdicts: dict[bytes, bool] = {}

    def allows(self, host: str | None) -> bool:
        """Whether a request carrying this Host header (None: absent) may proceed."""
        if self._any:
            return True
        if host is None:
            return False
        name = host_name(host)
        if self._names:
            return name in self._names
        return is_loopback_host(name)

    def allows_raw(self, host: bytes) -> bool:
        """:meth:`allows` for the raw header value, remembering recent answers."""
        verdict = self._verdicts.get(host)
        if verdict is None:
            verdict = self.allows(host.decode("latin-1"))
            if len(self._verdicts) < _REMEMBERED:
                self._verdicts[host] = verdict
        return verdict


class RequestGuard:
    """Both checks, in the order the spec gives them: Host first, then Origin."""

    def __init__(self, settings: HttpSettings) -> None:
        self.origins = OriginPolicy(settings)
        self.hosts = HostPolicy(settings)

    def check(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Raise :class:`HTTPError` for a Host or Origin this server must not answer.

        ``headers`` is the ASGI list (names lower-case); one pass, no dict.
        """
        host = origin = None
        for name, value in headers:
            if name == b"host":
                host = value
            elif name == b"origin":
                origin = value
        if not (self.hosts.allows_raw(host) if host is not None else self.hosts.allows(None)):
            shown = host.decode("latin-1") if host is not None else "(none)"
            raise HTTPError(421, f"Host {shown} is not allowed (DNS rebinding protection)")
        if origin is not None:
            text = origin.decode("latin-1")
            if not self.origins.allows(text):
                raise HTTPError(403, f"Origin {text} is not allowed")
