"""Speed measurement and machine calibration: throughput, latency, memory, normalised figures.

A raw samples/s figure recorded on one CI runner means little on the next one. Each figure here
is therefore measured together with a *calibration* taken in the same run on the same device:
the float32 matrix-multiply rate (GFLOP/s) of the machine. The *normalised* figure is

    model FLOPs/s ÷ calibration FLOPs/s  (the fraction of the machine's matmul peak the model uses)

with the model's FLOPs counted from its layers (:func:`count_flops`). The speed gate compares the
normalised training figure with the champion's (:func:`speed_check`), with a tolerance.

Timing is done by a *runner* ``(target, rounds, setup, teardown) -> [seconds per round]``:
:func:`time_rounds` (``time.perf_counter``) for scripts, ``benchmark.pedantic`` in the pytest
suite (see ``suites/test_speed.py``). The first call of every measurement is a warm-up that is
timed on its own (tracing/compilation plus one epoch or call) and never mixed into the rounds.
The calibration product runs untimed around the rounds (``setup``/``teardown``: around each
training round, once before and after the predict rounds), so each figure is divided by the
machine's speed at the time it was measured.

No pytest here; Keras and the backend are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import re
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.checks import CheckResult
from mlchecks.errors import ModelError

if TYPE_CHECKING:
    import keras

    from mlchecks.data import Dataset

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


# --- machine and device ---------------------------------------------------------------------


def cpu_name() -> str:
    """The CPU model and the number of cores this process may use, e.g. ``AMD EPYC (2 cores)``."""
    name = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        if found:
            name = found.group(1).strip()
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} ({cores} cores)"


def machine_id() -> str:
    """A short id of this machine (host, CPU, cores): memoised figures are per machine."""
    text = f"{platform.node()}|{cpu_name()}|{platform.machine()}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """Where the backend runs: ``kind`` is ``CPU`` or ``GPU``; ``name`` the model of it."""

    kind: str
    name: str
    backend: str
    backend_version: str
    keras_version: str

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def device_info() -> DeviceInfo:
    """The device the active Keras backend computes on by default (imports Keras)."""
    import keras

    backend = keras.backend.backend()
    version, kind, name = "unknown", "CPU", cpu_name()
    if backend == "tensorflow":
        import tensorflow as tf

        version = tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            kind = "GPU"
            details = tf.config.experimental.get_device_details(gpus[0])
            name = str(details.get("device_name", gpus[0].name))
    elif backend == "jax":
        import jax

        version = jax.__version__
        dev = jax.devices()[0]
        if dev.platform == "gpu":
            kind, name = "GPU", str(getattr(dev, "device_kind", "GPU"))
    elif backend == "torch":
        import torch

        version = torch.__version__
        if torch.cuda.is_available():
            kind, name = "GPU", torch.cuda.get_device_name(0)
    return DeviceInfo(kind, name, backend, version, keras.__version__)


def gpu_unavailable_reason() -> str | None:
    """Why the active backend cannot benchmark a GPU here, or ``None`` when it can."""
    info = device_info()
    if info.kind == "GPU":
        return None
    hint = {
        "tensorflow": "tf.config.list_physical_devices('GPU') is empty; install "
        "'mlchecks[gpu]' (tensorflow[and-cuda]) on a machine with an NVIDIA GPU",
        "jax": "jax.devices() has no GPU; install jax[cuda12] on a machine with an NVIDIA GPU",
        "torch": "torch.cuda.is_available() is False; install a CUDA build of torch",
    }.get(info.backend, "the backend sees no GPU")
    return f"no GPU visible to the {info.backend} backend ({hint}); GPU benchmarks skipped"


def sync(value: Any = None) -> None:
    """Wait until the device has finished the work queued so far, so timings are honest.

    GPU work is asynchronous: without this a timer measures the launch, not the work. JAX:
    ``block_until_ready``; torch: ``torch.cuda.synchronize``; TensorFlow: copy a result to numpy
    (TF has no global barrier; the copy waits for the op that produced ``value``). On a CPU the
    backends compute synchronously and this costs next to nothing.

    Args:
        value: a tensor, variable, or a (nested) list of them produced by the work to wait for.
            Defaults to nothing (only torch can then wait).
    """
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return
    if value is None:
        return
    leaves = [getattr(v, "value", v) for v in _leaves(value)]
    if backend == "jax":
        import jax

        jax.block_until_ready(leaves)
    elif leaves:
        np.asarray(leaves[-1])


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list | tuple):
        return [x for v in value for x in _leaves(v)]
    return [value]


def sync_model(model: keras.Model) -> None:
    """Wait for pending updates of ``model``'s weights (after a training round)."""
    weights = model.trainable_variables
    sync(weights[-1:] if weights else None)


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


