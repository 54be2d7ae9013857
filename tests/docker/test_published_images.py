"""The seven published servers of issue 14 in their base images: each bundle (built once per
session by ``mcpb build``, see ``tests/support/published.py``) is served to a container of the
image its runtime names, configured through ``MCPB_USER_CONFIG_<KEY>``, and answers a real tool
call from the official SDK client. Containers use the host network: everything stays on
loopback (the fetch server's page included)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpb.bundle.digest import sha256_file
from mcpb.bundle.extract import open_bundle
from mcpb.bundle.placeholders import env_var_name
from mcpb.bundler.image import engine
from tests.support.mcp_calls import list_and_call
from tests.support.published import CASES, PageServer, Published, PublishedBundles

pytestmark = [pytest.mark.docker, pytest.mark.slow]
IMAGE_USER = 10001


def _own(tree: Path, uid: int) -> None:
    """The container's user must own what the server writes (and git insists on it)."""
    for path in [tree, *tree.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_called_through_its_base_image(
    case: Published,
    published: PublishedBundles,
    page_server: PageServer,
    images,
    bundle_server,
    run_container,
    tmp_path: Path,
) -> None:
    bundle = published.get(case).amd64
    with open_bundle(bundle) as opened:
        assert opened.meta is not None and opened.meta.runtime is not None
        runtime = opened.meta.runtime
    image = images.get(runtime, apt_packages=case.apt_packages)
    data = tmp_path / "data"
    data.mkdir()
    values = case.config(data)
    arguments = case.arguments(data, page_server.url)
    _own(data, IMAGE_USER)
    env = {env_var_name(key): value for key, value in values.items()}
    container = run_container(
        image.refs[0],
        bundle_server.url(bundle),
        sha256_file(bundle),
        env=env,
        volumes=((str(data), str(data), False),),
        read_only=True,
        tmpfs=("/tmp",),
    )
    container.wait_ready()
    tools, text = list_and_call(f"{container.base}/mcp", case.tool, arguments)
    assert case.tool in tools
    assert case.expect in text, text
    if case.writes is not None:
        assert case.written in case.writes(data).read_text()
    engine.stop(container.cid)
    assert container.state()["ExitCode"] == 0
