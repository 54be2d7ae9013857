"""``mcpb unpack BUNDLE [DIR]``: safe extraction into a new (or empty) directory."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import click

from mcpb.bundle.errors import ArchiveError, UsageError
from mcpb.bundle.extract import ExtractResult, safe_extract
from mcpb.bundle.signature import verify_bundle


@click.command("unpack")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option(
    "--ignore-signature", is_flag=True, help="Extract even if a signature block does not verify."
)
def unpack(bundle: Path, directory: Path | None, ignore_signature: bool) -> None:
    """Extract BUNDLE into DIRECTORY (default: the bundle's name without .mcpb, here).

    DIRECTORY must not exist or be empty. Paths escaping the directory, links, devices,
    duplicates and zip bombs are refused; exec bits are restored; the bundle's per-file SHA256
    record is checked when present; a signed bundle must verify. On any error nothing is left.
    """
    dest = directory if directory is not None else Path(bundle.stem)
    if directory is None and bundle.suffix == "":  # "foo" would name the bundle itself
        dest = Path(bundle.name + ".unpacked")
    dest = Path(os.path.normpath(dest.absolute()))  # "." and ".." name real directories now
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise UsageError(f"{dest}: exists and is not a directory")
    was_empty_dir = dest.is_dir()
    if was_empty_dir and any(dest.iterdir()):
        raise UsageError(f"{dest}: directory is not empty")
    if not ignore_signature:
        verify_bundle(bundle)  # raises SignatureError if a block is present but wrong
    extract = _extract_into_empty if was_empty_dir else safe_extract
    result = extract(bundle, dest)
    checked = "SHA256 record verified" if result.verified else "no SHA256 record"
    click.echo(f"unpacked {bundle} -> {dest} ({result.file_count} files, {checked})")


def _extract_into_empty(bundle: Path, dest: Path) -> ExtractResult:
    """Extract into an existing empty directory (the current one, say), all or nothing.

    The tree is extracted into a hidden directory inside ``dest``, then its entries are moved
    up one by one (renames within one file system); on any failure what was moved goes back
    and ``dest`` is left empty, as it was.
    """
    staging = dest / f".mcpb-unpack-{secrets.token_hex(6)}"
    result = safe_extract(bundle, staging)
    moved: list[str] = []
    try:
        for child in sorted(staging.iterdir()):
            child.rename(dest / child.name)
            moved.append(child.name)
    except OSError as err:
        for name in moved:
            (dest / name).rename(staging / name)
        raise ArchiveError(f"{bundle}: extract to {dest} failed ({err.strerror or err})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result
