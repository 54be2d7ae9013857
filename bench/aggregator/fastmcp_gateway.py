"""The FastMCP 4 peer: a proxy mounting upstreams with namespaces, in its fastest documented mode.

Run with the interpreter of the ``fastmcp4`` environment (``.cache/pypi/fastmcp4``)::

    python fastmcp_gateway.py PORT NAMESPACE=URL [NAMESPACE=URL ...]

For each upstream an already-connected ``fastmcp.Client`` is handed to ``create_proxy`` (FastMCP
then reuses that one session for every request instead of opening a fresh one per request) and
mounted under its namespace, so tools are served as ``{namespace}_{tool}``. Served with uvicorn
on uvloop and httptools, like ours.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from fastmcp import Client, FastMCP
from fastmcp.server import create_proxy


async def main(port: int, upstreams: list[tuple[str, str]]) -> None:
    gateway: FastMCP = FastMCP("fastmcp-gateway")
    clients = []
    for namespace, url in upstreams:
        client = Client(url)
        await client.__aenter__()
        clients.append(client)
        gateway.mount(create_proxy(client, name=namespace), namespace=namespace)
    app = gateway.http_app(path="/mcp")
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools"
    )
    await uvicorn.Server(config).serve()


if __name__ == "__main__":
    pairs = [tuple(arg.split("=", 1)) for arg in sys.argv[2:]]
    asyncio.run(main(int(sys.argv[1]), [(ns, url) for ns, url in pairs]))
