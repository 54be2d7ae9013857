"""Describe the machine and the software versions a benchmark ran with."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.bridge.peers import REPO, versions
from bench.bridge.wrk import wrk_version


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(
            argv, capture_output=True, text=True, check=False, cwd=REPO
        ).stdout.strip()
    except OSError:
        return "missing"


def _dist(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def describe() -> dict[str, Any]:
    """nproc, CPU model, memory, kernel and the versions of everything in the run."""
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _output(["node", "--version"]),
        "wrk": wrk_version(),
        "mcpb_commit": _output(["git", "rev-parse", "--short", "HEAD"]),
        "uvicorn": _dist("uvicorn"),
        "uvloop": _dist("uvloop"),
        "httptools": _dist("httptools"),
        **versions(),
    }
