"""Confidence intervals: Wilson bounds agree with scipy; sample-size advice is right."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from mlchecks import stats


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize(
    ("k", "n"),
    [(0, 1), (1, 1), (0, 10), (10, 10), (3, 10), (437, 450), (450, 450), (9731, 10000), (1, 2)],
)
def test_wilson_matches_scipy(k, n, confidence):
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    lo, hi = stats.wilson_interval(k, n, confidence)
    assert lo == pytest.approx(ci.low, abs=1e-12)
    assert hi == pytest.approx(ci.high, abs=1e-12)
    assert stats.wilson_lower(k, n, confidence) == lo


@settings(deadline=None, derandomize=True, max_examples=200)
@given(n=st.integers(1, 100_000), frac=st.floats(0, 1), confidence=st.floats(0.5, 0.999))
def test_wilson_matches_scipy_everywhere(n, frac, confidence):
    k = round(frac * n)
    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    lo, hi = stats.wilson_interval(k, n, confidence)
    assert lo == pytest.approx(ci.low, abs=1e-9)
    assert hi == pytest.approx(ci.high, abs=1e-9)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="k=11, n=10"):
        stats.wilson_interval(11, 10)
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)  # no data: no information


@pytest.mark.parametrize(("p", "threshold"), [(0.97, 0.94), (0.95, 0.9), (0.99, 0.98), (0.6, 0.5)])
def test_samples_needed_is_enough_and_not_far_more(p, threshold):
    n = stats.samples_needed(p, threshold)
    assert stats.wilson_lower(round(p * n), n) > threshold
    half = n // 2
    assert stats.wilson_lower(round(p * half), half) <= threshold


def test_samples_needed_without_a_margin():
    assert stats.samples_needed(0.9, 0.9, limit=1000) == 1000
    assert stats.samples_needed(0.8, 0.9, limit=1000) == 1000
