"""The loader (or the aggregator) as it goes into an image: wheels and dependencies for the
image's Python and CPU.

Nothing is installed from inside a container. The mcpb-loader wheel (and for the aggregator
image the mcpb-aggregator wheel too) is built from the workspace (``uv build --wheel loader/``)
and installed with whatever the ``pyproject.toml`` files declare by
:func:`mcpb.bundler.builder.python.vendor` (``uv pip install --target --python-platform
--python-version --only-binary :all:``) on the host; the image's Dockerfile
copies the result to ``/opt/mcpb/site``. Two small scripts go beside it: the entrypoint, which
puts the site first on ``sys.path`` under ``python3 -I`` (so no ``PYTHONPATH`` leaks into the
bundled server's environment), and the ``HEALTHCHECK`` probe of ``/ready``.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from mcpb.bundle.errors import BuildError
from mcpb.bundle.platform import Platform
from mcpb.bundler.builder.python import PythonTarget, build_wheel, vendor

SITE = "opt/mcpb/site"

ENTRYPOINT = '''\
"""mcpb base image entrypoint: the {what}, with its own packages first on sys.path."""
import sys

sys.path.insert(0, "/opt/mcpb/site")
from mcpb.{what}.__main__ import main

sys.exit(main())
'''

HEALTHCHECK = '''\
"""HEALTHCHECK probe: exit 0 when the loader's /ready answers 200."""
import os
import sys
import urllib.request

port = os.environ.get("PORT", "8000") or "8000"
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as err:
    print(f"not ready: {err}", file=sys.stderr)
    sys.exit(1)
'''

PREPARE = '''\
"""Image build step (RUN): bytecode for read-only roots, user mcpb (10001), its directories.

Idempotent, and the same on our bootstrapped roots and on official python images.
"""
import compileall
import os

UID = 10001
# Up to date already when mcpb image build compiled it on the host; the stdlib of official
# images and of our roots is compiled.
compileall.compile_dir("/opt/mcpb/site", quiet=1)


def ensure_line(path, name, line):
    with open(path, "a+") as f:
        f.seek(0)
        if not any(row.split(":")[0] == name for row in f.read().splitlines()):
            f.write(line + "\\n")


GECOS = "MCP bundle runtime"
ensure_line("/etc/passwd", "mcpb", f"mcpb:x:{UID}:{UID}:{GECOS}:/home/mcpb:/usr/sbin/nologin")
ensure_line("/etc/group", "mcpb", f"mcpb:x:{UID}:")
for path in ("/var/cache/mcpb", "/home/mcpb"):
    os.makedirs(path, exist_ok=True)
    os.chown(path, UID, UID)
    os.chmod(path, 0o755)
'''


def workspace_root(start: Path | None = None) -> Path:
    """The checkout holding ``loader/pyproject.toml`` and ``base_images/`` (searched upwards)."""
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        if (parent / "loader" / "pyproject.toml").is_file() and (parent / "base_images").is_dir():
            return parent
    raise BuildError(
        "cannot find the mcpb-toolchain checkout (loader/ and base_images/): "
        "run mcpb image build from a clone of the repository"
    )


def install_loader(
    context: Path, platform: Platform, python: str, workspace: Path, *, aggregator: bool = False
) -> str:
    """Write ``opt/mcpb/`` (site, entrypoint, probe) under ``context``; a digest of what went
    in (the wheels' bytes and every installed distribution's name and version).

    With ``aggregator`` the site also holds mcpb-aggregator and the entrypoint runs it.
    """
    site = context / SITE
    projects = ["loader", "aggregator"] if aggregator else ["loader"]
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="mcpb-wheels-") as tmp:
        wheels = [build_wheel(workspace / project, Path(tmp) / project) for project in projects]
        vendor([str(wheel) for wheel in wheels], site, PythonTarget(platform, python))
        for wheel in wheels:
            digest.update(wheel.read_bytes())
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts name the host's Python
    entrypoint = ENTRYPOINT.format(what="aggregator" if aggregator else "loader")
    (context / "opt" / "mcpb" / "loader.py").write_text(entrypoint)
    (context / "opt" / "mcpb" / "healthcheck.py").write_text(HEALTHCHECK)
    (context / "opt" / "mcpb" / "prepare.py").write_text(PREPARE)
    for name in sorted(p.name for p in site.glob("*.dist-info")):
        digest.update(name.encode() + b"\n")
    digest.update((entrypoint + HEALTHCHECK + PREPARE).encode())
    return digest.hexdigest()
