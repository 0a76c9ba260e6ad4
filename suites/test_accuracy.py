"""Accuracy suite: each configured model clears its accuracy floor on the test split.

The floor is judged on the Wilson lower confidence bound (see ``mlchecks.checks.accuracy_min``),
so a lucky run on a small test set cannot pass and the failure says how many samples would show
the threshold. Per-class recall (weakest class named), calibration error and loss are judged when
``min_class_recall``, ``max_ece`` or ``max_loss`` are configured and reported otherwise.
``--mlchecks-seeds K`` (K >= 2) trains K seeds of the recipe and requires the worst one to pass.
When the data's inputs hold NaN or inf, each check is not judged and points to ``data.finite``
(the data's fault, not the model's: ``checks.inputs_not_finite``).
"""

from __future__ import annotations

import pytest

from mlchecks.checks import accuracy as checks
from mlchecks.stats.evaluation import Evaluation


def _not_finite(check_id, session, spec):
    """Not judged when the inputs hold NaN/inf (``None`` otherwise): see data.finite."""
    return checks.inputs_not_finite(check_id, "accuracy", session.dataset, model=spec.name,
                                    trained_here=not spec.is_file)  # fmt: skip


def test_accuracy_min(
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_evaluation,
    mlchecks_record_check,
):
    mlchecks_record_check(
        _not_finite("accuracy.min", mlchecks_session, mlchecks_model_spec)
        or checks.accuracy_min(
            mlchecks_evaluation,
            model=mlchecks_model_spec.name,
            data=mlchecks_session.dataset.name,
            backend=mlchecks_session.backend,
            thresholds=mlchecks_session.settings.thresholds,
            spec=mlchecks_model_spec,
            class_names=mlchecks_session.dataset.class_names,
        )
    )


def test_class_recall(
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_evaluation,
    mlchecks_record_check,
):
    mlchecks_record_check(
        _not_finite("accuracy.class_recall", mlchecks_session, mlchecks_model_spec)
        or checks.accuracy_class_recall(
            mlchecks_evaluation,
            model=mlchecks_model_spec.name,
            data=mlchecks_session.dataset.name,
            thresholds=mlchecks_session.settings.thresholds,
            class_names=mlchecks_session.dataset.class_names,
        )
    )


def test_calibration(
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_evaluation,
    mlchecks_record_check,
):
    mlchecks_record_check(
        _not_finite("accuracy.ece", mlchecks_session, mlchecks_model_spec)
        or checks.accuracy_ece(
            mlchecks_evaluation,
            model=mlchecks_model_spec.name,
            data=mlchecks_session.dataset.name,
            thresholds=mlchecks_session.settings.thresholds,
        )
    )


def test_loss(mlchecks_session, mlchecks_model_spec, mlchecks_evaluation, mlchecks_record_check):
    mlchecks_record_check(
        _not_finite("accuracy.loss", mlchecks_session, mlchecks_model_spec)
        or checks.accuracy_loss(
            mlchecks_evaluation,
            model=mlchecks_model_spec.name,
            data=mlchecks_session.dataset.name,
            thresholds=mlchecks_session.settings.thresholds,
        )
    )


def test_accuracy_seeds(
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_trained_model,
    mlchecks_record_check,
):
    settings = mlchecks_session.settings
    if settings.seeds < 2:
        pytest.skip("single seed; --mlchecks-seeds K (K >= 2) judges the worst of K seeds")
    if mlchecks_model_spec.is_file:
        pytest.skip(f"{mlchecks_model_spec.name} is a saved model: there is no recipe to reseed")
    unjudged = _not_finite("accuracy.seeds", mlchecks_session, mlchecks_model_spec)
    if unjudged is not None:
        mlchecks_record_check(unjudged)
        return
    dataset = mlchecks_session.dataset
    evaluations = []
    for seed in range(settings.seed, settings.seed + settings.seeds):
        trained = mlchecks_session.model_for_seed(mlchecks_model_spec, seed)
        probs = mlchecks_session.predictions(trained, "test")
        evaluations.append((seed, Evaluation(dataset.y_test, probs, dataset.num_classes)))
    mlchecks_record_check(
        checks.accuracy_seeds(
            evaluations,
            model=mlchecks_model_spec.name,
            data=dataset.name,
            backend=mlchecks_session.backend,
            thresholds=settings.thresholds,
            spec=mlchecks_model_spec,
        )
    )
