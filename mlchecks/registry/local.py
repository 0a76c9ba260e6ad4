"""The local-folder registry (the embedded default, ``.mlchecks/registry``).

Layout::

    <root>/
      .locks/<name>.lock          write lock of a lineage (held for milliseconds)
      .locks/<name>.gate.lock     held by a promoting gate from reading the champion to promotion
      <name>/
        index.json                champion pointer, versions (with the sha256 of each
                                  version.json), history: the one file a commit replaces
        versions/0001/
          model.keras             the accepted model
          predictions.npz         its predicted class ids on every holdout it was judged on
          version.json            VersionRecord: sha256 of the files above, metrics, ...
        holdouts/<id>.npz         holdouts by content hash (shared by versions gated on them)
        .staging/                 half-built versions (removed by the next write)

Crash safety: a version is built in ``.staging`` (each file fsynced), renamed into
``versions/`` (directory fsynced), and only then made visible by atomically replacing
``index.json`` (temp file, fsync, rename, directory fsync). A crash at any point leaves either
the old index (the new folder is an orphan, cleaned up by the next write) or the new one; the
champion a reader finds is always complete. Every read is verified: the index vouches for
``version.json`` by sha256, the record for the model, predictions and holdout. A lineage gets an
empty index before its first version, so an index missing beside stored versions is damage:
reported, never read as an empty lineage (whose next promotion would clean the versions away).

A write that fails for the machine's reasons (disk full, I/O error) removes its half-built
version and raises :class:`RegistryWriteError` (exit 3) saying what the champion is now.

Fault points (``MLCHECKS_FAULT``, see :mod:`mlchecks._util.faults`): ``promote:locked``,
``promote:mid-copy``, ``promote:after-copy``, ``promote:after-holdout``,
``promote:after-record``, ``promote:after-rename``, ``promote:index-tmp``,
``promote:after-index``, ``promote:done``; ``create:index-tmp``, ``rollback:index-tmp``,
``champion:index-tmp``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
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
    FORMAT,
    Holdout,
    LineageState,
    NewVersion,
    VersionEntry,
    VersionRecord,
    holdout_id,
    sha256_file,
    validate_holdout_id,
    validate_name,
    validate_version,
)

LOCK_TIMEOUT_S = 120.0
GATE_LOCK_TIMEOUT_S = 900.0
MODEL = "model.keras"
PREDICTIONS = "predictions.npz"
RECORD = "version.json"
INDEX = "index.json"


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


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


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
            msg = f"registry {self.root} is not writable ({exc.strerror}); check --registry"
            raise RegistryError(msg) from None
        return folder / f"{validate_name(name)}.{kind}"

    @contextlib.contextmanager
    def _write_lock(self, name: str) -> Iterator[None]:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self._lock_path(name, "lock")), timeout=LOCK_TIMEOUT_S)
        try:
            lock.acquire()
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
            lock.acquire(blocking=False)
        except Timeout:
            print(f"mlchecks: waiting for another gate promoting into {name!r}...", flush=True)
            try:
                lock.acquire()
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
            RegistryError: the index is unreadable, or missing while versions are stored (read
                as empty, the next promotion would clean those versions away as leftovers).
        """
        path = self._dir(name) / INDEX
        if not os.path.lexists(path):
            folder = path.parent / "versions"
            stored = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            if stored:
                msg = (
                    f"registry index {path} is missing but {folder} holds versions {stored}; "
                    "restore index.json from a backup or move the lineage folder away"
                )
                raise RegistryError(msg)
            return LineageState(name, None, (), ())
        try:
            data = json.loads(path.read_bytes())
            if data.get("format") != FORMAT or data.get("name") != name:
                raise ValueError(f"format {data.get('format')!r}, name {data.get('name')!r}")
            versions = tuple(
                VersionEntry(validate_version(v["version"]), str(v["sha256"]), str(v["created"]),
                             bool(v.get("retired", False)))
                for v in data["versions"]
            )  # fmt: skip
            champion = data.get("champion")
            if champion is not None:
                champion = validate_version(champion)
                if champion not in {v.version for v in versions}:
                    raise ValueError(f"champion {champion} is not a listed version")
            history = tuple(dict(h) for h in data.get("history", []))
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RegistryError) as exc:
            msg = (
                f"registry index {path} is unreadable ({type(exc).__name__}: {exc}); restore it "
                "from a backup or move the lineage folder away"
            )
            raise RegistryError(msg) from None
        return LineageState(name, champion, versions, history)

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
            data = json.loads(raw)
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
        """A stored holdout; its content must hash to its id."""
        holdout = validate_holdout_id(holdout)
        path = self._dir(name) / "holdouts" / f"{holdout}.npz"
        try:
            # our own handle: np.load leaks its file when the archive is damaged
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                x, y = data["x"], data["y"]
                num_classes = int(data["num_classes"])
                names = tuple(str(s) for s in data["class_names"])
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            msg = f"holdout {holdout} of {name!r} ({path}) is unreadable ({exc})"
            raise RegistryError(msg) from None
        if holdout_id(x, y) != holdout:
            msg = f"holdout {path} does not hash to its id: it was tampered with or damaged"
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
            RegistryError: the champion changed, or the model file changed since it was judged.
        """
        folder = self._dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        with self._write_lock(name), self._write_errors(name):
            faults.point("promote:locked")
            state = self.state(name)
            if state.champion != expected_champion:
                msg = (
                    f"the champion of {name!r} changed from {expected_champion} to "
                    f"{state.champion} while this gate ran; rerun the gate against the new champion"
                )
                raise RegistryError(msg)
            if not (folder / INDEX).exists():
                # an index before the first version: a crash in the first promotion then leaves
                # an orphan the next write cleans, and a missing index always means damage
                self._write_index(state, op="create")
            self._remove_leftovers(name, state)
            numbers = [int(v.version) for v in state.versions]
            version = validate_version(max(numbers, default=0) + 1)
            (folder / "versions").mkdir(exist_ok=True)
            (folder / "holdouts").mkdir(exist_ok=True)
            staging_root = folder / ".staging"
            staging_root.mkdir(exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f"{version}.", dir=staging_root))

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
            self._store_holdout(name, new.holdout)
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
            fsync_dir(folder / "versions")
            fsync_dir(staging_root)
            faults.point("promote:after-rename")

            entry = VersionEntry(version, hashlib.sha256(raw).hexdigest(), record.created)
            event = {"event": "promote", "version": version, "from": state.champion,
                     "time": record.created, "reason": "accepted by the gate"}  # fmt: skip
            self._write_index(
                LineageState(name, version, (*state.versions, entry), (*state.history, event)),
                op="promote",
            )
            faults.point("promote:done")
            return record

    def set_champion(self, name: str, version: str, reason: str = "manual") -> LineageState:
        """Point the champion at an existing version (``mlchecks registry promote``)."""
        version = validate_version(version)
        with self._write_lock(name), self._write_errors(name):
            state = self.state(name)
            if state.entry(version) is None:
                known = [v.version for v in state.versions]
                msg = f"lineage {name!r} has no version {version}; versions: {known}"
                raise RegistryError(msg)
            self.model_path(name, version)  # never point at a damaged version
            versions = tuple(
                VersionEntry(v.version, v.sha256, v.created, False) if v.version == version else v
                for v in state.versions
            )
            event = {"event": "promote", "version": version, "from": state.champion,
                     "time": _now(), "reason": reason}  # fmt: skip
            new_state = LineageState(name, version, versions, (*state.history, event))
            self._write_index(new_state, op="champion")
            return new_state

    def rollback(self, name: str) -> LineageState:
        """Retire the champion; the newest earlier active version becomes champion."""
        with self._write_lock(name), self._write_errors(name):
            state = self.state(name)
            if state.champion is None:
                msg = f"lineage {name!r} in {self.root} has no champion to roll back"
                raise RegistryError(msg)
            earlier = [v for v in state.active if int(v.version) < int(state.champion)]
            if not earlier:
                msg = (
                    f"champion {state.champion} of {name!r} has no earlier active version to roll "
                    "back to; promote one explicitly with `mlchecks registry promote VERSION`"
                )
                raise RegistryError(msg)
            target = earlier[-1].version
            self.model_path(name, target)  # never roll back onto a damaged version
            versions = tuple(
                VersionEntry(v.version, v.sha256, v.created, True)
                if v.version == state.champion
                else v
                for v in state.versions
            )
            event = {"event": "rollback", "version": target, "from": state.champion,
                     "time": _now(),
                     "reason": f"rolled back; {state.champion} retired"}  # fmt: skip
            new_state = LineageState(name, target, versions, (*state.history, event))
            self._write_index(new_state, op="rollback")
            return new_state

    def verify(self, name: str) -> list[str]:
        """Problems found in lineage ``name`` (empty: consistent). Leftovers of interrupted
        promotions are not problems: they are invisible and removed by the next write."""
        problems: list[str] = []
        try:
            state = self.state(name)
        except RegistryError as exc:
            return [str(exc)]
        for entry in state.versions:
            try:
                record = self.record(name, entry.version)
                self.model_path(name, entry.version)
                self.predictions(name, entry.version)
                self.holdout(name, record.holdout)
            except (RegistryError, OSError, ValueError) as exc:
                problems.append(str(exc))
        if state.champion is not None and state.entry(state.champion).retired:  # type: ignore[union-attr]
            problems.append(f"champion {state.champion} of {name!r} is retired")
        return problems

    def leftovers(self, name: str) -> list[Path]:
        """Folders left by interrupted promotions (staging, versions not in the index)."""
        folder = self._dir(name)
        listed = {v.version for v in self.state(name).versions}
        found = sorted((folder / ".staging").glob("*")) if (folder / ".staging").is_dir() else []
        found += sorted(folder.glob(".*.tmp")) + sorted(folder.glob("holdouts/.*.tmp"))
        if (folder / "versions").is_dir():
            found += [p for p in sorted((folder / "versions").iterdir()) if p.name not in listed]
        return found

    # ------------------------------------------------------------------ internals
    @contextlib.contextmanager
    def _write_errors(self, name: str) -> Iterator[None]:
        """Turn an OS error while writing (under the write lock) into a one-line
        :class:`RegistryError` that says what the champion is now, after removing the
        half-built version so a full disk gets its space back."""
        try:
            yield
        except OSError as exc:
            with contextlib.suppress(OSError, RegistryError):
                self._remove_leftovers(name, self.state(name))
            try:
                champion = self.state(name).champion
                now = (f"the champion of {name!r} is {champion}" if champion
                       else f"{name!r} has no champion yet")  # fmt: skip
            except RegistryError as err:
                now = f"its index is now unreadable ({err})"
            what = exc.strerror or type(exc).__name__
            where = f" ({exc.filename})" if exc.filename else ""
            if exc.errno in _NOT_WRITABLE:
                msg = (
                    f"registry {self.root} is not writable: {what}{where}; {now}; check --registry"
                )
                raise RegistryError(msg) from None
            msg = (
                f"cannot write to registry {self.root}: {what}{where}; nothing half-written was "
                f"kept and {now}. Free space on that device (or fix it) and rerun"
            )
            raise RegistryWriteError(msg) from None

    def _remove_leftovers(self, name: str, state: LineageState) -> None:
        for path in self.leftovers(name):
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

    def _store_holdout(self, name: str, holdout: Holdout) -> None:
        path = self._dir(name) / "holdouts" / f"{validate_holdout_id(holdout.id)}.npz"
        if path.is_file():
            try:
                self.holdout(name, holdout.id)
                return
            except RegistryError:
                pass  # damaged copy of the same content: rewrite it
        if holdout_id(holdout.x, holdout.y) != holdout.id:
            raise ValueError("holdout id does not match its content")

        def write(f: Any) -> None:
            np.savez(f, x=holdout.x, y=holdout.y, num_classes=np.int64(holdout.num_classes),
                     class_names=np.array(holdout.class_names, dtype=str))  # fmt: skip

        _atomic_write(path, write)

    def _write_index(self, state: LineageState, op: str) -> None:
        path = self._dir(state.name) / INDEX
        data = _json_bytes(state.to_json())
        _atomic_write(path, lambda f: f.write(data), fault=f"{op}:index-tmp")
        faults.point(f"{op}:after-index")