# --- FLOPs ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FlopCount:
    """FLOPs per sample of a model's forward pass, counted from its layers.

    Attributes:
        forward: FLOPs of one sample's forward pass (multiply and add count as 2).
        by_layer: FLOPs per counted layer (name -> FLOPs).
        uncounted: names of layers with weights whose FLOPs could not be counted (their cost
            is missing from ``forward``, so the normalised figure is a lower bound).
    """

    forward: float
    by_layer: dict[str, float]
    uncounted: tuple[str, ...] = ()

    @property
    def train(self) -> float:
        """FLOPs of one sample's training step: ``TRAIN_FLOPS_FACTOR`` x forward."""
        return TRAIN_FLOPS_FACTOR * self.forward

    def to_json(self) -> dict[str, Any]:
        return {
            "forward": self.forward,
            "train": self.train,
            "by_layer": self.by_layer,
            "uncounted": list(self.uncounted),
            "train_factor": TRAIN_FLOPS_FACTOR,
        }


def count_flops(model: keras.Model) -> FlopCount:
    """Count the forward FLOPs per sample of ``model`` from its Dense and convolution layers.

    Dense: ``2 * in * units`` per position (a Dense on ``(steps, features)`` applies per step).
    Conv1D/2D/3D: ``2 * prod(kernel) * in_channels/groups * filters`` per output position.
    DepthwiseConv2D and SeparableConv2D are counted too. Activations, pooling, normalisation
    and biases are a few FLOPs per value, negligible next to these products, and are not
    counted. Nested models are counted layer by layer.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128),
        ...                       keras.layers.Dense(10)])
        >>> count_flops(m).forward == 2 * (784 * 128 + 128 * 10)
        True
    """
    by_layer: dict[str, float] = {}
    uncounted: list[str] = []
    for layer in _walk(model):
        flops = _layer_flops(layer)
        if flops is None:
            if layer.weights and not _is_cheap(layer):
                uncounted.append(layer.name)
            continue
        if flops > 0:
            by_layer[layer.name] = float(flops)
    return FlopCount(float(sum(by_layer.values())), by_layer, tuple(uncounted))


def _walk(model: Any) -> list[Any]:
    out = []
    for layer in getattr(model, "layers", []):
        if getattr(layer, "layers", None) and not _layer_kind(layer):
            out.extend(_walk(layer))  # a nested model or a wrapper of layers
        else:
            out.append(layer)
    return out


def _layer_kind(layer: Any) -> str:
    names = [c.__name__ for c in type(layer).__mro__]
    for kind in ("SeparableConv", "DepthwiseConv", "Conv", "Dense"):
        if any(n.startswith(kind) or n == f"Base{kind}" for n in names):
            return kind
    return ""


def _is_cheap(layer: Any) -> bool:
    names = {c.__name__ for c in type(layer).__mro__}
    cheap = {
        "BatchNormalization",
        "LayerNormalization",
        "Normalization",
        "Embedding",
        "GroupNormalization",
        "UnitNormalization",
        "Rescaling",
    }
    return bool(names & cheap)


def _positions(layer: Any, keep_last: int = 1) -> int | None:
    """Product of the output's non-batch dims except the last ``keep_last`` (channels)."""
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError, RuntimeError):
        return None
    dims = shape[1 : len(shape) - keep_last] if keep_last else shape[1:]
    if any(d is None for d in dims):
        return None
    return int(np.prod(dims)) if dims else 1


def _layer_flops(layer: Any) -> float | None:
    kind = _layer_kind(layer)
    if not kind or not getattr(layer, "built", False):
        return None
    if kind == "Dense":
        kernel = getattr(layer, "kernel", None)
        if kernel is None or len(kernel.shape) != 2:
            return None
        positions = _positions(layer)
        return 2.0 * int(kernel.shape[0]) * int(kernel.shape[1]) * (positions or 1)
    positions = _positions(layer)
    if positions is None:
        return None
    if kind == "SeparableConv":
        depth = getattr(layer, "depthwise_kernel", None)
        point = getattr(layer, "pointwise_kernel", None)
        if depth is None or point is None:
            return None
        per_position = int(np.prod(depth.shape)) + int(np.prod(point.shape))
        return 2.0 * per_position * positions
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return None
    if kind == "DepthwiseConv":
        # kernel (*k, in_channels, multiplier): one k-window per output channel
        return 2.0 * int(np.prod(kernel.shape)) * positions
    # Conv kernel (*k, in_channels / groups, filters): prod(kernel) MACs per output position
    return 2.0 * int(np.prod(kernel.shape)) * positions


