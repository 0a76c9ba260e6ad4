"""Keep TensorFlow's and Keras' noise out of what the user reads, and only that.

Three kinds, none of them the user's business when mlchecks is the one calling TensorFlow:

- the environment defaults TensorFlow reads once, when it is imported
  (``TF_CPP_MIN_LOG_LEVEL``): :func:`tf_env_defaults` sets them only where the user has not;
- the lines TensorFlow's C++ side writes straight to file descriptor 2 while it is imported,
  whatever ``TF_CPP_MIN_LOG_LEVEL`` says ("WARNING: All log messages before
  absl::InitializeLog() ...", "oneDNN custom operations are on", "This TensorFlow binary is
  optimized ..."): :func:`install` filters them during that import, by the level the user's
  ``TF_CPP_MIN_LOG_LEVEL`` (or the default) asks for; everything else written meanwhile is
  passed on unchanged;
- the ``DeprecationWarning``\\ s Keras and TensorFlow raise inside mlchecks' own calls (numpy
  2's ``__array__`` copy keyword, ...), which a user's pytest summary would list:
  :func:`backend_warnings` ignores them around those calls only, so the user's own code still
  sees every warning.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from typing import Any

from mlchecks._util import imports

#: What mlchecks sets when the user has not (3: TensorFlow's C++ INFO, WARNING and ERROR lines
#: off, as the mlchecks command always did; errors that matter reach Python as exceptions).
TF_DEFAULTS = {"TF_CPP_MIN_LOG_LEVEL": "3"}
#: Modules whose DeprecationWarnings inside mlchecks' calls are not the user's business.
BACKEND_MODULES = r"(keras|tensorflow|tf_keras|jax|torch|google\.protobuf|flatbuffers|h5py)(\.|$)"

_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
_NATIVE_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_LEVELS = {"I": 0, "W": 1, "E": 2, "F": 3}
_CONTINUATION = "To enable the following instructions:"
_lock = threading.Lock()


def tf_env_defaults() -> None:
    """Set :data:`TF_DEFAULTS` where the user has not set them (before TensorFlow is imported;
    afterwards TensorFlow no longer reads them)."""
    for key, value in TF_DEFAULTS.items():
        os.environ.setdefault(key, value)


def _min_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", TF_DEFAULTS["TF_CPP_MIN_LOG_LEVEL"]))
    except ValueError:
        return 0


def filter_native(text: str, min_level: int) -> str:
    """``text`` without TensorFlow's native log lines below ``min_level`` (0 keeps them all;
    1 drops INFO, 2 WARNING too, 3 ERROR too) and without absl's preamble about them."""
    if min_level <= 0:
        return text
    kept: list[str] = []
    dropped = False
    for line in text.splitlines(keepends=True):
        match = _NATIVE_LINE.match(line)
        if line.startswith(_ABSL_PREAMBLE):
            dropped = True
            continue
        if match and _LEVELS[match.group(1)] < min_level:
            dropped = True
            continue
        if dropped and line.startswith(_CONTINUATION):  # the second line of cpu_feature_guard
            continue
        dropped = False
        kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def native_stderr_filtered() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file for the block, then write back what
    :func:`filter_native` keeps of it."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with _lock, tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = filter_native(capture.read().decode(errors="replace"), _min_level())
            if text:
                with contextlib.suppress(OSError, ValueError):
                    os.write(2, text.encode())


def _quiet_exec(exec_module: Any, module: Any) -> None:
    with native_stderr_filtered():
        exec_module(module)


#: The hook of :func:`install` while TensorFlow is not imported yet.
_HOOK: list[imports.FirstImport] = []


def install() -> None:
    """Set the environment defaults and filter TensorFlow's import-time native lines (once;
    nothing to do when TensorFlow is already imported)."""
    if "tensorflow" in sys.modules:
        return
    tf_env_defaults()
    if not any(f in sys.meta_path for f in _HOOK):
        _HOOK[:] = [imports.hook("tensorflow", _quiet_exec)]


@contextlib.contextmanager
def backend_warnings() -> Iterator[None]:
    """Ignore the DeprecationWarnings Keras, TensorFlow and friends raise inside the block (an
    mlchecks call into them); every other warning passes as before."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=BACKEND_MODULES)
        yield
