"""Data suite: schema, values, labels, classes, leakage and drift of the configured data set.

One test per expectation group (``data.*`` check ids). The expectations run once per session
with Great Expectations on a compact per-sample frame (see ``mlchecks.data.expectations``),
memoised by data content, checks and reference profile (``mlchecks.data.memo``);
thresholds and extra expectations come from ``[tool.mlchecks.data_checks]`` (and a model's own
``data_checks`` table). A failure names the split, the expectation, how many samples fail and
a few example indices.
"""

from __future__ import annotations

import pytest

from mlchecks.errors import MlchecksError
from mlchecks.run import data as run_data


@pytest.fixture(scope="session")
def data_checks(mlchecks_session, mlchecks_dataset):
    """Every data check of the run, grouped by check id (one result per configuration)."""
    try:
        return run_data.data_checks(mlchecks_session, mlchecks_dataset)
    except MlchecksError as exc:  # e.g. a tampered registry: say so, no traceback
        pytest.fail(f"mlchecks: error: {exc}", pytrace=False)


def _record(results, mlchecks_record_check):
    # One call records every scope's result, then fails on a blocking one or skips on one that
    # could not be judged.
    if results:
        mlchecks_record_check(*results)


def test_schema(data_checks, mlchecks_record_check):
    _record(data_checks["data.schema"], mlchecks_record_check)


def test_row_counts(data_checks, mlchecks_record_check):
    _record(data_checks["data.row_counts"], mlchecks_record_check)


def test_finite(data_checks, mlchecks_record_check):
    _record(data_checks["data.finite"], mlchecks_record_check)


def test_range(data_checks, mlchecks_record_check):
    _record(data_checks["data.range"], mlchecks_record_check)


def test_labels(data_checks, mlchecks_record_check):
    _record(data_checks["data.labels"], mlchecks_record_check)


def test_classes_present(data_checks, mlchecks_record_check):
    _record(data_checks["data.classes_present"], mlchecks_record_check)


def test_balance(data_checks, mlchecks_record_check):
    _record(data_checks["data.balance"], mlchecks_record_check)


def test_leakage(data_checks, mlchecks_record_check):
    _record(data_checks["data.leakage"], mlchecks_record_check)


def test_drift(data_checks, mlchecks_record_check):
    _record(data_checks["data.drift"], mlchecks_record_check)


def test_custom_expectations(data_checks, mlchecks_record_check):
    if not data_checks["data.custom"]:
        pytest.skip("no expectations configured in [tool.mlchecks.data_checks]")
    _record(data_checks["data.custom"], mlchecks_record_check)
