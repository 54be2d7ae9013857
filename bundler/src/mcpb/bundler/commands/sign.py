"""``mcpb sign BUNDLE``: append a PKCS#7 signature (certificate + key, or self-signed)."""

from __future__ import annotations

from pathlib import Path

import click

from mcpb.bundle.errors import UsageError
from mcpb.bundle.signature import sign_bundle, sign_bundle_self_signed
from mcpb.bundler.summary import SignatureSummary, render_signature

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("sign")
@click.argument("bundle", type=_FILE)
@click.option("--cert", type=_FILE, help="Signer certificate (PEM); may include its chain.")
@click.option("--key", type=_FILE, help="Private key of the certificate (PEM, unencrypted).")
@click.option(
    "--intermediate", "intermediates", type=_FILE, multiple=True, help="Intermediate CA (PEM)."
)
@click.option(
    "--self-signed",
    is_flag=True,
    help="Sign with your self-signed identity, created on first use ($MCPB_SIGNING_DIR, "
    "else ~/.config/mcpb/signing).",
)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
def sign(
    bundle: Path,
    cert: Path | None,
    key: Path | None,
    intermediates: tuple[Path, ...],
    self_signed: bool,
    out: Path | None,
) -> None:
    """Sign BUNDLE in place (or into --out). A signed bundle must be unsigned before re-signing."""
    if self_signed:
        if cert or key or intermediates:
            raise UsageError("--self-signed cannot be combined with --cert/--key/--intermediate")
        info = sign_bundle_self_signed(bundle, out=out)
    else:
        if cert is None or key is None:
            raise UsageError("sign: give --cert and --key, or --self-signed")
        info = sign_bundle(bundle, cert=cert, key=key, intermediates=intermediates, out=out)
    summary = SignatureSummary.from_info(info)
    click.echo(f"signed {out or bundle}: {render_signature(summary)}")
    click.echo(f"  fingerprint: {info.fingerprint}")
