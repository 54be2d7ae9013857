"""Render the aggregator benchmark (results.json) as markdown: medians, per-round ratios, goals."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

ORDER = (
    "floor", "direct", "relay", "vmcp-http", "vmcp-secured", "vmcp-stdio", "fastmcp",
    "contextforge",
)  # fmt: skip


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def _ratio(doc: dict[str, Any], a: str, b: str, conns: str) -> float:
    """Median over rounds of the per-round ratio a/b (the same round hurt both alike)."""
    first, second = doc["throughput"][a][conns], doc["throughput"][b][conns]
    return float(statistics.median(x["rps"] / y["rps"] for x, y in zip(first, second, strict=True)))


def render(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    out = [
        "# Aggregator benchmark results",
        "",
        f"Run {m.get('date', '?')} at commit {m.get('mcpb_commit', '?')} on {m.get('cpu', '?')}, "
        f"{m.get('nproc', '?')} cores (shared with other work), Python {m.get('python', '?')}, "
        f"uvloop {m.get('uvloop', '?')}, httptools {m.get('httptools', '?')}; FastMCP "
        f"{doc['fastmcp']}, ContextForge {doc.get('contextforge') or 'not run'}. The machine is "
        "noisy: compare ratios within this run, never absolute numbers across runs.",
        "",
    ]
    measured = doc.get("measured", {})
    if measured:
        when = ", ".join(f"{part} {s['date']} ({s['mcpb_commit']})" for part, s in measured.items())
        out += [f"Parts measured: {when}.", ""]
    if "throughput" in doc:
        settings = doc["settings"]
        out += [
            f"## `tools/call` throughput ({settings['rounds']} rounds × {settings['seconds']} s, "
            "medians)",
            "",
            "| target | conns | req/s | p50 ms | p99 ms | checked / mismatched | non-2xx |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in ORDER:
            for conns, runs in sorted(
                doc["throughput"].get(name, {}).items(), key=lambda x: int(x[0])
            ):
                checked = sum(r["checked"] for r in runs)
                mismatched = sum(r["mismatches"] for r in runs)
                bad = sum(r["bad_status"] + r["errors"].get("status", 0) for r in runs)
                out.append(
                    f"| {name} | {conns} | **{_median(runs, 'rps'):,.0f}** | "
                    f"{_median(runs, 'p50_ms'):.2f} | {_median(runs, 'p99_ms'):.2f} | "
                    f"{checked:,} / {mismatched} | {bad} |"
                )
        out += ["", "### Goals (median of per-round ratios)", ""]
        for conns in ("1", "16"):
            vs_fast = _ratio(doc, "vmcp-http", "fastmcp", conns)
            vs_direct = _ratio(doc, "vmcp-http", "direct", conns)
            stdio = _ratio(doc, "vmcp-stdio", "direct", conns)
            floor = _ratio(doc, "vmcp-http", "floor", conns)
            forge = ""
            if "contextforge" in doc["throughput"]:
                times = _ratio(doc, "vmcp-http", "contextforge", conns)
                forge = f" vMCP→HTTP upstream **{times:.0f}×** ContextForge."
            if "vmcp-secured" in doc["throughput"]:
                cost = 1 - _ratio(doc, "vmcp-secured", "vmcp-http", conns)
                forge += (
                    f" With an API key, a rate limit, metrics and the access log: "
                    f"**{cost:.0%}** fewer req/s than without (goal ≤ 15%)."
                )
            if "relay" in doc["throughput"]:
                ceiling = _ratio(doc, "relay", "fastmcp", conns)
                reached = _ratio(doc, "vmcp-http", "relay", conns)
                forge += (
                    f" The bare relay on the same parts (the ceiling): {ceiling:.1f}× FastMCP, "
                    f"of which vMCP→HTTP reaches **{reached:.0%}**."
                )
            out += [
                f"- {conns} conn: vMCP→HTTP upstream **{vs_fast:.1f}×** FastMCP (goal ≥ 10×), "
                f"**{vs_direct:.0%}** of the upstream called directly (goal ≥ 40%); "
                f"vMCP→stdio upstream **{stdio:.0%}** of the bridge's (goal ≥ 50%); "
                f"vMCP→HTTP at {floor:.0%} of the floor.{forge}",
            ]
    if "listing" in doc:
        out += [
            "",
            "## `tools/list` of a vMCP of ~100 tools (200 sequential calls)",
            "",
            "| target | tools | p50 ms | p99 ms |",
            "|---|---|---|---|",
        ]
        for name, row in doc["listing"].items():
            out.append(
                f"| {name} | {row['tools']} | **{row['p50_ms']:.2f}** | {row['p99_ms']:.2f} |"
            )
        out += ["", "Goal: a vMCP's p50 under 3 ms."]
    if "sessions" in doc:
        s = doc["sessions"]
        out += [
            "",
            "## Client sessions each holding a GET stream, one aggregator process",
            "",
            f"{s['sessions']:,} sessions opened in {s['open_seconds']} s, {s['streams']:,} GET "
            f"streams held (the aggregator reported {s['sessions_reported']:,} sessions): RSS of "
            f"the aggregator process {s['rss_idle_mib']} MiB idle → **{s['rss_loaded_mib']} MiB** "
            "(goal: 10,000 under 1 GiB; the stdio server it runs is not counted). A new session "
            f"was still served: {s['still_answers']}.",
        ]
    if "admin" in doc:
        a = doc["admin"]
        out += [
            "",
            "## A vMCP created through the admin API",
            "",
            "From the PUT's response to the answer of its first `initialize` + `tools/list`: "
            f"median **{a['median_ms']} ms**, max {a['max_ms']} ms over {a['samples']} vMCPs "
            "(goal: within 100 ms).",
        ]
    if "sigterm" in doc:
        t = doc["sigterm"]
        out += [
            "",
            "## SIGTERM",
            "",
            f"With {t['streams']} open GET streams and {t['children']} child processes: exit code "
            f"**{t['exit_code']}** after **{t['seconds']} s**, {t['left_behind']} processes left "
            "(goal: exit 0 within 10 s, none left).",
        ]
    if not doc.get("contextforge"):
        out += ["", "ContextForge was not run in this round (`--no-contextforge`)."]
    out.append("")
    return "\n".join(out)


def write_report(doc: dict[str, Any], path: Path) -> None:
    path.write_text(render(doc))
