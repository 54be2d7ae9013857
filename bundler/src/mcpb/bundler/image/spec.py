"""What one base image is: runtime, version, Debian suite, platform and its names.

Users and the NimbleTools server.json tooling name runtimes in several spellings
(``python:3.13``, ``supergateway-python:3.13``, ``node:20``, ``binary``, or our own image names);
:func:`parse_runtime` maps all of them onto the four images we build, so the rest of the
pipeline works with one typed :class:`ImageSpec`.

Which runtime comes from where is recorded once, in :mod:`mcpb.bundler.runtimes` (shared with
``mcpb build``, which must only pick runtimes an image exists for).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mcpb.bundle.errors import UsageError
from mcpb.bundle.platform import Platform
from mcpb.bundler.runtimes import NODE_FROM_NPM, NODE_SUITES, PYTHON_SUITES, SIDECAR_PYTHON

#: Image flavours we build, by runtime kind.
KINDS = ("python", "node", "binary", "aggregator")

DEFAULT_RUNTIMES = (
    *(f"python:{v}" for v in PYTHON_SUITES),
    *(f"node:{v}" for v in NODE_SUITES),
    "binary",
    "aggregator",
)

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
    def node_from_npm(self) -> bool:
        """Node is the official binary (npm ``node-linux-<cpu>``), not Debian's ``nodejs``."""
        return self.kind == "node" and self.version in NODE_FROM_NPM

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


_DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9.-]{1,62}")


def parse_extra_packages(names: tuple[str, ...]) -> tuple[str, ...]:
    """``--apt-package`` values: Debian package names, sorted and unique (they name the tag)."""
    for name in names:
        if not _DEBIAN_PACKAGE.fullmatch(name):
            raise UsageError(f"--apt-package {name!r}: not a Debian package name")
    return tuple(sorted(set(names)))


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
    #: extra Debian packages (``git`` for mcp-server-git): named in the tag, ``3.11-git``
    extra_packages: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        """The runtime's tag, with the extra packages: ``3.11``, ``3.11-git``."""
        return "-".join((self.runtime.tag, *self.extra_packages))

    @property
    def repository(self) -> str:
        """``[prefix]mcpb-python``."""
        return f"{self.prefix}{self.runtime.image_name}"

    @property
    def platform_ref(self) -> str:
        """``[prefix]mcpb-python:3.13-amd64``."""
        return f"{self.repository}:{self.tag}-{self.platform.arch}"

    @property
    def plain_ref(self) -> str:
        """``[prefix]mcpb-python:3.13``: the tag given to the host platform's image."""
        return f"{self.repository}:{self.tag}"

    @property
    def rootfs_ref(self) -> str:
        """The local name of the imported, unfinished root filesystem."""
        extras = "".join(f"-{p}" for p in self.extra_packages)
        return f"mcpb-rootfs:{self.runtime.kind}-{self.runtime.suite}{extras}-{self.platform.arch}"

    def refs(self, host: Platform) -> list[str]:
        """Every tag this image gets on a machine of platform ``host``."""
        if self.platform == host:
            return [self.plain_ref, self.platform_ref]
        return [self.platform_ref]
