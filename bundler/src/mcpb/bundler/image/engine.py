"""The Docker engine operations the image build and ``mcpb test`` need, through the Docker SDK.

The SDK (``docker`` on PyPI) speaks the engine's HTTP API directly: typed answers instead of
parsed CLI output, and an API version negotiated with the engine (``version="auto"``), so
Debian's ``docker.io`` 20.10 (API 1.41) works as well as newer engines. Builds go through the
API's classic builder, which our Dockerfiles are written for. Every engine error becomes one
:class:`BuildError` line naming the operation and the engine's explanation.

The root filesystem reaches the engine as a ``docker save``-form archive streamed to
``POST /images/load`` (see :func:`load_rootfs`): ``import --platform`` is ignored by engines
without experimental mode, and this form names the architecture itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker import DockerClient

from mcpb.bundle.errors import BuildError
from mcpb.bundle.platform import Platform

#: Seconds one engine call may take (loading a root and building are given more).
TIMEOUT = 120
LONG_TIMEOUT = 1800
_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@cache
def client() -> DockerClient:
    """One client per process, from ``DOCKER_HOST`` & co. or the default socket."""
    try:
        return docker.from_env(version="auto", timeout=LONG_TIMEOUT)
    except docker.errors.DockerException as err:
        raise BuildError(f"no Docker engine answers: {_explain(err)}") from None


def _explain(err: Exception) -> str:
    text = getattr(err, "explanation", None) or str(err)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return (lines or [type(err).__name__])[-1]


@contextlib.contextmanager
def _engine(what: str) -> Iterator[DockerClient]:
    """The client, with every engine error turned into ``BuildError("WHAT: why")``."""
    try:
        yield client()
    except docker.errors.DockerException as err:
        raise BuildError(f"{what}: {_explain(err)}") from None
    except OSError as err:  # the socket went away mid-call
        raise BuildError(f"{what}: {err}") from None


def engine_answers() -> bool:
    """True when a Docker engine answers a ping."""
    try:
        with _engine("ping") as engine:
            return bool(engine.ping())
    except BuildError:
        return False


@dataclass(frozen=True)
class ImageInfo:
    """What image inspection says about an image that matters here."""

    id: str
    size: int
    architecture: str
    labels: dict[str, str]
    config: dict[str, Any]


def inspect_image(ref: str) -> ImageInfo | None:
    """The image ``ref``, or ``None`` when the engine has no such image."""
    try:
        with _engine(f"inspect {ref}") as engine:
            data = engine.images.get(ref).attrs
    except BuildError as err:
        if "no such image" in err.message.lower() or "not found" in err.message.lower():
            return None
        raise
    config = data.get("Config") or {}
    return ImageInfo(
        id=data["Id"],
        size=int(data.get("Size") or 0),
        architecture=str(data.get("Architecture") or ""),
        labels=dict(config.get("Labels") or {}),
        config=config,
    )


def load_rootfs(
    tarball: Path, ref: str, platform: Platform, labels: Mapping[str, str], created: str
) -> None:
    """Load a root filesystem tarball as the one-layer image ``ref`` of ``platform``.

    The image is written in ``docker save`` form — ``manifest.json``, a config naming the
    architecture, the tarball as its layer — into a pipe the engine reads as it arrives.
    """
    digest = hashlib.sha256()
    with tarball.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    diff_id = f"sha256:{digest.hexdigest()}"
    config: dict[str, Any] = {
        "architecture": str(platform.arch),
        "os": platform.os,
        "created": created,
        "config": {"Labels": dict(labels), "Env": [_PATH]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "mcpb image build: Debian root"}],
    }
    if platform.arch == "arm64":
        config["variant"] = "v8"
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = f"{hashlib.sha256(config_bytes).hexdigest()}.json"
    layer_name = f"{digest.hexdigest()}/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [layer_name]}]
    read_end, write_end = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_end, "wb") as out, tarfile.open(fileobj=out, mode="w|") as tar:
                _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
                _add_bytes(tar, config_name, config_bytes)
                tar.add(str(tarball), arcname=layer_name, recursive=False)
        except (BrokenPipeError, OSError) as err:  # the engine stopped reading: it says why
            failure.append(err)

    writer = threading.Thread(target=produce, name="mcpb-rootfs-load", daemon=True)
    writer.start()
    try:
        with os.fdopen(read_end, "rb") as source, _engine(f"docker load {ref}") as engine:
            for message in engine.api.load_image(source):  # type: ignore[no-untyped-call]
                if isinstance(message, dict) and message.get("error"):
                    raise BuildError(f"docker load {ref}: {message['error']}")
    finally:
        writer.join()
    if failure:
        raise BuildError(f"docker load {ref}: the engine stopped reading ({failure[0]})")


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def build_image(
    context: Path,
    dockerfile: Path,
    tags: Sequence[str],
    *,
    platform: Platform,
    build_args: Mapping[str, str],
    labels: Mapping[str, str],
) -> None:
    """Build ``dockerfile`` (it may live outside ``context``) without network; tag it."""
    what = f"docker build {tags[0] if tags else context}"
    with _engine(what) as engine:
        stream = engine.api.build(
            path=str(context),
            dockerfile=str(dockerfile),
            tag=tags[0] if tags else None,
            buildargs=dict(build_args),
            labels=dict(labels),
            platform=str(platform),
            network_mode="none",
            rm=True,
            forcerm=True,
            decode=True,
            timeout=LONG_TIMEOUT,
        )
        for message in stream:
            if message.get("error"):
                raise BuildError(f"{what}: {str(message['error']).strip()}")
        image_id = engine.images.get(tags[0]).id if tags else None
        for tag in tags[1:]:
            repository, _, name = tag.rpartition(":")
            engine.api.tag(image_id, repository, name)


def tag_image(source: str, target: str) -> None:
    """Give ``source`` the additional name ``target``."""
    repository, _, name = target.rpartition(":")
    with _engine(f"docker tag {target}") as engine:
        engine.api.tag(source, repository, name)


def discard_image(image_id: str) -> None:
    """Remove a replaced image if nothing uses it any more (the engine refuses while a tag or
    a container still refers to it; that refusal is fine)."""
    with contextlib.suppress(BuildError), _engine(f"remove {image_id[:19]}") as engine:
        engine.api.remove_image(image_id)


@dataclass(frozen=True)
class RunOptions:
    """How to run a container: the few ``docker run`` options our images are run with.

    ``publish`` ports are bound on 127.0.0.1 at free host ports (:func:`host_port` says which);
    ``volumes`` are ``(source, target, read_only)`` with ``source`` a host path or a volume name.
    """

    env: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    network: str | None = None
    publish: tuple[int, ...] = ()
    volumes: tuple[tuple[str, str, bool], ...] = ()
    read_only: bool = False
    tmpfs: tuple[str, ...] = ()
    user: str | None = None
    command: tuple[str, ...] = ()


def run_detached(image: str, options: RunOptions) -> str:
    """Start a container of ``image`` in the background; its id."""
    with _engine(f"docker run {image}") as engine:
        settings: dict[str, Any] = {
            "environment": dict(options.env),
            "platform": str(options.platform) if options.platform else None,
            "network_mode": options.network,
            "ports": {f"{p}/tcp": ("127.0.0.1", None) for p in options.publish} or None,
            "volumes": {
                source: {"bind": target, "mode": "ro" if read_only else "rw"}
                for source, target, read_only in options.volumes
            }
            or None,
            "read_only": options.read_only,
            "tmpfs": dict.fromkeys(options.tmpfs, "") or None,
            "user": options.user,
        }
        container = engine.containers.run(
            image, list(options.command) or None, detach=True, **settings
        )
        return str(container.id)


def inspect_container(cid: str) -> dict[str, Any]:
    """The engine's whole description of a container (``Config``, ``HostConfig``, ``State``…)."""
    with _engine(f"inspect {cid[:12]}") as engine:
        data: dict[str, Any] = engine.api.inspect_container(cid)
        return data


