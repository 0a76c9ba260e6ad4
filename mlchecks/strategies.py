"""Hypothesis strategies for inputs that match a dataset's schema (shape, dtype, value range).

Use them in your own property tests of a model::

    from hypothesis import given, settings
    from mlchecks import strategies

    @settings(deadline=None, derandomize=True)   # model calls vary in time; CI stays repeatable
    @given(strategies.batches(dataset))
    def test_outputs_are_probabilities(batch):
        probs = model.predict_on_batch(batch)
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)

``dataset`` is a :class:`mlchecks.Dataset` (the ``dataset`` fixture of the mlchecks plugin, or
``mlchecks.load_dataset("digits")``). The behaviour suite (``mlchecks.checks.behaviour``) is
built on these strategies.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from mlchecks.data import Dataset

__all__ = ["batches", "inputs", "labels", "perturbations", "samples", "value_range"]


def value_range(dataset: Dataset) -> tuple[float, float]:
    """The finite range of the dataset's inputs (its ``value_range``, else measured).

    Raises:
        ValueError: the inputs hold no finite value.
    """
    lo, hi = (float(v) for v in dataset.value_range)
    if math.isfinite(lo) and math.isfinite(hi) and lo <= hi:
        return lo, hi
    finite = [x[np.isfinite(x)] for x in (dataset.x_train, dataset.x_test)]
    values = np.concatenate([f.ravel() for f in finite])
    if values.size == 0:
        msg = f"inputs of {dataset.name} hold no finite value; strategies need a value range"
        raise ValueError(msg)
    return float(values.min()), float(values.max())


def _batch_size(min_batch: int, max_batch: int) -> SearchStrategy[int]:
    if not 1 <= min_batch <= max_batch:
        msg = f"batch sizes need 1 <= min_batch <= max_batch; received {min_batch}, {max_batch}"
        raise ValueError(msg)
    return st.integers(min_batch, max_batch)


def _elements(dtype: np.dtype, lo: float, hi: float) -> SearchStrategy[float] | SearchStrategy[int]:
    if dtype.kind in "iu":
        return st.integers(math.ceil(lo), math.floor(hi))
    width: Literal[16, 32, 64] = 32 if dtype == np.float32 else (16 if dtype == np.float16 else 64)
    if width < 64:  # bounds must be representable at that width: round them inwards
        low, high = np.array(lo, dtype), np.array(hi, dtype)
        if float(low) < lo:
            low = np.nextafter(low, np.array(np.inf, dtype))
        if float(high) > hi:
            high = np.nextafter(high, np.array(-np.inf, dtype))
        lo, hi = float(low), float(max(low, high))
    return st.floats(lo, hi, width=width, allow_nan=False, allow_infinity=False,
                     allow_subnormal=False)  # fmt: skip


def inputs(
    dataset: Dataset,
    *,
    min_batch: int = 1,
    max_batch: int = 16,
    bounds: tuple[float, float] | None = None,
) -> SearchStrategy[np.ndarray]:
    """Batches of made-up inputs with the dataset's sample shape, dtype and value range.

    Args:
        dataset: whose schema to follow.
        min_batch: smallest batch. Defaults to 1.
        max_batch: largest batch. Defaults to 16.
        bounds: ``(low, high)`` for the values. Defaults to :func:`value_range`.

    Example:
        >>> from mlchecks import load_dataset
        >>> batch = inputs(load_dataset("digits")).example()
        >>> batch.shape[1:], batch.dtype.name, bool(batch.min() >= 0 and batch.max() <= 1)
        ((8, 8, 1), 'float32', True)
    """
    lo, hi = bounds if bounds is not None else value_range(dataset)
    dtype = np.dtype(dataset.x_train.dtype)
    elements = _elements(dtype, lo, hi)
    shape = dataset.input_shape
    return _batch_size(min_batch, max_batch).flatmap(
        lambda n: hnp.arrays(dtype, (n, *shape), elements=elements)
    )


def samples(
    dataset: Dataset, *, split: str = "test", min_batch: int = 1, max_batch: int = 16
) -> SearchStrategy[np.ndarray]:
    """Batches of real samples of a split, drawn by index (duplicates allowed).

    Args:
        dataset: where the samples come from.
        split: ``"test"`` or ``"train"``. Defaults to ``"test"``.
        min_batch: smallest batch. Defaults to 1.
        max_batch: largest batch. Defaults to 16.
    """
    if split not in ("test", "train"):
        msg = f"split must be 'test' or 'train'; received {split!r}"
        raise ValueError(msg)
    x = dataset.x_test if split == "test" else dataset.x_train
    if x.shape[0] == 0:
        msg = f"the {split} split of {dataset.name} is empty"
        raise ValueError(msg)
    _batch_size(min_batch, max_batch)  # validates
    index = st.integers(0, x.shape[0] - 1)
    return st.lists(index, min_size=min_batch, max_size=max_batch).map(
        lambda idx: np.ascontiguousarray(x[np.asarray(idx, dtype=np.int64)])
    )


def batches(
    dataset: Dataset, *, min_batch: int = 1, max_batch: int = 16
) -> SearchStrategy[np.ndarray]:
    """Real test samples or made-up inputs in range: what a deployed model may be fed."""
    return st.one_of(
        samples(dataset, min_batch=min_batch, max_batch=max_batch),
        inputs(dataset, min_batch=min_batch, max_batch=max_batch),
    )


def perturbations(dataset: Dataset, *, scale: float = 0.05) -> SearchStrategy[np.ndarray]:
    """One noise pattern of the sample shape with values in ``±scale`` x the value range.

    Add it to a batch (broadcasting) and clip to the range to get a nearby input.

    Args:
        dataset: whose sample shape and value range to follow.
        scale: the amplitude as a fraction of the value range. Defaults to 0.05.
    """
    if not 0.0 <= scale <= 1.0:
        msg = f"scale is a fraction of the value range in [0, 1]; received {scale!r}"
        raise ValueError(msg)
    lo, hi = value_range(dataset)
    amplitude = scale * (hi - lo)
    dtype = np.dtype(dataset.x_train.dtype)
    if dtype.kind not in "f":
        dtype = np.dtype(np.float32)
    return hnp.arrays(dtype, dataset.input_shape, elements=_elements(dtype, -amplitude, amplitude))


def labels(
    dataset: Dataset, *, min_size: int = 1, max_size: int = 16
) -> SearchStrategy[np.ndarray]:
    """Arrays of class ids in ``[0, num_classes)`` (int64), like the dataset's labels."""
    return hnp.arrays(
        np.int64,
        st.integers(min_size, max_size),
        elements=st.integers(0, dataset.num_classes - 1),
    )
