"""The per-request ``params._meta`` envelope of the 2026-07-28 revision, read once at the edge.

A modern request names its protocol version and the client's capabilities in every request
(there is no ``initialize``); optionally the client's info and the lowest log level it wants.
:func:`read_envelope` turns them into an :class:`Envelope` (or the spec's -32602 refusal);
:func:`to_handshake_era` rewrites the request for a server of the handshake era, which must
not see the modern keys (nor the 2025 ``task`` hint, which would ask it for a task).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.errors import HTTPError
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.versions import HEADER_PROTOCOL_VERSIONS

PREFIX = "io.modelcontextprotocol/"
PROTOCOL_VERSION = PREFIX + "protocolVersion"
CLIENT_CAPABILITIES = PREFIX + "clientCapabilities"
CLIENT_INFO = PREFIX + "clientInfo"
LOG_LEVEL = PREFIX + "logLevel"
SERVER_INFO = PREFIX + "serverInfo"
SUBSCRIPTION_ID = PREFIX + "subscriptionId"

#: Logging levels, least severe first (RFC 5424 names, as MCP uses them).
LOG_LEVELS: tuple[str, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)


@dataclass(slots=True)
class Envelope:
    """What one modern request says about its client. ``version`` is not yet checked."""

    version: Any
    capabilities: dict[str, Any]
    log_level: int | None = None

    def declares(self, capability: str, sub: str | None = None) -> bool:
        """Whether the client declared ``capability`` (and its ``sub`` feature, if named)."""
        value = self.capabilities.get(capability)
        if not isinstance(value, dict):
            return False
        return sub is None or isinstance(value.get(sub), dict)

    def declares_extension(self, name: str) -> bool:
        """Whether the client declared the extension ``name`` (``capabilities.extensions``)."""
        extensions = self.capabilities.get("extensions")
        return isinstance(extensions, dict) and isinstance(extensions.get(name), dict)

    def wants_log(self, level: Any) -> bool:
        """Whether a log message at ``level`` may go to this client (it asked for logs)."""
        if self.log_level is None:
            return False
        try:
            return LOG_LEVELS.index(level) >= self.log_level
        except ValueError:
            return True


def meta_of(message: Message) -> dict[str, Any] | None:
    """``params._meta`` of a message when it is an object."""
    params = message.get("params")
    if isinstance(params, dict):
        meta = params.get("_meta")
        if isinstance(meta, dict):
            return meta
    return None


def is_modern_request(header_version: bytes | None, message: object) -> bool:
    """Whether a POSTed message belongs to the stateless era.

    A ``MCP-Protocol-Version`` header naming anything but a handshake version (unknown values
    included: the modern path rejects those with -32022) decides it; without the header, a
    ``params._meta`` envelope naming a protocol version does (the spec's "how the client
    opens"). A handshake version in the header is always the handshake era.
    """
    if header_version is not None:
        return header_version.decode("latin-1").strip() not in HEADER_PROTOCOL_VERSIONS
    if not isinstance(message, dict):
        return False
    meta = meta_of(message)
    return meta is not None and PROTOCOL_VERSION in meta


def read_envelope(message: Message) -> Envelope:
    """The envelope of a modern request; 400 -32602 naming the missing key(s) otherwise."""
    meta = meta_of(message)
    if meta is None or PROTOCOL_VERSION not in meta or CLIENT_CAPABILITIES not in meta:
        missing = [
            k for k in (PROTOCOL_VERSION, CLIENT_CAPABILITIES) if meta is None or k not in meta
        ]
        raise HTTPError(
            400,
            f"params._meta must name {' and '.join(missing)} (2026-07-28 requests carry them)",
            rpc_id=message.get("id"),
            code=jsonrpc.INVALID_PARAMS,
        )
    capabilities = meta[CLIENT_CAPABILITIES]
    if not isinstance(capabilities, dict):
        raise HTTPError(
            400,
            f"params._meta.{CLIENT_CAPABILITIES} must be an object",
            rpc_id=message.get("id"),
            code=jsonrpc.INVALID_PARAMS,
        )
    level = meta.get(LOG_LEVEL)
    rank = LOG_LEVELS.index(level) if level in LOG_LEVELS else None
    return Envelope(meta[PROTOCOL_VERSION], capabilities, rank)


def to_handshake_era(message: Message) -> None:
    """Rewrite a modern request in place for a handshake-era server.

    The ``io.modelcontextprotocol/*`` keys leave ``_meta`` (an emptied ``_meta`` goes too);
    the progress token, trace context and vendor keys stay. ``inputResponses`` and
    ``requestState`` (answered by the transport itself) leave ``params``, and so does the
    2025-11-25 ``task`` hint: in 2026 the server alone decides what becomes a task, and here
    that is the transport.
    """
    params = message.get("params")
    if not isinstance(params, dict):
        return
    if "task" in params:
        del params["task"]
    if "inputResponses" in params:
        del params["inputResponses"]
    if "requestState" in params:
        del params["requestState"]
    meta = params.get("_meta")
    if isinstance(meta, dict):
        for key in [key for key in meta if key.startswith(PREFIX)]:
            del meta[key]
        if not meta:
            del params["_meta"]
