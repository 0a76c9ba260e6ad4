"""Progress of long work on stderr: one helper, passed down to whoever does the work.

On a terminal (a TTY) the current phase is one live line, rewritten in place ("mlchecks:
training mlp: epoch 7/20") and cleared before anything else is printed; elsewhere (CI logs, a
pipe, a file) each phase is one plain line and the finer updates (epochs) are left out, so logs
stay line-oriented and short. ``-q``/``--quiet`` gives :data:`SILENT`. The caller picks the
stream (``mlchecks gate``: stderr on a terminal, else its own output stream, never the stdout
that ``--json -`` keeps for the decision).
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

PREFIX = "mlchecks: "
_CLEAR = "\r\x1b[K"


class Progress:
    """Phases and updates of long work.

    Args:
        stream: where to write. Defaults to ``sys.stderr`` (looked up at each write).
        enabled: write anything at all. Defaults to True.
        tty: treat ``stream`` as a terminal. Defaults to ``stream.isatty()``.
    """

    def __init__(
        self, stream: TextIO | None = None, *, enabled: bool = True, tty: bool | None = None
    ) -> None:
        self._stream = stream
        self.enabled = enabled
        self._tty = tty
        self._live = False
        self._lock = threading.Lock()

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def tty(self) -> bool:
        if self._tty is None:
            try:
                self._tty = bool(self.stream.isatty())
            except (AttributeError, ValueError):
                self._tty = False
        return self._tty

    def phase(self, text: str) -> None:
        """A new phase of the work (loading, training a model, a check category)."""
        if self.enabled:
            self._write(text, line=not self.tty)

    def update(self, text: str) -> None:
        """A finer step inside a phase (an epoch): shown on a terminal only."""
        if self.enabled and self.tty:
            self._write(text, line=False)

    def clear(self) -> None:
        """Remove the live line before other output is printed (a no-op off a terminal)."""
        if not (self.enabled and self._live):
            return
        with self._lock:
            self._emit(_CLEAR)
            self._live = False

    def _write(self, text: str, *, line: bool) -> None:
        text = " ".join(text.split())
        with self._lock:
            if line:
                self._emit(f"{PREFIX}{text}\n")
                return
            width = _columns(self.stream) - 1
            shown = f"{PREFIX}{text}"
            if len(shown) > width > 3:
                shown = shown[: width - 3] + "..."
            self._emit(f"{_CLEAR}{shown}")
            self._live = True

    def _emit(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stderr never fails the work
            self.enabled = False


def _columns(stream: TextIO) -> int:
    import os
    import shutil

    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return shutil.get_terminal_size().columns


#: Progress that writes nothing (``-q``, the pytest door, library use).
SILENT = Progress(enabled=False)
