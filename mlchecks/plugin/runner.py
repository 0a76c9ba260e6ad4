"""The gate's runner: the shipped suites, run through pytest on a prepared session.

``mlchecks gate`` and ``mlchecks evolve`` hand :func:`run_suites` to
:meth:`mlchecks.run.gate.Gate.run`; the suites' tests record their checks into the session, and
a test that failed without recording a blocking check is an internal error (a bug), never a
rejection.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mlchecks.run.session import Session

#: The suite file of each check category.
SUITES = {
    "setup": "test_setup.py",
    "data": "test_data.py",
    "accuracy": "test_accuracy.py",
    "behaviour": "test_behaviour.py",
    "speed": "test_speed.py",
    "regression": "test_regression.py",
}


_CATEGORY_OF = {file: category for category, file in SUITES.items()}

#: The plugins of the suite run, and only these: the gate defines its run, so a plugin that
#: happens to be installed beside mlchecks (one that reorders, reruns or times out tests, say)
#: cannot change a verdict, and none is imported for nothing (discovering and importing every
#: installed ``pytest11`` entry point cost ~0.5 s of a gate). ``unraisableexception`` is off
#: too: at the end of a run it calls ``gc.collect()`` several times over the whole of
#: TensorFlow's heap (~0.3 s) to report exceptions raised in ``__del__``, which no check reads.
PLUGIN_ARGS = (
    "--disable-plugin-autoload",
    "-p", "pytest_benchmark.plugin",
    "-p", "mlchecks.plugin",
    "-p", "no:unraisableexception",
)  # fmt: skip


def suites_dir() -> Path:
    """The ready-made suites: inside the wheel, or ``suites/`` of a source checkout."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "_suites", package.parent / "suites"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"the mlchecks suites are missing from {package}; reinstall mlchecks")


class GateContext:
    """Registered as a pytest plugin for the suite run: hands over the prepared session."""

    is_mlchecks_gate_context = True

    def __init__(self, session: Session) -> None:
        self.session = session
        self.internal_errors: list[str] = []
        self._recorded = 0
        self._category: tuple[str, str | None] | None = None

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        # Progress: one phase per check category (and model, when several are gated: pytest
        # runs each model's tests together), when its first test starts.
        category = _CATEGORY_OF.get(nodeid.split("::")[0].rsplit("/", 1)[-1])
        if category is None:
            return
        models = [s.name for s in self.session.settings.models]
        param = nodeid.rpartition("[")[2].rstrip("]") if nodeid.endswith("]") else ""
        model = next((m for m in models if m in param.split("-")), None)
        model = model if len(models) > 1 else None
        if (category, model) != self._category:
            self._category = (category, model)
            self.session.progress.phase(f"{category} checks" + (f" of {model}" if model else ""))

    def pytest_runtest_logreport(self, report: Any) -> None:
        # A failed test that recorded no blocking check failed for another reason (a bug in a
        # suite or in mlchecks): that is an internal error, not a rejection.
        if report.failed:
            recorded_block = any(c.blocking for c in self.session.checks[self._recorded :])
            if not recorded_block:
                text = getattr(report, "longreprtext", "") or ""
                last = text.strip().splitlines()[-1] if text.strip() else "failed"
                self.internal_errors.append(f"{report.nodeid}: {last}")
        if report.when == "teardown":
            self._recorded = len(self.session.checks)


def run_suites(session: Session, categories: tuple[str, ...], verbose: bool = False) -> list[str]:
    """Run the suites of ``categories`` on ``session``; returns the internal errors."""
    folder = suites_dir()
    files = [str(folder / SUITES[c]) for c in categories]
    args = [
        *files,
        f"--rootdir={folder}",
        "-c",
        os.devnull,  # ignore the user's pytest configuration: the gate defines the run
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        *PLUGIN_ARGS,
    ]
    args += ["-q"] if verbose else ["-p", "no:terminal"]
    context = GateContext(session)
    before = set(sys.modules)
    # The gate is its own run, not a share of an outer pytest-xdist run (a gate started by a
    # test under ``pytest -n 2``): pytest-benchmark would read the worker's variable and switch
    # itself off, leaving speed unjudged. The speed verdict is a same-run interleaved A/B, made
    # to hold on a loaded machine, so it is measured there too.
    xdist = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("PYTEST_XDIST_")}
    # Hypothesis, imported by the behaviour suite, runs every "hypothesis" entry point of the
    # environment at import (scanning all installed distributions: ~0.3 s); the behaviour checks
    # use mlchecks' own strategies and want none of them. A value the user set is kept, and
    # ours is gone after the run (a caller's own process and the programs it starts later).
    ours = "HYPOTHESIS_NO_PLUGINS" not in os.environ
    os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")
    try:
        code = pytest.main(args, plugins=[context])
    finally:
        if ours:
            os.environ.pop("HYPOTHESIS_NO_PLUGINS", None)
        os.environ.update(xdist)
        # The suites' modules (test_accuracy, ...) must not outlive the run: a later pytest run
        # in this process (evolve's next step, a user's own tests) collects files of the same
        # base names.
        for name in set(sys.modules) - before:
            if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(folder)):
                del sys.modules[name]
    if int(code) not in (0, 1):
        context.internal_errors.append(f"pytest exited with {code!r}")
    return context.internal_errors


def verbose_runner(session: Session, categories: tuple[str, ...]) -> list[str]:
    """:func:`run_suites` that shows pytest's own output (``mlchecks gate -v``)."""
    return run_suites(session, categories, verbose=True)
