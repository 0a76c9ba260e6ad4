"""Timing rounds and their statistics: runners, :class:`Rounds`, interleaved pairs, spreads.

A *runner* ``(target, rounds, setup, teardown) -> [seconds per round]`` times rounds:
:func:`time_rounds` (``time.perf_counter``) for scripts, ``benchmark.pedantic`` in the pytest
suite (see ``suites/test_speed.py``); ``setup``/``teardown`` run untimed around each round (the
calibration samples). :func:`interleave` times two ways of doing the same work alternately
(``benchmarks/overhead.py``); the A/B of two models' training steps is
:mod:`mlchecks.measure.ab`.

No pytest here; Keras and the backend are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    pass


#: FLOPs of one training step per sample, as a multiple of the forward pass. The backward pass
#: computes two products per layer (gradient w.r.t. the inputs and w.r.t. the weights), each as
#: costly as the forward product: forward + backward = 3 x forward (the usual "6N per token"
#: rule, 3 x 2N). The first layer needs no input gradient, so this slightly overcounts it; the
#: optimizer update (a few FLOPs per weight per step, not per sample) is ignored.
TRAIN_FLOPS_FACTOR = 3.0

#: Bumped when what is measured or how changes, so memoised figures are re-measured.
BENCH_FORMAT = 1

#: ``runner(target, rounds, setup, teardown) -> seconds per round``; ``setup``/``teardown`` run
#: before/after each round, untimed (pytest-benchmark's ``pedantic`` signature).
Runner = Callable[..., list[float]]


# --- statistics of rounds -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rounds:
    """Seconds per round of one measurement (warm-up excluded)."""

    seconds: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.seconds:
            raise ValueError("a measurement needs at least one round")

    @property
    def median(self) -> float:
        return float(statistics.median(self.seconds))

    @property
    def min(self) -> float:
        return float(min(self.seconds))

    @property
    def max(self) -> float:
        return float(max(self.seconds))

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0..100), linear interpolation (numpy's default)."""
        return float(np.percentile(np.asarray(self.seconds, dtype=np.float64), q))


def time_rounds(
    target: Callable[[], object],
    rounds: int,
    setup: Callable[[], object] | None = None,
    teardown: Callable[[], object] | None = None,
) -> list[float]:
    """Call ``target`` ``rounds`` times; seconds per call (``time.perf_counter``).

    ``setup`` and ``teardown`` run before and after each call, outside the timing.
    """
    out = []
    for _ in range(rounds):
        if setup is not None:
            setup()
        start = time.perf_counter()
        target()
        out.append(time.perf_counter() - start)
        if teardown is not None:
            teardown()
    return out


# --- framework overhead and tables ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Overhead:
    """Interleaved timings of two ways to do the same work; ``ratio`` = median(ours / bare)."""

    ours: tuple[float, ...]
    bare: tuple[float, ...]

    @property
    def ratios(self) -> tuple[float, ...]:
        return tuple(a / b for a, b in zip(self.ours, self.bare, strict=True) if b > 0)

    @property
    def ratio(self) -> float:
        return float(statistics.median(self.ratios))


def interleave(ours: Callable[[], object], bare: Callable[[], object], pairs: int) -> Overhead:
    """Time ``ours`` and ``bare`` alternately ``pairs`` times (order alternating each pair).

    Interleaving means a slow spell of a shared machine hits both sides; alternating the order
    cancels any first-or-second bias (caches, allocator).
    """
    a, b = [], []
    for i in range(pairs):
        first, second = (ours, bare) if i % 2 == 0 else (bare, ours)
        t_first = time_rounds(first, 1)[0]
        t_second = time_rounds(second, 1)[0]
        if i % 2 == 0:
            a.append(t_first)
            b.append(t_second)
        else:
            a.append(t_second)
            b.append(t_first)
    return Overhead(tuple(a), tuple(b))


def spread(values: Sequence[float]) -> tuple[float, float, float, float]:
    """(min, median, max, (max - min) / median) of ``values``."""
    lo, mid, hi = min(values), float(statistics.median(values)), max(values)
    return lo, mid, hi, (hi - lo) / mid if mid else math.inf
