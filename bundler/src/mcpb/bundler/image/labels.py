"""OCI image labels: where an image came from, and the input key that lets a build reuse it.

``created`` comes from ``SOURCE_DATE_EPOCH`` (else the commit time of ``HEAD``, else now) so
two builds of the same commit carry the same labels. Our own labels record the runtime, the
Debian suite and :data:`KEY_LABEL`, a digest of every build input: an existing image whose key
label matches is reused instead of rebuilt.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mcpb.bundle.errors import UsageError
from mcpb.bundler.image.spec import ImageSpec

OCI = "org.opencontainers.image"
OURS = "io.github.mcpb-toolchain"
KEY_LABEL = f"{OURS}.image-key"
DEFAULT_SOURCE = "https://github.com/mcpb-toolchain/mcpb-toolchain"


@dataclass(frozen=True)
class Provenance:
    """Where the build's sources are: repository URL, commit, version, time."""

    source: str
    revision: str
    version: str
    epoch: int


def source_date_epoch(env: Mapping[str, str], workspace: Path | None) -> int:
    """``SOURCE_DATE_EPOCH``, else the committer time of ``HEAD``, else the current time."""
    raw = env.get("SOURCE_DATE_EPOCH", "").strip()
    if raw:
        if not raw.isdigit():
            raise UsageError(f"SOURCE_DATE_EPOCH: expected seconds since 1970, got {raw!r}")
        return int(raw)
    committed = _git(workspace, "log", "-1", "--format=%ct")
    return int(committed) if committed.isdigit() else int(time.time())


def provenance(
    workspace: Path | None, version: str, env: Mapping[str, str] = os.environ
) -> Provenance:
    """Provenance of a build from the checkout ``workspace`` (git, when available); the source
    URL is ``MCPB_IMAGE_SOURCE``, else the ``origin`` remote, else the project's home."""
    revision = _git(workspace, "rev-parse", "HEAD") or "unknown"
    source = (
        env.get("MCPB_IMAGE_SOURCE", "").strip()
        or _https(_git(workspace, "remote", "get-url", "origin"))
        or DEFAULT_SOURCE
    )
    return Provenance(source, revision, version, source_date_epoch(env, workspace))


def _git(workspace: Path | None, *args: str) -> str:
    if workspace is None:
        return ""
    try:
        proc = subprocess.run(
            ["git", "-C", str(workspace), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _https(remote: str) -> str:
    """``git@github.com:o/r.git`` or ``https://…/o/r.git`` → ``https://github.com/o/r``."""
    if remote.startswith("git@") and ":" in remote:
        host, _, path = remote[4:].partition(":")
        remote = f"https://{host}/{path}"
    if not remote.startswith("https://"):
        return ""
    return remote.removesuffix(".git")


def rfc3339(epoch: int) -> str:
    """``2026-11-22T02:50:48Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_labels(spec: ImageSpec, prov: Provenance, key: str) -> dict[str, str]:
    """The labels of one built image."""
    runtime = spec.runtime
    extra = {f"{OURS}.apt-packages": " ".join(spec.extra_packages)} if spec.extra_packages else {}
    return {
        **extra,
        f"{OCI}.title": spec.runtime.image_name,
        f"{OCI}.description": (
            f"MCP Bundle loader image for {runtime} on Debian {runtime.suite} ({spec.platform}): "
            "fetches BUNDLE_URL, verifies BUNDLE_SHA256, serves it over streamable HTTP"
        ),
        f"{OCI}.source": prov.source,
        f"{OCI}.revision": prov.revision,
        f"{OCI}.version": prov.version,
        f"{OCI}.created": rfc3339(prov.epoch),
        f"{OCI}.licenses": "MIT",
        f"{OCI}.ref.name": spec.platform_ref,
        f"{OURS}.runtime": str(runtime),
        f"{OURS}.python": runtime.python,
        f"{OURS}.debian-suite": runtime.suite,
        f"{OURS}.platform": str(spec.platform),
        KEY_LABEL: key,
    }
