"""The build-time smoke check (``mcpb build --check``): start what was built, as ``mcpb run``
would, and require ``initialize`` and ``tools/list`` within a time limit.

A bundle that builds but cannot start (a dependency that moved, a missing argument) is caught
before it is published. The check runs the loader itself in a subprocess (``python -m
mcpb.loader``) on the built file, so extraction, ``user_config`` substitution, the stdio bridge or
the HTTP proxy are the ones that serve it later; it talks plain JSON-RPC over streamable HTTP on
loopback, so the build needs no MCP client library.

Where it runs: the bundle's platform must be this machine's (an arm64 bundle needs an arm64
interpreter, which a build machine rarely has; ``mcpb test -p linux/arm64`` checks it in its
base image under qemu), and the runtime must be here (``pythonX.Y`` for a Python bundle,
``node`` for a Node one). Otherwise the check is skipped with a note saying why.

Required ``user_config`` values without a default come from ``--check-config KEY=VALUE``; a
``directory`` or ``file`` option gets a fresh temporary path; anything else skips the check
with a note naming the key.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mcpb.bundle.errors import BuildError, UsageError
from mcpb.bundle.manifest_view import OptionView, read_manifest_view
from mcpb.bundle.placeholders import env_var_name
from mcpb.bundle.platform import Platform, host_platform
from mcpb.bundler.readiness import wait_ready
from mcpb.loader.process_group import kill_group_now, signal_group

DEFAULT_TIMEOUT = 60.0
_PROTOCOL = "2025-06-18"
_STDERR_TAIL = 30
_STOP_GRACE = 5.0


@dataclass(frozen=True)
class CheckOptions:
    """``--check/--no-check``, ``--check-config KEY=VALUE`` and ``--check-timeout``."""

    enabled: bool = True
    values: tuple[tuple[str, str], ...] = ()
    timeout: float = DEFAULT_TIMEOUT


def parse_check_options(enabled: bool, values: tuple[str, ...], timeout: float) -> CheckOptions:
    """The flags, checked once."""
    pairs = []
    for text in values:
        key, has_value, value = text.partition("=")
        if not has_value or not key:
            raise UsageError(f"--check-config {text!r}: expected KEY=VALUE")
        pairs.append((key, value))
    if not timeout > 0:
        raise UsageError(f"--check-timeout {timeout}: expected a positive number of seconds")
    return CheckOptions(enabled, tuple(pairs), timeout)


@dataclass(frozen=True)
class CheckResult:
    """A passed check: the tools the server listed and how long it took."""

    tools: tuple[str, ...]
    seconds: float


def skip_reason(platform: Platform, runtime: str) -> str | None:
    """Why the check cannot run here for this platform and runtime, or ``None``."""
    host = host_platform()
    if platform != host:
        return (
            f"{platform}: not checked (this machine is {host}; "
            f"`mcpb test -p {platform}` checks it in its base image)"
        )
    if _interpreter(runtime) is None:
        wanted = runtime.replace(":", "") if runtime.startswith("python:") else runtime
        return f"{platform}: not checked ({wanted} is not installed here)"
    return None


def check_bundle(
    bundle: Path,
    sha256: str,
    manifest: Mapping[str, Any],
    runtime: str,
    options: CheckOptions,
) -> CheckResult | str:
    """Serve ``bundle`` with the loader and list its tools; a string is why it was skipped.

    Raises :class:`BuildError` with the server's stderr when it does not answer in time.
    """
    view = read_manifest_view(manifest, source="manifest.json (built)")
    with tempfile.TemporaryDirectory(prefix="mcpb-check-") as scratch_text:
        scratch = Path(scratch_text)
        values = _fill_values(view.user_config, dict(options.values), scratch)
        if isinstance(values, str):
            return values
        env = _environment(bundle, sha256, runtime, values, scratch)
        started = time.monotonic()
        log_path = scratch / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mcpb.loader"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                tools = _talk(proc, env["PORT"], options.timeout)
            except (RuntimeError, TimeoutError, httpx.HTTPError, ValueError) as exc:
                raise BuildError(_failure(str(exc), log_path)) from None
            finally:
                _stop(proc)
        return CheckResult(tools, time.monotonic() - started)


def _fill_values(
    options: Mapping[str, OptionView], given: dict[str, str], scratch: Path
) -> dict[str, str] | str:
    for key in given:
        if key not in options:
            known = ", ".join(sorted(options)) or "none"
            raise UsageError(f"--check-config {key}: not a user_config key (declared: {known})")
    values = dict(given)
    for key, option in options.items():
        if key in values or not option.required or option.default is not None:
            continue
        if option.type == "directory":
            path = scratch / f"user-config-{len(values)}"
            path.mkdir()
            values[key] = str(path)
        elif option.type == "file":
            values[key] = str(scratch / f"user-config-{len(values)}" / key)
            Path(values[key]).parent.mkdir()
        else:
            return f"check skipped: user_config.{key} is required; pass --check-config {key}=VALUE"
    return values


def _interpreter(runtime: str) -> str | None:
    """The program this runtime needs on this machine, when it is here."""
    if runtime.startswith("python:"):
        minor = runtime.split(":", 1)[1]
        found = shutil.which(f"python{minor}")
        if found is None and sys.version_info[:2] == tuple(int(p) for p in minor.split(".")):
            found = sys.executable
        return found
    if runtime.startswith("node"):
        node = shutil.which("node")
        wanted = runtime.partition(":")[2]
        if node is None or (wanted.isdigit() and _node_major(node) < int(wanted)):
            return None  # an older Node than the bundle's image has would be no proof
        return node
    return sys.executable  # a binary bundle needs nothing but itself


@functools.cache
def _node_major(node: str) -> int:
    proc = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    digits = proc.stdout.strip().lstrip("v").split(".")[0]
    return int(digits) if digits.isdigit() else 0


def _environment(
    bundle: Path, sha256: str, runtime: str, values: Mapping[str, str], scratch: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPB_")}
    program = _interpreter(runtime)
    if runtime.startswith("python:") and program is not None:
        shims = scratch / "bin"  # the manifest says `python3`; make it the bundle's Python
        shims.mkdir()
        for name in ("python3", "python"):
            (shims / name).symlink_to(program)
        env["PATH"] = f"{shims}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        BUNDLE_URL=bundle.resolve().as_uri(),
        BUNDLE_SHA256=sha256,
        HOST="127.0.0.1",
        PORT=str(_free_port()),
        MCPB_CACHE_DIR=str(scratch / "cache"),
        MCPB_CRASH_LIMIT="1",
        MCPB_STOP_GRACE=str(int(_STOP_GRACE)),
    )
    for key, value in values.items():
        env[env_var_name(key)] = value
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _talk(proc: subprocess.Popen[bytes], port: str, timeout: float) -> tuple[str, ...]:
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout

    def exited() -> str | None:
        code = proc.poll()
        return None if code is None else f"the loader exited with status {code}"

    wait_ready(base, exited=exited, timeout=timeout)
    headers = {"Accept": "application/json, text/event-stream"}
    with httpx.Client(base_url=base, headers=headers) as client:
        init = _call(client, "initialize", _initialize_params(), 1, deadline)
        session = init.headers.get("mcp-session-id")
        if session:
            client.headers["Mcp-Session-Id"] = session
        client.headers["MCP-Protocol-Version"] = _PROTOCOL
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        client.post("/mcp", json=note, timeout=_remaining(deadline))
        listed = _call(client, "tools/list", {}, 2, deadline)
    tools = _result(listed, 2).get("tools")
    if not isinstance(tools, list):
        raise ValueError("tools/list answered without a tools list")
    return tuple(str(t.get("name")) for t in tools if isinstance(t, dict))


def _initialize_params() -> dict[str, Any]:
    return {
        "protocolVersion": _PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "mcpb-build-check", "version": "1"},
    }


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the time limit passed")
    return left


def _call(
    client: httpx.Client, method: str, params: dict[str, Any], ident: int, deadline: float
) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}
    response = client.post("/mcp", json=body, timeout=_remaining(deadline))
    if response.status_code != 200:
        raise ValueError(f"{method}: HTTP {response.status_code}: {response.text[:200]}")
    _result(response, ident, method)
    return response


def _result(response: httpx.Response, ident: int, method: str = "tools/list") -> dict[str, Any]:
    """The JSON-RPC result in a JSON or SSE answer; an error answer raises naming the method."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        messages = [
            json.loads(line[5:])
            for line in response.text.splitlines()
            if line.startswith("data:") and line[5:].strip()
        ]
    else:
        messages = [response.json()]
    for message in messages:
        if isinstance(message, dict) and message.get("id") == ident:
            if "error" in message:
                raise ValueError(f"{method}: the server answered an error: {message['error']}")
            result = message.get("result")
            if isinstance(result, dict):
                return result
    raise ValueError(f"{method}: no answer in the response")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the loader (it stops the server), then SIGKILL whatever is left of the group."""
    if proc.poll() is None:
        signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_STOP_GRACE + 2)
    kill_group_now(proc)


def _failure(reason: str, log_path: Path) -> str:
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    tail = "\n".join(f"  | {line}" for line in lines[-_STDERR_TAIL:])
    return f"--check: the built server did not answer initialize and tools/list: {reason}\n{tail}"
