"""One home for atomic file writes: temp file in the same folder, optional fsync, rename.

Every writer of mlchecks (registry index and records, model-cache memos, reports, the decision
JSON, ``mlchecks lint --json``) goes through :func:`atomic_write`, so a crash or a full disk
never leaves half a file under the final name, and a failed write is never hidden: it raises
``OSError``. Callers for whom the file is only an optimisation (memos) use :func:`try_write`.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from mlchecks._util import faults

__all__ = ["atomic_write", "fsync_dir", "fsync_file", "try_write"]


def fsync_dir(path: Path) -> None:
    """fsync a folder, so a rename inside it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(
    path: Path,
    data: str | bytes | Callable[[IO[Any]], None] | None = None,
    *,
    to_path: Callable[[Path], None] | None = None,
    durable: bool = False,
    fault: str | None = None,
    shared: bool = False,
) -> None:
    """Write ``path`` atomically: all of it, or (after a crash) the previous file untouched.

    Args:
        path: the final file.
        data: text, bytes, or a callable writing to the open binary file.
        to_path: instead of ``data``, a callable given the temp file's path (``np.save``,
            ``model.save``).
        durable: fsync the file before the rename and the folder after it. Defaults to False.
        fault: a :mod:`mlchecks._util.faults` point hit after half the data is written
            (tests kill the process there). Defaults to None.
        shared: make the file readable by others (umask applied), as a report is meant to be
            served; ``mkstemp`` files are private otherwise. Defaults to False.

    Raises:
        OSError: the folder cannot be created or the file cannot be written (nothing is left
            under a temporary name).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix,
                               dir=path.parent)  # fmt: skip
    try:
        if shared:
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            if to_path is None:
                _write(f, data, fault)
        if to_path is not None:
            to_path(Path(tmp))
            if fault:
                faults.point(fault)
        if durable:
            fsync_file(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if durable:
        fsync_dir(path.parent)


def _write(f: IO[bytes], data: str | bytes | Callable[[IO[Any]], None] | None, fault: str | None
           ) -> None:  # fmt: skip
    if callable(data):
        data(f)
        if fault:
            f.flush()
            faults.point(fault)
        return
    raw = data.encode("utf-8") if isinstance(data, str) else (data or b"")
    half = len(raw) // 2
    f.write(raw[:half])
    if fault:  # a kill here leaves half a file: the temp file, never ``path``
        f.flush()
        faults.point(fault)
    f.write(raw[half:])


def try_write(path: Path, to_path: Callable[[Path], None]) -> bool:
    """:func:`atomic_write` for files that only save time later (memos): a failed write (disk
    full, read-only cache) is skipped, never an error of the run. Returns whether it was
    written."""
    try:
        atomic_write(path, to_path=to_path)
    except OSError:
        return False
    return True
