"""Shared fixtures for mlchecks' own tests.

The reference models are cached across test sessions in the folder the suites of this run
train into (``[tool.mlchecks] cache_dir``, ``.mlchecks/cache``): the tests' ``trained_mlp`` and
``trained_cnn`` are the suites' own models, trained once per run, and a second local run does not
retrain; CI starts cold.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# importlib_metadata (the backport MLflow needs) deletes the standard library's
# PathFinder.find_distributions when it is first imported and appends its own finder to
# sys.meta_path instead. First imported inside a pytester run (a gate on an MLflow registry),
# pytester's restore of sys.meta_path drops that finder and the process is left with none:
# importlib.metadata.version() then fails for every package (pytest's own header, the model
# cache's keys), in the tests after it. Imported here, before any pytester run, it stays.
with contextlib.suppress(ImportError):  # MLflow (dev extra) not installed
    import importlib_metadata  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MNIST_T10K = SHARED / "data" / "mnist-t10k"

# The reference recipes exactly as configured in pyproject.toml [tool.mlchecks].
MLP_EPOCHS = 20
CNN_EPOCHS = 15


@pytest.fixture(scope="session", autouse=True)
def _not_an_xdist_share_for_children():
    """Under ``pytest -n 2`` each worker runs with ``PYTEST_XDIST_WORKER`` set. The gates, pytest
    runs and CLIs that a test starts are their own runs, not shares of this one: left in the
    environment, pytest-benchmark in them would read it and switch itself off (speed not
    judged). Removed for the tests' lifetime, after this worker configured itself."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("PYTEST_XDIST_")}
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def digits():
    from mlchecks.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def model_cache(mlchecks_settings):
    """The model cache of this run's suites (the plugin's settings: ``cache_dir``), so the
    reference recipes the suites train and the tests' fixtures share their models."""
    from mlchecks.model.training import ModelCache

    return ModelCache(mlchecks_settings.resolve(mlchecks_settings.cache_dir))


@pytest.fixture(scope="session")
def trained_mlp(digits, model_cache):
    from mlchecks.config import ModelSpec
    from mlchecks.model.training import train

    spec = ModelSpec(name="mlp", builder="mlp", epochs=MLP_EPOCHS)
    return train(spec, digits, seed=0, cache=model_cache)


@pytest.fixture(scope="session")
def trained_cnn(digits, model_cache):
    from mlchecks.config import ModelSpec
    from mlchecks.model.training import train

    spec = ModelSpec(name="cnn", builder="cnn", epochs=CNN_EPOCHS)
    return train(spec, digits, seed=0, cache=model_cache)


@pytest.fixture(scope="session")
def mnist_t10k():
    """The real MNIST test set from ../shared (skips where the folder is absent)."""
    if not (MNIST_T10K / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST test set not found at {MNIST_T10K}")
    from mlchecks.data.dataset import load_mnist_t10k

    return load_mnist_t10k(MNIST_T10K)


@pytest.fixture(autouse=True)
def _keep_tensorflow_imported(monkeypatch):
    """pytester's in-process runs drop every module first imported inside them, but TensorFlow
    aborts the process when imported twice ("PyExceptionRegistry::Init() already called"):
    keep all modules except the test files of the inner run."""
    import _pytest.pytester

    class Snapshot(_pytest.pytester.SysModulesSnapshot):
        def __init__(self, preserve=None) -> None:
            super().__init__(preserve=lambda name: not name.startswith(("test_", "conftest")))

    monkeypatch.setattr(_pytest.pytester, "SysModulesSnapshot", Snapshot)


# ------------------------------------------------------------------ xdist: heaviest file first
# (tests/xdist_order.py: why and how; the README's command uses --dist loadfile)
@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist", None) != "loadfile":
        return None  # another --dist: xdist's own
    from xdist_order import make_scheduler

    return make_scheduler(config, log)


_FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Each file's seconds (setup, call and teardown of its tests), seen where the run is
    scheduled: the controller under xdist, else the one process."""
    path = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + float(report.duration)


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if hasattr(config, "workerinput") or not _FILE_SECONDS or config.cache is None:
        return  # an xdist worker (the controller records), or nothing ran
    from xdist_order import CACHE_KEY, whole_files

    if exitstatus not in (0, 1) or session.shouldstop or not whole_files(config):
        return  # interrupted, stopped early or a selection: not whole files' seconds

    known = config.cache.get(CACHE_KEY, {})
    known = known if isinstance(known, dict) else {}
    config.cache.set(CACHE_KEY, {**known, **{k: round(v, 2) for k, v in _FILE_SECONDS.items()}})
