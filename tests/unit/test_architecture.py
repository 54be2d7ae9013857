"""The layers hold: import-linter checks the contracts in pyproject.toml against the code.

The contracts (docs/architecture.md): the format imports no runtime, the transport core
imports neither the loader nor the bundler, only the CLI imports click, the aggregator may use
only the core and the format, and no two sibling modules import each other in a cycle
(``TYPE_CHECKING`` imports included).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None, "import-linter is a dev dependency: uv sync"
    return subprocess.run(
        [exe, "--no-cache", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_import_contracts_are_kept() -> None:
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    assert done.stdout.count(" KEPT") == 4


def test_a_broken_layer_is_reported(tmp_path: Path) -> None:
    """The check can fail: a configuration whose layers are upside down is broken."""
    config = tmp_path / "inverted.toml"
    config.write_text(
        "[tool.importlinter]\n"
        'root_packages = ["mcpb.bundle", "mcpb.mcphttp"]\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "inverted"\n'
        'type = "layers"\n'
        'layers = ["mcpb.bundle", "mcpb.mcphttp"]\n'
    )
    done = lint_imports("--config", str(config))
    assert done.returncode == 1
    assert "inverted BROKEN" in done.stdout
    assert "mcpb.mcphttp" in done.stdout
