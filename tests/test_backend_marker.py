"""The ``backend`` marker (conftest.py) selects the tests whose outcome depends on the Keras
backend, and only those: ``pytest -m backend`` is what runs per backend (.ci/backends)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MARKED = (
    "tests/test_training.py::test_training_record",  # the trained_mlp fixture
    "tests/test_evolve.py::test_naive_step_rejected_for_forgetting_rehearsal_promoted",
    "tests/test_gate.py::test_two_gates_at_once_lose_no_version",
    "tests/test_plugin.py::test_accuracy_suite_message_names_model_data_backend_value_threshold",
    "tests/reliability/test_bombs.py::test_a_real_gate_runs_under_the_same_limit",
)
NOT_MARKED = (
    "tests/test_stats.py::test_wilson_matches_scipy_everywhere",
    "tests/test_config.py::test_reads_pyproject_table",
    "tests/reliability/test_bombs.py::test_a_fifo_is_refused_not_waited_on",
)


def _root_conftest(request: pytest.FixtureRequest):
    (plugin,) = (p for p in request.config.pluginmanager.get_plugins()
                 if getattr(p, "__file__", None) == str(ROOT / "conftest.py"))  # fmt: skip
    return plugin


@pytest.fixture
def marks(request: pytest.FixtureRequest) -> dict[str, bool]:
    collected = _root_conftest(request).COLLECTED
    if not set(MARKED + NOT_MARKED) <= set(collected):
        pytest.skip("needs the whole collection (pytest, or pytest -m backend)")
    return collected


def test_keras_touching_tests_are_marked_and_pure_ones_are_not(marks):
    assert [nodeid for nodeid in MARKED if not marks.get(nodeid)] == []
    assert [nodeid for nodeid in NOT_MARKED if marks.get(nodeid, True)] == []


def test_every_listed_test_exists(request: pytest.FixtureRequest):
    for module, names in _root_conftest(request).KERAS_TESTS.items():
        assert (ROOT / module).is_file(), module
        source = (ROOT / module).read_text()
        for name in names or ():
            assert f"def {name}(" in source, f"{module}::{name}"
