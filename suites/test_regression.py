"""Regression suite: each model against its lineage's champion in the model registry.

One test per check id: ``regression.accuracy``, ``regression.per_class``,
``regression.flip_rate``, ``regression.forgetting``. The candidate is compared with the champion
on the champion's holdout, and with the best earlier version on every earlier version's holdout.
A drop rejects only when it is significant (one-sided exact McNemar, Holm across classes and
holdouts) and larger than the margin; ``--mlchecks-regression-mode strict`` demands
non-inferiority instead. With no champion yet each check is recorded as not judged (a skip),
and ``regression.lineage`` warns when the model starts a new lineage while the registry holds
others (a ``name`` that does not continue them).
"""

from __future__ import annotations

import pytest

from mlchecks.errors import MlchecksError
from mlchecks.run import gate
from mlchecks.run.lineage import lineage_check


def _check(session, spec, check_id):
    try:
        results = gate.regression_checks(session, spec)
    except MlchecksError as exc:
        pytest.fail(f"mlchecks: error: {exc}", pytrace=False)
    return next(r for r in results if r.id == check_id)


def test_regression_accuracy(
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_champion,
    mlchecks_record_check,
):
    mlchecks_record_check(_check(mlchecks_session, mlchecks_model_spec, "regression.accuracy"))


def test_regression_per_class(
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_champion,
    mlchecks_record_check,
):
    mlchecks_record_check(_check(mlchecks_session, mlchecks_model_spec, "regression.per_class"))


def test_regression_flip_rate(
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_champion,
    mlchecks_record_check,
):
    mlchecks_record_check(_check(mlchecks_session, mlchecks_model_spec, "regression.flip_rate"))


def test_regression_forgetting(
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_champion,
    mlchecks_record_check,
):
    mlchecks_record_check(_check(mlchecks_session, mlchecks_model_spec, "regression.forgetting"))


def test_regression_lineage(mlchecks_session, mlchecks_model_spec, mlchecks_record_check):
    try:
        warning = lineage_check(mlchecks_session, mlchecks_model_spec)
    except MlchecksError as exc:
        pytest.fail(f"mlchecks: error: {exc}", pytrace=False)
    if warning is not None:  # nothing to record when the lineage exists or is the first one
        mlchecks_record_check(warning)
