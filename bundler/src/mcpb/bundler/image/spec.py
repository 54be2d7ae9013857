"""What one base image is: runtime, version, Debian suite, platform and its names.

Users and the NimbleTools server.json tooling name runtimes in several spellings
(``python:3.13``, ``supergateway-python:3.13``, ``node:20``, ``binary``, or our own image names);
:func:`parse_runtime` maps all of them onto the four images we build, so the rest of the
pipeline works with one typed :class:`ImageSpec`.

Which Debian release carries which runtime is a fact of the archive, recorded here once:
bookworm ships CPython 3.11 (and Node 18), trixie ships CPython 3.13 and Node 20. The node and
binary images take trixie's Python 3.13 for the loader; so does the aggregator image, whose
Python runs the aggregator itself (and the Python bundles it runs as stdio upstreams).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mcpb.bundle.errors import UsageError
from mcpb.bundle.platform import Platform

#: Image flavours we build, by runtime kind.
KINDS = ("python", "node", "binary", "aggregator")

#: Python minor version → the Debian suite that ships it as python3.
PYTHON_SUITES = {"3.11": "bookworm", "3.13": "trixie"}

#: Node major version → the Debian suite whose ``nodejs`` package has that major version.
NODE_SUITES = {"20": "trixie"}

#: The Python the loader runs on in the node and binary images (trixie's).
SIDECAR_PYTHON = "3.13"

DEFAULT_RUNTIMES = ("python:3.11", "python:3.13", "node:20", "binary", "aggregator")

_RUNTIME_RE = re.compile(
    r"^(?:(?P<supergateway>supergateway-)|(?P<ours>mcpb-))?"
    r"(?P<kind>python|node|binary|aggregator)(?::(?P<version>[0-9][0-9.]*))?$"
)


@dataclass(frozen=True)
class Runtime:
    """A runtime kind and its version (``None`` for ``binary``)."""

    kind: str
    version: str | None

    def __str__(self) -> str:
        return self.kind if self.version is None else f"{self.kind}:{self.version}"

    @property
    def image_name(self) -> str:
        """``mcpb-python``, ``mcpb-node``, ``mcpb-binary`` or ``mcpb-aggregator``."""
        return f"mcpb-{self.kind}"

    @property
    def tag(self) -> str:
        """The image tag: the runtime version, or ``latest`` for ``binary`` and ``aggregator``."""
        return self.version or "latest"

    @property
    def suite(self) -> str:
        """The Debian suite the image's root filesystem comes from."""
        if self.kind == "python":
            return PYTHON_SUITES[self.version or ""]
        if self.kind == "node":
            return NODE_SUITES[self.version or ""]
        return PYTHON_SUITES[SIDECAR_PYTHON]

    @property
    def python(self) -> str:
        """The Python minor version in the image (the loader's, and python bundles')."""
        return self.version if self.kind == "python" and self.version else SIDECAR_PYTHON


def parse_runtime(text: str) -> Runtime:
    """Accept ``python:3.13``, ``supergateway-python:3.13``, ``mcpb-python:3.13``, ``node:20``,
    ``binary``, ``aggregator`` (and the ``mcpb-`` names); refuse versions we do not build, naming
    the ones we do."""
    raw = text.strip().lower()
    match = _RUNTIME_RE.match(raw)
    if match is None:
        raise UsageError(
            f"unknown runtime {text!r}: expected one of {', '.join(DEFAULT_RUNTIMES)} "
            "(also supergateway-python:3.x and the mcpb-* image names)"
        )
    kind, version = match["kind"], match["version"]
    if match["supergateway"] and kind != "python":
        raise UsageError(f"unknown runtime {text!r}: supergateway- applies to python only")
    if kind == "python":
        version = _minor(version)
        if version not in PYTHON_SUITES:
            have = ", ".join(f"python:{v}" for v in PYTHON_SUITES)
            raise UsageError(f"runtime {text!r}: no image for Python {version} (have {have})")
    elif kind == "node":
        version = (version or "").split(".")[0]
        if version not in NODE_SUITES:
            have = ", ".join(f"node:{v}" for v in NODE_SUITES)
            raise UsageError(f"runtime {text!r}: no image for Node {version or '?'} (have {have})")
    elif version is not None:
        raise UsageError(f"runtime {text!r}: the {kind} image has no version")
    return Runtime(kind, version)


def _minor(version: str | None) -> str:
    if not version:
        return ""
    parts = version.split(".")
    return ".".join(parts[:2])


def normalize_prefix(prefix: str) -> str:
    """A registry prefix such as ``ghcr.io/acme/`` (a missing trailing slash is added)."""
    text = prefix.strip()
    if not text:
        return ""
    if any(c.isspace() for c in text) or text.startswith(("/", ":")) or "//" in text:
        raise UsageError(f"--prefix: {prefix!r} is not a registry prefix such as registry/org/")
    return text if text.endswith("/") else text + "/"


@dataclass(frozen=True)
class ImageSpec:
    """One image to build: a runtime for one platform, named with an optional registry prefix.

    Docker keeps one image per tag locally, so every platform gets its own tag
    (``mcpb-python:3.13-arm64``); the host's platform also gets the plain tag.
    """

    runtime: Runtime
    platform: Platform
    prefix: str = ""

    @property
    def repository(self) -> str:
        """``[prefix]mcpb-python``."""
        return f"{self.prefix}{self.runtime.image_name}"

    @property
    def platform_ref(self) -> str:
        """``[prefix]mcpb-python:3.13-amd64``."""
        return f"{self.repository}:{self.runtime.tag}-{self.platform.arch}"

    @property
    def plain_ref(self) -> str:
        """``[prefix]mcpb-python:3.13``: the tag given to the host platform's image."""
        return f"{self.repository}:{self.runtime.tag}"

    @property
    def rootfs_ref(self) -> str:
        """The local name of the imported, unfinished root filesystem."""
        return f"mcpb-rootfs:{self.runtime.kind}-{self.runtime.suite}-{self.platform.arch}"

    def refs(self, host: Platform) -> list[str]:
        """Every tag this image gets on a machine of platform ``host``."""
        if self.platform == host:
            return [self.plain_ref, self.platform_ref]
        return [self.platform_ref]
