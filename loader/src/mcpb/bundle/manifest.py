"""Typed models of an MCPB ``manifest.json`` (manifest_version 0.1 to 0.4).

The models accept exactly what the official schemas of the chosen version accept: every object
is closed (an unknown key is an error), no field takes ``null``, numbers keep their JSON type,
and the version gates of the spec apply (``privacy_policies`` from 0.2, ``icons``,
``localization`` and ``_meta`` from 0.3, ``server.type: "uv"`` from 0.4). Which schema applies
is decided the way the reference CLI decides it: ``manifest_version`` when it names a supported
version, otherwise the deprecated ``dxt_version``; a manifest naming neither is invalid.
Format checks (``email``, ``uri``) follow the reference validator (see ``manifest_formats``),
and patterns have their JSON Schema (ECMAScript) meaning: ``[0-9]`` digits, ``$`` only at the end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from mcpb.bundle.errors import Issue, ManifestError
from mcpb.bundle.jsondoc import JsonDocumentError, json_type, parse_json_object
from mcpb.bundle.manifest_formats import is_email, is_url

SUPPORTED_VERSIONS: tuple[str, ...] = ("0.1", "0.2", "0.3", "0.4")
DEFAULT_VERSION = "0.3"
LATEST_VERSION = "0.4"

#: Top-level keys that exist only from a given manifest_version on.
FIELD_SINCE: Mapping[str, str] = {
    "privacy_policies": "0.2",
    "icons": "0.3",
    "localization": "0.3",
    "_meta": "0.3",
}
#: ``server.type`` values that exist only from a given manifest_version on.
SERVER_TYPE_SINCE: Mapping[str, str] = {"uv": "0.4"}

ServerType = Literal["python", "node", "binary", "uv"]
UserConfigType = Literal["string", "number", "boolean", "directory", "file"]
PlatformName = Literal["darwin", "win32", "linux"]
RuntimeName = Literal["python", "node"]

_VERSION_RULES_ERROR = "manifest_version_rules"


def _check_email(value: str) -> str:
    if not is_email(value):
        raise PydanticCustomError("format", "not a valid email address")
    return value


def _check_url(value: str) -> str:
    if not is_url(value):
        raise PydanticCustomError("format", "not a valid absolute URL")
    return value


def _check_number(value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number_type", "expected a number")
    return value


def _check_default(value: object) -> str | int | float | bool | list[str]:
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise PydanticCustomError(
                    "default_item",
                    "an array default holds strings only; item {index} is {kind}",
                    {"index": index, "kind": json_type(item)},
                )
        return list(value)
    raise PydanticCustomError(
        "default_type", "expected a string, a number, a boolean or an array of strings"
    )


Email = Annotated[
    str, AfterValidator(_check_email), WithJsonSchema({"type": "string", "format": "email"})
]
Url = Annotated[
    str, AfterValidator(_check_url), WithJsonSchema({"type": "string", "format": "uri"})
]
Number = Annotated[int | float, PlainValidator(_check_number), WithJsonSchema({"type": "number"})]
DefaultValue = Annotated[
    str | int | float | bool | list[str],
    PlainValidator(_check_default),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "array", "items": {"type": "string"}},
            ]
        }
    ),
]


class _Closed(BaseModel):
    """A JSON object of the manifest: no unknown keys, no coercion, no ``null`` values."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="before")
    @classmethod
    def _reject_null(cls, value: object) -> object:
        if value is None:
            raise PydanticCustomError("null", "must not be null")
        return value


class Author(_Closed):
    name: str
    email: Email | None = None
    url: Url | None = None


class Repository(_Closed):
    type: str
    url: Url


class Icon(_Closed):
    src: str
    size: Annotated[str, Field(pattern=r"^[0-9]+x[0-9]+$")]
    theme: Annotated[str, Field(min_length=1)] | None = None


class Localization(_Closed):
    resources: Annotated[str, Field(pattern=r"\$\{locale\}")]
    default_locale: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{2,8}(?:-[A-Za-z0-9]{1,8})*$")]


class McpConfigOverride(_Closed):
    """Per-OS replacement of whole keys of ``mcp_config``; None means "not overridden"."""

    command: str | None = None
    args: list[str] | None = None
    env: dict[str, str] | None = None


