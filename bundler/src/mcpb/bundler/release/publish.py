"""``mcpb publish``: the bundles of a ``dist/`` onto a GitHub release, safely re-runnable.

The flow works with immutable releases (``../shared/reference/publishing.md`` §3, §9): find the
release of the tag (drafts included) or create it as a draft; upload every ``.mcpb``,
``SHA256SUMS`` and ``server.json``, checking each uploaded asset's digest; publish last.
Re-running is safe: an identical asset is skipped (digests compared), a different one is an
error unless ``--replace`` (and never on an immutable release), a ``starter`` asset left by a
failed upload is removed and uploaded again. ``server.json`` is rewritten first, in ``dist/``,
with the download URLs the assets will have once published and their ``fileSha256``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcpb.bundle.atomic import write_atomic
from mcpb.bundle.digest import parse_sha256sums, sha256_file
from mcpb.bundle.errors import UsageError
from mcpb.bundler.builder.serverjson import dump_server_json
from mcpb.bundler.release.github import GitHubClient, GitHubError

_UPLOAD_TRIES = 3
CONTENT_TYPES = {".mcpb": "application/zip", ".json": "application/json"}


@dataclass(frozen=True)
class PublishOptions:
    """What to publish where (``repo`` is ``OWNER/NAME``; ``tag`` None: ``v`` + the version)."""

    dist: Path
    repo: str
    tag: str | None = None
    draft: bool = False
    replace: bool = False
    dry_run: bool = False
    api_url: str = "https://api.github.com"


@dataclass
class Published:
    """What was (or, with ``dry_run``, would be) published."""

    repo: str
    tag: str
    draft: bool
    assets: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` form."""
        return {"repo": self.repo, "tag": self.tag, "draft": self.draft, "assets": self.assets}


@dataclass(frozen=True)
class DistFiles:
    """The files of a ``dist/`` to publish, with their digests from ``SHA256SUMS``."""

    bundles: list[Path]
    sums: Path
    digests: dict[str, str]
    server_json: Path | None


def read_dist(dist: Path) -> DistFiles:
    """The bundles, ``SHA256SUMS`` and ``server.json`` of ``dist``, digests checked."""
    if not dist.is_dir():
        raise UsageError(f"{dist}: not a directory (give the output folder of mcpb build)")
    bundles = sorted(dist.glob("*.mcpb"))
    if not bundles:
        raise UsageError(f"{dist}: no .mcpb files to publish")
    sums = dist / "SHA256SUMS"
    if not sums.is_file():
        raise UsageError(f"{sums}: missing (mcpb build writes it beside the bundles)")
    digests = parse_sha256sums(sums.read_text("utf-8"), source=str(sums))
    for bundle in bundles:
        want = digests.get(bundle.name)
        if want is None:
            raise UsageError(f"{sums}: has no line for {bundle.name}")
        if sha256_file(bundle) != want:
            raise UsageError(f"{bundle}: its SHA-256 does not match {sums.name}")
    server_json = dist / "server.json"
    return DistFiles(bundles, sums, digests, server_json if server_json.is_file() else None)


def default_tag(files: DistFiles) -> str:
    """``v`` + the version of the server.json, else of the bundles' file names."""
    if files.server_json is not None:
        version = json.loads(files.server_json.read_text("utf-8")).get("version")
        if isinstance(version, str) and version:
            return f"v{version}"
    name = files.bundles[0].name
    if "-v" in name and "-linux-" in name:
        return "v" + name.rsplit("-v", 1)[1].split("-linux-", 1)[0]
    raise UsageError("cannot tell the version: give --tag")


def rewrite_server_json(
    doc: dict[str, Any], html_url: str, tag: str, digests: dict[str, str]
) -> None:
    """Point every ``mcpb`` package at the release's download URL of its file."""
    for package in doc.get("packages") or []:
        if not isinstance(package, dict) or package.get("registryType") != "mcpb":
            continue
        file_name = str(package.get("identifier", "")).rsplit("/", 1)[-1]
        if file_name not in digests:
            raise UsageError(f"server.json names {file_name!r}, which is not in the dist folder")
        package["identifier"] = f"{html_url}/releases/download/{tag}/{file_name}"
        package["fileSha256"] = digests[file_name]


