"""``mcpb verify BUNDLE``: exit 0 only if BUNDLE carries a signature that verifies."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from mcpb.bundle.errors import SignatureError
from mcpb.bundle.signature import verify_bundle
from mcpb.bundler.summary import SignatureSummary, render_signature


@click.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust anchors (PEM); the signer's chain must lead to one of them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def verify(ctx: click.Context, bundle: Path, ca_bundle: Path | None, as_json: bool) -> None:
    """Verify the signature of BUNDLE against its exact bytes (and the chain with --ca-bundle).

    Exit status 0 when the signature verifies; 1 when BUNDLE is unsigned or the signature is
    invalid, tampered with, expired, or (with --ca-bundle) not issued by a trusted CA.
    """
    if as_json:
        try:
            info = verify_bundle(bundle, ca_bundle=ca_bundle)
        except SignatureError as err:  # machines get the verdict as JSON too
            failed = SignatureSummary(status="invalid", error=err.message)
            payload = {"path": str(bundle), "verified": False, **asdict(failed)}
            click.echo(json.dumps({**payload, "chain_verified": False}, indent=2))
            ctx.exit(1)
        summary = SignatureSummary.from_info(info)
        payload = {"path": str(bundle), "verified": info.signed, **asdict(summary)}
        click.echo(json.dumps({**payload, "chain_verified": info.chain_verified}, indent=2))
        if not info.signed:
            ctx.exit(1)
        return
    info = verify_bundle(bundle, ca_bundle=ca_bundle)
    summary = SignatureSummary.from_info(info)
    if not info.signed:
        raise SignatureError(f"{bundle}: not signed")
    click.echo(f"{bundle}: signature verified ({render_signature(summary)})")
    click.echo(f"  fingerprint: {info.fingerprint}")
    if info.chain_verified:
        click.echo(f"  chain: verified against {ca_bundle}")
    elif info.status == "self-signed":
        click.echo("  warning: self-signed; no CA vouches for the signer's identity")
    else:
        click.echo("  chain: not checked (give --ca-bundle to check it)")