class McpConfig(_Closed):
    command: str
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    platform_overrides: dict[str, McpConfigOverride] = Field(default_factory=dict)


class Server(_Closed):
    type: ServerType
    entry_point: str
    mcp_config: McpConfig


class Tool(_Closed):
    name: str
    description: str | None = None


class Prompt(_Closed):
    name: str
    description: str | None = None
    arguments: list[str] | None = None
    text: str


class Compatibility(_Closed):
    claude_desktop: str | None = None
    platforms: list[PlatformName] | None = None
    runtimes: dict[RuntimeName, str] = Field(default_factory=dict)


class UserConfigOption(_Closed):
    type: UserConfigType
    title: str
    description: str
    required: bool = False
    default: DefaultValue | None = None
    multiple: bool = False
    sensitive: bool = False
    min: Number | None = None
    max: Number | None = None


class Manifest(_Closed):
    """A validated manifest; ``manifest_version`` is resolved (``dxt_version`` folded in).

    Build one with :func:`parse_manifest` (or ``Manifest.model_validate`` with JSON-shaped data,
    keys spelled as in the file: ``_meta``, ``$schema``). :func:`dump_manifest` writes back only
    the keys that were set, so a round trip reproduces the input.
    """

    schema_uri: str | None = Field(default=None, alias="$schema")
    dxt_version: str | None = None
    manifest_version: str = ""
    name: str
    display_name: str | None = None
    version: str
    description: str
    long_description: str | None = None
    author: Author
    repository: Repository | None = None
    homepage: Url | None = None
    documentation: Url | None = None
    support: Url | None = None
    icon: str | None = None
    icons: list[Icon] = Field(default_factory=list)
    screenshots: list[str] = Field(default_factory=list)
    localization: Localization | None = None
    server: Server
    tools: list[Tool] = Field(default_factory=list)
    tools_generated: bool | None = None
    prompts: list[Prompt] = Field(default_factory=list)
    prompts_generated: bool | None = None
    keywords: list[str] = Field(default_factory=list)
    license: str | None = None
    privacy_policies: list[Url] = Field(default_factory=list)
    compatibility: Compatibility | None = None
    user_config: dict[str, UserConfigOption] = Field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = Field(default_factory=dict, alias="_meta")

    @model_validator(mode="after")
    def _apply_version_rules(self) -> Manifest:
        present: dict[str, object] = {}
        for name in self.model_fields_set:
            alias = type(self).model_fields[name].alias or name
            present[alias] = getattr(self, name)
        present["server"] = {"type": self.server.type}
        version, issues = version_issues(present)
        if issues:
            raise PydanticCustomError(
                _VERSION_RULES_ERROR, "{detail}", {"detail": "; ".join(map(str, issues))}
            )
        if version is not None:
            # Stored directly so the folded value is not reported as "set" by dump_manifest.
            self.__dict__["manifest_version"] = version
        return self


def resolve_manifest_version(data: Mapping[str, object]) -> str | None:
    """The version whose schema applies: ``manifest_version`` first, then ``dxt_version``."""
    for key in ("manifest_version", "dxt_version"):
        value = data.get(key)
        if isinstance(value, str) and value in SUPPORTED_VERSIONS:
            return value
    return None


def version_issues(data: Mapping[str, object]) -> tuple[str | None, list[Issue]]:
    """Resolve the version of raw manifest data and check the version keys and gates."""
    version = resolve_manifest_version(data)
    supported = ", ".join(SUPPORTED_VERSIONS)
    issues: list[Issue] = []
    if version is None and not any(k in data for k in ("manifest_version", "dxt_version")):
        issues.append(Issue("manifest_version", f"required (one of {supported})"))
    for key in ("manifest_version", "dxt_version"):
        value = data.get(key)
        if not isinstance(value, str) or value == version:
            continue
        if value not in SUPPORTED_VERSIONS:
            issues.append(Issue(key, f"unsupported version {value!r} (supported: {supported})"))
        else:
            issues.append(Issue(key, f"{value!r} conflicts with manifest_version {version!r}"))
    if version is None:
        return None, issues
    rank = SUPPORTED_VERSIONS.index(version)
    for key, since in FIELD_SINCE.items():
        if key in data and rank < SUPPORTED_VERSIONS.index(since):
            issues.append(Issue(key, f"not allowed in manifest_version {version} (since {since})"))
    server = data.get("server")
    server_type = server.get("type") if isinstance(server, Mapping) else None
    type_since = SERVER_TYPE_SINCE.get(server_type) if isinstance(server_type, str) else None
    if type_since is not None and rank < SUPPORTED_VERSIONS.index(type_since):
        issues.append(
            Issue("server.type", f"{server_type!r} needs manifest_version {type_since} or later")
        )
    return version, issues


