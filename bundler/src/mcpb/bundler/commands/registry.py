"""``mcpb registry add|validate|build|search``: a static MCP registry."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mcpb.bundler.registry.entries import add_entry, validate_registry
from mcpb.bundler.registry.search import load_index, search
from mcpb.bundler.registry.site import build_site


@click.group("registry")
def registry() -> None:
    """Keep a registry of server.json entries and build it into a static /v0.1 site."""


@registry.command("add")
@click.argument("server_json", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--registry", "root", default="registry", type=click.Path(path_type=Path))
def add(server_json: Path, root: Path) -> None:
    """Check SERVER_JSON and add it as its server's entry (replacing an older version)."""
    click.echo(str(add_entry(root, server_json)))


@registry.command("validate")
@click.argument("root", default="registry", type=click.Path(file_okay=False, path_type=Path))
def validate(root: Path) -> None:
    """Check every entry (schema, registry rules, place)."""
    entries = validate_registry(root)
    click.echo(f"{root}: {len(entries)} valid entr{'y' if len(entries) == 1 else 'ies'}")


@registry.command("build")
@click.argument("root", default="registry", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--out", default="site", type=click.Path(file_okay=False, path_type=Path))
def build(root: Path, out: Path) -> None:
    """Write the static site (v0.1/servers…, index.json) into OUT."""
    count = build_site(root, out)
    click.echo(f"{out}: {count} server(s)")


@registry.command("search")
@click.argument("query")
@click.option(
    "--registry", "where", default="registry", help="A site URL or folder, or a registry."
)
@click.option("--json", "as_json", is_flag=True)
def find(query: str, where: str, as_json: bool) -> None:
    """Servers whose name, description, tags or categories contain QUERY."""
    found = search(load_index(where), query)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for server in found:
        click.echo(f"{server['name']} {server['version']}  {server.get('description') or ''}")
