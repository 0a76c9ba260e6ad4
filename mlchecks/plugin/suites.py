"""The shipped suites in a user's own pytest run: ``mlchecks_suites = true`` (ini) or
``--mlchecks-suites``.

The suites (``test_setup.py`` ... ``test_regression.py``, the ones ``mlchecks gate`` runs) are
added to the run's items with short, stable node ids, ``mlchecks/<suite file>::<test>[<model>]``
(e.g. ``mlchecks/test_accuracy.py::test_accuracy_min[mlp]``), whatever folder mlchecks is
installed in: the ids in the terminal, JUnit XML and pytest-html never show a site-packages
path, and ``-k``, ``-m`` and ``--deselect`` select among them as among the user's own tests.

The ini setting adds them when the run collects its default paths (``testpaths`` or the
current folder); a run given test paths on the command line (``pytest tests/test_x.py``) gets
them only with ``--mlchecks-suites``. The suite modules are imported under their own names
(``mlchecks_suites.test_accuracy``), never clashing with a user's ``test_accuracy.py`` in any
import mode.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

INI = "mlchecks_suites"
OPTION = "--mlchecks-suites"
#: The first part of every suite test's node id.
PREFIX = "mlchecks"
MODULE_PREFIX = "mlchecks_suites"


def pytest_addoption(parser: pytest.Parser) -> None:
    # registered after mlchecks.plugin (its pytest_plugins), whose group this joins
    parser.addini(
        INI,
        type="bool",
        default=False,
        help="add mlchecks' shipped suites (the checks of `mlchecks gate`) to this project's "
        "test run, with node ids mlchecks/test_<suite>.py::... (default: false)",
    )
    parser.getgroup("mlchecks").addoption(
        OPTION,
        dest="mlchecks_suites",
        action="store_true",
        default=False,
        help="add mlchecks' shipped suites to this run (as the ini setting mlchecks_suites = "
        "true does), also when test paths are given",
    )


def wanted(config: pytest.Config) -> bool:
    """Whether this run adds the shipped suites."""
    if any(getattr(p, "is_mlchecks_gate_context", False)
           for p in config.pluginmanager.get_plugins()):  # fmt: skip
        return False  # `mlchecks gate` runs the suites itself
    if config.getoption("mlchecks_suites", False):
        return True
    if not config.getini(INI):
        return False
    return bool(config.args_source != pytest.Config.ArgsSource.ARGS)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Append the suites' tests (first, so -k, -m and --deselect apply to them too)."""
    if not wanted(config):
        return
    from mlchecks.plugin.runner import suites_dir

    folder = suites_dir()
    collected = {item.path for item in items}
    collector = SuitesDir.from_parent(session, name=PREFIX, path=folder, nodeid=PREFIX)
    collector.skip_paths = frozenset(collected)  # already collected by path (a checkout's suites/)
    items.extend(session.genitems(collector))


class SuitesDir(pytest.Collector):
    """The shipped suites' folder, as node ``mlchecks``. Not a :class:`pytest.Directory`: the
    conftest files above the folder (a source checkout's own) are not the user's run's."""

    skip_paths: frozenset[Path] = frozenset()

    def collect(self) -> Iterator[Any]:
        from mlchecks.plugin.runner import SUITES

        for name in SUITES.values():
            path = self.path / name
            if path in self.skip_paths or not path.is_file():
                continue
            yield SuiteModule.from_parent(self, path=path, nodeid=f"{PREFIX}/{name}")


class SuiteModule(pytest.Module):
    """A suite file, imported as ``mlchecks_suites.<stem>`` whatever the run's import mode."""

    def _getobj(self) -> ModuleType:
        return import_suite(self.path)


def import_suite(path: Path) -> ModuleType:
    """Import one suite file under its own module name (once per process and file)."""
    name = f"{MODULE_PREFIX}.{path.stem}"
    known = sys.modules.get(name)
    if known is not None and getattr(known, "__file__", None) == str(path):
        return known
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise ImportError(f"cannot import the mlchecks suite {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
