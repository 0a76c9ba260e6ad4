"""Behaviour searches generate the same examples whatever else the process has imported."""

from __future__ import annotations

import importlib
import sys

from hypothesis import strategies as st

from mlchecks.checks import behaviour


def _examples(strategy):
    seen = []

    def violated(value):
        seen.append(value)
        return False

    assert behaviour._search(strategy, violated, examples=60, shrink=False) is None
    return seen


def test_a_local_module_with_constants_does_not_change_the_examples(tmp_path, monkeypatch):
    strategy = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=4)
    before = _examples(strategy)
    # A module of the user's project (outside site-packages): Hypothesis would mix its constants
    # into generated values from now on.
    constants = ", ".join(f"{v}.{v % 97}" for v in range(1001, 1301))
    (tmp_path / "mlchecks_local_constants.py").write_text(f"VALUES = [{constants}]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("mlchecks_local_constants")
    try:
        after = _examples(strategy)
    finally:
        sys.modules.pop(module.__name__, None)
    assert after == before
