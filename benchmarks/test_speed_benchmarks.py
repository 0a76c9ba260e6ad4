"""pytest-benchmark benchmarks of the reference models on MNIST-sized data, CPU and GPU.

Not collected by the default test run (``testpaths`` is ``tests`` and ``suites``). Run:

    pytest benchmarks/test_speed_benchmarks.py -p no:xdist --benchmark-json=bench.json

Data: ``MLCHECKS_BENCH_DATA`` (default ``synthetic:70000``: 60,000 MNIST-shaped training
samples), batch 128. Each test trains or predicts on the active backend (``KERAS_BACKEND``)
with pytest-benchmark's pedantic mode; figures (samples/s, fraction of the matmul peak, compile
time, p50/p95, peak memory, device) go to ``extra_info``. ``GPU`` tests skip with the reason
when the backend sees no GPU; ``CPU`` tests on a GPU machine run inside ``keras.device("cpu")``.
"""

from __future__ import annotations

import contextlib
import os

import pytest

from mlchecks import measure as bench

DATA = os.environ.get("MLCHECKS_BENCH_DATA", "synthetic:70000")
BATCH = int(os.environ.get("MLCHECKS_BENCH_BATCH", "128"))
ROUNDS = int(os.environ.get("MLCHECKS_BENCH_ROUNDS", "5"))
PLAN = bench.Plan(train_steps=10_000, train_rounds=ROUNDS, latency_rounds=200,
                  predict_batch=4096, predict_rounds=ROUNDS)  # fmt: skip


@pytest.fixture(scope="module")
def dataset():
    from mlchecks.data import load_dataset

    return load_dataset(DATA)


@pytest.fixture(scope="module")
def probes():
    return {}


def _placement(device: str):
    """A context that runs the work on ``device``; skips when that device is not there."""
    default = bench.device_info().kind
    if device == "GPU":
        reason = bench.gpu_unavailable_reason()
        if reason:
            pytest.skip(reason)
        return contextlib.nullcontext()
    if default == "CPU":
        return contextlib.nullcontext()
    import keras

    return keras.device("cpu:0")


def _model(builder: str, dataset):
    from mlchecks.config import ModelSpec
    from mlchecks.model import training

    training.set_seed(0)
    return training.build(ModelSpec(name=builder, builder=builder, batch_size=BATCH), dataset)


def _runner(benchmark):
    def run(target, rounds, setup=None, teardown=None):
        benchmark.pedantic(target, rounds=rounds, iterations=1, setup=setup, teardown=teardown)
        return list(benchmark.stats.stats.data)

    return run


def _report(benchmark, speed: bench.Speed) -> None:
    info = speed.to_json()
    benchmark.extra_info.update({k: v for k, v in info.items() if isinstance(v, int | float)})
    benchmark.extra_info.update(
        device=speed.device, calibration=speed.calibration, memory=speed.memory, data=DATA
    )
    print(
        f"\n{speed.kind} {speed.device['backend']} {speed.device['kind']} "
        f"({speed.device['name']}): {speed.samples_per_s:,.0f} samples/s, "
        f"{speed.normalised:.1%} of {speed.calibration['gflops']:.0f} GFLOP/s, "
        f"p50 {speed.median_s * 1e3:.2f} ms, p95 {speed.p95_s * 1e3:.2f} ms, "
        f"warm-up {speed.warmup_s:.2f} s"
    )


@pytest.mark.parametrize("device", ["CPU", "GPU"])
@pytest.mark.parametrize("builder", ["mlp", "cnn"])
def test_train_throughput(benchmark, builder, device, dataset, probes):
    with _placement(device):
        model = _model(builder, dataset)
        probe = probes.setdefault(device, bench.Probe(device))
        speed = bench.measure_training(model, dataset.x_train, dataset.y_train, batch_size=BATCH,
                                       plan=PLAN, runner=_runner(benchmark), probe=probe,
                                       device=device)  # fmt: skip
    assert speed.device["kind"] == device
    _report(benchmark, speed)


@pytest.mark.parametrize("kind", ["latency", "throughput"])
@pytest.mark.parametrize("device", ["CPU", "GPU"])
@pytest.mark.parametrize("builder", ["mlp", "cnn"])
def test_predict(benchmark, builder, device, kind, dataset, probes):
    with _placement(device):
        model = _model(builder, dataset)
        probe = probes.setdefault(device, bench.Probe(device))
        measure = bench.measure_latency if kind == "latency" else bench.measure_predict_throughput
        speed = measure(model, dataset.x_test, plan=PLAN, runner=_runner(benchmark), probe=probe,
                        device=device)  # fmt: skip
    _report(benchmark, speed)
