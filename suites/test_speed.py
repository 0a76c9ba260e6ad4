"""Speed suite: training throughput, predict latency and throughput, peak memory of each model.

Timed with pytest-benchmark in pedantic mode (a few rounds; the first epoch or call is a
warm-up, timed on its own and reported as compile time, never mixed into the rounds). Each
figure is also normalised by a float32 matmul calibration measured in the same run on the same
device (``mlchecks.measure``), so a figure from one CI runner means something on another:

- ``speed.training``: samples/s of ``model.fit`` over a few steps; gated on the normalised
  figure against the champion's with ``speed_tolerance`` (default 25%); with no champion it
  is recorded, not judged.
- ``speed.peak_memory``, ``speed.predict_latency`` (batch 1, p50/p95),
  ``speed.predict_throughput`` (large batch): recorded, never blocking.

Budget: sized to add about 1 s per model to a cold gate on digits on a quiet 2-core machine
(3 rounds of at most 20 steps after a warm-up epoch, 30 batch-1 calls, 3 large-batch calls; each
check message says what its measurement cost). Figures of a model trained by mlchecks are
memoised in its model-cache entry (per machine), so a warm run reuses them without importing
Keras; a given ``.keras`` candidate is always measured. Off under pytest-xdist (one warning).

The latest training figures per backend are kept beside the model cache
(``speed-backends.json``); the terminal summary shows them as one table, so running the suites
under each backend (tox envs ``tensorflow``, ``jax``, ``torch``) builds the comparison.
"""

from __future__ import annotations

import pytest

from mlchecks import measure as bench
from mlchecks.checks import speed as speed_checks
from mlchecks.errors import ModelError
from mlchecks.result import CheckResult

pytestmark = pytest.mark.mlchecks_speed

PLAN = bench.Plan()


class _Probe:
    """This run's calibration probe, made on first use (a memo hit needs none)."""

    def __init__(self) -> None:
        self._value: bench.Probe | None = None

    def get(self) -> bench.Probe:
        if self._value is None:
            self._value = bench.Probe(bench.device_info().kind)
        return self._value


@pytest.fixture(scope="module")
def speed_probe():
    return _Probe()


def _where(session, spec, speed: bench.Speed) -> str:
    device = speed.device
    return f"{spec.name} on {session.dataset.name} [{device.get('backend')}, {device.get('kind')}]"


def _champion_figures(champion):
    """The champion's stored ``speed.training`` check (``None``: no champion, or none stored)."""
    return None if champion is None else champion.record.check("speed.training")


def _not_measured(check_id, spec, exc):
    return CheckResult(
        check_id,
        "speed",
        False,
        None,
        None,
        f"speed of {spec.name} not measured: {exc}",
        spec.name,
        "warning",
    )


def _pedantic(benchmark):
    def run(target, rounds, setup=None, teardown=None):
        benchmark.pedantic(
            target, rounds=rounds, iterations=1, warmup_rounds=0, setup=setup, teardown=teardown
        )
        return list(benchmark.stats.stats.data)

    return run


def _speed(kind, request, session, spec, trained, probe):
    """Measure ``kind`` for ``trained`` (or reuse its memoised figures from the model cache).

    Returns the :class:`~mlchecks.measure.Speed`, or the ``ModelError`` that made it impossible
    (a model that cannot train on this data is the setup checks' business, not a speed failure).
    """
    dataset = session.dataset
    batch = spec.batch_size
    memo = trained.memo_path(bench.memo_key(kind, dataset, batch, PLAN), ".json")
    speed = bench.load_memo(memo)
    if speed is not None:
        return speed
    benchmark = request.getfixturevalue("benchmark")
    if benchmark.disabled:
        pytest.skip("pytest-benchmark is disabled (--benchmark-disable): speed not measured")
    benchmark.group = f"mlchecks-{kind}"
    runner = _pedantic(benchmark)
    model = trained.model
    try:
        if kind == "training":
            speed = bench.measure_training(
                model,
                dataset.x_train,
                dataset.y_train,
                batch_size=batch,
                probe=probe.get(),
                plan=PLAN,
                runner=runner,
            )
        elif kind == "predict_latency":
            speed = bench.measure_latency(
                model, dataset.x_test, probe=probe.get(), plan=PLAN, runner=runner
            )
        else:
            speed = bench.measure_predict_throughput(
                model, dataset.x_test, plan=PLAN, probe=probe.get(), runner=runner
            )
    except ModelError as exc:
        return exc
    benchmark.extra_info.update(
        {k: v for k, v in speed.to_json().items() if isinstance(v, int | float | str)}
    )
    benchmark.extra_info["calibration_gflops"] = speed.calibration["gflops"]
    benchmark.extra_info["device"] = speed.device
    bench.save_memo(memo, speed)
    return speed


def test_speed_training(
    request,
    mlchecks_session,
    mlchecks_model_spec,
    trained_model,
    record_check,
    speed_probe,
    champion,
):
    spec = mlchecks_model_spec
    speed = _speed("training", request, mlchecks_session, spec, trained_model, speed_probe)
    if isinstance(speed, ModelError):
        record_check(_not_measured("speed.training", spec, speed))
        return
    where = _where(mlchecks_session, spec, speed)
    settings = mlchecks_session.settings
    rows = settings.resolve(settings.cache_dir) / bench.BACKENDS_FILE
    bench.record_backend(rows, speed, model=spec.name, data=mlchecks_session.dataset.name)
    record_check(speed_checks.memory_check(speed, model=spec.name, where=where))
    record_check(
        speed_checks.speed_check(
            speed.to_json(),
            _champion_figures(champion),
            mlchecks_session.settings.thresholds.speed_tolerance,
            model=spec.name,
            where=where,
            budget=speed_checks.budget_text(speed),
        )
    )


@pytest.mark.parametrize("kind", ["predict_latency", "predict_throughput"])
def test_speed_predict(
    request,
    kind,
    mlchecks_session,
    mlchecks_model_spec,
    trained_model,
    record_check,
    speed_probe,
):
    spec = mlchecks_model_spec
    speed = _speed(kind, request, mlchecks_session, spec, trained_model, speed_probe)
    if isinstance(speed, ModelError):
        record_check(_not_measured(f"speed.{kind}", spec, speed))
        return
    where = _where(mlchecks_session, spec, speed)
    record_check(
        speed_checks.info_check(speed, model=spec.name, where=where, budget=speed_checks.budget_text(speed))
    )