def normalised(samples_per_s: float, flops_per_sample: float, calibration: Calibration) -> float:
    """Model FLOPs/s as a fraction of the calibration's FLOPs/s (0 when either is unknown).

    Example:
        >>> cal = Calibration(100.0, 110.0, "CPU", "numpy", 1024, 5)
        >>> normalised(50_000, 600_000, cal)   # 30 GFLOP/s of a 100 GFLOP/s machine
        0.3
    """
    if calibration.gflops <= 0 or flops_per_sample <= 0:
        return 0.0
    return samples_per_s * flops_per_sample / (calibration.gflops * 1e9)


# --- memory ---------------------------------------------------------------------------------


class PeakMemory:
    """Peak memory while a block runs: process resident set (CPU) and the device's (GPU).

    The process peak is Linux's ``VmHWM``, reset by writing ``5`` to ``/proc/self/clear_refs``
    before the block, so the figure is the peak *during* the block (Keras and the backend's
    runtime included), not since the process started. Elsewhere it falls back to
    ``ru_maxrss`` (peak since start). GPU peaks come from the backend's allocator statistics.
    """

    def __init__(self, device: str = "CPU") -> None:
        self.device = device
        self.rss_peak_mib: float | None = None
        self.rss_before_mib: float | None = None
        self.device_peak_mib: float | None = None
        self.scope = "block"

    def __enter__(self) -> PeakMemory:
        self.rss_before_mib = _status_mib("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.scope = "process"
        if self.device == "GPU":
            _reset_device_peak()
        return self

    def __exit__(self, *exc: object) -> None:
        peak = _status_mib("VmHWM")
        if peak is None:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            self.scope = "process"
        self.rss_peak_mib = peak
        if self.device == "GPU":
            self.device_peak_mib = _device_peak_mib()

    def to_json(self) -> dict[str, Any]:
        return {
            "rss_peak_mib": self.rss_peak_mib,
            "rss_before_mib": self.rss_before_mib,
            "device_peak_mib": self.device_peak_mib,
            "scope": self.scope,
        }


def _status_mib(field: str) -> float | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(found.group(1)) / 1024.0 if found else None


def _reset_device_peak() -> None:
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "torch":
            import torch

            torch.cuda.reset_peak_memory_stats()
        elif backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats("GPU:0")
    except (RuntimeError, ValueError):  # pragma: no cover - allocator without statistics
        pass


def _device_peak_mib() -> float | None:
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "torch":
            import torch

            return float(torch.cuda.max_memory_allocated()) / 2**20
        if backend == "tensorflow":
            import tensorflow as tf

            return float(tf.config.experimental.get_memory_info("GPU:0")["peak"]) / 2**20
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            peak = stats.get("peak_bytes_in_use")
            return None if peak is None else float(peak) / 2**20
    except (RuntimeError, ValueError, KeyError):  # pragma: no cover
        return None
    return None


# --- measurements ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    """How much to measure. Sized for the gate: the defaults add about 1 s per model on digits.

    Attributes:
        train_steps: training steps (batches) per round, at most.
        train_rounds: timed training rounds after the warm-up epoch.
        latency_rounds: timed batch-1 predictions after the warm-up call.
        predict_batch: batch of the throughput prediction, at most (and at most the test split).
        predict_rounds: timed large-batch predictions after the warm-up call.
    """

    train_steps: int = 20
    train_rounds: int = 3
    latency_rounds: int = 30
    predict_batch: int = 1024
    predict_rounds: int = 3

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value < 1:
                msg = f"bench plan {field.name} must be an integer >= 1, got {value!r}"
                raise ValueError(msg)

    def key(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def to_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Speed:
    """The figures of one model on one machine, all measured in the same run.

    ``kind`` is ``training`` (samples/s over ``steps`` steps of ``batch_size``),
    ``predict_latency`` (seconds per batch-1 call) or ``predict_throughput`` (samples/s at
    ``batch_size``). ``normalised`` is model FLOPs/s ÷ calibration FLOPs/s (throughputs only).
    """

    kind: str
    samples_per_s: float
    normalised: float
    warmup_s: float
    median_s: float
    min_s: float
    max_s: float
    p95_s: float
    rounds: int
    steps: int
    batch_size: int
    flops_per_sample: float
    calibration: dict[str, Any]
    device: dict[str, str]
    memory: dict[str, Any]
    measured_at: str = ""
    elapsed_s: float = 0.0
    memoised: bool = False
    uncounted_layers: tuple[str, ...] = ()
    round_s: tuple[float, ...] = ()

    @property
    def normalised_per_round(self) -> list[float]:
        """Each round against the calibration taken around it."""
        per_round = self.calibration.get("per_round") or []
        return [
            self.batch_size * self.steps / t * self.flops_per_sample / (g * 1e9)
            for t, g in zip(self.round_s, per_round, strict=False)
            if t > 0 and g > 0
        ]

    @property
    def raw_per_round(self) -> list[float]:
        return [self.batch_size * self.steps / t for t in self.round_s if t > 0]

    @property
    def compile_s(self) -> float:
        """Warm-up minus a steady round: tracing/compilation time, roughly."""
        return max(0.0, self.warmup_s - self.median_s)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["compile_s"] = self.compile_s
        out["uncounted_layers"] = list(self.uncounted_layers)
        out["round_s"] = list(self.round_s)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Speed:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["uncounted_layers"] = tuple(kwargs.get("uncounted_layers", ()))
        kwargs["round_s"] = tuple(kwargs.get("round_s", ()))
        return cls(**kwargs)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def preserved_state(model: keras.Model) -> Iterator[None]:
    """Snapshot every variable of ``model`` and its optimizer; restore them on exit.

    Training benchmarks run on the model under test itself and leave it exactly as they found
    it: weights, seed states and optimizer slots get their old values back; optimizer slots the
    benchmark created (a model that had never been trained) are zeroed, the state of an unused
    optimizer. Training the model itself rather than a clone reuses its compiled training step
    (no second tracing on the run that trained it) and works for subclassed models, which
    ``keras.models.clone_model`` cannot copy.
    """

    def variables() -> list[Any]:
        out = list(getattr(model, "variables", model.weights))
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            out += list(optimizer.variables)
        return out

    before = variables()
    saved = [(v, np.array(v.numpy(), copy=True)) for v in before]
    known = {id(v) for v in before}
    try:
        yield
    finally:
        for variable, value in saved:
            variable.assign(value)
        for variable in variables():
            if id(variable) not in known:
                variable.assign(np.zeros(variable.shape, dtype=variable.dtype))


def ensure_compiled(model: keras.Model) -> None:
    """Compile a model saved without compile settings with the reference ones.

    Adam, sparse categorical cross-entropy, accuracy: what ``mlchecks.training.build`` uses.
    Compiling does not change predictions.
    """
    if not getattr(model, "compiled", False):
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )


def _device(device: str | None) -> DeviceInfo:
    """The active backend's device, or ``device`` ("CPU"/"GPU") when the caller placed the work
    there itself (e.g. inside ``keras.device("cpu")`` on a GPU machine)."""
    info = device_info()
    if device is None or device.upper() == info.kind:
        return info
    name = cpu_name() if device.upper() == "CPU" else "GPU"
    return dataclasses.replace(info, kind=device.upper(), name=name)


def _probe_for(probe: Probe | None, info: DeviceInfo) -> Probe:
    return probe if probe is not None and probe.device == info.kind else Probe(info.kind)


def _bracketed(
    runner: Runner, target: Callable[[], object], rounds: int, probe: Probe
) -> tuple[Rounds, list[float]]:
    """Run ``rounds`` timed rounds with a calibration sample before and after each one.

    Returns the rounds and, per round, the mean GFLOP/s of its two samples.
    """
    first = len(probe.rates)
    seconds = runner(target, rounds, setup=probe.sample, teardown=probe.sample)
    rates = probe.rates[first:]
    if len(rates) != 2 * len(seconds):  # a runner that ignored setup/teardown
        rates = [r for r in rates for _ in range(2)] if rates else [0.0] * 2 * len(seconds)
    per_round = [(rates[2 * i] + rates[2 * i + 1]) / 2 for i in range(len(seconds))]
    return Rounds(tuple(seconds)), per_round


def _speed(
    kind: str,
    samples: int,
    steps: int,
    batch_size: int,
    warmup: float,
    rounds: Rounds,
    per_round_gflops: list[float],
    probe: Probe,
    flops_per_sample: float,
    flops: FlopCount,
    info: DeviceInfo,
    memory: PeakMemory,
    started: float,
) -> Speed:
    calibration = probe.calibration(per_round_gflops)
    # Each round against the calibration taken around it, then the median over rounds.
    fractions = [
        samples / t * flops_per_sample / (g * 1e9)
        for t, g in zip(rounds.seconds, per_round_gflops, strict=True)
        if t > 0 and g > 0
    ]
    cal = calibration.to_json()
    cal["per_round"] = list(per_round_gflops)
    return Speed(
        kind=kind,
        samples_per_s=samples / rounds.median,
        normalised=float(statistics.median(fractions)) if fractions else 0.0,
        warmup_s=warmup,
        median_s=rounds.median,
        min_s=rounds.min,
        max_s=rounds.max,
        p95_s=rounds.percentile(95),
        rounds=len(rounds.seconds),
        steps=steps,
        batch_size=batch_size,
        flops_per_sample=flops_per_sample,
        calibration=cal,
        device=info.to_json(),
        memory=memory.to_json(),
        measured_at=_now(),
        elapsed_s=time.perf_counter() - started,
        uncounted_layers=flops.uncounted,
        round_s=rounds.seconds,
    )


def measure_training(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    plan: Plan | None = None,
    runner: Runner = time_rounds,
    probe: Probe | None = None,
    flops: FlopCount | None = None,
    device: str | None = None,
) -> Speed:
    """Training throughput: samples/s of ``model.fit`` over ``steps`` full batches per round.

    One round is one ``fit`` epoch over ``steps * batch_size`` samples (no shuffling, no
    validation): the user's compiled training step (loss, metrics, optimizer) through the user's
    entry point, the fixed cost of a ``fit`` call included. The first epoch is the warm-up
    (tracing/compilation, unless the model was compiled by training in this process) and is
    reported as ``warmup_s``/``compile_s``, never in the rounds. Weights are synchronised after
    each round and restored afterwards (:func:`preserved_state`): ``model`` is left unchanged.
    A calibration sample is taken before and after each round (:class:`Probe`).

    Args:
        model: a compiled (or compilable) Keras model.
        x: training inputs (at least one batch).
        y: integer labels.
        batch_size: the model's training batch size.
        plan: sizes. Defaults to :class:`Plan`.
        runner: times rounds. Defaults to :func:`time_rounds`.
        probe: the run's calibration probe for the model's device. Defaults to a new one.
        flops: precomputed :func:`count_flops` of ``model``. Defaults to counting.
        device: ``"CPU"``/``"GPU"`` where the caller placed the work. Defaults to the backend's
            default device.

    Raises:
        ModelError: fewer samples than one batch, or the model cannot be trained on them.
    """
    plan = plan or Plan()
    steps = min(plan.train_steps, len(x) // batch_size)
    if steps < 1:
        msg = (
            f"training benchmark needs at least one batch of {batch_size} samples; the data has "
            f"{len(x)}; use a larger dataset or a smaller batch_size"
        )
        raise ModelError(msg)
    n = steps * batch_size
    xs, ys = x[:n], y[:n]
    flops = flops or count_flops(model)
    info = _device(device)
    probe = _probe_for(probe, info)
    ensure_compiled(model)

    def epoch() -> None:
        model.fit(xs, ys, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        sync_model(model)

    started = time.perf_counter()
    with preserved_state(model), PeakMemory(info.kind) as memory:
        try:
            warmup = time_rounds(epoch, 1)[0]
        except Exception as exc:
            text = " ".join(str(exc).split())[:300]
            msg = (
                f"model {model.name!r} cannot be trained on the benchmark data "
                f"({type(exc).__name__}: {text})"
            )
            raise ModelError(msg) from None
        rounds, per_round = _bracketed(runner, epoch, plan.train_rounds, probe)
    return _speed(
        "training",
        n,
        steps,
        batch_size,
        warmup,
        rounds,
        per_round,
        probe,
        flops.train,
        flops,
        info,
        memory,
        started,
    )


def measure_latency(
    model: keras.Model,
    x: np.ndarray,
    *,
    plan: Plan | None = None,
    runner: Runner = time_rounds,
    probe: Probe | None = None,
    flops: FlopCount | None = None,
    device: str | None = None,
) -> Speed:
    """Predict latency: seconds per ``predict_on_batch`` of one sample (p50 = median, p95).

    ``predict_on_batch`` returns numpy, which waits for the device: no separate sync needed.
    Calls are too short to bracket each with a calibration; one sample is taken before and one
    after all of them (the same for :func:`measure_predict_throughput`).
    """
    plan = plan or Plan()
    return _measure_predict(
        model,
        x[:1],
        "predict_latency",
        plan.latency_rounds,
        runner,
        probe,
        flops,
        device,
    )


def measure_predict_throughput(
    model: keras.Model,
    x: np.ndarray,
    *,
    plan: Plan | None = None,
    runner: Runner = time_rounds,
    probe: Probe | None = None,
    flops: FlopCount | None = None,
    device: str | None = None,
) -> Speed:
    """Large-batch predict throughput: samples/s of ``predict_on_batch`` on one big batch."""
    plan = plan or Plan()
    return _measure_predict(
        model,
        x[: plan.predict_batch],
        "predict_throughput",
        plan.predict_rounds,
        runner,
        probe,
        flops,
        device,
    )


def _measure_predict(
    model: keras.Model,
    batch: np.ndarray,
    kind: str,
    rounds_wanted: int,
    runner: Runner,
    probe: Probe | None,
    flops: FlopCount | None,
    device: str | None,
) -> Speed:
    if len(batch) < 1:
        raise ModelError("predict benchmark needs at least one test sample")
    flops = flops or count_flops(model)
    info = _device(device)
    probe = _probe_for(probe, info)

    def call() -> None:
        model.predict_on_batch(batch)

    started = time.perf_counter()
    with PeakMemory(info.kind) as memory:
        try:
            warmup = time_rounds(call, 1)[0]
        except Exception as exc:
            text = " ".join(str(exc).split())[:300]
            msg = (
                f"model {model.name!r} cannot predict the benchmark batch "
                f"({type(exc).__name__}: {text})"
            )
            raise ModelError(msg) from None
        probe.sample()
        rounds = Rounds(tuple(runner(call, rounds_wanted)))
        probe.sample()
        mean = (probe.rates[-1] + probe.rates[-2]) / 2
        per_round = [mean] * len(rounds.seconds)
    return _speed(
        kind,
        len(batch),
        1,
        len(batch),
        warmup,
        rounds,
        per_round,
        probe,
        flops.forward,
        flops,
        info,
        memory,
        started,
    )


# --- memo -----------------------------------------------------------------------------------


def memo_key(kind: str, dataset: Dataset, batch_size: int, plan: Plan) -> str:
    """What identifies a memoised measurement of one cached model: kind, data, sizes, machine."""
    parts = (BENCH_FORMAT, kind, dataset.fingerprint, batch_size, plan.key(), machine_id())
    return "speed:" + ":".join(str(p) for p in parts)


def load_memo(path: Path | None) -> Speed | None:
    """A memoised :class:`Speed`, or ``None`` when absent or unreadable."""
    if path is None or not path.is_file():
        return None
    try:
        speed = Speed.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return dataclasses.replace(speed, memoised=True)


def save_memo(path: Path | None, speed: Speed) -> None:
    """Memoise ``speed`` atomically beside the cached model (no-op without a path)."""
    if path is None:
        return
    from mlchecks.training import save_memo as _save

    text = json.dumps(speed.to_json(), indent=1)
    _save(path, lambda p: p.write_text(text))


# --- checks ---------------------------------------------------------------------------------


def _figure(data: Mapping[str, Any] | None, key: str) -> float | None:
    """``key`` of a figures dict, or of a stored check's ``details`` / ``value``."""
    if not data:
        return None
    for source in (data, data.get("details") or {}):
        value = source.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
    if key == "normalised" and data.get("id") == "speed.training":
        value = data.get("value")
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
    return None


def _device_kind(data: Mapping[str, Any]) -> str | None:
    for source in (data, data.get("details") or {}):
        device = source.get("device")
        if isinstance(device, Mapping):
            return str(device.get("kind"))
        if isinstance(device, str):
            return device
    return None


def speed_check(
    current: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    tolerance: float = 0.25,
    *,
    model: str | None = None,
    where: str = "",
    budget: str = "",
) -> CheckResult:
    """``speed.training``: the normalised training throughput against the champion's.

    Pure: no Keras, no timing. ``current`` and ``champion`` are figures as produced by
    :meth:`Speed.to_json` (key ``normalised``, optionally ``samples_per_s``, ``calibration``,
    ``device``), or a stored ``speed.training`` check (``to_json()``; its ``value`` is the
    normalised figure). The candidate passes when its normalised figure is at least
    ``champion * (1 - tolerance)``. With no champion, or one measured on another kind of device
    (a GPU figure says nothing about a CPU one), the figure is recorded and not judged: the check
    passes with severity ``info`` and says so.

    Args:
        current: this run's figures.
        champion: the champion's recorded figures, or ``None``.
        tolerance: allowed relative slowdown, 0.25 = 25%. Defaults to 0.25.
        model: the model name for the result. Defaults to None.
        where: ``"<model> on <data> [backend, device]"`` for the message. Defaults to "".
        budget: what the measurement cost, appended to the message. Defaults to "".

    Raises:
        ValueError: ``current`` has no finite ``normalised`` figure, or tolerance is negative.

    Example:
        >>> speed_check({"normalised": 0.20}, {"normalised": 0.25}).passed   # -20% >= -25%
        True
        >>> speed_check({"normalised": 0.18}, {"normalised": 0.25}).passed   # -28%
        False
    """
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0):
        msg = f"speed_tolerance must be a number >= 0, e.g. 0.25 for 25%; got {tolerance!r}"
        raise ValueError(msg)
    value = _figure(current, "normalised")
    if value is None:
        msg = f"speed figures need a finite 'normalised' value; got keys {sorted(current)}"
        raise ValueError(msg)
    rate = _figure(current, "samples_per_s")
    gflops = _figure(current.get("calibration") or {}, "gflops")
    head = f"training throughput{' of ' + where if where else ''}: "
    head += f"{rate:,.0f} samples/s = " if rate is not None else ""
    head += f"{value:.2%} of this machine's float32 matmul rate"
    head += f" ({gflops:.1f} GFLOP/s)" if gflops is not None else ""
    tail = f"; {budget}" if budget else ""
    details = {
        "normalised": value,
        "samples_per_s": rate,
        "tolerance": tolerance,
        "current": dict(current),
    }
    reference = _figure(champion, "normalised")
    if champion is None or reference is None or reference <= 0:
        return CheckResult(
            "speed.training",
            "speed",
            True,
            value,
            None,
            f"{head}; no champion: recorded, not judged{tail}",
            model,
            "info",
            details,
        )
    details["champion"] = dict(champion)
    mine, theirs = _device_kind(current), _device_kind(champion)
    if mine and theirs and mine != theirs:
        return CheckResult(
            "speed.training",
            "speed",
            True,
            value,
            None,
            f"{head}; champion was measured on {theirs}, this run on {mine}: not "
            f"comparable, recorded, not judged{tail}",
            model,
            "info",
            details,
        )
    floor = max(0.0, reference * (1.0 - tolerance))
    change = value / reference - 1.0
    passed = value >= floor
    verdict = ">=" if passed else "<"
    message = (
        f"{head}; {change:+.1%} against the champion's {reference:.2%} "
        f"({verdict} floor {floor:.2%}, tolerance -{tolerance:.0%}){tail}"
    )
    return CheckResult(
        "speed.training", "speed", passed, value, floor, message, model, "error", details
    )


