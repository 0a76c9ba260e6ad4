"""The local-folder registry (the embedded default, ``.mlchecks/registry``).

Layout::

    <root>/
      .locks/<name>.lock          write lock of a lineage (held for milliseconds)
      .locks/<name>.gate.lock     held by a promoting gate from reading the champion to promotion
      <name>/
        index.json                champion pointer, versions (with the sha256 of each
                                  version.json), history, the digest of each holdout and a
                                  checksum of all of it: the one file a commit replaces
        versions/0001/
          model.keras             the accepted model
          predictions.npz         its predicted class ids on every holdout it was judged on
          version.json            VersionRecord: sha256 of the files above, metrics, ...
        holdouts/<id>.npz         holdouts by content hash (shared by versions gated on them)
        .staging/                 half-built versions (removed by the next write)

Crash safety: a version is built in ``.staging`` (each file fsynced), renamed into
``versions/`` (directory fsynced), and only then made visible by atomically replacing
``index.json`` (temp file, fsync, rename, directory fsync). A crash at any point leaves either
the old index or the new one; the champion a reader finds is always complete. A lineage gets an
empty index before its first version, so an index missing beside stored versions is damage:
reported, never read as an empty lineage.

A version folder is never deleted. One the index does not list (a promotion killed after its
rename, or an older ``index.json`` restored from a backup) is listed again by the next write,
retired and with a ``relist`` event in the history, and new versions are numbered after it; an
unlisted folder that is not a complete version is refused (exit 2) until it is moved away.
Half-built versions in ``.staging`` are removed by the next write.

Integrity: every stored field is covered by a checksum. ``index.json`` carries the sha256 of
its own content (``checksum``); it vouches for each ``version.json`` by sha256 and for each
holdout by :func:`~mlchecks.registry.holdout_digest` (arrays, ``num_classes`` and
``class_names``); the record vouches for the model and predictions. Every read is verified. An
index written before the checksums (no ``checksum`` key) is read as legacy: the arrays of a
holdout are still checked against its id and its class count against its labels, and the next
write adds the checksum and the digests of the holdouts that verify (migrate on write).

A write that fails for the machine's reasons (disk full, I/O error) removes its own
half-built version and raises :class:`RegistryWriteError` (exit 3) saying what the champion is
now; a read-only or unwritable registry is a :class:`RegistryError` (exit 2).

Fault points (``MLCHECKS_FAULT``, see :mod:`mlchecks._util.faults`): ``promote:locked``,
``promote:mid-copy``, ``promote:after-copy``, ``promote:after-holdout``,
``promote:after-record``, ``promote:after-rename``, ``promote:index-tmp``,
``promote:after-index``, ``promote:done``; ``create:index-tmp``, ``rollback:index-tmp``,
``champion:index-tmp``.

Every write refuses a file where a registry folder belongs (the lineage, ``versions``,
``holdouts``, ``.staging``) with exit 2, before it writes anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mlchecks._util import faults
from mlchecks._util.io import atomic_write, fsync_dir, fsync_file
from mlchecks.errors import GateExit, RegistryError
from mlchecks.registry import (
    _SHA,
    _VERSION,
    FORMAT,
    ChampionChanged,
    Holdout,
    LineageState,
    NewVersion,
    VersionEntry,
    VersionRecord,
    holdout_digest,
    holdout_id,
    rollback_target,
    sha256_file,
    validate_holdout_id,
    validate_name,
    validate_version,
)
from mlchecks.registry import (
    json_safe as _clean,
)

LOCK_TIMEOUT_S = 120.0
GATE_LOCK_TIMEOUT_S = 900.0
MODEL = "model.keras"
PREDICTIONS = "predictions.npz"
RECORD = "version.json"
INDEX = "index.json"
FOLDERS = ("versions", "holdouts", ".staging")
_HOLDOUT_FILE = re.compile(r"[0-9a-f]{16}\.npz")


class RegistryWriteError(RegistryError):
    """A registry write failed for a reason of the machine (disk full, quota, I/O error).

    Exit 3, not 2: the candidate, data and config are fine and the same gate passes once the
    disk has room; the gate could not finish, which a pipeline should retry, not blame on the
    model. The message says what the champion is after the failure.
    """

    exit_code = GateExit.INTERNAL_ERROR


# a folder the user cannot write to is a bad --registry (exit 2), not a failing machine
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _atomic_write(path: Path, write: Callable[[Any], None], fault: str | None = None) -> None:
    """Write through ``write(binary_file)``: temp file, fsync, rename, fsync the folder."""
    atomic_write(path, write, durable=True, fault=fault)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n").encode()


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON value")


def _load_json(raw: bytes) -> Any:
    """Strict JSON: NaN/Infinity refused, nesting too deep for Python a ValueError."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deep") from None


