"""``mcpb build``: one self-contained bundle per platform, plus SHA256SUMS and server.json."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from mcpb.bundle.platform import parse_platforms
from mcpb.bundler.builder.binary import parse_binary_options
from mcpb.bundler.builder.check import DEFAULT_TIMEOUT, parse_check_options
from mcpb.bundler.builder.dependencies import parse_pins
from mcpb.bundler.builder.launch_options import parse_launch_options
from mcpb.bundler.builder.pipeline import BuildOptions
from mcpb.bundler.builder.pipeline import build as run_build
from mcpb.bundler.builder.serverjson import Publishing
from mcpb.bundler.builder.source import SourceKind, parse_source

DEFAULT_PLATFORMS = "linux/amd64,linux/arm64"


@click.command("build")
@click.argument("source", default=".", required=False)
@click.option(
    "-p",
    "--platform",
    "platforms",
    default=DEFAULT_PLATFORMS,
    show_default=True,
    help="Comma-separated targets: linux/amd64, linux/arm64 (also amd64, aarch64...).",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    default="dist",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory.",
)
@click.option(
    "--python",
    "python_version",
    metavar="X.Y",
    help="Python minor version to vendor for (default: from requires-python).",
)
@click.option("--entry-point", metavar="MODULE[:FUNC]", help="What starts a Python server.")
@click.option("--allow-sdist", is_flag=True, help="Allow building pure-Python sdists.")
@click.option(
    "--binary",
    "binaries",
    multiple=True,
    metavar="PLATFORM=PATH",
    help="Executable of a binary server for one platform (repeatable).",
)
@click.option("--base-url", help="Download URL prefix (or template with {version} and {file}).")
@click.option("--repo", metavar="OWNER/REPO", help="GitHub repository for release download URLs.")
@click.option("--server-name", metavar="NAMESPACE/NAME", help="Registry name in server.json.")
@click.option(
    "--arg",
    "args",
    multiple=True,
    metavar="VALUE",
    help="Append an argument to the server's command (repeatable; ${user_config.KEY} and "
    "${__dirname} allowed).",
)
@click.option(
    "--env",
    "env",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a variable of the server's environment (repeatable).",
)
@click.option(
    "--user-config",
    "user_config",
    multiple=True,
    metavar="KEY:TYPE[:required][:multiple][=DEFAULT]",
    help="Declare a user_config option (repeatable); TYPE: string, number, boolean, directory, "
    "file.",
)
@click.option(
    "--manifest-overlay",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="JSON merged into the generated manifest (RFC 7396 merge patch), applied last.",
)
@click.option(
    "--with",
    "with_",
    multiple=True,
    metavar="REQ",
    help="Pin a dependency (repeatable): a requirement installed with a Python server "
    "('mcp<1.10'), an npm override NAME@VERSION for a Node one.",
)
@click.option(
    "--constraint",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Python: uv constraints file (requirements format).",
)
@click.option(
    "--override",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Python: uv overrides file; Node: a JSON object of npm overrides.",
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Start each bundle this machine can run and require initialize and tools/list.",
)
@click.option(
    "--check-config",
    multiple=True,
    metavar="KEY=VALUE",
    help="A user_config value for the check (repeatable).",
)
@click.option(
    "--check-timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds the check waits for the server.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def build(
    source: str,
    platforms: str,
    out_dir: Path,
    python_version: str | None,
    entry_point: str | None,
    allow_sdist: bool,
    binaries: tuple[str, ...],
    base_url: str | None,
    repo: str | None,
    server_name: str | None,
    args: tuple[str, ...],
    env: tuple[str, ...],
    user_config: tuple[str, ...],
    manifest_overlay: Path | None,
    with_: tuple[str, ...],
    constraint: Path | None,
    override: Path | None,
    check: bool,
    check_config: tuple[str, ...],
    check_timeout: float,
    as_json: bool,
) -> None:
    """Build SOURCE (a project directory, pypi:NAME[==VER] or npm:NAME[@VER]) per platform."""
    parsed = parse_source(source)
    binary_map = {}
    if binaries:
        root = parsed.path if parsed.kind is SourceKind.BINARY and parsed.path else Path.cwd()
        binary_map = parse_binary_options(binaries, root)
    options = BuildOptions(
        source=parsed,
        platforms=tuple(parse_platforms(platforms)),
        out_dir=out_dir.resolve(),
        python=python_version,
        entry_point=entry_point,
        allow_sdist=allow_sdist,
        binaries=binary_map,
        publishing=Publishing(base_url=base_url, repo=repo, server_name=server_name),
        launch=parse_launch_options(args, env, user_config, manifest_overlay),
        pins=parse_pins(with_, constraint, override),
        check=parse_check_options(check, check_config, check_timeout),
    )
    started = time.monotonic()

    def progress(message: str) -> None:
        if not as_json:
            click.echo(f"[{time.monotonic() - started:6.1f}s] {message}", err=True)

    result = run_build(options, progress)
    if as_json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for bundle in result.bundles:
        click.echo(f"{bundle.sha256}  {bundle.path}")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
