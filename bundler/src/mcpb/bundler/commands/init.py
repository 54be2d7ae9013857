"""``mcpb init [DIR]``: write a manifest.json and a starter .mcpbignore for a server project."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from mcpb.bundle.manifest import DEFAULT_VERSION, SUPPORTED_VERSIONS
from mcpb.bundler.scaffold import (
    SERVER_TYPES,
    Author,
    InitAnswers,
    ServerType,
    complete_answers,
    infer_facts,
    init_project,
)


def _prompt(question: str, default: str, choices: Sequence[str] | None) -> str:
    kind = click.Choice(list(choices)) if choices else None
    answer: str = click.prompt(question, default=default, type=kind)
    return answer


@click.command("init")
@click.argument(
    "directory", required=False, default=".", type=click.Path(path_type=Path, file_okay=False)
)
@click.option("--name", help="Machine-readable bundle name (default: from the project).")
@click.option("--version", "bundle_version", help="Bundle version (default: project or 0.1.0).")
@click.option("--description", help="One-line description.")
@click.option("--author", help='Author, e.g. "Jane Doe <jane@example.org>".')
@click.option("--type", "server_type", type=click.Choice(SERVER_TYPES), help="Server type.")
@click.option("--entry-point", help="Path of the server's entry file inside the bundle.")
@click.option(
    "--manifest-version",
    type=click.Choice(SUPPORTED_VERSIONS),
    default=DEFAULT_VERSION,
    show_default=True,
)
@click.option("-y", "--yes", is_flag=True, help="Never prompt; use inferred values and defaults.")
@click.option("--force", is_flag=True, help="Overwrite an existing manifest.json and .mcpbignore.")
def init(
    directory: Path,
    name: str | None,
    bundle_version: str | None,
    description: str | None,
    author: str | None,
    server_type: str | None,
    entry_point: str | None,
    manifest_version: str,
    yes: bool,
    force: bool,
) -> None:
    """Create manifest.json and .mcpbignore in DIRECTORY (default: the current directory).

    Values come from the flags, then pyproject.toml / package.json in DIRECTORY, then defaults.
    Prompts for the rest only when stdin is a terminal and --yes is not given.
    """
    facts = infer_facts(directory)
    given = InitAnswers(
        name=name,
        version=bundle_version,
        description=description,
        author=Author.parse(author) if author else None,
        server_type=_server_type(server_type),
        entry_point=entry_point,
        manifest_version=manifest_version,
    )
    interactive = not yes and sys.stdin is not None and sys.stdin.isatty()
    answers = complete_answers(directory, given, facts, _prompt if interactive else None)
    result = init_project(directory, answers, facts, force=force)
    server = result.manifest["server"]
    origin = f" (from {', '.join(result.sources)})" if result.sources else ""
    click.echo(
        f"wrote {result.manifest_path}: {result.manifest['name']} {result.manifest['version']}, "
        f"{server['type']} server, entry point {server['entry_point']}{origin}"
    )
    if result.ignore_written:
        click.echo(f"wrote {result.ignore_path}")
    else:
        click.echo(f"kept existing {result.ignore_path} (--force replaces it)")
    click.echo(f"next: mcpb validate {directory} && mcpb pack {directory}")


def _server_type(value: str | None) -> ServerType | None:
    for known in SERVER_TYPES:
        if value == known:
            return known
    return None
