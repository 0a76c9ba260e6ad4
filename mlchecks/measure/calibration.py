"""The machine's float32 matrix-multiply rate (GFLOP/s), measured in the same run as a figure.

:class:`Probe` takes short samples of a fixed matmul before and after each timed round, so a
model's figure can be divided by the machine's speed at the time it was measured (the
*normalised* figure of :mod:`mlchecks.measure.speed`: information for the report and the
per-backend table, never the reference of ``speed.training``, which is a same-run A/B, see
:mod:`mlchecks.measure.ab`). :func:`calibrate` is one calibration on its own.

No pytest here; Keras and the backend are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    pass

# --- calibration ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Calibration:
    """The float32 matrix-multiply rate of a device, measured in this run.

    Attributes:
        gflops: median GFLOP/s of the timed products (what normalisation divides by).
        best_gflops: the fastest of them (closest to the device's peak).
        device: ``CPU`` or ``GPU``.
        method: what multiplied (``numpy`` on a CPU; the backend's matmul on a GPU).
        n: matrix size.
        repeats: number of timed products (after one warm-up).
    """

    gflops: float
    best_gflops: float
    device: str
    method: str
    n: int
    repeats: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Probe:
    """A float32 ``n x n`` matmul on a device, timed each time it is called: the calibration.

    On a CPU the product is numpy's (its BLAS uses all the cores this process may use, as the
    backends do), so the figure is the same whichever Keras backend runs. On a GPU it is the
    active backend's own matmul with its default float32 precision (TF32 on recent NVIDIA GPUs
    where the backend enables it), synchronised, so the model and the calibration see the same
    arithmetic. Measurements call :meth:`sample` before and after every round (untimed, as
    pytest-benchmark's ``setup``/``teardown``), so each round is normalised by the machine's
    speed at that moment: a shared runner that slows down slows both.

    Args:
        device: ``"CPU"`` or ``"GPU"``. Defaults to ``"CPU"``.
        n: matrix size. Defaults to 1024 on a CPU (about 15-30 ms a product on 2 cores), 8192
            on a GPU.
    """

    def __init__(self, device: str = "CPU", n: int | None = None) -> None:
        device = device.upper()
        if device not in ("CPU", "GPU"):
            msg = f"calibration device must be 'CPU' or 'GPU', got {device!r}"
            raise ValueError(msg)
        self.device = device
        self.n = n or (8192 if device == "GPU" else 1024)
        if self.n < 1:
            msg = f"calibration matrix size must be >= 1, got {n!r}"
            raise ValueError(msg)
        if device == "CPU":
            rng = np.random.default_rng(0)
            a = rng.standard_normal((self.n, self.n), dtype=np.float32)
            b = rng.standard_normal((self.n, self.n), dtype=np.float32)
            out = np.empty((self.n, self.n), dtype=np.float32)

            def product() -> None:
                np.matmul(a, b, out=out)

            self._product, self.method = product, "numpy"
        else:
            self._product, self.method = _gpu_product(self.n)
        self._product()  # warm-up: BLAS thread start-up, kernel selection, autotuning
        self.rates: list[float] = []

    def sample(self, *_: object) -> None:
        """Time one product and append its GFLOP/s to :attr:`rates` (returns None, as
        pytest-benchmark's ``setup`` must)."""
        start = time.perf_counter()
        self._product()
        seconds = time.perf_counter() - start
        self.rates.append(2.0 * self.n**3 / max(seconds, 1e-9) / 1e9)

    def calibration(self, rates: Sequence[float] | None = None) -> Calibration:
        """The :class:`Calibration` of ``rates`` (defaults to all samples so far)."""
        rates = list(self.rates if rates is None else rates)
        if not rates:
            raise ValueError("no calibration sample taken yet; call sample() first")
        return Calibration(
            gflops=float(statistics.median(rates)),
            best_gflops=float(max(rates)),
            device=self.device,
            method=self.method,
            n=self.n,
            repeats=len(rates),
        )


def calibrate(device: str = "CPU", *, n: int | None = None, repeats: int = 5) -> Calibration:
    """Measure float32 ``n x n`` matmul GFLOP/s on ``device`` (median of ``repeats``).

    Takes about 0.2 s on a 2-core CPU. See :class:`Probe` for what is multiplied.

    Args:
        device: ``"CPU"`` or ``"GPU"``. Defaults to ``"CPU"``.
        n: matrix size. Defaults to 1024 on a CPU, 8192 on a GPU.
        repeats: timed products after one warm-up. Defaults to 5.

    Example:
        >>> cal = calibrate(n=256, repeats=2)
        >>> cal.gflops > 0 and cal.device == "CPU"
        True
    """
    if repeats < 1:
        msg = f"calibration repeats must be >= 1, got {repeats!r}"
        raise ValueError(msg)
    probe = Probe(device, n)
    for _ in range(repeats):
        probe.sample()
    return probe.calibration()


def _gpu_product(size: int) -> tuple[Callable[[], None], str]:
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        key = jax.random.PRNGKey(0)
        a = jax.random.normal(key, (size, size), dtype=jnp.float32)
        b = jax.random.normal(jax.random.PRNGKey(1), (size, size), dtype=jnp.float32)
        mm = jax.jit(jnp.matmul)
        return (lambda: mm(a, b).block_until_ready()), "jax.numpy.matmul"
    if backend == "torch":
        import torch

        a = torch.randn(size, size, device="cuda", dtype=torch.float32)
        b = torch.randn(size, size, device="cuda", dtype=torch.float32)

        def torch_product() -> None:
            torch.matmul(a, b)
            torch.cuda.synchronize()

        return torch_product, "torch.matmul"
    import tensorflow as tf

    with tf.device("/GPU:0"):
        a = tf.random.normal((size, size), dtype=tf.float32)
        b = tf.random.normal((size, size), dtype=tf.float32)

    def tf_product() -> None:
        with tf.device("/GPU:0"):
            c = tf.matmul(a, b)
        c[0, 0].numpy()  # waits for the product

    return tf_product, "tf.matmul"
