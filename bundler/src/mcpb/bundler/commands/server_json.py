"""``mcpb server-json init|set-packages|validate``: author the registry entry of a server."""

from __future__ import annotations

from pathlib import Path

import click

from mcpb.bundle.atomic import write_atomic
from mcpb.bundle.errors import McpbError, UsageError
from mcpb.bundler.builder.serverjson import Publishing, dump_server_json
from mcpb.bundler.release.server_json import (
    NimbleOptions,
    check_document,
    init_document,
    read_document,
    set_packages,
)


class ServerJsonError(McpbError):
    """server.json has errors (listed above the summary line)."""


@click.group("server-json")
def server_json() -> None:
    """Write and check server.json, the entry the MCP registries read."""


@server_json.command("init")
@click.argument("source", default=".", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", default="server.json", type=click.Path(path_type=Path))
@click.option("--repo", metavar="OWNER/NAME", help="GitHub repository (names the entry).")
@click.option("--server-name", metavar="NAMESPACE/NAME", help="Registry name, reverse-DNS form.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--runtime", help="Write NimbleTools' _meta block for this runtime (python:3.13…).")
@click.option("--category", help="NimbleTools display/registry category.")
@click.option("--tag", "tags", multiple=True, help="NimbleTools tag (repeatable).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--memory", default="256Mi", show_default=True)
@click.option("--cpu", default="100m", show_default=True)
@click.option("--min-replicas", default=1, show_default=True, type=int)
@click.option("--max-replicas", default=3, show_default=True, type=int)
def init(
    source: Path,
    output: Path,
    repo: str | None,
    server_name: str | None,
    force: bool,
    runtime: str | None,
    category: str | None,
    tags: tuple[str, ...],
    port: int,
    memory: str,
    cpu: str,
    min_replicas: int,
    max_replicas: int,
) -> None:
    """Start a server.json from a project directory or its manifest.json."""
    if output.exists() and not force:
        raise UsageError(f"{output}: exists; use --force to overwrite")
    if runtime is None and (category or tags):
        raise UsageError("--category and --tag belong to NimbleTools' block: give --runtime too")
    nimble = None
    if runtime is not None:
        nimble = NimbleOptions(
            runtime, category, tags, port, "/mcp", memory, cpu, min_replicas, max_replicas
        )
    doc = init_document(source, Publishing(repo=repo, server_name=server_name), nimble)
    write_atomic(output, dump_server_json(doc))
    click.echo(
        f"{output}: {doc['name']} {doc['version']} (add packages: mcpb server-json set-packages)"
    )


@server_json.command("set-packages")
@click.argument("dist", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--base-url", required=True, help="Where the bundles are downloaded from.")
@click.option("-f", "--file", "path", default="server.json", type=click.Path(path_type=Path))
def packages(dist: Path, base_url: str, path: Path) -> None:
    """Fill one mcpb package per bundle of DIST/SHA256SUMS (identifier and fileSha256)."""
    doc = set_packages(read_document(path), dist, base_url)
    write_atomic(path, dump_server_json(doc))
    click.echo(f"{path}: {len(doc['packages'])} mcpb package(s)")


@server_json.command("validate")
@click.argument("path", default="server.json", type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Registry host rule as an error, not a warning.")
@click.option("--dist", type=click.Path(file_okay=False, exists=True, path_type=Path))
def validate(path: Path, strict: bool, dist: Path | None) -> None:
    """Check against the 2025-12-11 schema, our _meta, and the registry's mcpb rules."""
    report = check_document(read_document(path), strict=strict, dist=dist)
    for problem in report.problems:
        click.echo(f"{path}: {problem}", err=True)
    if report.errors:
        raise ServerJsonError(f"{path}: {len(report.errors)} error(s)")
    click.echo(
        f"{path}: valid" + (f" ({len(report.problems)} warning(s))" if report.problems else "")
    )
