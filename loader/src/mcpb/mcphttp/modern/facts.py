"""What the modern path learns about the server behind a backend, by asking it.

The handshake-era server must be initialised before it takes any request; its ``initialize``
result is also what ``server/discover`` and ``subscriptions/listen`` answer from, and its
``serverInfo`` goes into every modern result. Which tools take ``Mcp-Param-*`` headers, and
which declare task support (``execution.taskSupport``), comes from its ``tools/list``, read
again when a call names a tool not seen yet (at most every
:data:`RELIST_AFTER` seconds) and when the list is older than that; when the list cannot be
had, calls are not held up (fail open, as the SDK does).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any, NamedTuple

from mcpb.mcphttp import jsonrpc
from mcpb.mcphttp.backend import Backend, BackendUnavailableError
from mcpb.mcphttp.errors import HTTPError, unavailable
from mcpb.mcphttp.jsonrpc import Message
from mcpb.mcphttp.modern.headers import HeaderParam, header_params
from mcpb.mcphttp.session import Session
from mcpb.mcphttp.sink import RequestSink
from mcpb.mcphttp.versions import LATEST_PROTOCOL_VERSION

log = logging.getLogger("mcpb.http")

#: Who the transport says it is when it initialises a server for modern clients.
CLIENT_INFO = {"name": "mcpb", "version": "0.1.0"}
#: What it declares it can do: every question a modern client may answer (each request is
#: then checked against the capabilities that request declared).
CLIENT_CAPABILITIES: dict[str, Any] = {
    "sampling": {},
    "elicitation": {"form": {}, "url": {}},
    "roots": {},
}
RELIST_AFTER = 30.0
_PAGES = 50


class ToolFacts(NamedTuple):
    """What a call's checks need to know of one tool."""

    #: The ``Mcp-Param-*`` headers it declares, by lowercased header name.
    header_params: dict[bytes, HeaderParam]
    #: ``execution.taskSupport``: "forbidden", "optional", "required" (None: not said).
    task_support: str | None


#: A tool the server did not list, or one that declares nothing.
NOTHING = ToolFacts({}, None)


def tool_facts(tool: dict[str, Any]) -> ToolFacts:
    """The facts one ``tools/list`` entry declares."""
    execution = tool.get("execution")
    support = execution.get("taskSupport") if isinstance(execution, dict) else None
    if support not in ("forbidden", "optional", "required"):
        support = None
    params = header_params(tool.get("inputSchema"))
    return ToolFacts(params, support) if params or support else NOTHING


class ServerFacts:
    """The server's ``initialize`` result and its tools' header parameters, for one backend."""

    def __init__(self, timeout: float, limit: int) -> None:
        self._timeout = timeout
        self._limit = limit
        self._session = Session("modern-internal", False, "modern", stateless=True)
        self._ids = itertools.count(1)
        self.server_info: Any = None
        self._tools: dict[str, ToolFacts] = {}
        self._listed = 0.0
        self._listing: asyncio.Task[None] | None = None

    async def describe(self, backend: Backend) -> Message:
        """The server's ``initialize`` result (the backend answers from its cache when it can)."""
        message: Message = {
            "jsonrpc": "2.0",
            "id": f"describe-{next(self._ids)}",
            "method": "initialize",
            "params": {
                "protocolVersion": LATEST_PROTOCOL_VERSION,
                "capabilities": CLIENT_CAPABILITIES,
                "clientInfo": CLIENT_INFO,
            },
        }
        answer = await self._ask(backend, message, initialize=True)
        result = answer.get("result")
        if not isinstance(result, dict):
            error = answer.get("error")
            why = error.get("message") if isinstance(error, dict) else "no result"
            raise HTTPError(
                502, f"the MCP server refused initialize: {why}", code=jsonrpc.SERVER_UNAVAILABLE
            )
        self.server_info = result.get("serverInfo")
        return result

    def known_tool(self, tool: Any) -> ToolFacts | None:
        """What :meth:`tool` would answer without asking the server, or None when it must
        ask (the list is stale, or was never read)."""
        if time.monotonic() - self._listed > RELIST_AFTER:
            return None
        return self._tools.get(tool, NOTHING) if isinstance(tool, str) else NOTHING

    async def tool(self, backend: Backend, tool: Any) -> ToolFacts:
        """What ``tool`` declares (:data:`NOTHING` when it is unknown)."""
        if not isinstance(tool, str):
            return NOTHING
        stale = time.monotonic() - self._listed > RELIST_AFTER
        if stale or (tool not in self._tools and self._listed == 0.0):
            if self._listing is None or self._listing.done():
                self._listing = asyncio.ensure_future(self._relist(backend))
            await asyncio.shield(self._listing)
        return self._tools.get(tool, NOTHING)

    async def _relist(self, backend: Backend) -> None:
        self._listed = time.monotonic()
        tools: dict[str, ToolFacts] = {}
        cursor: Any = None
        try:
            for _ in range(_PAGES):
                params = {"cursor": cursor} if cursor is not None else {}
                message: Message = {
                    "jsonrpc": "2.0",
                    "id": f"tools-{next(self._ids)}",
                    "method": "tools/list",
                    "params": params,
                }
                result = (await self._ask(backend, message)).get("result")
                if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
                    return
                for tool in result["tools"]:
                    if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                        tools[tool["name"]] = tool_facts(tool)
                cursor = result.get("nextCursor")
                if not isinstance(cursor, str):
                    break
        except HTTPError as err:
            log.debug("tools/list for header checks failed: %s", err)
            return
        self._tools = tools

    async def _ask(
        self, backend: Backend, message: Message, *, initialize: bool = False
    ) -> Message:
        sink = RequestSink(streaming=False, limit=self._limit)
        try:
            if initialize:
                await backend.initialize(self._session, message, sink)
            else:
                await backend.forward_request(self._session, message, sink)
        except BackendUnavailableError as err:
            raise unavailable(message["id"], err) from None
        try:
            payload = await asyncio.wait_for(sink.queue.get(), self._timeout)
        except TimeoutError:
            backend.abandon(self._session, message["id"], "timed out")
            text = f"the MCP server did not answer {message['method']} within {self._timeout}s"
            raise HTTPError(504, text, code=jsonrpc.SERVER_UNAVAILABLE) from None
        if payload is None:
            raise unavailable(message["id"])
        answer: Message = jsonrpc.loads(payload)
        return answer
