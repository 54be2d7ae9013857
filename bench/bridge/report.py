"""Render benchmark results (the results.json document) as a markdown table."""

from __future__ import annotations

from typing import Any

from bench.bridge.peers import GATEWAYS


def _row(entry: dict[str, Any], conns: str) -> str:
    name = entry["gateway"]
    if "error" in entry:
        return f"| {name} | {conns} | failed: {entry['error'][:80]} | | | | | | |"
    run = entry["runs"].get(conns)
    if run is None:
        return f"| {name} | {conns} | not run | | | | | | |"
    load, check = run["load"], run["check"]
    errors = sum(load.get("errors", {}).values())
    spread = f"{load['rps_min']:,.0f}–{load['rps_max']:,.0f}"
    checked = f"{check['mismatches']} / {check['checked']:,}" if check else "not checked"
    cpu = f"{load['cpu_us_per_req']:.0f}" if load.get("cpu_us_per_req") else "–"
    return (
        f"| {name} | {conns} | **{load['rps']:,.0f}** | {spread} | {load['p50_ms']:.2f} "
        f"| {load['p99_ms']:.2f} | {cpu} | {errors} | {checked} |"
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
            modern = by.get((f"{ours}-2026", "fast"))
            if modern:
                m = modern["runs"][conns]["load"]
                lines.append(
                    f"- {ours}-2026, {conns} conn: {m['rps'] / a['rps']:.2f}x the 2025 "
                    f"requests' req/s, {m['rps'] / b['rps']:.2f}x supergateway's"
                )
    for relay in ("relay-asgi", "relay-protocol"):
        ceiling = by.get((relay, "fast"))
        if not ceiling or not sg:
            continue
        for conns in ("1", "16"):
            c, b = ceiling["runs"][conns]["load"], sg["runs"][conns]["load"]
            reached = [
                f"{ours} {by[(ours, 'fast')]['runs'][conns]['load']['rps'] / c['rps']:.0%}"
                for ours in ("mcpb-shared", "mcpb-shared-2026", "mcpb-stateful")
                if (ours, "fast") in by
            ]
            lines.append(
                f"- ceiling {relay}, {conns} conn: {c['rps'] / b['rps']:.2f}x supergateway's "
                f"req/s; of its req/s: {', '.join(reached)}"
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
        f"{doc['rounds']} rounds, gateways interleaved; in each, a {doc['seconds']} s wrk run "
        "after a 1 s warm-up, one wrk thread, connection and MCP session per connection, one "
        "`tools/call` per request. req/s, p50 and p99 (ms) are medians over the rounds; the "
        "range is the lowest and highest round. The last column is a separate run of the same "
        "shape (first round) in which every response's id and content were compared with its "
        "request. CPU µs/req: user+system CPU time of the gateway and all its processes "
        "(children included) per request, a measure that busy neighbours disturb far less "
        f"than req/s. Load average before/after: {m.get('loadavg_before')} / "
        f"{m.get('loadavg_after')} (other work shared the machine).",
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
            "| gateway | conns | req/s | req/s range | p50 | p99 | CPU µs/req | errors "
            "| mismatches / checked |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
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
