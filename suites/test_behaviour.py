"""Behaviour suite: Hypothesis properties of each configured model (``behaviour.*``).

Outputs are probabilities; predictions do not depend on batch size or order; a ``.keras``
save/load round trip predicts bit-identically; small noise does not flip confident predictions
beyond ``max_noise_flip_rate``. Each property searches ``mlchecks.checks.behaviour.EXAMPLES`` (10)
derandomized examples: small, so the gate stays fast, and the same on every run. Results of
models trained by mlchecks are memoised in their cache entry: a warm run neither searches again
nor loads the model.
"""

from __future__ import annotations

import pytest

from mlchecks.checks import behaviour
from mlchecks.errors import MlchecksError


def _check(session, spec, prop):
    try:
        return behaviour.run_check(session, spec, prop)
    except MlchecksError as exc:
        pytest.fail(f"mlchecks: error: {exc}", pytrace=False)


def test_outputs_are_probabilities(mlchecks_session, mlchecks_model_spec, mlchecks_record_check):
    mlchecks_record_check(_check(mlchecks_session, mlchecks_model_spec, "simplex"))


def test_batch_size_does_not_matter(mlchecks_session, mlchecks_model_spec, mlchecks_record_check):
    mlchecks_record_check(_check(mlchecks_session, mlchecks_model_spec, "batch_size"))


def test_order_does_not_matter(mlchecks_session, mlchecks_model_spec, mlchecks_record_check):
    mlchecks_record_check(_check(mlchecks_session, mlchecks_model_spec, "order"))


def test_save_load_round_trip(mlchecks_session, mlchecks_model_spec, mlchecks_record_check):
    mlchecks_record_check(_check(mlchecks_session, mlchecks_model_spec, "round_trip"))


def test_noise_robustness(mlchecks_session, mlchecks_model_spec, mlchecks_record_check):
    mlchecks_record_check(_check(mlchecks_session, mlchecks_model_spec, "noise"))
