"""Reading untrusted files within bounds: regular files only, zip members judged one by one.

``mlchecks gate`` and ``mlchecks lint`` read files handed to them (``.keras`` models, ``.npz``
data). Before anything is decompressed or allocated these helpers say what is wrong with a
file: a FIFO (opening it blocks until a writer comes), a zip whose members declare more than
the limits, a member that inflates far beyond what it stores. They return a sentence (or
``None``) and raise nothing of mlchecks' own, so that each caller raises its own error
(``ModelError``, ``DataError``) naming its file. Stdlib only.

Zip members are judged one by one (issue 17, item 9): an aggregate ratio is diluted by a few
MiB of incompressible padding, so eight 255 MiB bombs hid behind 4 MiB of noise. The declared
uncompressed sizes are honest upper bounds of what :mod:`zipfile` produces (it stops at the
declared size and fails the CRC check of a longer stream), so judging them bounds the reading.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

GiB = 1024**3
MiB = 1024**2


def not_regular(path: Path) -> str | None:
    """Why ``path`` cannot be read as a plain file, or ``None`` when it can.

    Follows symbolic links (a link to a regular file is fine). Never opens the file: opening a
    FIFO blocks until something writes to it, which hung the gate forever (issue 17, item 11).
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        kind = "a folder"
    elif stat.S_ISFIFO(mode):
        kind = "a FIFO (named pipe)"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    else:
        kind = "a special file"
    return f"is {kind}, not a regular file"


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for binary reading, if it is a regular file when opened.

    Opened non-blocking (a FIFO swapped in since :func:`not_regular` opens at once instead of
    waiting for a writer), then judged on what was opened (``fstat``), so the checks and the
    reading see the same file.

    Raises:
        OSError: it cannot be opened. ValueError: it is not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("is not a regular file")
        return os.fdopen(fd, "rb")  # O_NONBLOCK does not change reads of a regular file
    except BaseException:
        os.close(fd)
        raise


@dataclasses.dataclass(frozen=True)
class ZipLimits:
    """What the members of an archive may declare.

    Attributes:
        max_member_bytes: uncompressed size of any one member.
        max_total_bytes: uncompressed size of all members together.
        max_ratio: uncompressed / compressed size of any one member larger than
            ``ratio_floor_bytes`` (deflate cannot exceed ~1032:1; bzip2 and lzma can).
        ratio_floor_bytes: members up to this size are not judged on their ratio (small JSON
            compresses well and cannot hurt).
        methods: the compression methods allowed (stored and deflated: what Keras and
            ``np.savez``/``np.savez_compressed`` write).
    """

    max_member_bytes: int
    max_total_bytes: int
    max_ratio: float
    ratio_floor_bytes: int
    methods: frozenset[int] = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated",
            zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}  # fmt: skip


def size(n: float) -> str:
    """``1.5 GiB``, ``27.0 KiB``, ``12 bytes``: a byte count for a message."""
    for unit, scale in (("TiB", 1024**4), ("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def zip_problem(
    infos: Iterable[zipfile.ZipInfo], archive_bytes: int, limits: ZipLimits
) -> str | None:
    """The first reason the members ``infos`` of an archive of ``archive_bytes`` are refused.

    Every member is judged on its own: its compressed size must fit in the archive, its
    compression method must be allowed, it must not be encrypted, its uncompressed size must
    be at most ``limits.max_member_bytes`` and, above ``limits.ratio_floor_bytes``, at most
    ``limits.max_ratio`` times what it stores. Then all members together must be at most
    ``limits.max_total_bytes``. Messages of members that inflate beyond the limits say
    "zip bomb".
    """
    total = 0
    for info in infos:
        name = info.filename
        if info.compress_size > archive_bytes:
            return (
                f"member {name!r} declares {size(info.compress_size)} compressed, more than the "
                f"whole file holds ({size(archive_bytes)}): a damaged or forged archive"
            )
        if info.compress_type not in limits.methods:
            method = _METHODS.get(info.compress_type, f"method {info.compress_type}")
            allowed = ", ".join(_METHODS.get(m, str(m)) for m in sorted(limits.methods))
            return f"member {name!r} is compressed with {method}; allowed: {allowed}"
        if info.flag_bits & 0x1:
            return f"member {name!r} is encrypted; save the file again without a password"
        if info.file_size > limits.max_member_bytes:
            return (
                f"member {name!r} declares {size(info.file_size)} uncompressed from "
                f"{size(info.compress_size)} (a zip bomb?); limit {size(limits.max_member_bytes)} "
                "a member"
            )
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            return (
                f"member {name!r} inflates {size(info.compress_size)} to {size(info.file_size)} "
                f"({ratio:.0f}:1, a zip bomb?); limit {limits.max_ratio:.0f}:1 for members "
                f"over {size(limits.ratio_floor_bytes)}"
            )
        total += info.file_size
    if total > limits.max_total_bytes:
        return (
            f"its members declare {size(total)} uncompressed in all (a zip bomb?); limit "
            f"{size(limits.max_total_bytes)}"
        )
    return None


def read_member(archive: zipfile.ZipFile, name: str, max_bytes: int) -> bytes:
    """The bytes of member ``name``, refusing (``ValueError``) one larger than ``max_bytes``.

    The declared size is judged before anything is decompressed; the read itself stops one
    byte past the limit whatever the member turns out to hold.
    """
    info = archive.getinfo(name)
    if info.file_size > max_bytes:
        msg = f"member {name!r} declares {size(info.file_size)}; limit {size(max_bytes)}"
        raise ValueError(msg)
    with archive.open(info) as member:
        data = member.read(max_bytes + 1)
    if len(data) > max_bytes:
        msg = f"member {name!r} holds more than {size(max_bytes)}; limit {size(max_bytes)}"
        raise ValueError(msg)
    return data


def memory_available() -> tuple[int | None, str]:
    """Bytes this process can still allocate, and where the figure comes from.

    The smaller of the memory the kernel reports available (``MemAvailable`` of
    ``/proc/meminfo``, or ``sysconf`` pages) and, under an address-space limit
    (``RLIMIT_AS``, ``ulimit -v``), what the limit leaves beyond the current address space.
    ``None`` when neither can be read.
    """
    figures: list[tuple[int, str]] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    figures.append((int(line.split()[1]) * 1024, "memory available"))
                    break
    except (OSError, ValueError, IndexError):
        pass
    if not figures:
        try:
            pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            figures.append((int(pages), "memory available"))
        except (ValueError, OSError, AttributeError):
            pass
    try:
        import resource  # POSIX only
    except ImportError:
        soft = -1
    else:
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        soft = -1 if soft == resource.RLIM_INFINITY else soft
    if soft >= 0:
        used = 0
        try:
            with open("/proc/self/statm", encoding="ascii") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            pass
        figures.append((max(0, soft - used), f"address space left under RLIMIT_AS {size(soft)}"))
    if not figures:
        return None, "unknown"
    return min(figures)
