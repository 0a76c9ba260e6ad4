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

The results are memoised in two parts. Drift is the only check that reads the whole reference
profile, and it is numpy; the Great Expectations suite reads only the sample shape the reference
declares. So a gate whose champion changed since the data was last checked (a concurrent gate
promoted while this one waited for the lineage lock, or the first champion of a lineage whose
first gate checked against the shipped profile) reads the suite's results back and computes
drift alone, without importing Great Expectations.

No keras, no pytest; Great Expectations is imported only when its part is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    identity["result.py"] = hashlib.sha256((here.parent / "result.py").read_bytes()).hexdigest()
    for dist in ("great_expectations", "pandas", "numpy"):
        try:
            identity[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            identity[dist] = "absent"
    return identity


#: The two memoised parts of the data checks: the Great Expectations suite (every check but
#: drift: a function of the data, the checks and the sample shape the reference declares), and
#: drift (numpy: a function of the data, the checks and the whole reference profile).
EXPECTATIONS, DRIFT = "expectations", "drift"
PARTS = (EXPECTATIONS, DRIFT)
_DRIFT_ID = "data.drift"


def _reference_of(checks: DataChecks, dataset: Dataset, reference: Any, part: str) -> Any:
    """What ``part`` of a scope's results depends on of the reference, resolved as
    :func:`expectations.run` resolves it (the whole profile for drift; for the expectations,
    only the sample shape it declares)."""
    from mlchecks.data.expectations import resolve_reference, schema_shape

    resolved, error = resolve_reference(checks, dataset, reference)
    if part == EXPECTATIONS:
        return {"shape": schema_shape(resolved, dataset)}
    return {"profile": resolved, "error": error}


def memo_key(
    dataset: Dataset,
    scoped: Iterable[tuple[str | None, DataChecks]],
    reference: Mapping[str, Any] | str | None,
    part: str = DRIFT,
) -> str:
    """sha256 of everything ``part`` (:data:`EXPECTATIONS` or :data:`DRIFT`) of the results
    of :func:`expectations.run_scopes` depends on."""
    if part not in PARTS:
        raise ValueError(f"memo part {part!r}: expected one of {', '.join(PARTS)}")
    parts = {
        "format": FORMAT,
        "part": part,
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
                "reference": _reference_of(checks, dataset, reference, part),
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
    """:func:`mlchecks.data.expectations.run_scopes`, memoised in ``folder`` (None: not).

    Memoised in two parts (:data:`PARTS`): when only the reference changed (a champion was
    promoted since), the Great Expectations results are read back and drift alone is computed,
    with numpy; Great Expectations is imported only when its part is missing. Processes that
    compute the same missing part at once take turns (:func:`_computing`): the later ones read
    what the first stored."""
    scoped = list(scoped)
    keys = {part: memo_key(dataset, scoped, reference, part) for part in PARTS} if folder else {}
    hits = {part: load(folder, keys.get(part, "")) for part in PARTS}
    if hits[EXPECTATIONS] is not None or folder is None:
        return _run_parts(dataset, scoped, reference, folder, keys, hits)
    with _computing(folder, keys[EXPECTATIONS]) as waited:
        if waited:  # another process held it: it has probably just stored these results
            hits = {part: load(folder, keys[part]) for part in PARTS}
        return _run_parts(dataset, scoped, reference, folder, keys, hits)


#: How long a run waits for another process computing the same Great Expectations results
#: before it computes them itself.
COMPUTING_WAIT_S = 120.0


@contextlib.contextmanager
def _computing(folder: Path, key: str) -> Iterator[bool]:
    """Hold the lock of the memo entry ``key`` while computing it; yields whether another
    process held it first (then the caller reads the memo again before computing).

    Gates started together on the same data (a CI matrix, a retry beside the first try) each
    find the memo empty; without the lock each would import Great Expectations and compute the
    same results. The OS releases the lock of a process that dies. Best effort: a folder where
    the lock cannot be made, or a holder that keeps it past :data:`COMPUTING_WAIT_S`, leaves
    this run to compute on its own."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(folder / f".data-checks-{key[:32]}.lock"))
    waited = locked = False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            waited = True
            lock.acquire(timeout=COMPUTING_WAIT_S)
        locked = True
    except OSError:  # no lock file here, or still held (filelock's Timeout is an OSError)
        pass
    try:
        yield waited
    finally:
        if locked:
            lock.release()


def _run_parts(
    dataset: Dataset,
    scoped: list[tuple[str | None, DataChecks]],
    reference: Mapping[str, Any] | str | None,
    folder: Path | None,
    keys: Mapping[str, str],
    hits: Mapping[str, dict[str, list[CheckResult]] | None],
) -> dict[str, list[CheckResult]]:
    """The body of :func:`run_scopes`: what ``hits`` lacks, computed and memoised."""
    from mlchecks.data.expectations import CHECK_IDS, CUSTOM_ID

    expected, drift = hits[EXPECTATIONS], hits[DRIFT]
    if expected is None:
        from mlchecks.data import expectations

        grouped = expectations.run_scopes(dataset, scoped, reference=reference)
        expected = {cid: rs for cid, rs in grouped.items() if cid != _DRIFT_ID}
        drift = {_DRIFT_ID: grouped.get(_DRIFT_ID, [])}
        computed = {EXPECTATIONS: expected, DRIFT: drift}
    else:
        from mlchecks.data.expectations import drift_scopes

        computed = {}
        if drift is None:
            drift = computed[DRIFT] = drift_scopes(dataset, scoped, reference=reference)
    for part, results in computed.items():
        if keys and hits[part] is None:  # a result that does not serialise is not memoised
            with contextlib.suppress(TypeError, ValueError):
                save(folder, keys[part], results)
    merged = {**expected, **drift}
    return {cid: merged[cid] for cid in (*CHECK_IDS, CUSTOM_ID) if cid in merged}


def is_memoised(
    dataset: Dataset,
    scoped: Iterable[tuple[str | None, DataChecks]],
    reference: Mapping[str, Any] | str | None,
    folder: Path | None,
) -> bool:
    """Whether :func:`run_scopes` would answer without Great Expectations (its part of the
    results is memoised; drift, if not memoised too, is computed with numpy)."""
    if folder is None:
        return False
    return load(folder, memo_key(dataset, list(scoped), reference, EXPECTATIONS)) is not None
