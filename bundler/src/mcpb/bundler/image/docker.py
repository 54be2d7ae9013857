"""The few Docker engine operations the image build needs, through the ``docker`` CLI.

The CLI is what every machine with an engine already has (Debian's ``docker.io`` here); it
needs no extra Python dependency and speaks to old engines (20.10) as well as new ones. Builds
use the classic builder (``DOCKER_BUILDKIT=0``): BuildKit is a separate plugin that is often
absent, and our Dockerfiles need nothing from it. Every failure becomes a :class:`BuildError`
naming the image and the engine's last line of output.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcpb.bundle.errors import BuildError
from mcpb.bundle.platform import Platform


def docker_command() -> str:
    """Path of the ``docker`` CLI."""
    found = shutil.which("docker")
    if found is None:
        raise BuildError("docker is not installed (apt-get install docker.io)")
    return found


def _run(args: Sequence[str], what: str, *, timeout: float | None = None) -> str:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    try:
        proc = subprocess.run(
            [docker_command(), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what}: docker did not answer within {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        raise BuildError(f"{what}: {(lines or ['docker failed'])[-1].strip()}")
    return proc.stdout


def engine_answers(timeout: float = 10.0) -> bool:
    """True when a Docker engine answers ``docker version``."""
    if shutil.which("docker") is None:
        return False
    try:
        _run(["version", "--format", "{{.Server.Version}}"], "docker version", timeout=timeout)
    except BuildError:
        return False
    return True


@dataclass(frozen=True)
class ImageInfo:
    """What ``docker image inspect`` says about an image that matters here."""

    id: str
    size: int
    architecture: str
    labels: dict[str, str]
    config: dict[str, Any]


def inspect_image(ref: str) -> ImageInfo | None:
    """The image ``ref``, or ``None`` when the engine has no such image."""
    try:
        out = _run(["image", "inspect", ref], f"inspect {ref}")
    except BuildError as err:
        if "No such image" in err.message or "no such image" in err.message.lower():
            return None
        raise
    data = json.loads(out)[0]
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

    ``docker import --platform`` is ignored by engines without experimental mode (20.10 marks
    the image with the host's architecture, and images built FROM it inherit that), so the
    image is written in ``docker save`` form instead — ``manifest.json``, a config naming the
    architecture, the tarball as its layer — and streamed to ``docker load``.
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
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    proc = subprocess.Popen(
        [docker_command(), "load", "--quiet"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None
    try:
        with tarfile.open(fileobj=proc.stdin, mode="w|") as archive:
            _add_bytes(archive, "manifest.json", json.dumps(manifest).encode())
            _add_bytes(archive, config_name, config_bytes)
            archive.add(str(tarball), arcname=layer_name, recursive=False)
    except BrokenPipeError:
        pass
    finally:
        proc.stdin.close()
    assert proc.stderr is not None
    err = proc.stderr.read()
    if proc.wait(timeout=900) != 0:
        lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
        raise BuildError(f"docker load {ref}: {(lines or ['docker failed'])[-1].strip()}")


_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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
    """``docker build`` (classic builder, no network needed by our Dockerfiles)."""
    args = ["build", "--quiet", "--network", "none", "--platform", str(platform)]
    args += ["-f", str(dockerfile)]
    for key, value in sorted(build_args.items()):
        args += ["--build-arg", f"{key}={value}"]
    for key, value in sorted(labels.items()):
        args += ["--label", f"{key}={value}"]
    for tag in tags:
        args += ["-t", tag]
    args.append(str(context))
    _run(args, f"docker build {tags[0] if tags else context}", timeout=1800)


def tag_image(source: str, target: str) -> None:
    """Give ``source`` the additional name ``target``."""
    _run(["tag", source, target], f"docker tag {target}")


def discard_image(image_id: str) -> None:
    """Remove a replaced image if nothing uses it any more (the engine refuses while a tag or
    a container still refers to it; that refusal is fine)."""
    subprocess.run(
        [docker_command(), "image", "rm", image_id], capture_output=True, check=False, timeout=120
    )


def run_detached(image: str, docker_args: Sequence[str], command: Sequence[str] = ()) -> str:
    """``docker run -d [ARGS] IMAGE [COMMAND]``; the container id."""
    out = _run(["run", "-d", *docker_args, image, *command], f"docker run {image}", timeout=120)
    return out.strip()


def container_state(cid: str) -> dict[str, Any]:
    """``State`` of ``docker inspect``: Status, Running, ExitCode, Health…"""
    out = _run(["container", "inspect", "--format", "{{json .State}}", cid], f"inspect {cid[:12]}")
    state: dict[str, Any] = json.loads(out)
    return state


def host_port(cid: str, port: int) -> int:
    """The loopback port Docker published for the container's ``port``."""
    out = _run(["port", cid, f"{port}/tcp"], f"docker port {cid[:12]}")
    for line in out.splitlines():
        host, _, number = line.strip().rpartition(":")
        if number.isdigit() and host in ("127.0.0.1", "0.0.0.0"):  # noqa: S104
            return int(number)
    raise BuildError(f"container {cid[:12]}: port {port} is not published on IPv4")


def logs(cid: str) -> str:
    """Everything the container wrote (stdout and stderr)."""
    proc = subprocess.run(
        [docker_command(), "logs", cid], capture_output=True, text=True, check=False, timeout=60
    )
    return proc.stdout + proc.stderr


def stop(cid: str, grace: int = 10) -> None:
    """``docker stop -t GRACE``: SIGTERM, then SIGKILL after ``grace`` seconds."""
    _run(["stop", "-t", str(grace), cid], f"docker stop {cid[:12]}", timeout=grace + 60)


def remove(cid: str) -> None:
    """Remove the container and its anonymous volumes, whatever its state."""
    subprocess.run(
        [docker_command(), "rm", "-f", "-v", cid], capture_output=True, check=False, timeout=60
    )
