"""Our manifest verdicts equal the official schemas' verdicts, over a corpus and its variants."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpb.bundle.manifest import SUPPORTED_VERSIONS, json_path, validate_manifest_data
from tests.data.manifests import cases
from tests.data.manifests.invalid_cases import INVALID as INVALID_CASES
from tests.data.manifests.official import (
    corpus,
    expected_paths,
    load,
    official_errors,
    official_valid,
    official_validators,
)

VALID = corpus("valid")
INVALID = corpus("invalid")


@pytest.fixture(scope="module", autouse=True)
def _official_schemas_present() -> None:
    try:
        official_validators()
    except RuntimeError as err:
        pytest.fail(str(err))


def ours_valid(data: Any) -> bool:
    return not validate_manifest_data(data)


def test_corpus_covers_every_version_and_enough_cases() -> None:
    assert len(VALID) >= 30
    assert len(INVALID) >= 100
    versions = {load(p).get("manifest_version") or load(p).get("dxt_version") for p in VALID}
    assert set(SUPPORTED_VERSIONS) <= versions
    assert sorted(expected_paths()) == sorted(p.name for p in INVALID)


def test_corpus_files_match_their_definitions() -> None:
    """The JSON files are written by make_corpus.py from cases.py and invalid_cases.py."""
    assert {p.stem: load(p) for p in VALID} == cases.VALID
    assert {p.stem: load(p) for p in INVALID} == {k: v[0] for k, v in INVALID_CASES.items()}
    assert {p.stem: load(p) for p in corpus("reference/valid")} == cases.REFERENCE_VALID
    assert {p.stem: load(p) for p in corpus("reference/invalid")} == cases.REFERENCE_INVALID
    assert expected_paths() == {f"{k}.json": sorted(v[1]) for k, v in INVALID_CASES.items()}


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_case(path: Path) -> None:
    data = load(path)
    assert official_errors(data) == []
    assert validate_manifest_data(data) == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_case_is_rejected_with_the_right_paths(path: Path) -> None:
    data = load(path)
    assert official_errors(data) != []
    issues = validate_manifest_data(data)
    assert sorted({issue.path for issue in issues}) == expected_paths()[path.name]
    assert all(issue.message for issue in issues)


@pytest.mark.parametrize(
    "path",
    corpus("reference/valid") + corpus("reference/invalid"),
    ids=lambda p: f"{p.parent.name}-{p.stem}",
)
def test_reference_semantics_cases(path: Path) -> None:
    """Where Python's jsonschema reads formats/regexes unlike the reference, we follow the latter.

    Each case here is a real divergence: jsonschema's verdict is the opposite of ours.
    """
    data = load(path)
    expected = path.parent.name == "valid"
    assert ours_valid(data) is expected
    assert (official_errors(data) == []) is not expected


# --- programmatic variants of every valid case ---------------------------------------------

SAMPLE_VALUES: list[Any] = [None, 1.5, True, "x", [], ["x"], {"k": "v"}]


def nodes(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every location below the root: object members and array items."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*path, key)
            yield from nodes(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield (*path, index)
            yield from nodes(value, (*path, index))


def objects(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(data, dict):
        yield path
    if isinstance(data, dict | list):
        items = data.items() if isinstance(data, dict) else enumerate(data)
        for key, value in items:
            yield from objects(value, (*path, key))


def at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def inside(issue_path: str, loc: tuple[str | int, ...]) -> bool:
    """Whether a reported path is ``loc`` or below it."""
    prefix = json_path(loc)
    return issue_path == prefix or issue_path.startswith((f"{prefix}.", f"{prefix}["))


def assert_same_verdict(data: Any, what: str) -> list[str]:
    ours = validate_manifest_data(data)
    if official_valid(data) != (ours == []):
        pytest.fail(f"{what}: official={official_errors(data)[:3]} ours={ours[:3]}")
    return [issue.path for issue in ours]


# The full manifests of 0.1, 0.2 and 0.4 differ from 0.3's only in gated keys, which the
# version-spelling variants below cover for every case.
VARIANT_BASES = [
    p
    for p in VALID
    if p.stem.startswith(("v0", "dxt", "user-config", "meta"))
    and p.stem not in ("v01-full", "v02-full", "v04-full")
]


@pytest.mark.parametrize("path", VARIANT_BASES, ids=lambda p: p.stem)
def test_variants_replace_every_value(path: Path) -> None:
    base = load(path)
    checked = 0
    for loc in list(nodes(base)):
        for value in SAMPLE_VALUES:
            data = copy.deepcopy(base)
            at(data, loc[:-1])[loc[-1]] = value
            paths = assert_same_verdict(data, f"{path.stem}: {loc} = {value!r}")
            checked += 1
            if paths and loc[0] not in ("manifest_version", "dxt_version"):
                # The error is reported at the replaced value or inside it.
                for issue_path in paths:
                    # ... except inside an anyOf (user_config.*.default), reported as a whole.
                    where = loc[:-1] if loc[-2:-1] == ("default",) else loc
                    assert inside(issue_path, where), (loc, paths)
    assert checked >= len(SAMPLE_VALUES) * 10


@pytest.mark.parametrize("path", VARIANT_BASES, ids=lambda p: p.stem)
def test_variants_unknown_key_in_every_object_and_every_key_removed(path: Path) -> None:
    base = load(path)
    for loc in list(objects(base)):
        data = copy.deepcopy(base)
        at(data, loc)["zz_unknown"] = "x"
        paths = assert_same_verdict(data, f"{path.stem}: unknown key at {loc}")
        if paths:
            assert paths == [json_path((*loc, "zz_unknown"))]
    for loc in list(nodes(base)):
        if isinstance(loc[-1], int):
            continue
        data = copy.deepcopy(base)
        del at(data, loc[:-1])[loc[-1]]
        assert_same_verdict(data, f"{path.stem}: without {loc}")


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_variants_every_version_spelling(path: Path) -> None:
    base = load(path)
    for key in ("manifest_version", "dxt_version"):
        for version in (*SUPPORTED_VERSIONS, "0.0", "1.0", None):
            data = {k: v for k, v in base.items() if k not in ("manifest_version", "dxt_version")}
            if version is not None:
                data[key] = version
            assert_same_verdict(data, f"{path.stem}: {key}={version!r}")
    for mv in SUPPORTED_VERSIONS:
        for dv in SUPPORTED_VERSIONS:
            data = {**base, "manifest_version": mv, "dxt_version": dv}
            assert_same_verdict(data, f"{path.stem}: manifest_version={mv} dxt_version={dv}")


# --- random manifests -----------------------------------------------------------------------

# Each leaf is usually right and sometimes wrong, so that both verdicts are common. Leaves come
# from values on which Python's jsonschema and the reference agree (see reference/): format and
# pattern edge cases are covered by hand, not by random text.
BAD = st.sampled_from([None, 0, -2, 3.5, True, "", "x", [], ["x"], {}, {"k": 1}])


def mostly(good: st.SearchStrategy[Any], odds: int = 15) -> st.SearchStrategy[Any]:
    """``good`` about ``odds`` times in ``odds + 1``, else a value of some other shape.

    The bad branch sits mid-range: hypothesis favours the bounds of an integer range."""
    return st.integers(0, odds).flatmap(lambda n: BAD if n == odds // 2 else good)


TEXT = mostly(st.text(max_size=6))
STRINGS = mostly(st.lists(st.text(max_size=4), max_size=3))
URL = mostly(st.sampled_from(["https://example.com", "mailto:a@b.co", "http://x.io:8/p?q#f"]), 6)
EMAIL = mostly(st.sampled_from(["a@example.com", "x.y+z@mail.example.org"]), 6)
BOOL = mostly(st.booleans())
NUMBER = mostly(
    st.one_of(st.integers(-5, 10**12), st.floats(allow_nan=False, allow_infinity=False))
)


def obj(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[Any]:
    """An object with its required keys (rarely one dropped), some optional ones, rarely a
    stray key; or, rarely, not an object at all."""
    base = st.fixed_dictionaries(required, optional=optional)

    def spoil(pair: tuple[dict[str, Any], int]) -> dict[str, Any]:
        data, roll = pair
        if roll == 11:
            data = {**data, "stray": 1}
        elif roll == 13 and data:
            data = dict(list(data.items())[1:])
        return data

    return mostly(st.tuples(base, st.integers(0, 24)).map(spoil))


OVERRIDE = obj(
    {},
    {
        "command": TEXT,
        "args": STRINGS,
        "env": mostly(st.dictionaries(st.text(max_size=3), TEXT, max_size=2)),
    },
)
MCP_CONFIG = obj(
    {"command": TEXT},
    {
        "args": STRINGS,
        "env": mostly(st.dictionaries(st.text(max_size=4), TEXT, max_size=2)),
        "platform_overrides": mostly(
            st.dictionaries(st.sampled_from(["win32", "linux", "x"]), OVERRIDE, max_size=2)
        ),
    },
)
USER_OPTION = obj(
    {
        "type": mostly(st.sampled_from(["string", "number", "boolean", "directory", "file"]), 8),
        "title": TEXT,
        "description": TEXT,
    },
    {
        "required": BOOL,
        "default": st.one_of(TEXT, NUMBER, BOOL, STRINGS),
        "multiple": BOOL,
        "sensitive": BOOL,
        "min": NUMBER,
        "max": NUMBER,
    },
)
VERSION_KEYS: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.fixed_dictionaries({"manifest_version": st.sampled_from(SUPPORTED_VERSIONS)}),
    st.fixed_dictionaries({"manifest_version": st.sampled_from(SUPPORTED_VERSIONS)}),
    st.fixed_dictionaries({"dxt_version": st.sampled_from(SUPPORTED_VERSIONS)}),
    st.fixed_dictionaries(
        {
            "manifest_version": st.sampled_from([*SUPPORTED_VERSIONS, "0.9", 3]),
            "dxt_version": st.sampled_from([*SUPPORTED_VERSIONS, ""]),
        }
    ),
    st.just({}),
)
BODY = st.fixed_dictionaries(
    {
        "name": TEXT,
        "version": TEXT,
        "description": TEXT,
        "author": obj({"name": TEXT}, {"email": EMAIL, "url": URL}),
        "server": obj(
            {
                "type": mostly(st.sampled_from(["python", "node", "binary", "uv"]), 8),
                "entry_point": TEXT,
                "mcp_config": MCP_CONFIG,
            },
            {},
        ),
    },
    optional={
        "$schema": TEXT,
        "display_name": TEXT,
        "homepage": URL,
        "repository": obj({"type": TEXT, "url": URL}, {}),
        "icons": mostly(
            st.lists(
                obj(
                    {"src": TEXT, "size": mostly(st.sampled_from(["16x16", "1x1"]), 4)},
                    {"theme": mostly(st.sampled_from(["dark", "light"]))},
                ),
                max_size=2,
            )
        ),
        "localization": obj(
            {
                "resources": mostly(st.sampled_from(["${locale}.json", "l/${locale}/m"]), 4),
                "default_locale": mostly(st.sampled_from(["en", "en-US", "zh-Hant"]), 4),
            },
            {},
        ),
        "tools": mostly(st.lists(obj({"name": TEXT}, {"description": TEXT}), max_size=2)),
        "prompts": mostly(
            st.lists(obj({"name": TEXT, "text": TEXT}, {"arguments": STRINGS}), max_size=2)
        ),
        "keywords": STRINGS,
        "privacy_policies": mostly(st.lists(URL, max_size=2)),
        "compatibility": obj(
            {},
            {
                "claude_desktop": TEXT,
                "platforms": mostly(
                    st.lists(mostly(st.sampled_from(["linux", "darwin", "win32"]), 6), max_size=3)
                ),
                "runtimes": mostly(
                    st.dictionaries(
                        mostly(st.sampled_from(["python", "node"]), 6).filter(
                            lambda k: isinstance(k, str)
                        ),
                        TEXT,
                        max_size=2,
                    )
                ),
            },
        ),
        "user_config": mostly(st.dictionaries(st.text(max_size=4), USER_OPTION, max_size=2)),
        "_meta": mostly(
            st.dictionaries(
                st.text(max_size=4),
                mostly(st.dictionaries(st.text(max_size=3), BAD, max_size=2)),
                max_size=2,
            )
        ),
        "tools_generated": BOOL,
    },
)
MANIFESTS = st.tuples(VERSION_KEYS, BODY).map(lambda pair: {**pair[0], **pair[1]})


def test_random_manifests_get_the_official_verdict() -> None:
    seen: list[bool] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(MANIFESTS)
    def check(data: dict[str, Any]) -> None:
        seen.append(assert_same_verdict(data, "random manifest") == [])

    check()
    # Both verdicts must be common, or the comparison says little.
    assert sum(seen) >= 15
    assert len(seen) - sum(seen) >= 15


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(SUPPORTED_VERSIONS),
    st.sampled_from(["python", "node", "binary", "uv"]),
    st.sets(st.sampled_from(["privacy_policies", "icons", "localization", "_meta"])),
)
def test_random_version_gates(version: str, server_type: str, extras: set[str]) -> None:
    """Mostly-valid manifests that differ only in version, server type and gated keys."""
    data = load(Path(VALID[0]).with_name("v03-minimal.json"))
    data["manifest_version"] = version
    data["server"]["type"] = server_type
    samples: dict[str, Any] = {
        "privacy_policies": ["https://example.com/privacy"],
        "icons": [{"src": "i.png", "size": "16x16"}],
        "localization": {"resources": "${locale}.json", "default_locale": "en"},
        "_meta": {"a.b": {"c": 1}},
    }
    for key in extras:
        data[key] = samples[key]
    paths = assert_same_verdict(data, f"{version} {server_type} {sorted(extras)}")
    rank = SUPPORTED_VERSIONS.index
    expected = {
        k for k in extras if rank(version) < rank({"privacy_policies": "0.2"}.get(k, "0.3"))
    }
    if server_type == "uv" and version != "0.4":
        expected.add("server.type")
    assert set(paths) == expected
