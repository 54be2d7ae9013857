"""GroupProcess spawns like asyncio.create_subprocess_exec: streams not named are inherited."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from mcpb.loader.process_group import GroupProcess

#: Far more than a pipe holds (64 KiB): a child whose stdout were an unread pipe would block.
LOUD = "import sys; sys.stdout.write('x' * 262144); sys.stdout.flush(); print('done')"


def test_unnamed_streams_are_inherited_not_piped(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    async def scenario() -> int:
        child = GroupProcess([sys.executable, "-c", LOUD], {}, tmp_path, "loud")
        proc = await child.start(stdin=asyncio.subprocess.DEVNULL)
        assert proc.stdout is None and proc.stderr is None
        return await asyncio.wait_for(child.wait(), 20)

    assert asyncio.run(scenario()) == 0
    out = capfd.readouterr().out
    assert out.count("x") == 262144
    assert out.endswith("done\n")


def test_named_pipes_are_read_with_the_limit(tmp_path: Path) -> None:
    async def scenario() -> tuple[bytes, int]:
        child = GroupProcess([sys.executable, "-c", "print('y' * 100)"], {}, tmp_path, "pipe")
        proc = await child.start(stdout=asyncio.subprocess.PIPE, limit=50)
        assert proc.stdout is not None
        with pytest.raises(ValueError):  # a line over the limit, as asyncio's reader says
            await proc.stdout.readline()
        return await proc.stdout.read(), await child.wait()

    rest, code = asyncio.run(scenario())
    assert code == 0
    assert len(rest) <= 101
