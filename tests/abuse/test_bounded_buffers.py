"""Every per-client buffer is bounded in bytes: a client that does not read loses its stream.

In-process: a session's stream and a request's stream past their byte limit; the request of a
client whose stream overflowed is abandoned (cancelled in the server). With real processes: a
server sending 10,000 notifications of 20 kB to a client that never reads its stream leaves
the bridge's memory where it was.
"""

from __future__ import annotations

import asyncio
import socket
import time
from functools import partial
from pathlib import Path

import httpx
import pytest

from mcpb.mcphttp import RequestSink
from mcpb.mcphttp.session import Session
from tests.support.mcp_http import initialize
from tests.support.servers import bridged, echo_command

pytestmark = pytest.mark.abuse

KIB = 1024


def test_a_stream_past_its_byte_limit_is_closed_and_nothing_more_is_held() -> None:
    async def scenario() -> None:
        session = Session("s", False, "s", buffer_limit=64 * KIB)
        stream = session.open_stream()
        message = b"x" * (20 * KIB)
        sent = [session.push(message) for _ in range(5)]
        # 60 KiB fit; the 4th passes 64 KiB and closes the stream; the 5th waits for a new one
        assert sent == [True, True, True, False, True]
        assert session.stream is None and stream.ended
        assert stream.held <= 64 * KIB
        items = [await stream.get() for _ in range(4)]
        assert items[:3] == [message] * 3 and items[3] is None  # what fitted, then the end

    asyncio.run(scenario())


def test_held_messages_are_bounded_too() -> None:
    async def scenario() -> None:
        session = Session("s", False, "s", buffer_limit=64 * KIB, hold_seconds=5)
        dropped: list[int] = []
        held = [session.push(b"y" * (30 * KIB), partial(dropped.append, i)) for i in range(3)]
        assert held == [True, True, False]
        session.close()
        assert dropped == [0, 1]  # the senders of what was held learn it was not delivered

    asyncio.run(scenario())


def test_a_request_stream_that_overflows_ends_and_keeps_the_final_answer_out() -> None:
    async def scenario() -> None:
        sink = RequestSink(streaming=True, limit=64 * KIB)
        assert sink.put(b"a" * (40 * KIB), final=False)
        assert not sink.put(b"b" * (40 * KIB), final=False)
        assert sink.overflowed and sink.closed
        assert not sink.put(b"answer", final=True)  # the request is abandoned, not answered
        assert await sink.queue.get() == b"a" * (40 * KIB)
        assert await sink.queue.get() is None

    asyncio.run(scenario())


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_a_client_that_never_reads_cannot_grow_the_bridge() -> None:
    with bridged(echo_command(), "--max-buffer", str(1024 * KIB)) as bridge:
        host, port = "127.0.0.1", int(bridge.base_url.rsplit(":", 1)[1])
        with httpx.Client(timeout=30) as http:
            sid = initialize(http, bridge.mcp_url)
            before = rss_kib(bridge.pid)
            # A GET stream whose reader takes the headers and then never reads again.
            lazy = socket.create_connection((host, port))
            lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            lazy.sendall(
                f"GET /mcp HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                f"Mcp-Session-Id: {sid}\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n".encode()
            )
            time.sleep(0.3)
            flood = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "flood", "arguments": {"count": 10_000, "size": 20_000}},
            }
            headers = {
                "mcp-session-id": sid,
                "mcp-protocol-version": "2025-06-18",
                "accept": "application/json",  # interim messages go to the GET stream
            }
            answer = http.post(bridge.mcp_url, json=flood, headers=headers)
            assert answer.status_code == 200
            assert answer.json()["result"]["content"][0]["text"] == "flooded 10000"
            after = rss_kib(bridge.pid)
            lazy.close()
        grown = (after - before) // KIB
        assert grown < 40, f"the bridge grew by {grown} MiB for a client that never reads"
        assert any("does not read its stream" in line for line in bridge.log)


@pytest.mark.slow
def test_two_thousand_abandoned_calls_leave_nothing_behind() -> None:
    """Calls to a tool that never answers, each abandoned by its client: the bridge forgets
    them (it grew from 30 to 58 MiB before), and the session still expires."""
    import asyncio

    with bridged(echo_command(), "--sessionTimeout", "2000") as bridge:
        with httpx.Client(timeout=30) as http:
            sid = initialize(http, bridge.mcp_url)
        headers = {
            "mcp-session-id": sid,
            "mcp-protocol-version": "2025-06-18",
            "accept": "application/json, text/event-stream",
        }
        before = rss_kib(bridge.pid)

        async def abandon_all() -> int:
            gone = 0
            limits = httpx.Limits(max_connections=20)
            async with httpx.AsyncClient(limits=limits) as client:
                for batch in range(100):
                    calls = []
                    for i in range(20):
                        body = {
                            "jsonrpc": "2.0",
                            "id": batch * 20 + i,
                            "method": "tools/call",
                            "params": {"name": "sleep", "arguments": {"seconds": 600}},
                        }
                        calls.append(
                            client.post(bridge.mcp_url, json=body, headers=headers, timeout=0.2)
                        )
                    for result in await asyncio.gather(*calls, return_exceptions=True):
                        gone += isinstance(result, httpx.TimeoutException)
            return gone

        assert asyncio.run(abandon_all()) == 2000
        grown = (rss_kib(bridge.pid) - before) // KIB
        assert grown < 12, f"2,000 abandoned calls grew the bridge by {grown} MiB"
        time.sleep(3.5)  # past the session timeout: the session is gone despite its calls
        with httpx.Client(timeout=10) as http:
            probe = {"jsonrpc": "2.0", "id": "p", "method": "tools/list"}
            answer = http.post(bridge.mcp_url, json=probe, headers=headers)
        assert answer.status_code == 404
