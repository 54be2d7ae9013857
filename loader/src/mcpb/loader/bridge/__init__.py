"""stdio → streamable HTTP (and legacy SSE) bridge for MCP servers.

Public API: :class:`BridgeConfig`, :func:`serve_bridge` (run until cancelled) and
:func:`create_app` (the ASGI app, for tests and embedding). See ``docs/bridge.md``.
"""

from mcpb.loader.bridge.config import SUPPORTED_PROTOCOL_VERSIONS, BridgeConfig
from mcpb.loader.bridge.http import BridgeApp, create_app
from mcpb.loader.bridge.serve import serve_bridge

__all__ = ["SUPPORTED_PROTOCOL_VERSIONS", "BridgeApp", "BridgeConfig", "create_app", "serve_bridge"]
