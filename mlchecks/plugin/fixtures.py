"""pytest fixtures of mlchecks: settings, dataset, trained models, evaluations, check recording.

Keras is imported only when a fixture that needs it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from mlchecks.errors import MlchecksError
from mlchecks.plugin import session_of

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec, Settings
    from mlchecks.data import Dataset
    from mlchecks.model.training import TrainedModel
    from mlchecks.registry import ReadOnlyRegistry
    from mlchecks.result import CheckResult
    from mlchecks.run.gate import Baseline
    from mlchecks.run.session import Session
    from mlchecks.stats.evaluation import Evaluation


def _fail_clean(exc: MlchecksError) -> None:
    pytest.fail(f"mlchecks: error: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def mlchecks_session(request: pytest.FixtureRequest) -> Session:
    """The run's state: settings, dataset, models, evaluations and recorded checks."""
    return session_of(request.config)


@pytest.fixture(scope="session")
def mlchecks_settings(mlchecks_session: Session) -> Settings:
    """The frozen :class:`~mlchecks.config.Settings` of this run."""
    return mlchecks_session.settings


@pytest.fixture(scope="session")
def dataset(mlchecks_session: Session) -> Dataset:
    """The configured dataset (``--mlchecks-data`` or ``data`` in ``[tool.mlchecks]``)."""
    try:
        return mlchecks_session.dataset
    except MlchecksError as exc:
        _fail_clean(exc)
        raise  # unreachable: pytest.fail raises


@pytest.fixture(scope="session")
def mlchecks_model_spec(request: pytest.FixtureRequest) -> ModelSpec:
    """One configured model spec; tests using it are parametrized over all of them."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def trained_model(mlchecks_session: Session, mlchecks_model_spec: ModelSpec) -> TrainedModel:
    """The configured model, trained with the run's seed (or loaded from the model cache)."""
    try:
        return mlchecks_session.model(mlchecks_model_spec)
    except MlchecksError as exc:
        _fail_clean(exc)
        raise


@pytest.fixture(scope="session")
def evaluation(
    mlchecks_session: Session, trained_model: TrainedModel, mlchecks_model_spec: ModelSpec
) -> Evaluation:
    """Predictions and metrics of ``trained_model`` on the test split."""
    return mlchecks_session.evaluation(mlchecks_model_spec)


@pytest.fixture
def record_check(
    mlchecks_session: Session, request: pytest.FixtureRequest
) -> Callable[[CheckResult], CheckResult]:
    """Record a :class:`~mlchecks.checks.CheckResult` and fail the test if it blocks.

    The result goes to the gate decision, the terminal summary and JUnit XML (properties
    ``<id>.value``, ``<id>.threshold``, ``<id>.passed``).

    Example::

        def test_my_floor(evaluation, record_check):
            record_check(CheckResult("accuracy.mine", "accuracy", evaluation.accuracy > 0.9,
                                     evaluation.accuracy, 0.9, "my floor"))
    """

    def record(result: CheckResult) -> CheckResult:
        mlchecks_session.record(result)
        # What the record_property fixture does, without its warning under pytest's default
        # junit_family (xunit2), which `filterwarnings = error` turns into an error: junitxml
        # writes user properties for every family.
        request.node.user_properties.extend([
            (f"{result.id}.value", result.value),
            (f"{result.id}.threshold", result.threshold),
            (f"{result.id}.passed", result.passed),
        ])  # fmt: skip
        if result.blocking:
            pytest.fail(f"[{result.id}] {result.message}", pytrace=False)
        return result

    return record


@pytest.fixture(scope="session")
def registry(mlchecks_session: Session) -> ReadOnlyRegistry:
    """The model registry of this run, read-only (only the gate's promotion step writes)."""
    from mlchecks.registry import ReadOnlyRegistry

    try:
        return ReadOnlyRegistry(mlchecks_session.registry)
    except MlchecksError as exc:
        _fail_clean(exc)
        raise


@pytest.fixture(scope="session")
def champion(mlchecks_session: Session, mlchecks_model_spec: ModelSpec) -> Baseline | None:
    """What the model under test is judged against: its lineage's champion (record, holdout,
    stored predictions) and earlier holdouts, or ``None`` when the lineage has no champion yet.

    Example::

        def test_no_drift(champion, dataset):
            if champion is None:
                pytest.skip("no champion yet")
            profile = champion.record.data_profile  # stored when it was promoted
    """
    try:
        return mlchecks_session.baseline(mlchecks_model_spec)
    except MlchecksError as exc:
        _fail_clean(exc)
        raise
