"""``mcpb info BUNDLE``: manifest summary, platform, sizes, SHA256 and signature state."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mcpb.bundler.summary import render_summary, summarize_bundle


@click.command("info")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info(bundle: Path, as_json: bool) -> None:
    """Describe BUNDLE without extracting it."""
    summary = summarize_bundle(bundle)
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
    else:
        click.echo("\n".join(render_summary(summary)))
