"""What stands behind the transport: the :class:`Backend` protocol.

The transport (streamable HTTP, legacy SSE, sessions) knows nothing of what answers the
messages. A backend is handed each client message already parsed and shape-checked, together
with the :class:`~mcpb.mcphttp.session.Session` it belongs to; it delivers what comes back
through the request's :class:`~mcpb.mcphttp.sink.RequestSink` (answers and the messages about
a request) or :meth:`Session.push` (everything unsolicited). The stdio bridge
(:class:`mcpb.loader.bridge.StdioBackend`) is one implementation; see ``docs/architecture.md``
for how to add another.

The session table calls a :data:`BackendFactory` with a label: once at start for a shared
backend, or once per session when every session gets its own (``shared=False``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.session import Session
from mcpb.mcphttp.sink import Sink


class BackendUnavailableError(Exception):
    """The backend cannot take the message now (down, restarting); the client gets 503."""


class Backend(Protocol):
    """The MCP server behind one or more sessions.

    Lifecycle: ``start`` before the first session is attached (raise
    :class:`~mcpb.bundle.errors.UsageError` or :class:`OSError` when it cannot start),
    ``close`` once when the last use is over. ``check`` answers ``/ready``.

    Messages: ``initialize`` and ``forward_request`` must eventually put exactly one final
    message on ``sink`` (``sink`` is None for legacy SSE sessions: deliver with
    ``session.push``); they may raise :class:`BackendUnavailableError` instead.
    ``forward_request`` registers the request in ``session.inflight`` under its client id
    until it is answered. ``abandon`` is called when the client of a request left (or cannot
    keep up) before its answer: cancel it in the server and forget it — an abandoned request
    must not keep resources, nor change how other sessions' messages are routed.
    """

    async def start(self) -> None:
        """Make the server available (spawn, connect)."""

    async def close(self) -> None:
        """Fail what is in flight and release the server."""

    async def check(self) -> str | None:
        """Why the server would not answer now (``/ready``), or None when it would."""

    def attach(self, session: Session) -> None:
        """A session now talks to this backend."""

    def detach(self, session: Session) -> None:
        """A session ended: forget it and what it had in flight."""

    async def initialize(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Answer a client's ``initialize`` request."""

    async def forward_request(self, session: Session, message: Message, sink: Sink | None) -> None:
        """Send a client request on; its answer will reach ``sink``."""

    async def forward_notification(self, session: Session, message: Message) -> None:
        """Send a client notification on."""

    async def forward_response(self, session: Session, message: Message) -> None:
        """Send a client's answer to a server→client request on."""

    def abandon(self, session: Session, request_id: object, reason: str) -> None:
        """The client of request ``request_id`` is gone: cancel it upstream and forget it."""


#: Makes a backend for a label (``"shared"`` or a session tag such as ``"s12"``).
BackendFactory = Callable[[str], Backend]
