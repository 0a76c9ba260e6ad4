"""The pytest plugin: lazy imports, fixtures, parametrization over models, check recording."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import keras_backend

HEAVY = ("tensorflow", "keras", "great_expectations", "jax", "torch")


def test_pytest_help_imports_no_ml_framework(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pytest", "--help"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--mlchecks-data" in proc.stdout  # the plugin is loaded...
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))  # ...and imports none of them


def test_importing_the_package_is_light():
    code = (
        "import sys, mlchecks, mlchecks.plugin, mlchecks.plugin.fixtures, mlchecks.cli, "
        "mlchecks.run.gate;"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]


PROJECT = """
[tool.mlchecks]
data = "synthetic:300"
cache_dir = "{cache}"
[[tool.mlchecks.models]]
name = "tiny_mlp"
builder = "mlp"
epochs = 2
[[tool.mlchecks.models]]
name = "tiny_cnn"
builder = "cnn"
epochs = 1
"""


@pytest.fixture
def project(pytester: pytest.Pytester, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    pytester.makefile(".toml", pyproject=PROJECT.format(cache=cache))
    return pytester


def test_fixtures_are_parametrized_over_configured_models(project):
    project.makepyfile(
        test_mine="""
        def test_model(trained_model, evaluation, dataset, mlchecks_settings):
            assert trained_model.name in ("tiny_mlp", "tiny_cnn")
            assert evaluation.n == dataset.n_test
            assert dataset.name == "synthetic:300"
            assert mlchecks_settings.data == "synthetic:300"
        """
    )
    result = project.runpytest("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_model?tiny_mlp? PASSED*", "*test_model?tiny_cnn? PASSED*"])


def test_model_selection_and_data_option(project):
    project.makepyfile(
        test_mine="""
        def test_model(trained_model, dataset):
            assert trained_model.name == "tiny_cnn"
            assert dataset.name == "synthetic:200"
        """
    )
    result = project.runpytest("--mlchecks-model", "tiny_cnn", "--mlchecks-data", "synthetic:200")
    result.assert_outcomes(passed=1)


def test_record_check_fails_with_the_message_and_summarises(project):
    project.makepyfile(
        test_mine="""
        from mlchecks import CheckResult

        def test_floor(evaluation, record_check, trained_model):
            record_check(CheckResult("accuracy.mine", "accuracy", False, 0.5, 0.99,
                                     f"{trained_model.name} is below my floor"))
        """
    )
    result = project.runpytest("--mlchecks-model", "tiny_mlp")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*[[]accuracy.mine[]] tiny_mlp is below my floor*", "*mlchecks: 1 checks, 1 failed*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_accuracy_suite_message_names_model_data_backend_value_threshold(project):
    project.makepyfile(
        test_acc="""
        from mlchecks.checks import accuracy as checks

        def test_accuracy(mlchecks_session, mlchecks_model_spec, evaluation, record_check):
            record_check(checks.accuracy_min(
                evaluation, model=mlchecks_model_spec.name, data=mlchecks_session.dataset.name,
                backend=mlchecks_session.backend, thresholds=mlchecks_session.settings.thresholds,
                spec=mlchecks_model_spec))
        """
    )
    result = project.runpytest("--mlchecks-model", "tiny_mlp", "--mlchecks-min-accuracy", "0.999")
    result.assert_outcomes(failed=1)
    backend = keras_backend()  # the active backend's name, whichever it is
    result.stdout.fnmatch_lines(
        [f"*[[]accuracy.min[]] accuracy of tiny_mlp on synthetic:300 [[]{backend}[]]: * 0.9990*"]
    )


def test_bad_config_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makefile(".toml", pyproject='[tool.mlchecks]\nseed = "x"\n')
    pytester.makepyfile(test_x="def test_x(mlchecks_settings): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mlchecks: seed in * must be an integer*"])


def test_unknown_model_selection_is_a_usage_error(project):
    project.makepyfile(test_x="def test_x(trained_model): pass")
    result = project.runpytest("--mlchecks-model", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mlchecks-model ?'nope'? is not configured*"])


def test_bad_dataset_fails_cleanly(project):
    project.makepyfile(test_x="def test_x(dataset): pass")
    result = project.runpytest("--mlchecks-data", "imagenet")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*mlchecks: error: --data 'imagenet' is neither*"])


def test_the_tests_reference_models_are_the_suites_own(mlchecks_session, trained_mlp, trained_cnn):
    """tests/conftest.py's trained_mlp and trained_cnn are the recipes pyproject.toml configures,
    trained into the cache the suites of this run use: each model is trained once per run, and a
    recipe edited in one place but not the other shows here (two cache entries, two trainings)."""
    specs = {spec.name: spec for spec in mlchecks_session.settings.models}
    for fixture in (trained_mlp, trained_cnn):
        suite_model = mlchecks_session.model(specs[fixture.name])
        assert suite_model.path == fixture.path, (fixture.name, suite_model.path, fixture.path)
