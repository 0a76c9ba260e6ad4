"""A one-shot import hook: run code around the first import of one module."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

#: ``around(exec_module, module)``: must call ``exec_module(module)`` once.
Around = Callable[[Callable[[Any], None], Any], None]


class FirstImport(importlib.abc.MetaPathFinder):
    """Wraps the first import of ``name`` in ``around`` (install with :func:`hook`)."""

    def __init__(self, name: str, around: Around) -> None:
        self.name = name
        self.around = around
        self._busy = False

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        # A lookup is not an import: torch._dynamo asks importlib.util.find_spec("tensorflow")
        # while it loads, then TensorFlow may be imported later. The hook stays until the
        # import itself runs (it then removes itself: one shot).
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

        def wrapped(module: Any) -> None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)
            self.around(exec_module, module)

        loader.exec_module = wrapped
        return spec


def hook(name: str, around: Around) -> FirstImport:
    """Insert a :class:`FirstImport` for ``name`` first on ``sys.meta_path``; returns it."""
    finder = FirstImport(name, around)
    sys.meta_path.insert(0, finder)
    return finder
