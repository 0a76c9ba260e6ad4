"""Training-setup suite: the lint rules (``setup.*``) on each configured model and the data.

The lint reads the model's architecture and compile configuration and the dataset; it never
trains. ``mlchecks gate`` runs it before anything else (and rejects on an error finding without
training); here each rule is one test per model, reusing the gate's results when it ran them.
"""

from __future__ import annotations

import pytest

from mlchecks.checks.setup import RULES
from mlchecks.errors import MlchecksError
from mlchecks.run import lint


@pytest.mark.parametrize("rule", list(RULES))
def test_setup(rule, mlchecks_session, mlchecks_model_spec, mlchecks_record_check):
    try:
        results = {r.id: r for r in lint.run_spec(mlchecks_session, mlchecks_model_spec)}
    except MlchecksError as exc:
        pytest.fail(f"mlchecks: error: {exc}", pytrace=False)
    mlchecks_record_check(results[rule])
