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

import gc
import sys
from typing import Any

from mlchecks._util import imports


def freeze() -> None:
    """Exempt every object alive now from all later collections (see the module docstring)."""
    gc.freeze()


def _exec_then_freeze(exec_module: Any, module: Any) -> None:
    enabled = gc.isenabled()
    gc.disable()  # the import's own full collections: see the module docstring
    try:
        exec_module(module)
    finally:
        freeze()
        if enabled:
            gc.enable()


def freeze_after_import(name: str) -> None:
    """:func:`freeze` right after ``name`` is first imported (now, when it already is)."""
    if name in sys.modules:
        freeze()
        return
    imports.hook(name, _exec_then_freeze)