def index_checksum(data: dict[str, Any]) -> str:
    """sha256 of an index's content (every key but ``checksum``), in canonical JSON."""
    body = {k: v for k, v in data.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _unwritable(root: Path, exc: OSError, now: str) -> RegistryError:
    what = exc.strerror or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename else ""
    msg = (
        f"registry {root} is not writable: {what}{where}; {now}; make it writable, point "
        "--registry at a writable folder, or judge without promoting (--no-promote)"
    )
    return RegistryError(msg)


class LocalRegistry:
    """Model versions in a local folder. See the module docstring for layout and guarantees."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    # ------------------------------------------------------------------ paths and locks
    def _dir(self, name: str) -> Path:
        return self.root / validate_name(name)

    def _lock_path(self, name: str, kind: str) -> Path:
        folder = self.root / ".locks"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._os_error(exc, "nothing was written") from None
        return folder / f"{validate_name(name)}.{kind}"

    def _os_error(self, exc: OSError, now: str) -> RegistryError:
        """A failed write that wrote nothing: unwritable (exit 2) or the machine (exit 3)."""
        if exc.errno in _NOT_WRITABLE:
            return _unwritable(self.root, exc, now)
        what = exc.strerror or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename else ""
        msg = f"cannot write to registry {self.root}: {what}{where}; {now}. Fix it and rerun"
        return RegistryWriteError(msg)

    def _acquire(self, lock: Any, **kwargs: Any) -> None:
        from filelock import Timeout

        try:
            lock.acquire(**kwargs)
        except Timeout:  # a TimeoutError, so an OSError too: the caller's business
            raise
        except OSError as exc:  # the lock file cannot be created: a read-only registry
            raise self._os_error(exc, "nothing was written") from None

    @contextlib.contextmanager
    def _write_lock(self, name: str) -> Iterator[None]:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self._lock_path(name, "lock")), timeout=LOCK_TIMEOUT_S)
        try:
            self._acquire(lock)
        except Timeout:
            msg = (
                f"registry lineage {name!r} in {self.root} stayed locked for {LOCK_TIMEOUT_S:.0f}s "
                "by another process; retry, or check for a hung mlchecks process"
            )
            raise RegistryError(msg) from None
        try:
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def gate_lock(self, name: str, timeout: float = GATE_LOCK_TIMEOUT_S) -> Iterator[None]:
        """Serialise gates that may promote into lineage ``name``.

        Held from reading the champion to the promotion, so a second gate judges its candidate
        against the version the first one promoted, not a stale champion. Released by the OS
        when the process dies.
        """
        from filelock import FileLock, Timeout

        lock = FileLock(str(self._lock_path(name, "gate.lock")), timeout=timeout)
        try:
            self._acquire(lock, blocking=False)
        except Timeout:
            print(f"mlchecks: waiting for another gate promoting into {name!r}...", flush=True)
            try:
                self._acquire(lock)
            except Timeout:
                msg = (
                    f"another gate held lineage {name!r} of {self.root} for {timeout:.0f}s; "
                    "retry later or run with --no-promote"
                )
                raise RegistryError(msg) from None
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        """Lineages that have an index (at least one promoted version)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if (p / INDEX).is_file() and not p.name.startswith(".")
        )

    def state(self, name: str) -> LineageState:
        """The lineage index; an empty state when the lineage has no version yet.

        Raises:
            RegistryError: the index is unreadable, fails its checksum, lists a version twice,
                or is missing while versions are stored (read as empty, the next promotion
                would start the lineage again beside them); the lineage is a file.
        """
        folder = self._dir(name)
        path = folder / INDEX
        if os.path.lexists(folder) and not folder.is_dir():
            msg = (
                f"lineage {name!r}: {folder} is not a folder (a lineage is a folder holding "
                f"{INDEX}); move that file out of {self.root} and rerun"
            )
            raise RegistryError(msg)
        if not os.path.lexists(path):
            versions = folder / "versions"
            stored = sorted(p.name for p in versions.iterdir()) if versions.is_dir() else []
            if stored:
                msg = (
                    f"registry index {path} is missing but {versions} holds versions {stored}; "
                    "restore index.json from a backup (an older one is fine: the versions it "
                    "does not list are listed again by the next write) or move the lineage "
                    "folder away"
                )
                raise RegistryError(msg)
            return LineageState(name, None, (), ())
        try:
            data = _load_json(path.read_bytes())
            return self._parse_index(name, data)
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RegistryError) as exc:
            text = exc.strerror if isinstance(exc, OSError) else str(exc)
            msg = (
                f"registry index {path} is unreadable ({type(exc).__name__}: {text}); restore "
                "it from a backup (an older one is fine: the versions it does not list are "
                "listed again by the next write) or move the lineage folder away"
            )
            raise RegistryError(msg) from None

    @staticmethod
    def _parse_index(name: str, data: Any) -> LineageState:
        if not isinstance(data, dict):
            raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        if data.get("format") != FORMAT or data.get("name") != name:
            raise ValueError(f"format {data.get('format')!r}, name {data.get('name')!r}")
        checksummed = "checksum" in data
        if checksummed and data["checksum"] != index_checksum(data):
            raise ValueError(
                "it fails its checksum: a field was changed after mlchecks wrote it (a version "
                "entry, the champion, the history or a holdout digest)"
            )
        versions: list[VersionEntry] = []
        for v in data["versions"]:
            entry = VersionEntry(validate_version(v["version"]), v["sha256"], v["created"],
                                 v.get("retired", False))  # fmt: skip
            if not isinstance(entry.sha256, str) or not _SHA.fullmatch(entry.sha256):
                raise ValueError(f"version {entry.version}: sha256 {entry.sha256!r} is not valid")
            if not isinstance(entry.created, str) or not isinstance(entry.retired, bool):
                raise ValueError(f"version {entry.version}: bad created or retired value")
            if any(e.version == entry.version for e in versions):
                raise ValueError(f"it lists version {entry.version} twice")
            versions.append(entry)
        champion = data.get("champion")
        if champion is not None:
            champion = validate_version(champion)
            if champion not in {v.version for v in versions}:
                raise ValueError(f"champion {champion} is not a listed version")
        history = data.get("history", [])
        if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
            raise ValueError("history is not a list of events")
        holdouts = data.get("holdouts", {})
        if not isinstance(holdouts, dict) or not all(
            isinstance(d, str) and _SHA.fullmatch(d) for d in holdouts.values()
        ):
            raise ValueError("holdouts is not a map of holdout ids to sha256 digests")
        for hid in holdouts:
            validate_holdout_id(hid)
        return LineageState(name, champion, tuple(versions), tuple(history), dict(holdouts),
                            checksummed)  # fmt: skip

    def _entry(self, name: str, version: str) -> VersionEntry:
        version = validate_version(version)
        entry = self.state(name).entry(version)
        if entry is None:
            known = [v.version for v in self.state(name).versions]
            msg = f"lineage {name!r} in {self.root} has no version {version}; versions: {known}"
            raise RegistryError(msg)
        return entry

    def record(self, name: str, version: str) -> VersionRecord:
        """The version's record, verified against the sha256 the index holds for it."""
        entry = self._entry(name, version)
        path = self._dir(name) / "versions" / entry.version / RECORD
        try:
            raw = path.read_bytes()
        except OSError as exc:
            msg = f"version {entry.version} of {name!r}: {path} is unreadable ({exc.strerror})"
            raise RegistryError(msg) from None
        if hashlib.sha256(raw).hexdigest() != entry.sha256:
            msg = (
                f"version {entry.version} of {name!r}: {path} fails its sha256 check (it was "
                "changed after promotion); the registry was tampered with or damaged"
            )
            raise RegistryError(msg)
        try:
            data = _load_json(raw)
        except ValueError as exc:
            raise RegistryError(f"{path} is not valid JSON ({exc})") from None
        record = VersionRecord.from_json(data, str(path))
        if record.name != name or record.version != entry.version:
            msg = f"{path} describes {record.name} {record.version}, not {name} {entry.version}"
            raise RegistryError(msg)
        return record

    def _verified_file(self, name: str, version: str, filename: str, expected: str) -> Path:
        path = self._dir(name) / "versions" / validate_version(version) / filename
        try:
            actual = sha256_file(path)
        except OSError as exc:
            msg = f"version {version} of {name!r}: {path} is unreadable ({exc.strerror})"
            raise RegistryError(msg) from None
        if actual != expected:
            msg = (
                f"version {version} of {name!r}: {path} fails its sha256 check (expected "
                f"{expected[:12]}..., file has {actual[:12]}...); it was tampered with or damaged. "
                f"Restore it, or `mlchecks registry rollback --name {name}`"
            )
            raise RegistryError(msg)
        return path

    def model_path(self, name: str, version: str) -> Path:
        """The version's ``.keras`` file, after checking its sha256."""
        record = self.record(name, version)
        return self._verified_file(name, record.version, MODEL, record.model_sha256)

    def predictions(self, name: str, version: str) -> dict[str, np.ndarray]:
        """Predicted class ids of the version per holdout id, sha256-checked."""
        record = self.record(name, version)
        path = self._verified_file(name, record.version, PREDICTIONS, record.files[PREDICTIONS])
        with np.load(path, allow_pickle=False) as data:
            return {key.removeprefix("h"): data[key] for key in data.files}

    def holdout(self, name: str, holdout: str) -> Holdout:
        """A stored holdout, checked against the digest the index holds for it (arrays,
        ``num_classes`` and ``class_names``); for a legacy index without one, its arrays must
        hash to its id and its class count fit its labels."""
        return self._read_holdout(name, holdout, self.state(name).holdouts.get(holdout))

    def _read_holdout(self, name: str, holdout: str, expected: str | None) -> Holdout:
        holdout = validate_holdout_id(holdout)
        path = self._dir(name) / "holdouts" / f"{holdout}.npz"
        try:
            # our own handle: np.load leaks its file when the archive is damaged
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                x, y = data["x"], data["y"]
                num_classes = int(data["num_classes"])
                names = tuple(str(s) for s in data["class_names"])
        except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            msg = f"holdout {holdout} of {name!r} ({path}) is unreadable ({exc})"
            raise RegistryError(msg) from None
        if holdout_id(x, y) != holdout:
            msg = f"holdout {path} does not hash to its id: it was tampered with or damaged"
            raise RegistryError(msg)
        if expected is not None and holdout_digest(x, y, num_classes, names) != expected:
            msg = (
                f"holdout {path} fails its checksum: its num_classes ({num_classes}) or class "
                f"names {list(names)[:12]} were changed after it was stored; restore the file "
                "from a backup or move the lineage folder away"
            )
            raise RegistryError(msg)
        top = int(y.max()) + 1 if y.size and np.issubdtype(y.dtype, np.integer) else 0
        if num_classes < max(top, 1) or len(names) not in (0, num_classes):
            msg = (
                f"holdout {path} is inconsistent: num_classes {num_classes} with labels up to "
                f"{top - 1} and {len(names)} class names; it was tampered with or damaged"
            )
            raise RegistryError(msg)
        return Holdout(holdout, x, y, num_classes, names)

    # ------------------------------------------------------------------ writing
    def promote(self, name: str, new: NewVersion, expected_champion: str | None) -> VersionRecord:
        """Store ``new`` as the next version of ``name`` and make it the champion.

        Args:
            name: lineage.
            new: the accepted candidate.
            expected_champion: the champion it was judged against; if another process
                promoted meanwhile, nothing is written.

        Raises:
            RegistryError: the champion changed, the model file changed since it was judged,
                the registry is unwritable or laid out wrongly, or an unlisted version folder
                is not a complete version.
        """
        folder = self._dir(name)
        own: list[Path] = []  # what this promotion made: removed again if it fails
        with self._write_lock(name), self._write_errors(name, own):
            faults.point("promote:locked")
            state = self._current(name)
            if state.champion != expected_champion:
                msg = (
                    f"the champion of {name!r} changed from {expected_champion} to "
                    f"{state.champion} while this gate ran; not promoted: re-gate the candidate "
                    "against the new champion (rerun the same command)"
                )
                raise ChampionChanged(msg)
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / INDEX).exists():
                # an index before the first version: a crash in the first promotion then leaves
                # an orphan the next write lists, and a missing index always means damage
                self._write_index(state, op="create")
            self._remove_leftovers(name)
            numbers = [int(v.version) for v in state.versions]
            version = validate_version(max(numbers, default=0) + 1)
            for sub in FOLDERS:
                (folder / sub).mkdir(exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f"{version}.", dir=folder / ".staging"))
            own.append(staging)

            size, sha = self._copy_model(new.model_file, staging / MODEL)
            if sha != new.model_sha256:
                shutil.rmtree(staging, ignore_errors=True)
                msg = (
                    f"candidate {new.model_file} changed after it was judged (sha256 "
                    f"{new.model_sha256[:12]}... then, {sha[:12]}... now); not promoted, rerun "
                    "the gate"
                )
                raise RegistryError(msg)
            faults.point("promote:after-copy")
            digest = self._store_holdout(name, new.holdout, state.holdouts.get(new.holdout.id))
            faults.point("promote:after-holdout")

            arrays = {f"h{validate_holdout_id(k)}": np.asarray(v, dtype=np.int64)
                      for k, v in new.predictions.items()}  # fmt: skip
            if f"h{new.holdout.id}" not in arrays:
                raise ValueError("NewVersion.predictions must include its own holdout")
            with open(staging / PREDICTIONS, "wb") as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]
            record = VersionRecord(
                name=name,
                version=version,
                created=_now(),
                model_sha256=sha,
                model_bytes=size,
                holdout=new.holdout.id,
                parent=state.champion,
                files={MODEL: sha, PREDICTIONS: sha256_file(staging / PREDICTIONS)},
                metrics=_clean(dict(new.metrics)),
                checks=_clean(list(new.checks)),
                data=_clean(dict(new.data)),
                data_profile=_clean(dict(new.data_profile)) if new.data_profile else None,
                environment=_clean(dict(new.environment)),
            )
            raw = _json_bytes(record.to_json())
            (staging / RECORD).write_bytes(raw)
            for child in (MODEL, PREDICTIONS, RECORD):
                fsync_file(staging / child)
            fsync_dir(staging)
            faults.point("promote:after-record")

            target = folder / "versions" / version
            os.rename(staging, target)
            own.append(target)
            fsync_dir(folder / "versions")
            fsync_dir(folder / ".staging")
            faults.point("promote:after-rename")

            entry = VersionEntry(version, hashlib.sha256(raw).hexdigest(), record.created)
            event = {"event": "promote", "version": version, "from": state.champion,
                     "time": record.created, "reason": "accepted by the gate"}  # fmt: skip
            holdouts = {**state.holdouts, new.holdout.id: digest}
            self._write_index(
                LineageState(name, version, (*state.versions, entry), (*state.history, event),
                             holdouts),
                op="promote",
            )  # fmt: skip
            faults.point("promote:done")
            return record

    def set_champion(self, name: str, version: str, reason: str = "manual") -> LineageState:
        """Point the champion at an existing version (``mlchecks registry promote``)."""
        version = validate_version(version)
        with self._write_lock(name), self._write_errors(name, []):
            state = self._current(name)
            if state.entry(version) is None:
                known = [v.version for v in state.versions]
                msg = f"lineage {name!r} has no version {version}; versions: {known}"
                raise RegistryError(msg)
            self._check_version(name, version, state)  # never point at a damaged version
            versions = tuple(
                VersionEntry(v.version, v.sha256, v.created, False) if v.version == version else v
                for v in state.versions
            )
            event = {"event": "promote", "version": version, "from": state.champion,
                     "time": _now(), "reason": reason}  # fmt: skip
            new_state = dataclasses.replace(state, champion=version, versions=versions,
                                            history=(*state.history, event))  # fmt: skip
            self._write_index(new_state, op="champion")
            return new_state

    def rollback(self, name: str) -> LineageState:
        """Retire the champion; the newest earlier active version becomes champion."""
        with self._write_lock(name), self._write_errors(name, []):
            state = self._current(name)
            target = rollback_target(state, name, self.root)
            self._check_version(name, target, state)  # never roll back onto a damaged version
            versions = tuple(
                VersionEntry(v.version, v.sha256, v.created, True)
                if v.version == state.champion
                else v
                for v in state.versions
            )
            event = {"event": "rollback", "version": target, "from": state.champion,
                     "time": _now(),
                     "reason": f"rolled back; {state.champion} retired"}  # fmt: skip
            new_state = dataclasses.replace(state, champion=target, versions=versions,
                                            history=(*state.history, event))  # fmt: skip
            self._write_index(new_state, op="rollback")
            return new_state

    def verify(self, name: str) -> list[str]:
        """Problems found in lineage ``name`` (empty: consistent): a file where a folder
        belongs, an index that is unreadable, fails its checksum or lists a version twice,
        each version's record, model, predictions and holdout (arrays and metadata) against
        their checksums, unlisted version folders that are not complete versions, a retired
        champion. A complete version folder the index does not list is not a problem (a
        promotion killed before its commit, or an older index restored): the next write lists
        it again."""
        problems: list[str] = []
        try:
            self._check_layout(name)
            state = self.state(name)
        except RegistryError as exc:
            return [str(exc)]
        for entry in state.versions:
            try:
                record = self.record(name, entry.version)
                self.model_path(name, entry.version)
                self.predictions(name, entry.version)
                self._read_holdout(name, record.holdout, state.holdouts.get(record.holdout))
            except (RegistryError, OSError, ValueError) as exc:
                problems.append(str(exc))
        holdouts = dict(state.holdouts)
        for path in self._unlisted(name, state):
            try:
                self._complete_version(name, path, holdouts)
            except RegistryError as exc:
                problems.append(str(exc))
        if state.champion is not None and state.entry(state.champion).retired:  # type: ignore[union-attr]
            problems.append(f"champion {state.champion} of {name!r} is retired")
        return problems

    def leftovers(self, name: str) -> list[Path]:
        """What interrupted promotions left: half-built versions in ``.staging`` and temp
        files (removed by the next write), and version folders the index does not list (never
        removed: the next write lists them again, or refuses an incomplete one)."""
        folder = self._dir(name)
        found = sorted((folder / ".staging").glob("*")) if (folder / ".staging").is_dir() else []
        found += sorted(folder.glob(".*.tmp*")) + sorted(folder.glob("holdouts/.*.tmp*"))
        return found + self._unlisted(name, self.state(name))

    # ------------------------------------------------------------------ internals
    def _check_layout(self, name: str) -> None:
        """Refuse a file where a folder of the lineage belongs (exit 2, nothing written)."""
        folder = self._dir(name)
        for path in (folder, *(folder / sub for sub in FOLDERS)):
            if os.path.lexists(path) and not path.is_dir():
                msg = (
                    f"registry path {path} is not a folder (mlchecks keeps "
                    f"{'the lineage' if path == folder else path.name + '/'} there); move that "
                    "file away and rerun"
                )
                raise RegistryError(msg)

    def _current(self, name: str) -> LineageState:
        """The index as a write starts from it: version folders it does not list are listed
        again (retired), and holdout files it has no digest for (a legacy index) get one."""
        self._check_layout(name)
        state = self.state(name)
        holdouts = dict(state.holdouts)
        entries, events = list(state.versions), []
        for path in self._unlisted(name, state):
            entries.append(self._complete_version(name, path, holdouts))
            events.append({"event": "relist", "version": path.name, "from": state.champion,
                           "time": _now(),
                           "reason": f"version folder found but not listed in {INDEX} (an "
                                     "older index restored, or a promotion killed before its "
                                     "commit); listed again, retired: `mlchecks registry "
                                     f"promote {path.name}` makes it champion"})  # fmt: skip
        hdir = self._dir(name) / "holdouts"
        for path in sorted(hdir.glob("*.npz")) if hdir.is_dir() else ():
            if path.stem in holdouts or not _HOLDOUT_FILE.fullmatch(path.name):
                continue
            try:  # migrate on write: a digest for what verifies as far as it can be
                h = self._read_holdout(name, path.stem, None)
            except RegistryError:
                continue  # damaged: verify reports it; never blessed with a digest
            holdouts[h.id] = holdout_digest(h.x, h.y, h.num_classes, h.class_names)
        entries.sort(key=lambda e: int(e.version))
        history = (*state.history, *events)
        return dataclasses.replace(state, versions=tuple(entries), history=history,
                                   holdouts=holdouts)  # fmt: skip

    def _unlisted(self, name: str, state: LineageState) -> list[Path]:
        folder = self._dir(name) / "versions"
        if not folder.is_dir():
            return []
        listed = {v.version for v in state.versions}
        return [p for p in sorted(folder.iterdir())
                if p.name not in listed and _VERSION.fullmatch(p.name)]  # fmt: skip

    def _complete_version(self, name: str, path: Path, holdouts: dict[str, str]) -> VersionEntry:
        """The index entry of an unlisted version folder that holds a complete version (its
        record, model, predictions and holdout all verify); else a RegistryError saying to
        move it away (a version folder is never deleted)."""
        try:
            raw = (path / RECORD).read_bytes()
            record = VersionRecord.from_json(_load_json(raw), str(path / RECORD))
            if record.name != name or record.version != path.name:
                raise ValueError(f"its record describes {record.name!r} {record.version}")
            expected = {MODEL: record.model_sha256, PREDICTIONS: record.files.get(PREDICTIONS)}
            for filename, sha in expected.items():
                if sha256_file(path / filename) != sha:
                    raise ValueError(f"{filename} does not match its record")
            self._read_holdout(name, record.holdout, holdouts.get(record.holdout))
            if not isinstance(record.created, str):
                raise ValueError(f"created {record.created!r} is not a time")
        except (OSError, ValueError, TypeError, RegistryError) as exc:
            text = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) else str(exc)
            msg = (
                f"version folder {path} is not listed in {INDEX} and is not a complete version "
                f"({text}); mlchecks never deletes a version folder: move it out of "
                f"{path.parent} (or restore the {INDEX} that lists it) and rerun"
            )
            raise RegistryError(msg) from None
        return VersionEntry(path.name, hashlib.sha256(raw).hexdigest(), record.created, True)

    def _check_version(self, name: str, version: str, state: LineageState) -> None:
        """Every file of a version verifies (against ``state``, which may list it anew)."""
        entry = state.entry(version)
        path = self._dir(name) / "versions" / version / RECORD
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise RegistryError(f"version {version} of {name!r}: {path} is unreadable "
                                f"({exc.strerror})") from None  # fmt: skip
        if entry is None or hashlib.sha256(raw).hexdigest() != entry.sha256:
            msg = f"version {version} of {name!r}: {path} fails its sha256 check"
            raise RegistryError(msg)
        record = VersionRecord.from_json(_load_json(raw), str(path))
        self._verified_file(name, version, MODEL, record.model_sha256)

    @contextlib.contextmanager
    def _write_errors(self, name: str, own: list[Path]) -> Iterator[None]:
        """Turn an OS error while writing (under the write lock) into a one-line
        :class:`RegistryError` that says what the champion is now, after removing what this
        write made and did not commit (``own``), so a full disk gets its space back."""
        try:
            yield
        except OSError as exc:
            with contextlib.suppress(OSError, RegistryError):
                listed = {v.version for v in self.state(name).versions}
                for path in reversed(own):
                    if not (path.parent.name == "versions" and path.name in listed):
                        shutil.rmtree(path, ignore_errors=True)
            try:
                champion = self.state(name).champion
                now = (f"the champion of {name!r} is {champion}" if champion
                       else f"{name!r} has no champion yet")  # fmt: skip
            except RegistryError as err:
                now = f"its index is now unreadable ({err})"
            if exc.errno in _NOT_WRITABLE:
                raise _unwritable(self.root, exc, now) from None
            what = exc.strerror or type(exc).__name__
            where = f" ({exc.filename})" if exc.filename else ""
            msg = (
                f"cannot write to registry {self.root}: {what}{where}; nothing half-written was "
                f"kept and {now}. Free space on that device (or fix it) and rerun"
            )
            raise RegistryWriteError(msg) from None

    def _remove_leftovers(self, name: str) -> None:
        """Half-built versions in ``.staging`` and temp files; never a version folder."""
        folder = self._dir(name)
        found = sorted((folder / ".staging").glob("*")) if (folder / ".staging").is_dir() else []
        found += sorted(folder.glob(".*.tmp*")) + sorted(folder.glob("holdouts/.*.tmp*"))
        for path in found:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _copy_model(self, source: Path, target: Path) -> tuple[int, str]:
        """Copy, hashing what is written; ``promote:mid-copy`` dies half-way."""
        h = hashlib.sha256()
        size = 0
        try:
            total = source.stat().st_size
            src = open(source, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            msg = f"cannot read {source} to copy it into the registry ({exc.strerror})"
            raise RegistryError(msg) from None
        # a failing write (disk full) propagates as OSError: see _write_errors
        with src, open(target, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 16), b""):
                dst.write(chunk)
                h.update(chunk)
                size += len(chunk)
                if size >= total / 2:
                    dst.flush()
                    faults.point("promote:mid-copy")
        return size, h.hexdigest()

    def _store_holdout(self, name: str, holdout: Holdout, expected: str | None) -> str:
        """Store ``holdout`` unless a copy that verifies is there; its digest as stored."""
        path = self._dir(name) / "holdouts" / f"{validate_holdout_id(holdout.id)}.npz"
        if path.is_file():
            try:
                h = self._read_holdout(name, holdout.id, expected)
                return holdout_digest(h.x, h.y, h.num_classes, h.class_names)
            except RegistryError:
                pass  # damaged copy of the same content: rewrite it
        if holdout_id(holdout.x, holdout.y) != holdout.id:
            raise ValueError("holdout id does not match its content")

        def write(f: Any) -> None:
            np.savez(f, x=holdout.x, y=holdout.y, num_classes=np.int64(holdout.num_classes),
                     class_names=np.array(holdout.class_names, dtype=str))  # fmt: skip

        _atomic_write(path, write)
        return holdout_digest(holdout.x, holdout.y, holdout.num_classes, holdout.class_names)

    def _write_index(self, state: LineageState, op: str) -> None:
        path = self._dir(state.name) / INDEX
        content = state.to_json()
        content["checksum"] = index_checksum(content)
        data = _json_bytes(content)
        _atomic_write(path, lambda f: f.write(data), fault=f"{op}:index-tmp")
        faults.point(f"{op}:after-index")
