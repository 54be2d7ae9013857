"""``mcpb unsign BUNDLE``: remove the signature block, restoring the original bytes exactly."""

from __future__ import annotations

from pathlib import Path

import click

from mcpb.bundle.signature import unsign_bundle


@click.command("unsign")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
def unsign(bundle: Path, out: Path | None) -> None:
    """Remove the signature of BUNDLE in place (or into --out); an error if it is not signed."""
    target = unsign_bundle(bundle, out)
    click.echo(f"removed the signature: {target}")
