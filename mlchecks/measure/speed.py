"""The figures of one model: training throughput, predict latency and throughput, memory.

Each throughput is measured together with a *calibration* taken in the same run on the same
device: the float32 matrix-multiply rate (GFLOP/s) of the machine. The *normalised* figure is

    model FLOPs/s ÷ calibration FLOPs/s  (the fraction of the machine's matmul peak the model uses)

with the model's FLOPs counted from its layers (:func:`count_flops`). It says how well a model
uses the hardware, not what training it costs the user (a model 4x wider can train 3.5x slower
at a higher fraction of the peak), and a figure stored at another moment says little about this
one (the same machine ran 14.9-86.9 GFLOP/s within one run). So these figures are information
(report, registry, per-backend table); ``speed.training`` is judged on a same-run A/B of the
candidate's and the champion's training steps (:mod:`mlchecks.measure.ab`).

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
import json
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks._util.text import table
from mlchecks.errors import ModelError
from mlchecks.measure.calibration import Probe
from mlchecks.measure.device import DeviceInfo, cpu_name, device_info, machine_id, sync_model
from mlchecks.measure.flops import FlopCount, count_flops
from mlchecks.measure.memory import PeakMemory
from mlchecks.measure.timing import BENCH_FORMAT, Rounds, Runner, time_rounds

if TYPE_CHECKING:
    import keras

    from mlchecks.data import Dataset

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
    ``source`` says how a training figure was timed: ``fit`` (:func:`measure_training`: rounds of
    ``fit`` epochs) or ``ab`` (:func:`~mlchecks.measure.ab.measure_ab_training`: the candidate's
    side of a speed A/B, one round = its median ``train_on_batch`` step, ``steps`` = 1).
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
    source: str = "fit"

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

    Adam, sparse categorical cross-entropy, accuracy: what ``mlchecks.model.training.build`` uses.
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
    source: str = "fit",
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
        source=source,
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


def _writer(text: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(text)

    return write


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
    from mlchecks._util.io import try_write as _save

    text = json.dumps(speed.to_json(), indent=1)
    _save(path, _writer(text))


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
    from mlchecks._util.io import try_write as _save

    text = json.dumps(rows, indent=1, sort_keys=True)
    _save(path, _writer(text))


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
