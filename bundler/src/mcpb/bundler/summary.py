"""``mcpb info``: what a bundle is, in one typed object that renders as text or JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mcpb.bundle.digest import sha256_file
from mcpb.bundle.errors import SignatureError
from mcpb.bundle.extract import open_bundle
from mcpb.bundle.signature import SignatureInfo, verify_bundle


@dataclass(frozen=True)
class SignatureSummary:
    """The signature state: ``unsigned``, ``self-signed``, ``signed`` or ``invalid``."""

    status: str
    subject: str | None = None
    issuer: str | None = None
    fingerprint: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    error: str | None = None

    @classmethod
    def from_info(cls, info: SignatureInfo) -> SignatureSummary:
        return cls(
            status=info.status,
            subject=info.subject,
            issuer=info.issuer,
            fingerprint=info.fingerprint,
            valid_from=info.valid_from.isoformat() if info.valid_from else None,
            valid_to=info.valid_to.isoformat() if info.valid_to else None,
        )


@dataclass(frozen=True)
class BundleSummary:
    """Everything ``mcpb info`` reports about one bundle file."""

    path: str
    sha256: str
    size: int
    name: str | None
    display_name: str | None
    version: str | None
    description: str | None
    author: str | None
    manifest_version: str | None
    server_type: str | None
    entry_point: str | None
    command: str | None
    platform: str | None
    runtime: str | None
    python: str | None
    file_count: int
    uncompressed_size: int
    record_files: int | None
    tools: tuple[str, ...]
    user_config: tuple[str, ...]
    dependencies: dict[str, str]
    signature: SignatureSummary

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tools"] = list(self.tools)
        data["user_config"] = list(self.user_config)
        return data


def summarize_bundle(path: Path) -> BundleSummary:
    """Open ``path`` (read-only), describe its manifest, our data, sizes and signature."""
    with open_bundle(path) as bundle:
        data: Mapping[str, Any] = bundle.manifest_data
        meta = bundle.meta
        entries = [e for e in bundle.entries if not e.is_dir]
    try:
        signature = SignatureSummary.from_info(verify_bundle(path))
    except SignatureError as err:
        signature = SignatureSummary(status="invalid", error=err.message)
    server = _mapping(data.get("server"))
    config = _mapping(server.get("mcp_config"))
    author = _mapping(data.get("author")).get("name")
    version = data.get("manifest_version", data.get("dxt_version"))
    return BundleSummary(
        path=str(path),
        sha256=sha256_file(path),
        size=path.stat().st_size,
        name=_text(data.get("name")),
        display_name=_text(data.get("display_name")),
        version=_text(data.get("version")),
        description=_text(data.get("description")),
        author=_text(author),
        manifest_version=_text(version),
        server_type=_text(server.get("type")),
        entry_point=_text(server.get("entry_point")),
        command=_command_line(config),
        platform=meta.platform if meta else None,
        runtime=meta.runtime if meta else None,
        python=meta.python if meta else None,
        file_count=len(entries),
        uncompressed_size=sum(e.size for e in entries),
        record_files=len(meta.files) if meta else None,
        tools=_names(data.get("tools")),
        user_config=tuple(sorted(_mapping(data.get("user_config")))),
        dependencies=dict(meta.dependencies) if meta else {},
        signature=signature,
    )


def runtime_text(runtime: str | None, python: str | None) -> str:
    """``python:3.13``, ``node:20`` or ``binary``, with the Python version only for a Python
    bundle whose runtime line does not already say it (a Node bundle has none to show)."""
    shown = runtime or (f"python:{python}" if python else "-")
    if python and not shown.startswith(f"python:{python}"):
        shown += f" (python {python})"
    return shown


def render_summary(s: BundleSummary) -> list[str]:
    """Human-readable lines for ``mcpb info``."""
    title = f"{s.name or '?'} {s.version or '?'}"
    if s.display_name and s.display_name != s.name:
        title += f"  ({s.display_name})"
    lines = [title]
    if s.description:
        lines.append(f"  description:  {s.description}")
    if s.author:
        lines.append(f"  author:       {s.author}")
    lines.append(f"  manifest:     {s.manifest_version or '?'}")
    lines.append(f"  server:       {s.server_type or '?'}, entry point {s.entry_point or '?'}")
    if s.command:
        lines.append(f"  command:      {s.command}")
    lines.append(f"  platform:     {s.platform or 'any (not recorded)'}")
    if s.runtime or s.python:
        lines.append(f"  runtime:      {runtime_text(s.runtime, s.python)}")
    if s.tools:
        lines.append(f"  tools:        {', '.join(s.tools)}")
    if s.user_config:
        lines.append(f"  user config:  {', '.join(s.user_config)}")
    if s.dependencies:
        lines.append(f"  dependencies: {len(s.dependencies)} vendored")
        lines.extend(f"                {line}" for line in _pack_items(s.dependencies, 84))
    lines.append(
        f"  files:        {s.file_count} ({human_size(s.uncompressed_size)} unpacked, "
        f"{human_size(s.size)} archive)"
    )
    record = "none" if s.record_files is None else f"{s.record_files} files"
    lines.append(f"  sha256 record: {record}")
    lines.append(f"  sha256:       {s.sha256}")
    lines.append(f"  signature:    {render_signature(s.signature)}")
    return lines


def _pack_items(versions: Mapping[str, str], width: int) -> list[str]:
    """``name version`` items, ``; ``-separated, wrapped between items, never inside one."""
    lines: list[str] = []
    current = ""
    for name, version in versions.items():
        item = f"{name} {version}"
        if current and len(current) + 2 + len(item) > width:
            lines.append(current + ";")
            current = item
        else:
            current = f"{current}; {item}" if current else item
    return [*lines, current] if current else lines


def render_signature(sig: SignatureSummary) -> str:
    """One line: the status and who signed."""
    if sig.status == "unsigned":
        return "unsigned"
    if sig.status == "invalid":
        return f"INVALID ({sig.error})"
    text = f"{sig.status}, subject {sig.subject}"
    if sig.status == "signed":
        text += f", issuer {sig.issuer}"
    if sig.valid_to:
        text += f", valid until {sig.valid_to[:10]}"
    return text


def human_size(size: int) -> str:
    """Bytes in SI units, one decimal: ``512 B``, ``2.1 kB``, ``3.4 MB``."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def _command_line(config: Mapping[str, Any]) -> str | None:
    command = config.get("command")
    if not isinstance(command, str):
        return None
    args = config.get("args")
    words = (
        [command, *(a for a in args if isinstance(a, str))] if isinstance(args, list) else [command]
    )
    return " ".join(words)


def _names(tools: object) -> tuple[str, ...]:
    if not isinstance(tools, list):
        return ()
    return tuple(t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str))


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
