"""One send per HTTP response: uvicorn's head and body writes joined before they reach the socket.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and its body when it sends ``http.response.body``: two ``send()``
calls, hence two TCP segments (the socket has ``TCP_NODELAY``), two system calls, and a
client that wakes twice per answer. Joining them made a minimal uvicorn relay 5–8 % faster at
one connection on the benchmark machine; with the callback-fed child (``LineFeed``) the bridge
gained 12 % at one connection and 28 % at 16 (bench/bridge/README.md, results-onesend).

:class:`CoalescingTransport` holds a write that starts a response (``HTTP/1.x``) until the
next write, which leaves with it in one ``send()``; a head with nothing after it in the same
event-loop turn (a stream whose first event comes later) leaves on the loop's next turn. Order
is always kept; only the number of sends changes. The uvicorn protocol classes here wrap each
connection's transport in one; :func:`protocol_class` names the one for the parser in use.
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

#: How every response uvicorn writes begins (status line of HTTP/1.0 or HTTP/1.1).
HEAD = b"HTTP/1."


class CoalescingTransport(asyncio.Transport):
    """A connection's transport whose response heads wait for the write that follows them."""

    __slots__ = ("_held", "_inner", "_loop")

    def __init__(self, inner: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._inner = inner
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._inner.write(held + data)
        elif data[: len(HEAD)] == HEAD:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._inner.write(data)

    def flush(self) -> None:
        """Send a held head now (the loop's next turn came without a body)."""
        held = self._held
        if held is not None:
            self._held = None
            self._inner.write(held)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        self.flush()
        self._inner.write_eof()

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def close(self) -> None:
        self.flush()
        self._inner.close()

    def abort(self) -> None:
        self._held = None
        self._inner.abort()

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._inner.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._inner.get_protocol()

    def is_reading(self) -> bool:
        return self._inner.is_reading()

    def pause_reading(self) -> None:
        self._inner.pause_reading()

    def resume_reading(self) -> None:
        self._inner.resume_reading()

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._inner.get_write_buffer_size() + (len(held) if held is not None else 0)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._inner.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._inner.set_write_buffer_limits(high, low)


@cache
def protocol_class(http: str) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol for ``http`` (``httptools`` or ``h11``), coalescing."""
    if http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        class HttpTools(HttpToolsProtocol):
            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))

        return HttpTools
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class H11(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))

    return H11
