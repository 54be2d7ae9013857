"""A vMCP in front of an HTTP upstream that speaks 2026-07-28 (the SDK's own server).

The aggregator probes ``server/discover`` and addresses the upstream in 2026-07-28: no
upstream session, the ``_meta`` envelope and routing headers on every request (the SDK server
checks ``Mcp-Param-Region`` against the argument), and the upstream's ``input_required``
results turned into questions for the vMCP's client, whichever era that client speaks.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitResult

from tests.support.aggregator import Aggregator, aggregating, write_config
from tests.support.mcp_calls import text_of
from tests.support.ports import free_port
from tests.support.servers import SUPPORT, stop_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The SDK server's URL and its access log."""
    port = free_port()
    log = tmp_path_factory.mktemp("upstream") / "access.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(SUPPORT / "modern_http_server.py"), str(port)],
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", log
    finally:
        stop_process(process, 10)


@pytest.fixture(scope="module")
def running(
    upstream: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Aggregator]:
    config = {"upstreams": {"modern": {"url": upstream[0]}}, "vmcps": {"m": {}}}
    path = write_config(tmp_path_factory.mktemp("eras"), config)
    with aggregating(path) as aggregator:
        aggregator.wait_for({"modern": "up"})
        yield aggregator


async def elicit(context: Any, params: Any) -> ElicitResult:
    return ElicitResult(action="accept", content={"name": "Ada"})


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_clients_of_both_eras_reach_a_2026_upstream(running: Aggregator, mode: Any) -> None:
    async def scenario() -> tuple[str, list[str], str, str]:
        client = Client(running.url("m"), elicitation_callback=elicit, mode=mode)
        async with client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            asked = text_of(await client.call_tool("modern__whoami", {}))
            region = text_of(await client.call_tool("modern__regional", {"region": "eu west"}))
            return client.protocol_version, names, asked, region

    version, names, asked, region = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert names == ["modern__greet", "modern__regional", "modern__whoami"]
    assert asked == "You are Ada."  # the upstream's input_required, answered by this client
    assert region == "region=eu west"  # sent with Mcp-Param-Region (base64: it has a space)
    assert any("[modern] speaks 2026-07-28" in line for line in running.log)


def test_the_upstream_is_never_given_a_session(
    running: Aggregator, upstream: tuple[str, Path]
) -> None:
    # Every exchange of the tests above was a POST: no initialize (which would be followed by
    # a GET stream and a DELETE), just 2026 requests and one listen stream.
    assert running.ready()["upstreams"]["modern"]["tools"] == 3
    access = upstream[1].read_text()
    assert '"POST /mcp HTTP/1.1" 200' in access
    assert "GET /mcp" not in access and "DELETE /mcp" not in access
    assert "Terminating session" not in access
