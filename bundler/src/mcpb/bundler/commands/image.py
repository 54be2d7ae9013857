"""``mcpb image build``: the base images, from Debian packages, without any container registry."""

from __future__ import annotations

import json
import shutil
from importlib.metadata import version as dist_version
from pathlib import Path

import click

from mcpb.bundle.errors import UsageError
from mcpb.bundle.platform import parse_platform, parse_platforms
from mcpb.bundler.image.build import BuildSettings, ImageResult, build_one, dockerfile_for
from mcpb.bundler.image.cache import default_cache_dir
from mcpb.bundler.image.labels import provenance
from mcpb.bundler.image.site import install_loader, workspace_root
from mcpb.bundler.image.spec import (
    DEFAULT_RUNTIMES,
    ImageSpec,
    normalize_prefix,
    parse_extra_packages,
    parse_runtime,
)

DEFAULT_PLATFORMS = "linux/amd64,linux/arm64"


@click.group("image")
def image() -> None:
    """Build the base images that serve bundles (mcpb-python, mcpb-node, mcpb-binary) and the
    aggregator image (mcpb-aggregator)."""


@image.command("build")
@click.option(
    "-r",
    "--runtime",
    "runtimes",
    multiple=True,
    metavar="RUNTIME",
    help=(
        f"{', '.join(DEFAULT_RUNTIMES)} (also supergateway-python:3.x and the mcpb-* names); "
        "repeatable. Default: all of them."
    ),
)
@click.option(
    "-p",
    "--platform",
    "platforms",
    default=DEFAULT_PLATFORMS,
    show_default=True,
    help="Comma-separated targets: linux/amd64, linux/arm64 (arm64 builds run under qemu).",
)
@click.option("--prefix", default="", metavar="REGISTRY/", help="Registry prefix for the tags.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Root filesystem cache (default: $MCPB_IMAGE_CACHE or ~/.cache/mcpb/images).",
)
@click.option("--rebuild", is_flag=True, help="Build even when an image of the same inputs exists.")
@click.option(
    "--apt-package",
    "apt_packages",
    multiple=True,
    metavar="NAME",
    help="A Debian package the servers need (git for mcp-server-git); repeatable. "
    "The tag names it: mcpb-python:3.11-git.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def build(
    runtimes: tuple[str, ...],
    platforms: str,
    prefix: str,
    cache_dir: Path | None,
    rebuild: bool,
    apt_packages: tuple[str, ...],
    as_json: bool,
) -> None:
    """Build base images for each runtime and platform; tags are RUNTIME-ARCH (and RUNTIME for
    this machine's platform)."""
    parsed = [parse_runtime(r) for r in (runtimes or DEFAULT_RUNTIMES)]
    extra = parse_extra_packages(apt_packages)
    targets = parse_platforms(platforms)
    clean_prefix = normalize_prefix(prefix)
    workspace = workspace_root()
    settings = BuildSettings(
        workspace=workspace,
        cache_dir=cache_dir or default_cache_dir(),
        provenance=provenance(workspace, dist_version("mcpb-bundler")),
        rebuild=rebuild,
    )
    results: list[ImageResult] = []
    for runtime in dict.fromkeys(parsed):
        for platform in targets:
            spec = ImageSpec(runtime, platform, clean_prefix, extra)
            result = build_one(spec, settings)
            results.append(result)
            if not as_json:
                _print(result)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in results], indent=2))


def _print(result: ImageResult) -> None:
    how = "reused" if result.reused else ("built" if result.rootfs_cached else "bootstrapped")
    click.echo(
        f"{how:12} {result.refs[0]:28} {result.spec.platform!s:12} "
        f"{result.size / 1e6:6.1f} MB  {result.seconds:5.1f} s"
    )


@image.command("context")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("-r", "--runtime", default="python:3.13", show_default=True, metavar="RUNTIME")
@click.option("-p", "--platform", "platform_text", default="linux/amd64", show_default=True)
def context(directory: Path, runtime: str, platform_text: str) -> None:
    """Write a build context (opt/mcpb/ and the Dockerfile) for building FROM an official image:
    docker build --build-arg BASE=python:3.13-slim DIRECTORY."""
    parsed = parse_runtime(runtime)
    platform = parse_platform(platform_text)
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory}: not empty; give a new or empty directory")
    workspace = workspace_root()
    directory.mkdir(parents=True, exist_ok=True)
    install_loader(
        directory, platform, parsed.python, workspace, aggregator=parsed.kind == "aggregator"
    )
    shutil.copy2(dockerfile_for(workspace, parsed.kind), directory / "Dockerfile")
    click.echo(f"{directory}: build context for {parsed} on {platform}")
