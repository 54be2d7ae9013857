"""``mcpb validate PATH``: check a manifest, a project directory or a bundle."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mcpb.bundler.validation import validate_path


@click.command("validate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def validate(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Validate PATH: a manifest file, a directory holding manifest.json, or a .mcpb bundle.

    Prints every schema error with its JSON path, then checks that the files the manifest
    refers to exist. Exit status 1 when there is any error; warnings do not fail.
    """
    report = validate_path(path)
    if as_json:
        payload = {
            "path": report.source,
            "kind": report.kind,
            "valid": report.ok,
            "errors": [{"path": i.path, "message": i.message} for i in report.errors],
            "warnings": [{"path": i.path, "message": i.message} for i in report.warnings],
            "notes": list(report.notes),
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        for issue in report.errors:
            click.echo(f"error: {issue}")
        for issue in report.warnings:
            click.echo(f"warning: {issue}")
        for note in report.notes:
            click.echo(f"note: {note}")
        if report.ok:
            data = report.manifest or {}
            version = data.get("manifest_version", data.get("dxt_version"))
            click.echo(
                f"{report.source}: valid {report.kind} "
                f"({data.get('name')} {data.get('version')}, manifest_version {version})"
            )
        else:
            n = len(report.errors)
            click.echo(f"{report.source}: invalid ({n} error{'s' if n != 1 else ''})", err=True)
    if not report.ok:
        ctx.exit(1)
