"""Data-check results memoised by what they are a function of: data content, checks, reference.

The data checks (:func:`mlchecks.data.expectations.run_scopes`) are a pure function of the
data's content, the data-check configuration of each scope, the reference profile drift is
measured against, and the code that computes them (mlchecks' data modules, Great Expectations
and pandas). A gate usually sees the data its champion was accepted on again, and importing Great
Expectations and building its context costs seconds where the checks themselves take a tenth of
one. :func:`run_scopes` keys each result set by all of those inputs (sha256 of a canonical JSON
text) and stores it in the cache folder; a memo is used only when its stored key equals the
recomputed one, and anything unreadable is recomputed. A changed byte of the data, a changed
threshold or expectation, another champion profile, or another mlchecks, GX or pandas version
is another key.

No keras, no pytest; Great Expectations is imported only on a miss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlchecks.errors import DataError
from mlchecks.result import CheckResult

if TYPE_CHECKING:
    from mlchecks.data.dataset import Dataset
    from mlchecks.data.expectations import DataChecks

#: Bump when the memo file's layout changes.
FORMAT = 1

#: Modules whose source decides data-check results (hashed into the key).
_SOURCES = ("expectations.py", "profile.py", "dataset.py")


def _code_identity() -> dict[str, str]:
    from importlib import metadata

    here = Path(__file__).resolve().parent
    identity = {
        name: hashlib.sha256((here / name).read_bytes()).hexdigest()
        for name in _SOURCES
        if (here / name).is_file()
    }
    identity["result.py"] = hashlib.sha256(
        (here.parent / "result.py").read_bytes()
    ).hexdigest()
    for dist in ("great_expectations", "pandas", "numpy"):
        try:
            identity[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            identity[dist] = "absent"
    return identity


def _reference_of(checks: DataChecks, dataset: Dataset, reference: Any) -> Any:
    """The profile a scope's drift check uses, as :func:`expectations.run` would resolve it."""
    if not isinstance(reference, str):
        return reference
    from mlchecks.data.expectations import reference_profile

    try:
        return reference_profile(checks, dataset)
    except DataError as exc:
        return {"error": str(exc)}


def memo_key(
    dataset: Dataset,
    scoped: Iterable[tuple[str | None, DataChecks]],
    reference: Mapping[str, Any] | str | None,
) -> str:
    """sha256 of everything the results of :func:`expectations.run_scopes` depend on."""
    parts = {
        "format": FORMAT,
        "data": {
            "fingerprint": dataset.fingerprint,
            "name": dataset.name,
            "description": dataset.describe(),
            "num_classes": dataset.num_classes,
            "class_names": list(getattr(dataset, "class_names", None) or ()),
        },
        "scopes": [
            {
                "model": model,
                "checks": dataclasses.asdict(checks),
                "reference": _reference_of(checks, dataset, reference),
            }
            for model, checks in scoped
        ],
        "code": _code_identity(),
    }
    text = json.dumps(parts, sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _memo_file(folder: Path, key: str) -> Path:
    return folder / f"data-checks-{key[:32]}.json"


def load(folder: Path | None, key: str) -> dict[str, list[CheckResult]] | None:
    """The memoised results for ``key``, or None (no memo, another key, unreadable)."""
    if folder is None:
        return None
    path = _memo_file(folder, key)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(stored, dict) or stored.get("key") != key:
            return None
        return {
            cid: [CheckResult.from_json(item) for item in items]
            for cid, items in stored["results"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(folder: Path | None, key: str, grouped: Mapping[str, list[CheckResult]]) -> None:
    """Store ``grouped`` under ``key``; best effort (a memo that cannot be written is skipped)."""
    if folder is None:
        return
    from mlchecks._util.io import try_write

    text = json.dumps(
        {"key": key, "results": {cid: [r.to_json() for r in rs] for cid, rs in grouped.items()}},
        allow_nan=False,
        default=str,
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    try_write(_memo_file(folder, key), write)


def run_scopes(
    dataset: Dataset,
    scoped: Iterable[tuple[str | None, DataChecks]],
    reference: Mapping[str, Any] | str | None = "auto",
    folder: Path | None = None,
) -> dict[str, list[CheckResult]]:
    """:func:`mlchecks.data.expectations.run_scopes`, memoised in ``folder`` (None: not)."""
    scoped = list(scoped)
    key = memo_key(dataset, scoped, reference) if folder is not None else ""
    hit = load(folder, key)
    if hit is not None:
        return hit
    from mlchecks.data import expectations

    grouped = expectations.run_scopes(dataset, scoped, reference=reference)
    with contextlib.suppress(TypeError, ValueError):  # a result that does not serialise
        save(folder, key, grouped)  # is simply not memoised
    return grouped


def is_memoised(
    dataset: Dataset,
    scoped: Iterable[tuple[str | None, DataChecks]],
    reference: Mapping[str, Any] | str | None,
    folder: Path | None,
) -> bool:
    """Whether :func:`run_scopes` would answer from the memo (no Great Expectations import)."""
    if folder is None:
        return False
    return load(folder, memo_key(dataset, list(scoped), reference)) is not None
