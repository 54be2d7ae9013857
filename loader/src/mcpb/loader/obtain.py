"""Phase 1 of the loader: obtain a verified, extracted bundle — and read its manifest once.

Everything that can fail on a bad bundle happens here, before any server process exists:
digest policy, cache lookup or download, the SHA-256 check (before anything is extracted),
compatibility with this machine, safe extraction, manifest validation, bytecode. The result,
:class:`Obtained`, carries the bundle's :class:`~mcpb.bundle.manifest_view.ManifestView`, built
once here and passed on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpb.bundle.archive import MANIFEST_NAME, SIDECAR_NAME
from mcpb.bundle.digest import check_sha256, sha256_file
from mcpb.bundle.errors import ArchiveError, IntegrityError, UsageError
from mcpb.bundle.jsondoc import JsonDocumentError, parse_json_object
from mcpb.bundle.manifest_view import ManifestView, read_manifest_view
from mcpb.bundle.meta import BundleMeta, read_meta
from mcpb.loader.cache import BundleCache, CacheError
from mcpb.loader.compat import Machine, check_compatible
from mcpb.loader.config import LoaderConfig
from mcpb.loader.fetch import FetchOptions, fetch, is_local, local_path, redact

# Not imported here on purpose (a cached start needs none of them, and the server is spawned
# sooner without them): the manifest models (pydantic), extraction, bytecode compilation.

log = logging.getLogger("mcpb.loader")


@dataclass(frozen=True)
class Obtained:
    """A verified, extracted bundle in the cache, with its manifest read once."""

    sha256: str
    tree: Path
    manifest: ManifestView
    meta: BundleMeta | None
    from_cache: bool


def obtain(
    config: LoaderConfig,
    *,
    machine: Machine | None = None,
    fetch_options: FetchOptions | None = None,
) -> Obtained:
    """Fetch (or find in the cache), verify, check and extract the bundle.

    With a known digest and a cached tree nothing touches the network. A digest mismatch raises
    :class:`IntegrityError` before anything is extracted. ``fetch_options`` tunes timeouts and
    retries; the size limit and the overall deadline always come from ``config``.
    """
    machine = machine or Machine.current()
    cache = BundleCache(config.cache_dir)
    cache.prepare_dirs()
    cache.sweep_staging()
    opts = dataclasses.replace(
        fetch_options or FetchOptions(),
        max_size=config.max_bundle_size,
        deadline=config.download_timeout,
    )
    url = config.bundle_url
    shown = url if is_local(url) else redact(url)
    sha = config.sha256
    if sha is None:
        return _obtain_unverified(config, cache, opts, shown, machine)
    with cache.lock(sha):
        fetched = False
        if not cache.has_tree(sha):
            if cache.has_bundle(sha) and not _cached_bundle_intact(cache, sha):
                cache.bundle_path(sha).unlink(missing_ok=True)  # heal: fetch it again
            if not cache.has_bundle(sha):
                log.info("fetching %s", shown)
                dest = cache.bundle_path(sha)
                partial = cache.staging / f"{sha}.partial"  # ours alone: we hold the sha lock
                fetch(url, dest, expected_sha256=sha, options=opts, partial=partial)
                fetched = True
        return _ensure_tree(cache, sha, shown, machine, fetched=fetched)


def _cached_bundle_intact(cache: BundleCache, sha: str) -> bool:
    """Whether the cached bundle file still has its digest (disks and people corrupt files)."""
    try:
        check_sha256(cache.bundle_path(sha), sha)
    except IntegrityError as err:
        log.warning("cache: %s; removing it and fetching the bundle again", err.message)
        return False
    return True


def _obtain_unverified(
    config: LoaderConfig, cache: BundleCache, opts: FetchOptions, shown: str, machine: Machine
) -> Obtained:
    """No digest given: allowed loudly, or for a local file the user named (``mcpb run``)."""
    url = config.bundle_url
    if config.allow_unverified:
        log.warning(
            "!!! MCPB_ALLOW_UNVERIFIED=1: running %s WITHOUT checking its SHA-256; "
            "anyone who can change that file controls this server !!!",
            shown,
        )
    elif not (config.local and is_local(url)):
        raise UsageError(f"{shown}: a SHA-256 is required for remote bundles (--sha256)")
    if is_local(url):
        cached = _cached_local(cache, url, shown, machine)
        if cached is not None:
            return cached
    staged = cache.staging / f"{os.getpid()}-{uuid.uuid4().hex}.mcpb"
    computed = fetch(url, staged, options=opts).sha256
    log.info("%s: SHA-256 %s (computed, not verified)", shown, computed)
    with cache.lock(computed):
        if cache.has_bundle(computed):
            staged.unlink(missing_ok=True)
        else:
            staged.replace(cache.bundle_path(computed))
        return _ensure_tree(cache, computed, shown, machine, fetched=True)


def _cached_local(cache: BundleCache, url: str, shown: str, machine: Machine) -> Obtained | None:
    """A local file whose tree is cached: hashed where it lies, nothing copied.

    Only a cache miss needs the copy into staging (extraction must read the very bytes that
    were hashed); a hit reads the file once.
    """
    try:
        sha = sha256_file(local_path(url))
    except OSError:
        return None  # let fetch() report the unreadable file in its own words
    if not cache.has_tree(sha):
        return None
    log.info("%s: SHA-256 %s (computed, not verified)", shown, sha)
    with cache.lock(sha):
        return _ensure_tree(cache, sha, shown, machine, fetched=False)


def _ensure_tree(
    cache: BundleCache, sha: str, shown: str, machine: Machine, *, fetched: bool
) -> Obtained:
    """Extract the cached bundle unless its tree exists; check compatibility first."""
    tree = cache.tree_path(sha)
    if cache.has_tree(sha):
        data = _load_json(tree / MANIFEST_NAME)
        sidecar = tree / SIDECAR_NAME
        meta = read_meta(data, sidecar.read_bytes() if sidecar.is_file() else None, source=shown)
        manifest = read_manifest_view(data, source=f"{tree}/{MANIFEST_NAME}")
        _check(manifest, meta, machine)
        log.info("%s: using cached tree %s", shown, tree)
        return Obtained(sha, tree, manifest, meta, from_cache=not fetched)
    return _fill_tree(cache, sha, shown, machine)


def _fill_tree(cache: BundleCache, sha: str, shown: str, machine: Machine) -> Obtained:
    """First start of a digest (its lock held): extract into staging, validate the manifest,
    byte-compile a Python server that will not cache its own bytecode, then rename the
    finished tree into place.

    Everything that makes later starts cheap happens here, once, before any other loader can
    see the tree: the manifest models run only on this path, and the bytecode is written where
    no server is reading yet.
    """
    import shutil

    from mcpb.bundle.extract import open_bundle, safe_extract
    from mcpb.bundle.manifest import parse_manifest
    from mcpb.loader.bytecode import compile_tree, launch_python, server_writes_bytecode

    tree = cache.tree_path(sha)
    bundle_file = cache.bundle_path(sha)
    source = f"{shown}: {MANIFEST_NAME}"
    with open_bundle(bundle_file) as bundle:
        data, meta = bundle.manifest_data, bundle.meta
    parse_manifest(data, source=source)  # the validator of record, on the first start only
    manifest = read_manifest_view(data, source=source)
    _check(manifest, meta, machine)
    staged = cache.staging / f"{sha}.{os.getpid()}-{uuid.uuid4().hex}.tree"
    try:
        result = safe_extract(bundle_file, staged)
        log.info("%s: extracted %d files to %s", shown, result.file_count, tree)
        python = launch_python(manifest, staged)
        if python is not None and not server_writes_bytecode(manifest, os.environ):
            compile_tree(staged, python, recorded_as=tree)
        try:
            staged.rename(tree)
        except OSError as err:
            where = f"cache {cache.root}: cannot move {tree.name} into place"
            raise CacheError(f"{where}: {err.strerror or err}") from None
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    return Obtained(sha, tree, manifest, result.meta, from_cache=False)


def _check(manifest: ManifestView, meta: BundleMeta | None, machine: Machine) -> None:
    check_compatible(
        name=manifest.name,
        platform=meta.platform if meta else None,
        python=meta.python if meta else None,
        manifest_platforms=manifest.platforms,
        machine=machine,
    )


def _load_json(path: Path) -> dict[str, Any]:
    try:
        return parse_json_object(path.read_bytes())
    except (OSError, JsonDocumentError) as err:
        raise ArchiveError(f"{path}: cached manifest unreadable ({err})") from None
