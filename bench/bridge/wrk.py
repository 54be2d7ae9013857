"""Run Debian's ``wrk`` with mcp.lua and parse the result line its done() hook prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("mcp.lua")


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and the correctness counters."""

    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    checked: int
    mismatches: int
    bad_status: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def wrk_version() -> str:
    """The installed wrk's version line."""
    exe = shutil.which("wrk")
    if exe is None:
        return "missing"
    out = subprocess.run([exe, "-v"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip()


def run_wrk(
    url: str,
    sessions: list[str],
    version: str,
    tool: str,
    *,
    seconds: int,
    check: bool,
    tool_name: str = "echo",
    authorization: str = "",
) -> WrkResult:
    """Load ``url`` with one connection (and thread) per session for ``seconds`` seconds."""
    exe = shutil.which("wrk")
    if exe is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    if not 1 <= seconds <= 10:
        raise ValueError("each run is bounded to 10 seconds")
    n = len(sessions)
    env = {
        **os.environ,
        "MCPB_SESSIONS": ",".join(sessions),
        "MCPB_PROTOCOL_VERSION": version,
        "MCPB_TOOL": tool,
        "MCPB_TOOL_NAME": tool_name,
        "MCPB_AUTHORIZATION": authorization,
        "MCPB_CHECK": "1" if check else "0",
    }
    argv = [exe, f"-t{n}", f"-c{n}", f"-d{seconds}s", "--timeout", "5s", "-s", str(SCRIPT), url]
    out = subprocess.run(argv, env=env, stdout=subprocess.PIPE, text=True, timeout=seconds + 30)
    line = next((x for x in out.stdout.splitlines() if x.startswith("MCPB_RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}"
        )
    data = json.loads(line.split(" ", 1)[1])
    secs = data["duration_us"] / 1e6
    lat = data["latency_us"]
    return WrkResult(
        connections=n,
        seconds=round(secs, 3),
        requests=data["requests"],
        rps=round(data["requests"] / secs, 1),
        p50_ms=lat["p50"] / 1000,
        p90_ms=lat["p90"] / 1000,
        p99_ms=lat["p99"] / 1000,
        max_ms=lat["max"] / 1000,
        errors=data["errors"],
        checked=data["checked"],
        mismatches=data["mismatches"],
        bad_status=data["bad_status"],
    )
