"""Public Hypothesis strategies: inputs follow the dataset's schema (shape, dtype, range)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from mlchecks import strategies
from mlchecks.checks.behaviour import hypothesis_settings
from mlchecks.data.dataset import from_arrays

rng = np.random.default_rng(0)
# An odd schema on purpose: 5x4x2 samples, values in [-1, 3], 3 classes.
ODD = from_arrays(
    "odd",
    rng.uniform(-1, 3, (30, 5, 4, 2)).astype(np.float32),
    np.arange(30) % 3,
    rng.uniform(-1, 3, (12, 5, 4, 2)).astype(np.float32),
    np.arange(12) % 3,
)
DET = settings(deadline=None, derandomize=True, max_examples=30)
FIRST = hypothesis_settings(30, shrink=False)  # the first match, as generated


@DET
@given(strategies.inputs(ODD, min_batch=2, max_batch=5))
def test_inputs_follow_shape_dtype_and_range(batch):
    assert batch.shape[1:] == (5, 4, 2) and 2 <= batch.shape[0] <= 5
    assert batch.dtype == np.float32
    lo, hi = ODD.value_range
    assert np.isfinite(batch).all() and batch.min() >= lo and batch.max() <= hi


@DET
@given(strategies.samples(ODD, max_batch=4))
def test_samples_are_real_test_rows(batch):
    assert 1 <= len(batch) <= 4
    for row in batch:
        assert any(np.array_equal(row, x) for x in ODD.x_test)


@DET
@given(strategies.batches(ODD))
def test_batches_mix_both(batch):
    assert batch.shape[1:] == ODD.input_shape and batch.dtype == np.float32


@DET
@given(strategies.perturbations(ODD, scale=0.1))
def test_perturbations_stay_within_the_scale(delta):
    lo, hi = ODD.value_range
    assert delta.shape == ODD.input_shape and np.abs(delta).max() <= 0.1 * (hi - lo) + 1e-6


@DET
@given(strategies.labels(ODD, max_size=8))
def test_labels_are_class_ids(y):
    assert y.dtype == np.int64 and 1 <= len(y) <= 8 and y.min() >= 0 and y.max() < 3


def test_digits_schema(digits):
    batch = find(strategies.inputs(digits), lambda b: len(b) >= 3, settings=FIRST)
    assert batch.shape[1:] == (8, 8, 1) and 0.0 <= batch.min() <= batch.max() <= 1.0


def test_derandomized_search_is_repeatable():
    def draw():
        return find(strategies.inputs(ODD), lambda b: len(np.unique(b)) > 3, settings=FIRST)

    first = draw()
    assert np.array_equal(first, draw())


def test_bounds_not_representable_in_float32_are_rounded_inwards():
    data = ODD.replace(value_range=(0.1, 0.3))
    batch = find(strategies.inputs(data), lambda b: b.min() < 0.11 or b.max() > 0.29,
                 settings=FIRST)  # fmt: skip
    assert batch.min() >= 0.1 and batch.max() <= 0.3


def test_value_range_measured_when_unknown():
    x = ODD.x_train.copy()
    x[0, 0, 0, 0] = np.nan
    data = ODD.replace(x_train=x, value_range=(float("nan"), float("nan")))
    lo, hi = strategies.value_range(data)
    assert lo == pytest.approx(min(np.nanmin(x), ODD.x_test.min()))
    assert hi == pytest.approx(max(np.nanmax(x), ODD.x_test.max()))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: strategies.inputs(ODD, min_batch=0), "min_batch"),
        (lambda: strategies.samples(ODD, split="valid"), "'valid'"),
        (lambda: strategies.perturbations(ODD, scale=2.0), "fraction"),
    ],
)
def test_bad_arguments(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()


def test_strategies_compose_with_user_strategies():
    pair = st.tuples(strategies.inputs(ODD, max_batch=2), strategies.labels(ODD, max_size=2))
    x, y = find(pair, lambda p: True, settings=FIRST)
    assert x.shape[1:] == ODD.input_shape and y.dtype == np.int64
