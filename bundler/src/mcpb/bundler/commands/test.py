"""``mcpb test``: the smoke test authors run in CI before publishing a bundle."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mcpb.bundle.platform import parse_platform
from mcpb.bundler.image.smoke import SmokeReport, image_for, parse_calls, run_smoke
from mcpb.bundler.image.spec import normalize_prefix


@click.command("test")
@click.argument("bundle", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "-p",
    "--platform",
    help="Run as linux/amd64 or linux/arm64 (default: the bundle's; emulated when foreign).",
)
@click.option("--image", help="Base image (default: from the bundle's runtime and platform).")
@click.option("--prefix", default="", metavar="REGISTRY/", help="Registry prefix of the images.")
@click.option(
    "--call",
    "calls_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help='tools.json: [{"name": ..., "arguments": {...}, "expect": "text"}, ...]',
)
@click.option("--timeout", default=180.0, show_default=True, help="Seconds to become ready.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
def test(
    bundle: Path,
    platform: str | None,
    image: str | None,
    prefix: str,
    calls_file: Path | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Run BUNDLE in its base image, list its tools with an MCP client and make the calls."""
    wanted = parse_platform(platform) if platform else None
    default_image, resolved = image_for(bundle, wanted, normalize_prefix(prefix))
    calls = parse_calls(calls_file) if calls_file else []
    report = run_smoke(bundle, image or default_image, resolved, calls, timeout=timeout)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        _print(report)
    sys.exit(0 if report.ok else 1)


def _print(report: SmokeReport) -> None:
    click.echo(f"image     {report.image} ({report.platform})")
    click.echo(f"ready     {report.ready_seconds:.1f} s")
    click.echo(f"tools     {', '.join(report.tools) or '(none)'}")
    for call in report.calls:
        mark = "ok  " if call.ok else "FAIL"
        click.echo(f"call {mark} {call.name}: {call.text[:200]}")
    click.echo(f"exit      {report.exit_code}")
    if report.error:
        click.echo(f"error     {report.error}", err=True)
        tail = report.logs.strip().splitlines()[-15:]
        for line in tail:
            click.echo(f"  | {line}", err=True)
    click.echo("PASS" if report.ok else "FAIL")
