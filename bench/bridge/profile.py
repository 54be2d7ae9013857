"""Profile our bridge under wrk load with py-spy and print where its time goes.

usage: uv run --no-sync python -m bench.bridge.profile [--gateway mcpb-shared] [--conns 16]
       [--seconds 8] [--server fast]

py-spy (PyPI, installed into .cache/pypi) samples the bridge process while wrk loads it; the
collapsed stacks are kept in .cache/bench/ and summarised as the functions with the most
samples on top of the stack (self) and anywhere on it (inclusive).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import threading
from pathlib import Path

import httpx

from bench.bridge.peers import CACHE, GATEWAYS, servers
from bench.bridge.run import running
from bench.bridge.session import MODERN_VERSION, open_session
from bench.bridge.wrk import run_wrk
from tests.support.pypi import pypi_bin


def summarise(collapsed: Path, top: int) -> str:
    """Self and inclusive sample shares per function from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [f.split(" (")[0] + " " + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1]
                  if " (" in f else f for f in stack.split(";")]  # fmt: skip
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            incl[frame] += n
    out = [f"{total} samples", "", "self:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    out += ["", "inclusive:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common(top)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="mcpb-shared")
    parser.add_argument("--server", default="fast")
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--native", action="store_true", help="C frames too (pauses the target)")
    args = parser.parse_args()
    pyspy = pypi_bin("py-spy", ("py-spy>=0.4",), "py-spy")
    server = servers()[args.server]
    out = CACHE / f"profile-{args.gateway}-{args.server}-c{args.conns}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with running(GATEWAYS[args.gateway], server) as (url, proc):
        if GATEWAYS[args.gateway].era == "2026":
            opened = [("-", MODERN_VERSION)] * args.conns
        else:
            with httpx.Client(timeout=30) as client:
                opened = [open_session(client, url) for _ in range(args.conns)]
        sids = [sid for sid, _ in opened]
        record = [
            str(pyspy), "record", "--pid", str(proc.pid), "--duration", str(args.seconds),
            "--rate", "250", "--format", "raw", "--output", str(out),
            *(["--native"] if args.native else ["--nonblocking"]),
        ]  # fmt: skip
        spy = threading.Thread(
            target=subprocess.run, args=(record,), kwargs={"capture_output": True, "check": True}
        )
        spy.start()
        result = run_wrk(url, sids, opened[0][1], server.tool, seconds=args.seconds, check=False)
        spy.join()
    head = f"{args.gateway} {args.server} c={args.conns}"
    print(f"{head}: {result.rps} req/s, p99 {result.p99_ms} ms")
    print(summarise(out, args.top))


if __name__ == "__main__":
    main()