def info_check(
    speed: Speed, *, model: str | None = None, where: str = "", budget: str = ""
) -> CheckResult:
    """``speed.predict_latency`` / ``speed.predict_throughput``: recorded, never blocking.

    Batch-1 latency is dominated by per-call framework overhead, not FLOPs, so normalising it by
    the matmul rate says little; both predict figures are recorded for the report and the
    registry and do not gate.
    """
    tail = f"; {budget}" if budget else ""
    on = f" of {where}" if where else ""
    if speed.kind == "predict_latency":
        p50_ms, p95_ms = speed.median_s * 1e3, speed.p95_s * 1e3
        message = (
            f"predict latency{on} (batch 1): p50 {p50_ms:.2f} ms, p95 {p95_ms:.2f} ms over "
            f"{speed.rounds} calls; recorded, not judged{tail}"
        )
        return CheckResult(
            "speed.predict_latency",
            "speed",
            True,
            p50_ms,
            None,
            message,
            model,
            "info",
            {"p50_ms": p50_ms, "p95_ms": p95_ms, **speed.to_json()},
        )
    if speed.kind == "predict_throughput":
        message = (
            f"predict throughput{on} (batch {speed.batch_size}): "
            f"{speed.samples_per_s:,.0f} samples/s = {speed.normalised:.2%} of the matmul "
            f"rate; recorded, not judged{tail}"
        )
        return CheckResult(
            "speed.predict_throughput",
            "speed",
            True,
            speed.samples_per_s,
            None,
            message,
            model,
            "info",
            speed.to_json(),
        )
    msg = f"info_check takes predict_latency or predict_throughput figures, got {speed.kind!r}"
    raise ValueError(msg)


