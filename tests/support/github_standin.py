"""A stand-in for the GitHub REST API's releases endpoints, written for the tests.

GitHub cannot be reached from here, so ``mcpb publish`` is tested against this ASGI app served
on loopback. It follows the documented API (``../shared/reference/publishing.md`` §1–4) as
closely as the tests need: JSON shapes, status codes, the separate upload URL (served under
``/uploads`` of the same origin), published releases invisible to ``/releases/tags/{tag}``
while drafts are listed only to a token with push access, 422 ``already_exists`` on a duplicate
asset name, immutable published releases, asset digests. Faults are scripted per test: a 502
that leaves a ``starter`` asset, a secondary rate limit (403 with ``retry-after``), a read-only
token (403 "Resource not accessible by integration").
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from mcpb.mcphttp.asgi import read_body
from mcpb.mcphttp.serve import bind_socket, run, serve_app

TOKEN = "ghp_standin_write"
READ_ONLY_TOKEN = "ghp_standin_read"


@dataclass
class Asset:
    id: int
    name: str
    label: str
    content_type: str
    data: bytes
    state: str = "uploaded"

    def view(self, base: str, owner: str, repo: str, tag: str) -> dict[str, Any]:
        digest = (
            f"sha256:{hashlib.sha256(self.data).hexdigest()}" if self.state == "uploaded" else None
        )
        return {
            "id": self.id,
            "url": f"{base}/repos/{owner}/{repo}/releases/assets/{self.id}",
            "name": self.name,
            "label": self.label,
            "state": self.state,
            "content_type": self.content_type,
            "size": len(self.data),
            "digest": digest,
            "browser_download_url": f"https://github.com/{owner}/{repo}/releases/download/{tag}/{self.name}",
        }


@dataclass
class Release:
    id: int
    tag_name: str
    name: str
    draft: bool
    prerelease: bool
    immutable: bool
    assets: list[Asset] = field(default_factory=list)


@dataclass
class Repository:
    owner: str
    name: str
    immutable_releases: bool = False
    releases: list[Release] = field(default_factory=list)


@dataclass
class Faults:
    """Scripted failures: the next N uploads answer 502 (leaving a starter asset), the next N
    API calls answer a secondary rate limit."""

    upload_502: int = 0
    rate_limited: int = 0


class GitHubStandIn:
    """The ASGI app. ``repos`` holds the repositories that exist."""

    def __init__(self) -> None:
        self.repos: dict[str, Repository] = {}
        self.faults = Faults()
        self.calls: list[tuple[str, str]] = []
        self.base = ""
        self._ids = itertools.count(1)

    def add_repo(self, full_name: str, *, immutable: bool = False) -> Repository:
        owner, name = full_name.split("/")
        repo = Repository(owner, name, immutable)
        self.repos[full_name] = repo
        return repo

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive, 1 << 30)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        self.calls.append((scope["method"], scope["path"]))
        status, payload, extra = self.handle(scope["method"], scope["path"], query, headers, body)
        data = b"" if payload is None else json.dumps(payload).encode()
        response_headers = [(b"content-type", b"application/json; charset=utf-8")]
        response_headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": data})

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token not in (TOKEN, READ_ONLY_TOKEN):
            return 401, {"message": "Bad credentials", "status": "401"}, {}
        if self.faults.rate_limited > 0:
            self.faults.rate_limited -= 1
            text = "You have exceeded a secondary rate limit. Please wait a few minutes."
            return 403, {"message": text}, {"retry-after": "1"}
        uploading = path.startswith("/uploads/")
        route = path.removeprefix("/uploads")
        match = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", route)
        if match is None:
            return 404, {"message": "Not Found"}, {}
        repo = self.repos.get(f"{match[1]}/{match[2]}")
        if repo is None:
            return 404, {"message": "Not Found"}, {}
        rest = match[3] or ""
        writes = method in ("POST", "PATCH", "DELETE")
        if writes and token == READ_ONLY_TOKEN:
            return 403, {"message": "Resource not accessible by integration"}, {}
        if method == "GET" and rest == "":
            html = f"https://github.com/{repo.owner}/{repo.name}"
            return 200, {"full_name": f"{repo.owner}/{repo.name}", "html_url": html}, {}
        if method == "GET" and rest == "/releases":
            page, per_page = int(query.get("page", "1")), int(query.get("per_page", "30"))
            listed = [self.release_view(repo, r) for r in reversed(repo.releases)]
            return 200, listed[(page - 1) * per_page : page * per_page], {}
        if method == "POST" and rest == "/releases":
            return self.create_release(repo, json.loads(body or b"{}"))
        tagged = re.match(r"^/releases/tags/([^/]+)$", rest)
        if method == "GET" and tagged:
            for release in repo.releases:
                if release.tag_name == tagged[1] and not release.draft:
                    return 200, self.release_view(repo, release), {}
            return 404, {"message": "Not Found"}, {}
        one = re.match(r"^/releases/(\d+)(/assets)?$", rest)
        if one:
            chosen = next((r for r in repo.releases if r.id == int(one[1])), None)
            if chosen is None:
                return 404, {"message": "Not Found"}, {}
            release = chosen
            if one[2] and method == "GET":
                view = self.release_view(repo, release)
                return 200, view["assets"], {}
            if one[2] and method == "POST" and uploading:
                return self.upload(repo, release, query, headers, body)
            if not one[2] and method == "PATCH":
                changes = json.loads(body or b"{}")
                if changes.get("draft") is False and release.draft:
                    release.draft = False
                    release.immutable = repo.immutable_releases
                return 200, self.release_view(repo, release), {}
        asset_path = re.match(r"^/releases/assets/(\d+)$", rest)
        if asset_path and method == "DELETE":
            for release in repo.releases:
                for asset in release.assets:
                    if asset.id == int(asset_path[1]):
                        if release.immutable:
                            return (
                                422,
                                {"message": "Cannot delete assets of an immutable release."},
                                {},
                            )
                        release.assets.remove(asset)
                        return 204, None, {}
            return 404, {"message": "Not Found"}, {}
        return 404, {"message": "Not Found"}, {}

    def create_release(
        self, repo: Repository, data: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        tag = data.get("tag_name")
        if not isinstance(tag, str) or not tag:
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"field": "tag_name", "code": "missing_field"}],
                },
                {},
            )
        if any(r.tag_name == tag for r in repo.releases):
            errors = [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]
            return 422, {"message": "Validation Failed", "errors": errors}, {}
        release = Release(
            next(self._ids), tag, str(data.get("name") or tag), bool(data.get("draft")),
            bool(data.get("prerelease")), False,
        )  # fmt: skip
        if not release.draft:
            release.immutable = repo.immutable_releases
        repo.releases.append(release)
        return 201, self.release_view(repo, release), {}

    def upload(
        self,
        repo: Repository,
        release: Release,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        if release.immutable:
            return 422, {"message": "Cannot upload assets to an immutable release."}, {}
        name = query.get("name", "")
        if not name or "content-type" not in headers:
            return 422, {"message": "Validation Failed"}, {}
        if any(a.name == name for a in release.assets):
            errors = [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]
            return 422, {"message": "Validation Failed", "errors": errors}, {}
        asset = Asset(next(self._ids), name, query.get("label", ""), headers["content-type"], body)
        release.assets.append(asset)
        if self.faults.upload_502 > 0:
            self.faults.upload_502 -= 1
            asset.state, asset.data = "starter", b""
            return 502, {"message": "Bad Gateway"}, {}
        return 201, asset.view(self.base, repo.owner, repo.name, release.tag_name), {}

    def release_view(self, repo: Repository, release: Release) -> dict[str, Any]:
        base = self.base
        where = f"{repo.owner}/{repo.name}/releases/{release.id}"
        upload = f"{base}/uploads/repos/{where}/assets{{?name,label}}"
        return {
            "id": release.id,
            "tag_name": release.tag_name,
            "name": release.name,
            "draft": release.draft,
            "prerelease": release.prerelease,
            "immutable": release.immutable,
            "html_url": f"https://github.com/{repo.owner}/{repo.name}/releases/tag/{release.tag_name}",
            "upload_url": upload,
            "assets": [
                a.view(base, repo.owner, repo.name, release.tag_name) for a in release.assets
            ],
        }

    def release(self, full_name: str, tag: str) -> Release | None:
        return next((r for r in self.repos[full_name].releases if r.tag_name == tag), None)


@contextmanager
def github_standin() -> Iterator[GitHubStandIn]:
    """The stand-in served on a loopback port (in a thread) for the duration."""
    app = GitHubStandIn()
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    app.base = f"http://127.0.0.1:{port}"
    started = threading.Event()
    stop: list[Any] = []

    async def main() -> None:
        import asyncio

        task = asyncio.ensure_future(
            serve_app(app, "127.0.0.1", port, ready=started.set)  # type: ignore[arg-type]
        )
        stop.append((asyncio.get_running_loop(), task))
        with contextlib.suppress(asyncio.CancelledError):
            await task

    thread = threading.Thread(target=run, args=(main(),), daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the GitHub stand-in did not start")
    try:
        yield app
    finally:
        loop, task = stop[0]
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)
