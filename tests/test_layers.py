"""The package's layers hold: import-linter's contracts (pyproject.toml) are kept and no module of
mlchecks takes part in an import cycle, lazy (function-level) imports included."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _graph():
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (the dev extra)")
    return grimp.build_graph("mlchecks", exclude_type_checking_imports=True)


def test_no_import_cycle_in_mlchecks():
    graph = _graph()
    modules = sorted(graph.modules)
    cycles = []
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            # a package importing its own submodule (re-exports) is not a cycle through layers
            if imported.startswith(module + "."):
                continue
            if graph.chain_exists(imported, module) and not module.startswith(imported + "."):
                chain = graph.find_shortest_chain(imported, module)
                cycles.append(" -> ".join((module, *chain)))
    assert cycles == [], "\n".join(cycles[:20])


def test_import_linter_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout
