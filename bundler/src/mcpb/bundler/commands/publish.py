"""``mcpb publish``: upload a dist folder to a GitHub release (draft → assets → publish)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from mcpb.bundle.errors import UsageError
from mcpb.bundler.release.github import DEFAULT_API_URL
from mcpb.bundler.release.publish import PublishOptions, publish_release


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("dist", type=click.Path(file_okay=False, path_type=Path))
@click.option("--repo", required=True, metavar="OWNER/NAME", help="The GitHub repository.")
@click.option("--tag", help="The release tag (default: v + the version in server.json).")
@click.option("--draft", is_flag=True, help="Leave the release a draft (do not publish it).")
@click.option("--replace", is_flag=True, help="Replace assets that differ (mutable releases only).")
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@click.option("--api-url", default=DEFAULT_API_URL, show_default=True, help="GitHub API base URL.")
@click.option("--json", "as_json", is_flag=True, help="Print what was published as JSON.")
def publish(
    dist: Path,
    repo: str,
    tag: str | None,
    draft: bool,
    replace: bool,
    dry_run: bool,
    api_url: str,
    as_json: bool,
) -> None:
    """Publish DIST (the bundles, SHA256SUMS and server.json of mcpb build) to a GitHub release.

    The token comes from GITHUB_TOKEN or GH_TOKEN (contents: write).
    """
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not token:
        raise UsageError("set GITHUB_TOKEN or GH_TOKEN to a token with contents: write")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise UsageError(f"--repo {repo!r}: expected OWNER/NAME")
    options = PublishOptions(dist, repo, tag, draft, replace, dry_run, api_url)
    show = sys.stderr.isatty() and not as_json

    def progress(line: str) -> None:
        if show:
            click.echo(line, err=True)

    result = publish_release(options, token, progress=progress)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
        return
    for asset in result.assets:
        click.echo(f"{asset['action']:22} {asset['name']}")
    state = "draft" if result.draft else "published"
    click.echo(f"{result.repo} {result.tag}: {state}")
