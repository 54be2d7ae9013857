"""Build one base image per (runtime, platform): cached root, loader site, finishing Dockerfile.

Steps for each image, each skipped when its inputs are unchanged:

1. the loader and its wheels for the image's Python and CPU (:mod:`.site`, seconds), compiled
   to bytecode on the host (:mod:`.bytecode`);
2. the image key — root filesystem inputs, loader site, Dockerfile — and, when an image with
   that key label already exists, reuse it (retag only);
3. the root filesystem tarball from the keyed cache, bootstrapped on a miss (:mod:`.rootfs`);
4. ``docker load`` as the one-layer image ``mcpb-rootfs:…`` of the target architecture
   (reused when its key label matches);
5. ``docker build`` of ``base_images/<kind>/Dockerfile`` with ``BASE`` set to that root.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mcpb.bundle.errors import BuildError
from mcpb.bundle.platform import Platform, host_platform
from mcpb.bundler.image import engine
from mcpb.bundler.image.bytecode import compile_tree, interpreter
from mcpb.bundler.image.cache import RootfsCache
from mcpb.bundler.image.labels import KEY_LABEL, OURS, Provenance, image_labels, rfc3339
from mcpb.bundler.image.rootfs import build_rootfs, inputs_for, unpack
from mcpb.bundler.image.site import SITE, install_loader
from mcpb.bundler.image.spec import ImageSpec

ROOTFS_KEY_LABEL = f"{OURS}.rootfs-key"


@dataclass(frozen=True)
class BuildSettings:
    """Where things are and how to stamp them; shared by every image of one build."""

    workspace: Path
    cache_dir: Path
    provenance: Provenance
    rebuild: bool = False


@dataclass(frozen=True)
class ImageResult:
    """One built (or reused) image."""

    spec: ImageSpec
    refs: tuple[str, ...]
    image_id: str
    size: int
    key: str
    reused: bool
    rootfs_cached: bool
    seconds: float

    def as_json(self) -> dict[str, object]:
        """The ``--json`` form."""
        return {
            "runtime": str(self.spec.runtime),
            "platform": str(self.spec.platform),
            "refs": list(self.refs),
            "id": self.image_id,
            "size": self.size,
            "key": self.key,
            "reused": self.reused,
            "rootfs_cached": self.rootfs_cached,
            "seconds": round(self.seconds, 1),
        }


def dockerfile_for(workspace: Path, kind: str) -> Path:
    """``base_images/<kind>/Dockerfile`` of the checkout."""
    return workspace / "base_images" / kind / "Dockerfile"


def build_one(
    spec: ImageSpec, settings: BuildSettings, host: Platform | None = None
) -> ImageResult:
    """Build ``spec`` (or reuse an image built from the same inputs)."""
    started = time.monotonic()
    host = host or host_platform()
    refs = tuple(spec.refs(host))
    runtime, platform = spec.runtime, spec.platform
    dockerfile = dockerfile_for(settings.workspace, runtime.kind)
    work_root = settings.cache_dir / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="image-", dir=work_root))
    try:
        context = work / "context"
        context.mkdir()
        site_key = install_loader(
            context,
            platform,
            runtime.python,
            settings.workspace,
            aggregator=runtime.kind == "aggregator",
        )
        inputs = inputs_for(runtime, platform, spec.extra_packages)
        key = _digest(inputs.key, site_key, dockerfile.read_bytes().hex(), str(spec.platform))
        existing = engine.inspect_image(spec.platform_ref)
        if (
            existing is not None
            and _matches(existing, KEY_LABEL, key, platform)
            and not settings.rebuild
        ):
            for ref in refs:
                engine.tag_image(existing.id, ref)
            return ImageResult(
                spec, refs, existing.id, existing.size, key, True, True, time.monotonic() - started
            )
        epoch = settings.provenance.epoch
        cache = RootfsCache(settings.cache_dir)
        native_inputs = (
            inputs if platform == host else inputs_for(runtime, host, spec.extra_packages)
        )
        native_tar, cached = cache.get(
            native_inputs.key, lambda path: build_rootfs(native_inputs, runtime, path, epoch)
        )
        native_root = work / "native"
        unpack(native_tar, native_root)
        tarball = native_tar
        if platform != host:
            tarball, cached = cache.get(
                inputs.key,
                lambda path: build_rootfs(inputs, runtime, path, epoch, native_root),
            )
        argv = interpreter(native_root, runtime.python, host.arch)
        compile_tree(argv, context / SITE, f"/{SITE}", hashed=False)
        base = engine.inspect_image(spec.rootfs_ref)
        if not _matches(base, ROOTFS_KEY_LABEL, inputs.key, platform):
            created = rfc3339(settings.provenance.epoch)
            labels = {ROOTFS_KEY_LABEL: inputs.key}
            engine.load_rootfs(tarball, spec.rootfs_ref, platform, labels, created)
            if base is not None:
                engine.discard_image(base.id)
        build_args = {"BASE": spec.rootfs_ref}
        if runtime.kind == "node":  # the root holds node already: no second copy
            build_args.update(NODE_IMAGE=spec.rootfs_ref, NODE_FROM="base")
        engine.build_image(
            context,
            dockerfile,
            refs,
            platform=platform,
            build_args=build_args,
            labels=image_labels(spec, settings.provenance, key),
        )
        info = engine.inspect_image(spec.platform_ref)
        if info is None:
            raise BuildError(f"{spec.platform_ref}: built but not found in the engine")
        if existing is not None and existing.id != info.id:
            engine.discard_image(existing.id)
        return ImageResult(
            spec, refs, info.id, info.size, key, False, cached, time.monotonic() - started
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _matches(info: engine.ImageInfo | None, label: str, key: str, platform: Platform) -> bool:
    """An existing image made from the same inputs, for the same architecture."""
    return (
        info is not None
        and info.labels.get(label) == key
        and info.architecture == str(platform.arch)
    )


def _digest(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()
