"""``mcpb unpack BUNDLE [DIR]``: safe extraction into a new (or empty) directory."""

from __future__ import annotations

from pathlib import Path

import click

from mcpb.bundle.errors import UsageError
from mcpb.bundle.extract import safe_extract
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
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise UsageError(f"{dest}: exists and is not a directory")
    was_empty_dir = dest.is_dir()
    if was_empty_dir and any(dest.iterdir()):
        raise UsageError(f"{dest}: directory is not empty")
    if not ignore_signature:
        verify_bundle(bundle)  # raises SignatureError if a block is present but wrong
    if was_empty_dir:
        dest.rmdir()  # safe_extract renames a complete tree into place
    try:
        result = safe_extract(bundle, dest)
    except BaseException:
        if was_empty_dir and not dest.exists():
            dest.mkdir()  # give back the empty directory the user named
        raise
    checked = "SHA256 record verified" if result.verified else "no SHA256 record"
    click.echo(f"unpacked {bundle} -> {dest} ({result.file_count} files, {checked})")
