"""``mcpb publish`` against a stand-in for the GitHub releases API (served on loopback).

The dist folder is a real ``mcpb build`` of ``examples/hello-python`` for both platforms.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpb.bundle.digest import sha256_file
from mcpb.bundle.platform import parse_platforms
from mcpb.bundler.builder.pipeline import BuildOptions, build
from mcpb.bundler.builder.serverjson import Publishing
from mcpb.bundler.builder.source import parse_source
from mcpb.bundler.release.github import GitHubClient, GitHubError
from mcpb.bundler.release.publish import PublishOptions, publish_release
from tests.support.github_standin import READ_ONLY_TOKEN, TOKEN, GitHubStandIn, github_standin
from tests.support.servers import mcpb_executable

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SLUG = "acme/hello-mcp"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "dist"
    options = BuildOptions(
        source=parse_source(str(REPO / "examples" / "hello-python")),
        platforms=tuple(parse_platforms("linux/amd64,linux/arm64")),
        out_dir=out,
        publishing=Publishing(repo=SLUG),
    )
    build(options)
    return out


@pytest.fixture
def dist(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "dist"
    shutil.copytree(built, copy)
    return copy


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with github_standin() as app:
        app.add_repo(SLUG)
        yield app


def mcpb_publish(
    github: GitHubStandIn, dist: Path, *args: str, token: str | None = TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN")}
    if token is not None:
        env["GITHUB_TOKEN"] = token
    argv = [mcpb_executable(), "publish", str(dist), "--repo", SLUG, "--api-url", github.base]
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=120)


def stored(github: GitHubStandIn, tag: str) -> dict[str, bytes]:
    release = github.release(SLUG, tag)
    assert release is not None
    return {a.name: a.data for a in release.assets if a.state == "uploaded"}


def test_first_publish_creates_uploads_verifies_and_publishes(
    github: GitHubStandIn, dist: Path
) -> None:
    done = mcpb_publish(github, dist, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["tag"] == "v0.1.0" and result["draft"] is False
    names = sorted(p.name for p in dist.iterdir())
    assert sorted(a["name"] for a in result["assets"]) == names
    assert {a["action"] for a in result["assets"]} == {"uploaded"}
    release = github.release(SLUG, "v0.1.0")
    assert release is not None and release.draft is False
    assets = stored(github, "v0.1.0")
    assert {n: hashlib.sha256(d).hexdigest() for n, d in assets.items()} == {
        n: sha256_file(dist / n) for n in names
    }
    doc = json.loads((dist / "server.json").read_text())
    assert assets["server.json"] == (dist / "server.json").read_bytes()
    for package in doc["packages"]:
        file_name = package["identifier"].rsplit("/", 1)[1]
        assert package["identifier"] == (
            f"https://github.com/{SLUG}/releases/download/v0.1.0/{file_name}"
        )
        assert package["fileSha256"] == sha256_file(dist / file_name)
    labels = {a.name: a.label for a in release.assets}
    assert labels["hello-python-v0.1.0-linux-arm64.mcpb"] == "linux/arm64"
    types = {a.name: a.content_type for a in release.assets}
    assert types["hello-python-v0.1.0-linux-amd64.mcpb"] == "application/zip"
    assert types["SHA256SUMS"] == "text/plain"


def test_re_running_skips_identical_assets(github: GitHubStandIn, dist: Path) -> None:
    assert mcpb_publish(github, dist).returncode == 0
    calls = len(github.calls)
    again = mcpb_publish(github, dist, "--json")
    assert again.returncode == 0, again.stderr
    assert {a["action"] for a in json.loads(again.stdout)["assets"]} == {"skipped (identical)"}
    assert not any(m in ("POST", "DELETE") for m, _ in github.calls[calls:])


def test_a_different_asset_is_refused_unless_replace(github: GitHubStandIn, dist: Path) -> None:
    assert mcpb_publish(github, dist).returncode == 0
    release = github.release(SLUG, "v0.1.0")
    assert release is not None
    tampered = next(a for a in release.assets if a.name == "SHA256SUMS")
    tampered.data = b"something else\n"
    refused = mcpb_publish(github, dist)
    assert refused.returncode == 1
    assert "release v0.1.0 already has a different SHA256SUMS: use --replace" in refused.stderr
    replaced = mcpb_publish(github, dist, "--replace", "--json")
    assert replaced.returncode == 0, replaced.stderr
    actions = {a["name"]: a["action"] for a in json.loads(replaced.stdout)["assets"]}
    assert actions["SHA256SUMS"] == "replaced"
    assert stored(github, "v0.1.0")["SHA256SUMS"] == (dist / "SHA256SUMS").read_bytes()


def test_an_immutable_release_is_never_changed(github: GitHubStandIn, dist: Path) -> None:
    github.repos[SLUG].immutable_releases = True
    assert mcpb_publish(github, dist).returncode == 0
    release = github.release(SLUG, "v0.1.0")
    assert release is not None and release.immutable
    assert mcpb_publish(github, dist).returncode == 0  # identical: fine
    (dist / "SHA256SUMS").write_text((dist / "SHA256SUMS").read_text() + "\n")
    refused = mcpb_publish(github, dist, "--replace")
    assert refused.returncode == 1
    assert "immutable" in refused.stderr and "new tag" in refused.stderr


def test_a_draft_stays_a_draft_and_a_later_run_completes_it(
    github: GitHubStandIn, dist: Path
) -> None:
    drafted = mcpb_publish(github, dist, "--draft")
    assert drafted.returncode == 0, drafted.stderr
    release = github.release(SLUG, "v0.1.0")
    assert release is not None and release.draft
    amd64 = next(a for a in release.assets if a.name.endswith("amd64.mcpb"))
    release.assets.remove(amd64)  # as if an earlier run stopped half-way
    finished = mcpb_publish(github, dist, "--json")
    assert finished.returncode == 0, finished.stderr
    actions = {a["name"]: a["action"] for a in json.loads(finished.stdout)["assets"]}
    assert actions[amd64.name] == "uploaded"
    assert list(actions.values()).count("skipped (identical)") == 3
    assert release.draft is False


def test_a_failed_upload_leaving_a_starter_asset_is_retried(
    github: GitHubStandIn, dist: Path
) -> None:
    github.faults.upload_502 = 2
    done = mcpb_publish(github, dist)
    assert done.returncode == 0, done.stderr
    release = github.release(SLUG, "v0.1.0")
    assert release is not None
    assert all(a.state == "uploaded" for a in release.assets)
    assert len(release.assets) == 4


def test_rate_limits_are_waited_out(github: GitHubStandIn, dist: Path) -> None:
    waits: list[float] = []
    github.faults.rate_limited = 2
    client = GitHubClient(SLUG, TOKEN, api_url=github.base, sleep=waits.append)
    with client:
        result = publish_release(PublishOptions(dist, SLUG), TOKEN, client=client)
    assert waits == [1.0, 1.0]  # the stand-in's retry-after
    assert result.draft is False


def test_dry_run_changes_nothing(github: GitHubStandIn, dist: Path) -> None:
    before = (dist / "server.json").read_bytes()
    done = mcpb_publish(github, dist, "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    assert {a["action"] for a in json.loads(done.stdout)["assets"]} == {"would upload"}
    assert github.release(SLUG, "v0.1.0") is None
    assert (dist / "server.json").read_bytes() == before


@pytest.mark.parametrize(
    ("token", "repo_exists", "code", "message"),
    [
        ("ghp_wrong", True, 1, "GitHub rejected the token (401)"),
        (READ_ONLY_TOKEN, True, 1, "contents: write"),
        (TOKEN, False, 1, f"repository {SLUG} not found, or the token cannot see it (404)"),
        (None, True, 2, "set GITHUB_TOKEN or GH_TOKEN"),
    ],
)
def test_refusals_are_one_line_errors(
    github: GitHubStandIn, dist: Path, token: str | None, repo_exists: bool, code: int, message: str
) -> None:
    if not repo_exists:
        del github.repos[SLUG]
    done = mcpb_publish(github, dist, token=token)
    assert done.returncode == code
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_a_dist_whose_files_do_not_match_their_sums_is_refused(
    github: GitHubStandIn, dist: Path
) -> None:
    bundle = next(dist.glob("*amd64.mcpb"))
    bundle.write_bytes(bundle.read_bytes() + b"\0")
    done = mcpb_publish(github, dist)
    assert done.returncode == 2
    assert "its SHA-256 does not match SHA256SUMS" in done.stderr
    assert github.calls == []


def mcpb(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mcpb_executable(), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_server_json_init_set_packages_validate(built: Path, tmp_path: Path) -> None:
    made = mcpb(
        "server-json", "init", str(REPO / "examples" / "hello-python"), "--repo", SLUG,
        "--runtime", "python:3.13", "--category", "developer-tools", "--tag", "greeting",
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    doc = json.loads((tmp_path / "server.json").read_text())
    assert doc["name"] == "io.github.acme/hello-python"
    assert doc["version"] == "0.1.0"
    assert "packages" not in doc
    nimble = doc["_meta"]["ai.nimbletools.mcp/v1"]
    assert nimble["runtime"] == "python:3.13"
    assert nimble["display"] == {"category": "developer-tools", "tags": ["greeting"]}
    assert nimble["registry"] == {"categories": ["developer-tools"], "tags": ["greeting"]}
    again = mcpb("server-json", "init", str(REPO / "examples" / "hello-python"), cwd=tmp_path)
    assert again.returncode == 2 and "use --force" in again.stderr
    base = f"https://github.com/{SLUG}/releases/download/v0.1.0"
    filled = mcpb("server-json", "set-packages", str(built), "--base-url", base, cwd=tmp_path)
    assert filled.returncode == 0, filled.stderr
    doc = json.loads((tmp_path / "server.json").read_text())
    sums = (built / "SHA256SUMS").read_text().split()
    assert [(p["identifier"].rsplit("/", 1)[1], p["fileSha256"]) for p in doc["packages"]] == [
        (sums[1], sums[0]),
        (sums[3], sums[2]),
    ]
    checked = mcpb("server-json", "validate", "--strict", "--dist", str(built), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "server.json: valid"


@pytest.mark.parametrize(
    ("change", "strict", "code", "message"),
    [
        ({"identifier": "http://github.com/acme/x-mcp/releases/download/v1/{file}"}, False, 1,
         "must be an https:// URL"),
        ({"identifier": "https://example.org/mcp/{file}"}, False, 0,
         "warning: packages.0.identifier"),
        ({"identifier": "https://example.org/mcp/{file}"}, True, 1,
         "error: packages.0.identifier"),
        ({"version": "latest"}, False, 1, "error: packages.0.version"),
        ({"registryBaseUrl": "https://github.com"}, False, 1, "must not set it"),
        ({"fileSha256": "0" * 64}, False, 1, "packages.0.fileSha256: does not match"),
    ],
)  # fmt: skip
def test_server_json_validate_applies_the_registry_rules(
    built: Path, tmp_path: Path, change: dict[str, str], strict: bool, code: int, message: str
) -> None:
    base = f"https://github.com/{SLUG}/releases/download/v0.1.0"
    project = str(REPO / "examples" / "hello-python")
    assert mcpb("server-json", "init", project, cwd=tmp_path).returncode == 0
    filled = mcpb("server-json", "set-packages", str(built), "--base-url", base, cwd=tmp_path)
    assert filled.returncode == 0
    path = tmp_path / "server.json"
    doc = json.loads(path.read_text())
    file_name = doc["packages"][0]["identifier"].rsplit("/", 1)[1]
    doc["packages"][0].update({k: v.format(file=file_name) for k, v in change.items()})
    path.write_text(json.dumps(doc))
    flags = ["--strict"] if strict else []
    checked = mcpb("server-json", "validate", *flags, "--dist", str(built), cwd=tmp_path)
    assert checked.returncode == code, checked.stderr
    assert message in checked.stderr


def test_the_published_server_json_passes_strict_validation(
    github: GitHubStandIn, dist: Path
) -> None:
    assert mcpb_publish(github, dist).returncode == 0
    checked = mcpb("server-json", "validate", "--strict", "--dist", str(dist), cwd=dist)
    assert checked.returncode == 0, checked.stderr


def test_422s_are_one_line_errors_with_githubs_field_and_code(
    github: GitHubStandIn, dist: Path
) -> None:
    bundle = next(dist.glob("*.mcpb"))
    with GitHubClient(SLUG, TOKEN, api_url=github.base) as client:
        release = client.create_draft("v9", "v9")
        with pytest.raises(GitHubError) as duplicate_tag:
            client.create_draft("v9", "v9")
        upload = str(release["upload_url"])
        client.upload(upload, bundle, bundle.name, "application/zip", "")
        with pytest.raises(GitHubError) as duplicate_asset:
            client.upload(upload, bundle, bundle.name, "application/zip", "")
    assert duplicate_tag.value.status == 422
    assert "(422: Validation Failed: tag_name already_exists)" in str(duplicate_tag.value)
    assert "(422: Validation Failed: name already_exists)" in str(duplicate_asset.value)
    assert "\n" not in str(duplicate_asset.value)
