"""Write the manifest corpus: ``valid/*.json``, ``invalid/*.json`` and ``expected_paths.json``.

Run ``python -m tests.data.manifests.make_corpus`` from the repository root after editing a case
in ``cases.py`` or ``invalid_cases.py``. Each invalid case names the JSON paths our validator
must report (``expected_paths.json``); the verdicts themselves are checked against the official
schemas by tests/unit/test_manifest_corpus.py. ``reference/`` holds hand-written cases where the
official JSON Schemas (read by Python's jsonschema) and the reference CLI disagree on string
formats or regex semantics; there we follow the reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.data.manifests.cases import HERE, REFERENCE_INVALID, REFERENCE_VALID, VALID
from tests.data.manifests.invalid_cases import INVALID


def write(directory: Path, name: str, data: Any) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    (directory / f"{name}.json").write_text(text, encoding="utf-8")


def main() -> None:
    for sub in ("valid", "invalid", "reference/valid", "reference/invalid"):
        for old in (HERE / sub).glob("*.json"):
            old.unlink()
    for name, data in VALID.items():
        write(HERE / "valid", name, data)
    for name, data in REFERENCE_VALID.items():
        write(HERE / "reference" / "valid", name, data)
    for name, data in REFERENCE_INVALID.items():
        write(HERE / "reference" / "invalid", name, data)
    expected = {}
    for name, (data, paths) in INVALID.items():
        write(HERE / "invalid", name, data)
        expected[f"{name}.json"] = sorted(paths)
    text = json.dumps(expected, indent=2, sort_keys=True) + "\n"
    (HERE / "expected_paths.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