def memory_check(speed: Speed, *, model: str | None = None, where: str = "") -> CheckResult:
    """``speed.peak_memory``: peak memory while training (MiB); recorded, never blocking."""
    mem = speed.memory
    device_peak = mem.get("device_peak_mib")
    value = device_peak if device_peak is not None else mem.get("rss_peak_mib")
    what = "GPU memory" if device_peak is not None else "process resident memory"
    on = f" of {where}" if where else ""
    shown = f"{value:,.0f} MiB" if value is not None else "unknown"
    scope = "" if mem.get("scope") == "block" else " (process peak since start)"
    message = f"peak {what} while training{on}: {shown}{scope}; recorded, not judged"
    return CheckResult(
        "speed.peak_memory", "speed", True, value, None, message, model, "info", dict(mem)
    )


def budget_text(speed: Speed) -> str:
    """How much the measurement cost, for check messages (the gate's speed budget)."""
    if speed.memoised:
        return (
            f"measured {speed.measured_at} on this machine, reused from the model cache "
            "(delete the cache entry to re-measure)"
        )
    if speed.kind == "training":
        return (
            f"{speed.rounds} rounds x {speed.steps} steps of {speed.batch_size} after a "
            f"{speed.warmup_s:.2f} s warm-up epoch (compile ~{speed.compile_s:.2f} s); "
            f"{speed.elapsed_s:.1f} s of the run"
        )
    return f"{speed.rounds} calls after a warm-up; {speed.elapsed_s:.1f} s of the run"


