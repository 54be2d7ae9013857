"""``mcpb pack``: file selection (.mcpbignore, default excludes, vendored folders, symlinks),
validation before writing, output naming, reproducibility, and the summary it prints."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mcpb.bundle.errors import ArchiveError
from mcpb.bundle.meta import META_KEY
from mcpb.bundler.cli import main
from mcpb.bundler.collect import collect_files
from mcpb.bundler.ignore import DEFAULT_EXCLUDES, build_rules, vendored_roots
from mcpb.bundler.naming import bundle_file_name
from mcpb.bundler.summary import human_size

MCPB = [sys.executable, "-c", "from mcpb.bundler.cli import main; main(prog_name='mcpb')"]


def manifest(**server: Any) -> dict[str, Any]:
    config = server.pop("mcp_config", None) or {
        "command": "python3",
        "args": ["${__dirname}/server/main.py"],
        "env": {"PYTHONPATH": "${__dirname}/server/lib"},
    }
    return {
        "manifest_version": "0.3",
        "name": "demo-server",
        "version": "1.2.3",
        "description": "a test server",
        "author": {"name": "Test Author"},
        "server": {"type": "python", "entry_point": "server/main.py", "mcp_config": config}
        | server,
    }


def write(root: Path, files: Mapping[str, bytes | str]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)


def project(root: Path, files: Mapping[str, bytes | str] | None = None, **server: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(manifest(**server), indent=2))
    write(root, {"server/main.py": "print('hi')\n", **(files or {})})
    return root


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def names_in(bundle: Path) -> list[str]:
    with zipfile.ZipFile(bundle) as zf:
        return [i.filename for i in zf.infolist()]


def unpacked_size(bundle: Path) -> int:
    with zipfile.ZipFile(bundle) as zf:
        return sum(i.file_size for i in zf.infolist())


def collected(root: Path) -> list[str]:
    data = json.loads((root / "manifest.json").read_text())
    return collect_files(root, data).names


# --- what gets packed -----------------------------------------------------------------------


def test_default_excludes_apply_to_project_files_only(tmp_path: Path) -> None:
    vendored: dict[str, bytes | str] = {
        "server/lib/pkg/__init__.py": "",
        "server/lib/pkg/.env.example": "KEY=1\n",
        "server/lib/pkg/fixtures/run.log": "log data\n",
        "server/lib/pkg/__pycache__/mod.cpython-311.pyc": b"\x00",
        "server/lib/pkg/.git/HEAD": "ref\n",
        "node_modules/left-pad/.env": "X=1\n",
        "node_modules/left-pad/index.js": "module.exports = 1\n",
        "node_modules/left-pad/debug.log": "x\n",
        "node_modules/.cache/big": "cache\n",
        "node_modules/.bin/left-pad": "#!/bin/sh\n",
    }
    own: dict[str, bytes | str] = {
        ".env": "SECRET=1\n",
        ".env.local": "SECRET=2\n",
        "debug.log": "x\n",
        "server/__pycache__/main.cpython-311.pyc": b"\x00",
        "server/util.pyc": b"\x00",
        ".git/HEAD": "ref\n",
        ".venv/bin/python": "x",
        ".DS_Store": b"\x00",
        "old.mcpb": b"PK",
        ".gitignore": "*.pyc\n",
        "server/data/.hypothesis/x": "x",
        "vendor-sub/.git": "gitdir: ../.git/modules/vendor-sub\n",  # a submodule's .git file
        "vendor-sub/code.py": "x",
    }
    root = project(tmp_path / "p", {**vendored, **own, "README.md": "# readme\n"})
    names = collected(root)
    assert names == sorted(
        [
            "README.md",
            "node_modules/left-pad/.env",
            "node_modules/left-pad/debug.log",
            "node_modules/left-pad/index.js",
            "server/lib/pkg/.env.example",
            "server/lib/pkg/.git/HEAD",
            "server/lib/pkg/__init__.py",
            "server/lib/pkg/__pycache__/mod.cpython-311.pyc",
            "server/lib/pkg/fixtures/run.log",
            "server/main.py",
            "vendor-sub/code.py",
        ]
    )


def test_vendored_roots_come_from_pythonpath_node_path_and_venv_command() -> None:
    data = manifest(
        mcp_config={
            "command": "${__dirname}/deps/venv/bin/python3",
            "args": ["${__dirname}/server/main.py"],
            "env": {
                "PYTHONPATH": "${__dirname}/vendor:${__dirname}/server:${__dirname}",
                "NODE_PATH": "${__dirname}${/}js${/}modules",
            },
            "platform_overrides": {"win32": {"env": {"PYTHONPATH": "${__dirname}/winlib"}}},
        }
    )
    roots = vendored_roots(data)
    # server/ holds the entry point and the root is the project itself: neither is vendored
    assert roots == {"server/lib", "server/venv", "vendor", "js/modules", "winlib", "deps/venv"}


def test_pythonpath_folder_outside_server_lib_is_vendored(tmp_path: Path) -> None:
    config = {
        "command": "python3",
        "args": ["${__dirname}/server/main.py"],
        "env": {"PYTHONPATH": "${__dirname}/deps"},
    }
    root = project(
        tmp_path / "p",
        {"deps/pkg/.env.defaults": "A=1\n", "deps/pkg/mod.py": "", ".env.defaults": "B=2\n"},
        mcp_config=config,
    )
    assert collected(root) == ["deps/pkg/.env.defaults", "deps/pkg/mod.py", "server/main.py"]


def test_mcpbignore_negation_anchoring_and_directories(tmp_path: Path) -> None:
    files = {
        ".mcpbignore": "\n".join(
            [
                "# comment lines and blanks are ignored",
                "",
                "*.md",
                "!KEEP.md",
                "/docs/",
                "build/",
                "/tests",
                "!.env.example",
                "server/lib/pkg/tests/",
                "",
            ]
        ),
        "README.md": "x",
        "KEEP.md": "x",
        "server/NOTES.md": "x",
        "docs/index.html": "x",
        "server/docs/help.txt": "x",  # /docs/ is anchored: this one stays
        "build/out.js": "x",
        "server/build/out.js": "x",  # unanchored directory pattern: excluded at any depth
        "build.txt": "x",  # "build/" matches directories only
        "tests/test_a.py": "x",
        "server/tests/test_b.py": "x",  # /tests anchored
        ".env.example": "A=1\n",  # negation takes back a default exclude
        ".env": "A=2\n",
        "server/lib/pkg/tests/t.py": "x",  # user patterns apply inside vendored folders too
        "server/lib/pkg/README.md": "x",  # ... so an unanchored *.md reaches into them
        "server/lib/pkg/mod.py": "x",
    }
    root = project(tmp_path / "p", files)
    assert collected(root) == [
        ".env.example",
        "KEEP.md",
        "build.txt",
        "server/docs/help.txt",
        "server/lib/pkg/mod.py",
        "server/main.py",
        "server/tests/test_b.py",
    ]


def test_negation_cannot_reinclude_inside_an_excluded_directory(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p", {".mcpbignore": "/data/\n!/data/keep.txt\n", "data/keep.txt": "x"}
    )
    assert collected(root) == ["server/main.py"]
    # excluding the directory's contents instead of the directory allows it, as in git
    (root / ".mcpbignore").write_text("/data/*\n!/data/keep.txt\n")
    assert collected(root) == ["data/keep.txt", "server/main.py"]


def test_collection_reports_excluded_paths_and_skips_root_manifest(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {".git/config": "x", "a.log": "x", "sub/manifest.json": "{}"})
    data = json.loads((root / "manifest.json").read_text())
    result = collect_files(root, data)
    assert result.names == ["server/main.py", "sub/manifest.json"]
    assert result.excluded == (".git/", "a.log")
    assert result.total_size == len("print('hi')\n") + 2


def test_exec_bits_are_kept(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"bin/run.sh": "#!/bin/sh\necho hi\n"})
    (root / "bin/run.sh").chmod(0o750)
    out = tmp_path / "o.mcpb"
    assert run("pack", root, out).exit_code == 0
    with zipfile.ZipFile(out) as zf:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
    assert modes["bin/run.sh"] == 0o755
    assert modes["server/main.py"] == 0o644


def test_symlink_outside_the_project_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    root = project(tmp_path / "p")
    (root / "server" / "creds").symlink_to(secret)
    out = tmp_path / "o.mcpb"
    result = run("pack", root, out)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"mcpb: error: cannot pack server/creds: symlink points outside the project -> {secret}"
        " (exclude it in .mcpbignore if the bundle does not need it)"
    )
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p", "secret.txt"]


def test_symlinked_directory_outside_is_an_error_but_ignored_links_are_fine(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    root = project(tmp_path / "p")
    (root / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ArchiveError, match=r"^cannot pack linked: symlink points outside"):
        collected(root)
    (root / ".mcpbignore").write_text("/linked\n")
    assert collected(root) == ["server/main.py"]


def test_symlinks_inside_are_stored_as_regular_files(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"server/real/data.txt": "payload\n"})
    (root / "server" / "alias.txt").symlink_to("real/data.txt")
    (root / "server" / "dirlink").symlink_to("real", target_is_directory=True)
    out = tmp_path / "o.mcpb"
    assert run("pack", root, out).exit_code == 0
    with zipfile.ZipFile(out) as zf:
        assert zf.read("server/alias.txt") == b"payload\n"
        assert zf.read("server/dirlink/data.txt") == b"payload\n"
        for info in zf.infolist():
            assert (info.external_attr >> 16) & 0o170000 == 0o100000  # S_IFREG, never a link


def test_symlink_loop_and_dangling_link_are_errors(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    (root / "server" / "loop").symlink_to("..", target_is_directory=True)
    with pytest.raises(ArchiveError, match=r"^cannot pack server/loop: symlink loops back"):
        collected(root)
    (root / "server" / "loop").unlink()
    (root / "server" / "gone").symlink_to("nowhere.txt")
    with pytest.raises(ArchiveError, match=r"^cannot pack server/gone: dangling symlink"):
        collected(root)


def test_fifo_is_an_error_unless_ignored(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    os.mkfifo(root / "server" / "pipe")
    with pytest.raises(ArchiveError, match=r"^cannot pack server/pipe: a special file"):
        collected(root)
    (root / ".mcpbignore").write_text("pipe\n")
    assert collected(root) == ["server/main.py"]


def test_build_rules_reads_the_ignore_file_once_with_defaults_first(tmp_path: Path) -> None:
    (tmp_path / ".mcpbignore").write_text("!*.log\n")
    rules = build_rules(tmp_path, None)
    assert not rules.excludes("debug.log", is_dir=False)  # the user's negation wins
    assert rules.excludes("__pycache__", is_dir=True)
    assert not rules.excludes("server/lib/x/__pycache__", is_dir=True)
    assert rules.user_patterns == ("!*.log",)
    assert "*.log" in DEFAULT_EXCLUDES


# --- the command ----------------------------------------------------------------------------


def test_pack_default_output_name_summary_and_bundle_contents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path / "p", {"debug.log": "x"})
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run("pack", root)
    assert result.exit_code == 0, result.output
    out = work / "demo-server-v1.2.3.mcpb"
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    lines = result.stdout.splitlines()
    assert lines[0] == "packed demo-server 1.2.3 -> demo-server-v1.2.3.mcpb"
    size, packed = human_size(unpacked_size(out)), human_size(out.stat().st_size)
    assert lines[1] == f"  files: 2 ({size} unpacked, {packed} packed)"  # manifest included
    assert lines[2] == "  excluded: debug.log"
    assert lines[3] == f"  sha256: {digest}"
    assert names_in(out) == ["server/main.py", "manifest.json"]
    with zipfile.ZipFile(out) as zf:
        stored = json.loads(zf.read("manifest.json"))
    record = stored["_meta"][META_KEY]["files"]
    assert record == {"server/main.py": hashlib.sha256(b"print('hi')\n").hexdigest()}
    # warnings go to stderr: server/lib (PYTHONPATH) is not there yet
    assert "server/lib: does not exist" in result.stderr


def test_pack_json_output(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {".env": "S=1\n"})
    out = tmp_path / "dist"
    result = run("pack", root, f"{out}/", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    path = out / "demo-server-v1.2.3.mcpb"
    assert data == {
        "path": str(path),
        "name": "demo-server",
        "version": "1.2.3",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "file_count": 2,
        "uncompressed_size": unpacked_size(path),
        "compressed_size": path.stat().st_size,
        "excluded": [".env"],
        "warnings": [
            {
                "path": "server.mcp_config.env.PYTHONPATH",
                "message": "server/lib: does not exist"
                " (dependencies are vendored there by `mcpb build`)",
            }
        ],
    }


def test_pack_into_existing_directory_and_explicit_file(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    (tmp_path / "d").mkdir()
    assert run("pack", root, tmp_path / "d").exit_code == 0
    assert (tmp_path / "d" / "demo-server-v1.2.3.mcpb").is_file()
    assert run("pack", root, tmp_path / "x" / "custom.zip").exit_code == 0
    assert zipfile.is_zipfile(tmp_path / "x" / "custom.zip")


def test_output_inside_the_project_is_not_packed_into_itself(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    out = root / "release.zip"
    assert run("pack", root, out).exit_code == 0
    assert run("pack", root, out).exit_code == 0  # second run: release.zip exists now
    assert names_in(out) == ["server/main.py", "manifest.json"]


def test_bundle_file_names_are_safe() -> None:
    assert bundle_file_name("@org/My Server", "v2.0.0") == "org-My-Server-v2.0.0.mcpb"
    assert bundle_file_name("../..", "1") == "bundle-v1.mcpb"


def test_missing_manifest_fails_without_prompting(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    write(root, {"server/main.py": "x"})
    proc = subprocess.run(
        [*MCPB, "pack", str(root), str(tmp_path / "o.mcpb")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"mcpb: error: {root}/manifest.json: <root>: not found "
        f"(create one with `mcpb init {root}`)\n"
    )
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_invalid_manifest_lists_every_error_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    bad = manifest()
    del bad["author"]
    bad["version"] = 3
    bad["unknown_key"] = True
    (root / "manifest.json").write_text(json.dumps(bad))
    result = run("pack", root, tmp_path / "o.mcpb")
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert message.startswith(f"mcpb: error: {root}/manifest.json: 3 errors: ")
    for path in ("author", "version", "unknown_key"):
        assert f"{path}: " in message
    assert "\n" not in message
    assert not (tmp_path / "o.mcpb").exists()


def test_entry_point_missing_or_excluded_fails(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    (root / ".mcpbignore").write_text("/server/main.py\n")
    result = run("pack", root, tmp_path / "o.mcpb")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"mcpb: error: {root}/manifest.json: server.entry_point: server/main.py: "
        "excluded from the bundle by .mcpbignore or a default exclude"
    )
    (root / ".mcpbignore").unlink()
    (root / "server" / "main.py").unlink()
    result = run("pack", root, tmp_path / "o.mcpb")
    assert result.exit_code == 1
    assert "server.entry_point: server/main.py: no such file in the project" in result.stderr
    assert not (tmp_path / "o.mcpb").exists()


# --- reproducibility ------------------------------------------------------------------------


def test_same_tree_in_two_directories_gives_identical_bytes(tmp_path: Path) -> None:
    files: dict[str, bytes | str] = {
        "server/lib/pkg/mod.py": "x = 1\n" * 200,
        "server/b.txt": os.urandom(3000),
        "data/a.json": "{}\n",
    }
    one = project(tmp_path / "one", files)
    # the second copy is created in another order, with other mtimes, umask and dir name
    old = os.umask(0o077)
    try:
        two = project(tmp_path / "two-other-name", dict(reversed(list(files.items()))))
    finally:
        os.umask(old)
    os.utime(two / "server" / "b.txt", (1, 1))
    a, b = tmp_path / "a.mcpb", tmp_path / "b.mcpb"
    assert run("pack", one, a).exit_code == 0
    assert run("pack", two, b).exit_code == 0
    assert a.read_bytes() == b.read_bytes()


def test_source_date_epoch_sets_every_timestamp(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    outs = []
    for name in ("a.mcpb", "b.mcpb"):
        proc = subprocess.run(
            [*MCPB, "pack", str(root), str(tmp_path / name)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "sha256: " in proc.stdout
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    with zipfile.ZipFile(tmp_path / "a.mcpb") as zf:
        stamps = {i.date_time for i in zf.infolist()}
    assert stamps == {(2023, 11, 14, 22, 13, 20)}


def test_invalid_ignore_pattern_names_its_line(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {".mcpbignore": "# fine\n/docs/\n!\n"})
    result = run("pack", root, tmp_path / "o.mcpb")
    assert result.exit_code == 2
    assert result.stderr == f"mcpb: error: {root}/.mcpbignore:3: invalid pattern '!'\n"
    assert not (tmp_path / "o.mcpb").exists()


def test_a_failed_write_leaves_no_output_directory(tmp_path: Path) -> None:
    """The writer refuses a member name (a backslash) mid-way: no bundle, no new directories."""
    root = project(tmp_path / "p", {"server/odd\\name.txt": "x"})
    result = run("pack", root, f"{tmp_path}/new/deeper/")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"mcpb: error: {tmp_path}/new/deeper/demo-server-v1.2.3.mcpb:")
    assert "'server/odd\\\\name.txt': backslash in name" in result.stderr
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("version", ["0.1", "0.2", "0.3"])
def test_the_authors_manifest_bytes_are_kept_when_nothing_is_added(
    tmp_path: Path, version: str
) -> None:
    root = project(tmp_path / "src")
    data = manifest()
    data["manifest_version"] = version
    # the author's own formatting: compact, a key order of their own, no final newline
    author = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    (root / "manifest.json").write_bytes(author)
    out = tmp_path / "out.mcpb"
    result = CliRunner().invoke(main, ["pack", str(root), str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as bundle:
        stored = bundle.read("manifest.json")
    if version == "0.3":  # our record goes inside: the manifest is rewritten, author data kept
        assert stored != author
        rewritten = json.loads(stored)
        assert META_KEY in rewritten["_meta"]
        assert {k: v for k, v in rewritten.items() if k != "_meta"} == data
    else:  # our record goes to the sidecar: the author's bytes, unchanged
        assert stored == author
