"""The stdio bridge: any stdio MCP server served over streamable HTTP and legacy SSE.

It is one :class:`~mcpb.mcphttp.backend.Backend` (:class:`StdioBackend`) behind the transport
core :mod:`mcpb.mcphttp`. See ``docs/bridge.md`` for behaviour and ``docs/architecture.md``
for the layers.
"""

from mcpb.loader.bridge.backend import StdioBackend
from mcpb.loader.bridge.serve import create_app, serve_bridge
from mcpb.loader.bridge.settings import MAX_SESSIONS, BridgeConfig, StdioSettings

__all__ = [
    "MAX_SESSIONS",
    "BridgeConfig",
    "StdioBackend",
    "StdioSettings",
    "create_app",
    "serve_bridge",
]
