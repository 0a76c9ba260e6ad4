"""Accuracy suite: each configured model clears its accuracy floor on the test split.

The floor is judged on the Wilson lower confidence bound (see ``mlchecks.checks.accuracy_min``),
so a lucky run on a small test set cannot pass and the failure says how many samples would show
the threshold.
"""

from __future__ import annotations

from mlchecks import checks


def test_accuracy_min(mlchecks_session, mlchecks_model_spec, evaluation, record_check):
    record_check(
        checks.accuracy_min(
            evaluation,
            model=mlchecks_model_spec.name,
            data=mlchecks_session.dataset.name,
            backend=mlchecks_session.backend,
            thresholds=mlchecks_session.settings.thresholds,
            spec=mlchecks_model_spec,
        )
    )
