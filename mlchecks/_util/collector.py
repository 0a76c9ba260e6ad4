"""The garbage collector in a short-lived ``mlchecks`` process (the command, not a library use).

With a Keras backend loaded the Python heap holds millions of long-lived objects (TensorFlow's
modules, op registries, docstrings), and every full collection walks all of them:

- while TensorFlow is imported, 7-8 full collections, each slower as the heap grows (0.7-1.2 s
  in all, of a 10 s gate; measured with ``gc.callbacks``), that free almost nothing;
- at exit, the interpreter's final collection (1.3-2 s, after the last line was printed).

``gc.freeze()`` moves the objects alive at that moment into the permanent generation, which no
collection walks. :func:`freeze_after_import` turns the collector off for the backend's import
and freezes what it made once it has finished (the backend's objects are never garbage);
:func:`freeze` does it at the end of the command. Only the
``mlchecks`` program calls them: in a long-lived process (a test session calling
``mlchecks.cli.main([...])``) frozen objects would be kept alive until it exits.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.abc
import importlib.util
import sys
from typing import Any


def freeze() -> None:
    """Exempt every object alive now from all later collections (see the module docstring)."""
    gc.freeze()


class _FreezeAfterImport(importlib.abc.MetaPathFinder):
    """Calls :func:`freeze` once the first import of ``name`` has run (one shot)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._busy = False

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self.name or self._busy:
            return None
        self._busy = True  # the lookup below must not come back here
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy = False
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_freeze(module: Any) -> None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)
            enabled = gc.isenabled()
            gc.disable()  # the import's own full collections: see the module docstring
            try:
                exec_module(module)
            finally:
                freeze()
                if enabled:
                    gc.enable()

        loader.exec_module = exec_then_freeze
        return spec


def freeze_after_import(name: str) -> None:
    """:func:`freeze` right after ``name`` is first imported (now, when it already is)."""
    if name in sys.modules:
        freeze()
        return
    sys.meta_path.insert(0, _FreezeAfterImport(name))