def container_state(cid: str) -> dict[str, Any]:
    """``State`` of the container: Status, Running, ExitCode, Health…"""
    state: dict[str, Any] = inspect_container(cid)["State"]
    return state


def host_port(cid: str, port: int) -> int:
    """The loopback port the engine published for the container's ``port``."""
    with _engine(f"port {cid[:12]}") as engine:
        bindings = engine.api.port(cid, port) or []
    for binding in bindings:
        if binding.get("HostIp") in ("127.0.0.1", "0.0.0.0") and binding.get("HostPort"):  # noqa: S104
            return int(binding["HostPort"])
    raise BuildError(f"container {cid[:12]}: port {port} is not published on IPv4")


def exec_in(cid: str, argv: Sequence[str]) -> tuple[int, str]:
    """Run ``argv`` inside the running container; its exit code and combined output."""
    with _engine(f"exec in {cid[:12]}") as engine:
        result = engine.containers.get(cid).exec_run(list(argv), demux=False)
    output = result.output.decode(errors="replace") if isinstance(result.output, bytes) else ""
    return int(result.exit_code or 0), output


def logs(cid: str) -> str:
    """Everything the container wrote (stdout and stderr); empty when it is gone."""
    try:
        with _engine(f"logs {cid[:12]}") as engine:
            data = engine.api.logs(cid, stdout=True, stderr=True, stream=False)
    except BuildError:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else ""


def stop(cid: str, grace: int = 10) -> None:
    """SIGTERM (the image's stop signal), then SIGKILL after ``grace`` seconds."""
    with _engine(f"docker stop {cid[:12]}") as engine:
        engine.api.stop(cid, timeout=grace)


def remove(cid: str) -> None:
    """Remove the container and its anonymous volumes, whatever its state."""
    with contextlib.suppress(BuildError), _engine(f"remove {cid[:12]}") as engine:
        engine.api.remove_container(cid, v=True, force=True)


def remove_volume(name: str) -> None:
    """Remove a named volume if it exists."""
    with contextlib.suppress(BuildError), _engine(f"remove volume {name}") as engine:
        engine.api.remove_volume(name, force=True)
