"""Render benchmark results (the results.json document) as a markdown table."""

from __future__ import annotations

from typing import Any

from bench.bridge.peers import GATEWAYS


def _row(entry: dict[str, Any], conns: str) -> str:
    name = entry["gateway"]
    if "error" in entry:
        return f"| {name} | {conns} | failed: {entry['error'][:80]} | | | | |"
    run = entry["runs"].get(conns)
    if run is None:
        return f"| {name} | {conns} | not run | | | | |"
    load, check = run["load"], run["check"]
    errors = sum(load.get("errors", {}).values())
    return (
        f"| {name} | {conns} | {load['rps']:,.0f} | {load['p50_ms']:.2f} | {load['p99_ms']:.2f} "
        f"| {errors} | {check['mismatches']} / {check['checked']:,} |"
    )


def _ratios(doc: dict[str, Any]) -> list[str]:
    """Our bridge against supergateway on the fast server: the goal's three checks."""
    by = {(e["gateway"], e["server"]): e for e in doc["results"] if "runs" in e}
    sg = by.get(("supergateway", "fast"))
    lines = []
    for ours in ("mcpb-shared", "mcpb-stateful"):
        mine = by.get((ours, "fast"))
        if not mine or not sg:
            continue
        for conns in ("1", "16"):
            a, b = mine["runs"][conns]["load"], sg["runs"][conns]["load"]
            lines.append(
                f"- {ours}, {conns} conn: {a['rps'] / b['rps']:.2f}x supergateway's req/s; "
                f"p99 {a['p99_ms']:.2f} ms vs {b['p99_ms']:.2f} ms"
            )
    return lines


def render(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    out = [
        "# Bridge benchmark results",
        "",
        f"Run {m['date']} on {m['nproc']} CPU(s), {m['cpu']}, {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}; Python {m['python']}, Node {m['node']}, {m['wrk']}; "
        f"mcpb commit {m['mcpb_commit']} (uvicorn {m['uvicorn']}, uvloop {m['uvloop']}, "
        f"httptools {m['httptools']}); supergateway {m['supergateway']}, mcp-proxy "
        f"{m['mcp-proxy']}, mcp-server-time {m['mcp-server-time']}.",
        "",
        f"Each load run: {doc['seconds']} s after a 2 s warm-up; one wrk thread, connection and "
        "MCP session per connection; `tools/call` per request. Latencies in ms. The check column "
        "is a separate run of the same shape in which every response's id and content were "
        "compared with its request.",
        "",
    ]
    for server in ("fast", "time"):
        entries = [e for e in doc["results"] if e["server"] == server]
        if not entries:
            continue
        title = (
            "fast stdio server (tests/support/fast_server.py)"
            if server == "fast"
            else "mcp-server-time"
        )
        out += [
            f"## {title}",
            "",
            "| gateway | conns | req/s | p50 | p99 | errors | mismatches / checked |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for entry in entries:
            for conns in ("1", "16"):
                out.append(_row(entry, conns))
        out.append("")
    ratios = _ratios(doc)
    if ratios:
        out += [
            "## Against the goal (≥3x supergateway req/s, lower p99 at 16, zero mismatches)",
            "",
            *ratios,
            "",
        ]
    out += ["Gateways:", ""] + [f"- `{g.name}`: {g.description}" for g in GATEWAYS.values()] + [""]
    return "\n".join(out)
