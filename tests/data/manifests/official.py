"""The official verdict on a manifest, and the corpus files, for the manifest tests.

The official JSON Schemas (one per manifest_version) live in ``../shared/schemas`` beside the
repository. Which one applies follows the reference CLI: ``manifest_version`` when it is a string
naming a known version, else ``dxt_version``; with neither the manifest is invalid (the reference
zod schemas require one of the two; their JSON export lost that rule). This is written
independently of ``mcpb.bundle.manifest`` so the two can be compared.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
OFFICIAL_DIR = REPO.parent / "shared" / "schemas"
VERSIONS = ("0.1", "0.2", "0.3", "0.4")


@functools.cache
def official_validators() -> dict[str, Draft7Validator]:
    """A format-asserting Draft 7 validator per version; fails loudly when anything is missing."""
    checker = Draft7Validator.FORMAT_CHECKER
    missing_formats = {"email", "uri"} - set(checker.checkers)
    if missing_formats:
        raise RuntimeError(
            f"jsonschema cannot check formats {sorted(missing_formats)}: "
            "install the dev dependencies (rfc3986-validator)"
        )
    validators = {}
    for version in VERSIONS:
        path = OFFICIAL_DIR / f"mcpb-manifest-v{version}.schema.json"
        if not path.is_file():
            raise RuntimeError(f"official schema not found: {path} (expected ../shared/schemas)")
        schema = json.loads(path.read_text(encoding="utf-8"))
        validators[version] = Draft7Validator(schema, format_checker=checker)
    return validators


def applicable_version(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    for key in ("manifest_version", "dxt_version"):
        value = data.get(key)
        if isinstance(value, str) and value in VERSIONS:
            return value
    return None


def official_errors(data: Any) -> list[str]:
    """Messages of the official schema that applies; [] means the manifest is valid."""
    version = applicable_version(data)
    if version is None:
        return ["no supported manifest_version or dxt_version"]
    return [error.message for error in official_validators()[version].iter_errors(data)]


def official_valid(data: Any) -> bool:
    version = applicable_version(data)
    return version is not None and official_validators()[version].is_valid(data)


def corpus(kind: str) -> list[Path]:
    """Sorted files of ``valid``, ``invalid``, ``reference/valid`` or ``reference/invalid``."""
    return sorted((HERE / kind).glob("*.json"))


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def expected_paths() -> dict[str, list[str]]:
    result: dict[str, list[str]] = load(HERE / "expected_paths.json")
    return result
