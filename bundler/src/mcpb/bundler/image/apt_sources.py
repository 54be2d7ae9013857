"""The host's apt sources, re-aimed at another Debian suite, and the date of their Release files.

No mirror host is written anywhere in this project: the root filesystems are bootstrapped from
whatever archive this machine's apt is configured with (``/etc/apt/sources.list.d/*.sources``
in deb822 form, or one-line ``*.list`` files). Those entries name the host's own release
(``bookworm``, ``bookworm-updates``, ``bookworm-security``); :func:`sources_for` rewrites the
suite names for the release an image needs (``trixie``, ``trixie-updates``…), keeping URIs,
components and keyrings.

The ``Date:`` of each suite's ``InRelease`` file goes into the root filesystem's cache key:
when the archive publishes new packages, the key changes and the next build bootstraps again.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from mcpb.bundle.errors import BuildError

APT_ETC = Path("/etc/apt")
RELEASE_TIMEOUT = 20.0


@dataclass(frozen=True)
class AptSource:
    """One deb822 stanza (a one-line entry becomes a stanza with one suite)."""

    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str | None = None

    def render(self) -> str:
        """The stanza in deb822 form."""
        lines = [
            "Types: deb",
            f"URIs: {' '.join(self.uris)}",
            f"Suites: {' '.join(self.suites)}",
            f"Components: {' '.join(self.components)}",
        ]
        if self.signed_by:
            lines.append(f"Signed-By: {self.signed_by}")
        return "\n".join(lines) + "\n"


def host_codename(os_release: Path = Path("/etc/os-release")) -> str:
    """The host's Debian release name (``VERSION_CODENAME``)."""
    for line in os_release.read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise BuildError(f"{os_release}: no VERSION_CODENAME; cannot tell which suite apt serves")


def parse_deb822(text: str) -> list[AptSource]:
    """``deb`` stanzas of a ``.sources`` file (``deb-src`` and disabled stanzas are skipped)."""
    sources = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace() and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        sources.append(
            AptSource(
                uris=tuple(fields.get("uris", "").split()),
                suites=tuple(fields.get("suites", "").split()),
                components=tuple(fields.get("components", "main").split()),
                signed_by=fields.get("signed-by") or None,
            )
        )
    return [s for s in sources if s.uris and s.suites]


def parse_one_line(text: str) -> list[AptSource]:
    """``deb [opts] URI SUITE COMPONENT...`` lines of a ``sources.list`` file."""
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        signed_by = None
        options = re.match(r"deb\s+\[([^\]]*)\]\s*", line)
        if options:
            for opt in options.group(1).split():
                if opt.startswith("signed-by="):
                    signed_by = opt.split("=", 1)[1]
            line = "deb " + line[options.end() :]
        parts = line.split()
        if len(parts) >= 3:
            components = tuple(parts[3:]) or ("main",)
            sources.append(AptSource((parts[1],), (parts[2],), components, signed_by))
    return sources


def host_sources(etc: Path = APT_ETC) -> list[AptSource]:
    """Every enabled ``deb`` source of this machine's apt configuration."""
    found: list[AptSource] = []
    single = etc / "sources.list"
    if single.is_file():
        found += parse_one_line(single.read_text())
    parts = etc / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".sources":
                found += parse_deb822(path.read_text())
            elif path.suffix == ".list":
                found += parse_one_line(path.read_text())
    if not found:
        raise BuildError(f"{etc}: no apt sources configured; mmdebstrap needs an archive")
    return found


def sources_for(suite: str, sources: list[AptSource], host: str) -> list[AptSource]:
    """The host's Debian sources with every ``HOST[-pocket]`` suite renamed ``SUITE[-pocket]``.

    Sources that do not name the host's release (third-party repositories) are left out: they
    are not the Debian archive and may not serve another suite.
    """
    pattern = re.compile(rf"^{re.escape(host)}(?P<pocket>-[a-z]+)?$")
    result = []
    for source in sources:
        suites = tuple(
            f"{suite}{m['pocket'] or ''}" for s in source.suites if (m := pattern.match(s))
        )
        if suites:
            result.append(replace(source, suites=suites))
    if not result:
        raise BuildError(f"no apt source of this machine serves Debian {host}; cannot find {suite}")
    return result


def render_sources(sources: list[AptSource]) -> str:
    """A deb822 ``.sources`` file."""
    return "\n".join(s.render() for s in sources)


def release_date(uri: str, suite: str, *, timeout: float = RELEASE_TIMEOUT) -> str:
    """The ``Date:`` field of ``URI/dists/SUITE/InRelease``."""
    url = f"{uri.rstrip('/')}/dists/{suite}/InRelease"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (apt's URI)
            head: str = response.read(8192).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as err:
        raise BuildError(f"apt source {suite}: cannot read its InRelease file ({err})") from None
    for line in head.splitlines():
        if line.startswith("Date:"):
            return line.split(":", 1)[1].strip()
    raise BuildError(f"apt source {suite}: InRelease has no Date field")


def release_stamp(sources: list[AptSource]) -> list[str]:
    """``suite=date`` for every suite of ``sources`` (first URI each): the archive snapshot."""
    return sorted(
        f"{suite}={release_date(source.uris[0], suite)}"
        for source in sources
        for suite in source.suites
    )
