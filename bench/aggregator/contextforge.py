"""The ContextForge peer (PyPI ``mcp-contextforge-gateway``), set up as its documentation asks.

It needs Python 3.12 or 3.13 (``MCPB_BENCH_PYTHON313``, else the first ``python3.13`` or
``python3.12`` found), installed into ``.cache/pypi/contextforge``. Started from a directory
whose ``.env`` sets SQLite, the secrets it insists on, the admin API on, localhost upstreams
allowed, memory caches, no plugins, no rate limiting; then an admin JWT is minted with its own
tool, the upstream registered (``POST /gateways``) and a virtual server made of its tool
(``POST /servers``). Clients call ``/servers/{id}/mcp`` with that token; by default the gateway
is stateless (no session id).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.bridge.run import stop_group
from tests.support.ports import free_port
from tests.support.pypi import CACHE, pypi_venv

VERSION = "1.1.0"
REQUIREMENTS = (f"mcp-contextforge-gateway=={VERSION}",)
PASSWORD = "bench-password-123"
ENV = {
    "JWT_SECRET_KEY": "bench-secret-key-0123456789-abcdefghij",
    "AUTH_ENCRYPTION_SECRET": "bench-encryption-secret-0123456789-abcd",
    "BASIC_AUTH_PASSWORD": PASSWORD,
    "PLATFORM_ADMIN_PASSWORD": PASSWORD,
    "DEFAULT_USER_PASSWORD": PASSWORD,
    "PLATFORM_ADMIN_EMAIL": "admin@example.com",
    "MCPGATEWAY_UI_ENABLED": "false",
    "MCPGATEWAY_ADMIN_API_ENABLED": "true",
    "SSRF_ALLOW_LOCALHOST": "true",
    "SSRF_ALLOW_PRIVATE_NETWORKS": "true",
    "CACHE_TYPE": "memory",
    "PLUGINS_ENABLED": "false",
    "LOG_LEVEL": "ERROR",
    "RATE_LIMITING_ENABLED": "false",
}


def interpreter() -> str | None:
    """A working Python 3.12 or 3.13 for ContextForge, or None when this machine has none."""
    chosen = os.environ.get("MCPB_BENCH_PYTHON313")
    candidates = [chosen] if chosen else []
    pyenv = sorted((Path.home() / ".pyenv" / "versions").glob("3.1[23]*/bin/python"))
    candidates += [str(path) for path in reversed(pyenv)]
    candidates += [found for name in ("python3.13", "python3.12") if (found := shutil.which(name))]
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if probe.stdout.strip() == "True":
            return candidate
    return None


@contextmanager
def contextforge(upstream: str, logs: Path) -> Iterator[tuple[str, str, str]]:
    """ContextForge proxying ``upstream``: (MCP URL, the echo tool's name, Authorization)."""
    python = interpreter()
    if python is None:
        raise RuntimeError("ContextForge needs Python 3.12 or 3.13 and none was found")
    venv = pypi_venv("contextforge", REQUIREMENTS, python=python)
    work = CACHE / "contextforge-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, **ENV, "DATABASE_URL": f"sqlite:///{work}/mcp.db"}
    (work / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items() if k in ENV))
    port = free_port()
    with (logs / "aggregator-contextforge.log").open("wb") as log:
        proc = subprocess.Popen(
            [str(venv / "bin" / "mcpgateway"), "--host", "127.0.0.1", "--port", str(port)],
            cwd=work, env=env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("ContextForge did not start (see its log)")
            time.sleep(0.5)
        minted = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "mcpgateway.utils.create_jwt_token",
             "-u", "admin@example.com", "--admin", "-e", "10080"],
            cwd=work, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        auth = {"Authorization": f"Bearer {minted.stdout.strip().splitlines()[-1]}"}
        with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
            gateway = {"name": "fast", "url": upstream, "transport": "STREAMABLEHTTP"}
            registered = client.post("/gateways", json=gateway)
            registered.raise_for_status()
            wanted = {"limit": 0, "gateway_id": registered.json()["id"]}  # 0: every tool
            listed = client.get("/tools", params=wanted).json()
            tools = listed if isinstance(listed, list) else listed.get("items", [])
            every = [t["id"] for t in tools]  # the virtual server serves all the upstream's tools
            server = {"server": {"name": "vmcp-fast", "associated_tools": every}}
            made = client.post("/servers", json=server)
            made.raise_for_status()
        yield f"{base}/servers/{made.json()['id']}/mcp", "fast-echo", auth["Authorization"]
    finally:
        stop_group(proc)