def publish_release(
    options: PublishOptions,
    token: str,
    *,
    progress: Callable[[str], None] = lambda _: None,
    client: GitHubClient | None = None,
) -> Published:
    """Publish ``options.dist`` (module docstring); raises GitHubError or UsageError."""
    files = read_dist(options.dist)
    tag = options.tag or default_tag(files)
    if "/" in tag or not tag.strip():
        raise UsageError(f"--tag {tag!r}: a release tag must be one path segment")
    gh = client or GitHubClient(options.repo, token, api_url=options.api_url)
    try:
        html_url = str(gh.repository()["html_url"])
        uploads = [*files.bundles, files.sums]
        if files.server_json is not None:
            doc = json.loads(files.server_json.read_text("utf-8"))
            rewrite_server_json(doc, html_url, tag, files.digests)
            if not options.dry_run:
                write_atomic(files.server_json, dump_server_json(doc))
            uploads.append(files.server_json)
        release = gh.find_release(tag)
        result = Published(options.repo, tag, options.draft)
        if release is None:
            if options.dry_run:
                result.assets = [_row(p, "would upload", html_url, tag) for p in uploads]
                return result
            release = gh.create_draft(tag, tag)
            progress(f"created draft release {tag}")
        immutable = bool(release.get("immutable")) and not release.get("draft")
        existing = {a["name"]: a for a in gh.assets(int(release["id"]))}
        for path in uploads:
            action = _put(gh, release, existing.get(path.name), path, options, immutable, progress)
            result.assets.append(_row(path, action, html_url, tag))
        if release.get("draft") and not options.draft and not options.dry_run:
            gh.publish(int(release["id"]))
            progress(f"published release {tag}")
        result.draft = bool(release.get("draft")) and (options.draft or options.dry_run)
        return result
    finally:
        if client is None:
            gh.close()


def _row(path: Path, action: str, html_url: str, tag: str) -> dict[str, str]:
    return {
        "name": path.name,
        "sha256": sha256_file(path),
        "action": action,
        "url": f"{html_url}/releases/download/{tag}/{path.name}",
    }


def _put(
    gh: GitHubClient,
    release: dict[str, Any],
    asset: dict[str, Any] | None,
    path: Path,
    options: PublishOptions,
    immutable: bool,
    progress: Callable[[str], None],
) -> str:
    """Make the release hold ``path``; what was done (uploaded, skipped, replaced)."""
    local = sha256_file(path)
    tag = str(release["tag_name"])
    action = "uploaded"
    if asset is not None:
        if asset.get("state") == "uploaded" and asset.get("digest") == f"sha256:{local}":
            return "skipped (identical)"
        if immutable:
            raise GitHubError(
                f"release {tag} is immutable and its {path.name} differs from {path}: "
                "publish a new version under a new tag"
            )
        if asset.get("state") == "uploaded" and not options.replace:
            raise GitHubError(
                f"release {tag} already has a different {path.name}: use --replace to replace it"
            )
        action = "replaced" if asset.get("state") == "uploaded" else "uploaded (again)"
        if options.dry_run:
            return f"would be {action}"
        gh.delete_asset(int(asset["id"]))
    elif immutable:
        raise GitHubError(f"release {tag} is immutable and lacks {path.name}: use a new tag")
    if options.dry_run:
        return "would upload"
    progress(f"uploading {path.name} ({path.stat().st_size:,} bytes)")
    uploaded = _upload(gh, release, path)
    if uploaded.get("digest") not in (None, f"sha256:{local}"):
        raise GitHubError(
            f"{path.name}: GitHub stored {uploaded.get('digest')}, not sha256:{local}"
        )
    return action


def _upload(gh: GitHubClient, release: dict[str, Any], path: Path) -> dict[str, Any]:
    """Upload, retrying a failed attempt after removing what it left behind."""
    content_type = CONTENT_TYPES.get(path.suffix, "text/plain")
    label = _label(path.name)
    for attempt in range(1, _UPLOAD_TRIES + 1):
        try:
            return gh.upload(str(release["upload_url"]), path, path.name, content_type, label)
        except GitHubError as err:
            if attempt == _UPLOAD_TRIES or (err.status and err.status < 500 and err.status != 422):
                raise
            # a 5xx may leave a "starter" asset; a retried request may have landed (422)
            for asset in gh.assets(int(release["id"])):
                if asset["name"] != path.name:
                    continue
                if (
                    asset.get("state") == "uploaded"
                    and asset.get("digest") == f"sha256:{sha256_file(path)}"
                ):
                    return asset
                gh.delete_asset(int(asset["id"]))
    raise AssertionError("unreachable")


def _label(name: str) -> str:
    """``linux/amd64`` for a per-platform bundle, else the file name."""
    if name.endswith(".mcpb") and "-linux-" in name:
        return "linux/" + name.rsplit("-linux-", 1)[1].removesuffix(".mcpb")
    return name
