"""pytest fixtures of mlchecks, all prefixed ``mlchecks_``: settings, dataset, trained models,
evaluations, check recording, registry and champion.

The unprefixed names of earlier releases (``dataset``, ``trained_model``, ``evaluation``,
``record_check``, ``registry``, ``champion``) stay one release as deprecated aliases, and only
in a project that enables mlchecks (:class:`DeprecatedAliases`), so that installing mlchecks
puts no generic fixture names into other projects' test runs.

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
    """The run's state: settings, dataset, models, evaluations and recorded checks.

    Before any check, the data is put in the class space of the saved models' output heads
    (as ``mlchecks gate`` does): a class-incremental version with a 10-unit head judged on data
    of two digits has 10 classes, not 2. A label beyond a head fails every mlchecks test with
    the reason, and with ``--mlchecks-promote`` the exit status is 2 (bad input).
    """
    from mlchecks.plugin import INPUT_ERROR_KEY

    session = session_of(request.config)
    if not any(spec.is_file for spec in session.settings.models):
        return session  # a model built here has the data's classes: nothing loaded yet
    try:
        session.fit_heads()  # idempotent: under `mlchecks gate` the data fits already
    except MlchecksError as exc:
        request.config.stash[INPUT_ERROR_KEY] = exc
        _fail_clean(exc)
    return session


@pytest.fixture(scope="session")
def mlchecks_settings(mlchecks_session: Session) -> Settings:
    """The frozen :class:`~mlchecks.config.Settings` of this run."""
    return mlchecks_session.settings


@pytest.fixture(scope="session")
def mlchecks_dataset(mlchecks_session: Session) -> Dataset:
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
def mlchecks_trained_model(
    mlchecks_session: Session, mlchecks_model_spec: ModelSpec
) -> TrainedModel:
    """The configured model, trained with the run's seed (or loaded from the model cache).

    A :class:`~mlchecks.model.training.TrainedModel`: ``predict``, ``evaluate``, ``summary``
    and calling it go to the Keras model, which is ``.model``; beside it ``.name``, ``.spec``,
    ``.record`` (the training history) and ``.path``.
    """
    try:
        return mlchecks_session.model(mlchecks_model_spec)
    except MlchecksError as exc:
        _fail_clean(exc)
        raise


@pytest.fixture(scope="session")
def mlchecks_evaluation(
    mlchecks_session: Session, mlchecks_trained_model: TrainedModel, mlchecks_model_spec: ModelSpec
) -> Evaluation:
    """Predictions and metrics of ``mlchecks_trained_model`` on the test split."""
    return mlchecks_session.evaluation(mlchecks_model_spec)


@pytest.fixture
def mlchecks_record_check(
    mlchecks_session: Session, request: pytest.FixtureRequest
) -> Callable[..., CheckResult]:
    """Record one or more :class:`~mlchecks.result.CheckResult` and fail the test if one blocks.

    The results go to the gate decision, the terminal summary and JUnit XML (properties
    ``<id>.value``, ``<id>.threshold``, ``<id>.passed``, ``<id>.status``,
    ``<id>.message``). When none blocks and
    one could not be judged (status ``not_judged``), the test is skipped with its reason, so
    JUnit shows it as skipped rather than passed. All are recorded before either happens.

    Example::

        def test_my_floor(mlchecks_evaluation, mlchecks_record_check):
            accuracy = mlchecks_evaluation.accuracy
            mlchecks_record_check(CheckResult("accuracy.mine", "accuracy", accuracy > 0.9,
                                              accuracy, 0.9, "my floor"))
    """

    def record(result: CheckResult, *more: CheckResult) -> CheckResult:
        # Every result is recorded first; then a blocking one fails the test and, when none
        # blocks, one that could not be judged skips it with its reason (JUnit <skipped>).
        results = (result, *more)
        for r in results:
            mlchecks_session.record(r)
            # What the record_property fixture does, without its warning under pytest's default
            # junit_family (xunit2), which `filterwarnings = error` turns into an error: junitxml
            # writes user properties for every family.
            request.node.user_properties.extend([
                (f"{r.id}.value", r.value),
                (f"{r.id}.threshold", r.threshold),
                (f"{r.id}.passed", r.passed),
                (f"{r.id}.status", r.status),
                (f"{r.id}.message", r.message),
            ])  # fmt: skip
        blocking = [r for r in results if r.blocking]
        if blocking:
            pytest.fail("; ".join(f"[{r.id}] {r.message}" for r in blocking), pytrace=False)
        not_judged = [r for r in results if r.status == "not_judged"]
        if not_judged:
            pytest.skip("; ".join(f"[{r.id}] {r.message}" for r in not_judged))
        return result

    return record


@pytest.fixture(scope="session")
def mlchecks_registry(mlchecks_session: Session) -> ReadOnlyRegistry:
    """The model registry of this run, read-only (only the gate's promotion step writes)."""
    from mlchecks.registry import ReadOnlyRegistry

    try:
        return ReadOnlyRegistry(mlchecks_session.registry)
    except MlchecksError as exc:
        _fail_clean(exc)
        raise


@pytest.fixture(scope="session")
def mlchecks_champion(mlchecks_session: Session, mlchecks_model_spec: ModelSpec) -> Baseline | None:
    """What the model under test is judged against: its lineage's champion (record, holdout,
    stored predictions) and earlier holdouts, or ``None`` when the lineage has no champion yet.

    Example::

        def test_no_drift(mlchecks_champion, mlchecks_dataset):
            if mlchecks_champion is None:
                pytest.skip("no champion yet")
            profile = mlchecks_champion.record.data_profile  # stored when it was promoted
    """
    try:
        return mlchecks_session.baseline(mlchecks_model_spec)
    except MlchecksError as exc:
        _fail_clean(exc)
        raise


class MlchecksDeprecationWarning(DeprecationWarning):
    """A name of mlchecks that is going away; the message says what replaces it."""


#: Deprecated fixture name -> its replacement.
ALIASES = {
    "dataset": "mlchecks_dataset",
    "trained_model": "mlchecks_trained_model",
    "evaluation": "mlchecks_evaluation",
    "record_check": "mlchecks_record_check",
    "registry": "mlchecks_registry",
    "champion": "mlchecks_champion",
}


def _deprecated(old: str) -> None:
    import warnings

    warnings.warn(
        f"the fixture {old!r} is deprecated and goes away in the next release; use "
        f"{ALIASES[old]!r}",
        MlchecksDeprecationWarning,
        stacklevel=3,
    )


class DeprecatedAliases:
    """The unprefixed fixture names, registered by the plugin only in projects that enable
    mlchecks (a ``[tool.mlchecks]`` table or an ``mlchecks.toml``). Each names its replacement
    as a parameter, so parametrization over the configured models still applies."""

    @pytest.fixture(name="dataset", scope="session")
    def dataset(self, mlchecks_dataset: Dataset) -> Dataset:
        _deprecated("dataset")
        return mlchecks_dataset

    @pytest.fixture(name="trained_model", scope="session")
    def trained_model(self, mlchecks_trained_model: TrainedModel) -> TrainedModel:
        _deprecated("trained_model")
        return mlchecks_trained_model

    @pytest.fixture(name="evaluation", scope="session")
    def evaluation(self, mlchecks_evaluation: Evaluation) -> Evaluation:
        _deprecated("evaluation")
        return mlchecks_evaluation

    @pytest.fixture(name="record_check")
    def record_check(
        self, mlchecks_record_check: Callable[[CheckResult], CheckResult]
    ) -> Callable[[CheckResult], CheckResult]:
        _deprecated("record_check")
        return mlchecks_record_check

    @pytest.fixture(name="registry", scope="session")
    def registry(self, mlchecks_registry: ReadOnlyRegistry) -> ReadOnlyRegistry:
        _deprecated("registry")
        return mlchecks_registry

    @pytest.fixture(name="champion", scope="session")
    def champion(self, mlchecks_champion: Baseline | None) -> Baseline | None:
        _deprecated("champion")
        return mlchecks_champion