# --- backend comparison ---------------------------------------------------------------------

#: Latest training figures per backend, device, model and data, kept beside the model cache so
#: that runs under each backend (tox envs tensorflow, jax, torch) build one comparison table.
BACKENDS_FILE = "speed-backends.json"


def _read_rows(path: Path) -> dict[str, dict[str, Any]]:
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return rows if isinstance(rows, dict) else {}


def record_backend(path: Path, speed: Speed, *, model: str, data: str) -> None:
    """Keep ``speed`` (a training figure) as the latest row of its backend/device/model/data."""
    device = speed.device
    key = "|".join((device.get("backend", "?"), device.get("kind", "?"), model, data))
    rows = _read_rows(path)
    rows[key] = {
        "backend": device.get("backend"),
        "version": device.get("backend_version"),
        "device": device.get("kind"),
        "model": model,
        "data": data,
        "batch": speed.batch_size,
        "samples_per_s": speed.samples_per_s,
        "of_peak": speed.normalised,
        "matmul_gflops": speed.calibration.get("gflops"),
        "measured_at": speed.measured_at,
    }
    from mlchecks.training import save_memo as _save

    text = json.dumps(rows, indent=1, sort_keys=True)
    _save(path, lambda p: p.write_text(text))


def backend_table(path: Path) -> str | None:
    """The comparison table of every backend measured on this machine (``None``: no rows)."""
    rows = sorted(_read_rows(path).values(), key=lambda r: (r["model"], r["data"], r["backend"]))
    if not rows:
        return None
    columns = [
        ("model", "model", ""),
        ("data", "data", ""),
        ("batch", "batch", "d"),
        ("backend", "backend", ""),
        ("version", "version", ""),
        ("device", "device", ""),
        ("samples_per_s", "samples/s", ",.0f"),
        ("of_peak", "of peak", ".2%"),
        ("matmul_gflops", "matmul GFLOP/s", ".1f"),
        ("measured_at", "measured", ""),
    ]
    return table(rows, columns)


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


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """A plain-text table: ``columns`` are (key, header, format spec)."""
    cells = [[h for _, h, _ in columns]]
    for row in rows:
        cells.append(
            [
                format(row[k], spec) if isinstance(row.get(k), int | float) else str(row.get(k, ""))
                for k, _, spec in columns
            ]
        )
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [
        "  ".join(
            c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
