"""``mcpb pack DIR [OUT]``: validate a project and write its reproducible bundle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from mcpb.bundler.packing import pack_project
from mcpb.bundler.summary import human_size

_SHOW_EXCLUDED = 8


@click.command("pack")
@click.argument(
    "directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default="."
)
@click.argument("output", required=False, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def pack(directory: Path, output: str | None, as_json: bool) -> None:
    """Pack DIRECTORY (with its manifest.json) into a .mcpb bundle.

    OUTPUT is a file path, or a directory (existing, or written with a trailing "/"); the
    default is NAME-vVERSION.mcpb in the current directory. Honours .mcpbignore and the
    default excludes (see docs/cli.md), and SOURCE_DATE_EPOCH for the timestamps: the same
    tree always gives the same bytes.
    """
    out = None if output is None else Path(output)
    into_dir = output is not None and output.endswith(("/", os.sep))
    result = pack_project(directory, out, output_is_dir=into_dir)
    info = result.archive
    if as_json:
        payload = {
            "path": str(info.path),
            "name": result.manifest.get("name"),
            "version": result.manifest.get("version"),
            "sha256": info.sha256,
            "file_count": info.file_count,
            "uncompressed_size": info.uncompressed_size,
            "compressed_size": info.compressed_size,
            "excluded": list(result.collection.excluded),
            "warnings": [{"path": w.path, "message": w.message} for w in result.warnings],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    shown = os.path.relpath(info.path) if not info.path.is_absolute() else str(info.path)
    click.echo(f"packed {result.manifest.get('name')} {result.manifest.get('version')} -> {shown}")
    click.echo(
        f"  files: {info.file_count} ({human_size(info.uncompressed_size)} unpacked, "
        f"{human_size(info.compressed_size)} packed)"
    )
    excluded = result.collection.excluded
    if excluded:
        shown_excluded = ", ".join(excluded[:_SHOW_EXCLUDED])
        more = len(excluded) - _SHOW_EXCLUDED
        tail = f" and {more} more (--json lists all)" if more > 0 else ""
        click.echo(f"  excluded: {shown_excluded}{tail}")
    click.echo(f"  sha256: {info.sha256}")
