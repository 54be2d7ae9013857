"""The transport core: MCP over HTTP in front of any :class:`Backend`.

Streamable HTTP (2025-03-26 … 2025-11-25), legacy HTTP+SSE, sessions, Host/Origin guards,
CORS, ``/health`` and ``/ready``, and one way to serve (:func:`serve_app` inside :func:`run`).
It imports the format library's errors and nothing of the loader runtime or the bundler; what
answers the messages is a backend (the stdio bridge: :mod:`mcpb.loader.bridge`). See
``docs/architecture.md``.
"""

from mcpb.mcphttp.app import McpHttpApp
from mcpb.mcphttp.backend import Backend, BackendFactory, BackendUnavailableError
from mcpb.mcphttp.errors import HTTPError
from mcpb.mcphttp.health import HealthEndpoint, Readiness, ReadyEndpoint
from mcpb.mcphttp.serve import bind_socket, loop_factory, run, serve_app
from mcpb.mcphttp.session import Session
from mcpb.mcphttp.sessions import SessionLimitError, SessionTable
from mcpb.mcphttp.settings import HttpSettings
from mcpb.mcphttp.sink import RequestSink, Sink
from mcpb.mcphttp.versions import SUPPORTED_PROTOCOL_VERSIONS

__all__ = [
    "SUPPORTED_PROTOCOL_VERSIONS",
    "Backend",
    "BackendFactory",
    "BackendUnavailableError",
    "HTTPError",
    "HealthEndpoint",
    "HttpSettings",
    "McpHttpApp",
    "Readiness",
    "ReadyEndpoint",
    "RequestSink",
    "Session",
    "SessionLimitError",
    "SessionTable",
    "Sink",
    "bind_socket",
    "loop_factory",
    "run",
    "serve_app",
]