def validate_manifest_data(data: object) -> list[Issue]:
    """Every problem of JSON-shaped manifest data, each with its JSON path; [] when valid."""
    return _check(data)[1]


def parse_manifest(data: object, *, source: str = "manifest.json") -> Manifest:
    """Validate manifest data into a :class:`Manifest`; ManifestError lists every problem."""
    manifest, issues = _check(data)
    if manifest is None:
        raise ManifestError(source, issues)
    return manifest


def load_manifest_data(path: Path) -> dict[str, Any]:
    """Read a manifest file as a JSON object, reporting unreadable or malformed files."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ManifestError(source, [Issue("", f"cannot read: {err.strerror or err}")]) from err
    try:
        return parse_json_object(raw)
    except JsonDocumentError as err:
        raise ManifestError(source, [Issue("", str(err))]) from None


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file."""
    return parse_manifest(load_manifest_data(path), source=str(path))


def dump_manifest(manifest: Manifest) -> dict[str, Any]:
    """JSON-ready data: keys as in the file, in schema order, only those that were set.

    A key counts as set when the input had it, when it was assigned, or when its value no
    longer equals the default (so ``m.meta["x"] = {...}`` in place is written too). The
    resolved ``manifest_version`` is written only if the input or an assignment set it.
    """
    return _dump_model(manifest)


def _dump_model(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if name not in model.model_fields_set and (
            name == "manifest_version" or value == field.get_default(call_default_factory=True)
        ):
            continue
        out[field.alias or name] = _dump_value(value)
    return out


def _dump_value(value: object) -> Any:
    if isinstance(value, BaseModel):
        return _dump_model(value)
    if isinstance(value, dict):
        return {key: _dump_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dump_value(item) for item in value]
    return value


def json_path(loc: Sequence[str | int]) -> str:
    """Render a location as ``server.mcp_config.args[2]`` or ``user_config["a b"].type``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*", re.ASCII)


def _check(data: object) -> tuple[Manifest | None, list[Issue]]:
    if not isinstance(data, dict):
        return None, [Issue("", f"expected a JSON object, got {json_type(data)}")]
    _, issues = version_issues(data)
    # Keys already reported as not allowed in this version are not validated a second time.
    reported = {issue.path for issue in issues}
    body = {k: v for k, v in data.items() if k not in reported or k not in FIELD_SINCE}
    try:
        manifest = Manifest.model_validate(body)
    except ValidationError as err:
        issues.extend(_to_issue(e) for e in err.errors() if e["type"] != _VERSION_RULES_ERROR)
        return None, issues
    if issues:
        return None, issues
    return manifest, []


_MESSAGES: Mapping[str, str] = {
    "missing": "required",
    "extra_forbidden": "unknown key (not allowed by the schema)",
    "string_type": "expected a string",
    "bool_type": "expected a boolean",
    "list_type": "expected an array",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "string_too_short": "must not be empty",
}


def _to_issue(error: ErrorDetails) -> Issue:
    loc = list(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if loc and loc[-1] == "[key]":
        loc.pop()
        return Issue(json_path(loc), f"unknown key (expected {ctx.get('expected', 'another')})")
    if kind == "literal_error":
        message = f"expected {ctx.get('expected')}"
    elif kind == "string_pattern_mismatch":
        message = f"must match the pattern {ctx.get('pattern')}"
    else:
        message = _MESSAGES.get(kind, error["msg"])
    if kind.endswith("_type") and kind != "model_attributes_type":
        message += f", got {json_type(error['input'])}"
    return Issue(json_path(loc), message)
