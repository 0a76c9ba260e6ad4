"""Speed suite: training speed against the champion, predict latency and throughput, peak memory.

- ``speed.training``: when the lineage has a champion, a **same-run A/B**: the candidate and the
  champion (its ``.keras`` from the registry, sha256-checked, loaded in safe mode) are trained
  in this process, on the same device and the same batches, in interleaved rounds
  (``mlchecks.measure.measure_ab``), and judged on the median ratio of seconds per step with
  exact sign-test bounds (``mlchecks.checks.speed.ab_check``): rejected only when the
  candidate's step is slower than ``1 + speed_tolerance`` (default 25%) with 95% confidence;
  undecided passes with a warning that says how many rounds would decide. Both train copies
  loaded from their files, so the models judged elsewhere are untouched. The A/B is always
  measured live: a stored figure never gates. A candidate byte-identical to its champion
  (same sha256) is the same model and passes by identity, unmeasured. With no champion the
  figure is recorded, not judged.
- ``speed.peak_memory``, ``speed.predict_latency`` (batch 1, p50/p95),
  ``speed.predict_throughput`` (large batch): recorded, never blocking.

Each model's own figures (samples/s of ``fit``, normalised by a float32 matmul calibration
measured in the same run: the fraction of the machine's matmul peak) are timed with
pytest-benchmark in pedantic mode and kept as information: in the details, the report and the
per-backend table (``speed-backends.json`` beside the model cache, shown in the terminal
summary). A given ``.keras`` raced against its champion is the exception: its training figure
is its side of the A/B (the median ``train_on_batch`` step of each round, ``source: ab`` in its
figures, peak memory while both models trained), not measured apart, so the gate traces and
trains it once; that figure stays out of the per-backend table (it leaves out ``fit``'s
per-epoch costs). Those of a model trained by mlchecks are memoised in its model-cache entry (per
machine), so a warm run without a champion reuses them without importing Keras; a given
``.keras`` candidate is always measured. Under pytest-xdist, where pytest-benchmark switches
itself off, the suite still runs: the A/B verdict is made to hold beside other work, and the
figures are timed by mlchecks' own timer (``mlchecks.measure.time_rounds``), said so in their
messages, and neither memoised nor put in the per-backend table (a figure taken beside other
workers is not this machine's figure).

Budget: the model's own figures add about 1 s per model on digits on a quiet 2-core machine (3
rounds of at most 20 steps after a warm-up epoch, 30 batch-1 calls, 3 large-batch calls; the
training rounds are left out for a file raced against its champion); the A/B adds loading both
copies, their warm-up (tracing) and at most 3 s of timed rounds (``AB_PLAN``); when the steps
are so slow that ``speed_min_rounds`` (8) rounds would not fit those 3 s (PyTorch on a shared
CPU), the budget is raised for them, up to ``speed_max_budget_s`` (30 s), both in
``[tool.mlchecks.thresholds]``. Each check message says what its measurement cost.
"""

from __future__ import annotations

import dataclasses

import pytest

from mlchecks import measure as bench
from mlchecks.checks import speed as speed_checks
from mlchecks.errors import ModelError
from mlchecks.result import CheckResult

pytestmark = pytest.mark.mlchecks_speed

PLAN = bench.Plan()
AB_PLAN = bench.ABPlan()


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


#: Said in the figures' messages when they were measured beside other pytest-xdist workers.
BESIDE_WORKERS = "measured in a pytest-xdist worker ({n} in the run)"


def _xdist_workers(config) -> int | None:
    """The number of pytest-xdist workers when this process is one of them, else None."""
    workerinput = getattr(config, "workerinput", None)
    return None if workerinput is None else int(workerinput.get("workercount", 0)) or None


def _where(session, spec, speed: bench.Speed, config=None) -> str:
    device = speed.device
    where = f"{device.get('backend')}, {device.get('kind')}"
    workers = None if config is None else _xdist_workers(config)
    if workers and not speed.memoised:  # a memoised figure was measured alone, earlier
        where += "; " + BESIDE_WORKERS.format(n=workers)
    return f"{spec.name} on {session.dataset.name} [{where}]"


def _champion_figures(champion):
    """The champion's stored ``speed.training`` check: history, never the reference."""
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


#: ``--benchmark-disable``: the speed checks are recorded as not judged (visible in every report
#: and in the decision), not skipped, so the run still covers every category of the gate.
DISABLED = "pytest-benchmark is disabled (--benchmark-disable): speed not measured, not judged"


def _disabled(check_id, spec):
    return CheckResult.not_judged(check_id, "speed", f"{spec.name}: {DISABLED}", model=spec.name)


def _pedantic(benchmark):
    def run(target, rounds, setup=None, teardown=None):
        benchmark.pedantic(
            target, rounds=rounds, iterations=1, warmup_rounds=0, setup=setup, teardown=teardown
        )
        return list(benchmark.stats.stats.data)

    return run


def _timer(request):
    """How this run times figures: ``(benchmark, runner)`` (``benchmark`` is None in a
    pytest-xdist worker), or :data:`DISABLED`; skips the test under ``--benchmark-skip``."""
    if _xdist_workers(request.config):
        # pytest-benchmark is off in a worker (it would only call each target once): time the
        # same rounds with mlchecks' own timer, and keep the figures out of the memo. What
        # the user asked of pytest-benchmark still holds.
        option = request.config.option
        if getattr(option, "benchmark_skip", False):
            pytest.skip("--benchmark-skip")
        if getattr(option, "benchmark_disable", False) and not option.benchmark_enable:
            return DISABLED
        return None, bench.time_rounds
    benchmark = request.getfixturevalue("benchmark")
    if benchmark.disabled:
        # pytest-benchmark warns about a requested, unused fixture unless it was skipped
        benchmark.skipped = True
        return DISABLED
    return benchmark, _pedantic(benchmark)


def _speed(kind, request, session, spec, trained, probe):
    """Measure ``kind`` for ``trained`` (or reuse its memoised figures from the model cache).

    Returns the :class:`~mlchecks.measure.Speed`, :data:`DISABLED`, or the ``ModelError`` that
    made it impossible (a model that cannot train on this data is the setup checks' business, not
    a speed failure).
    """
    dataset = session.dataset
    batch = spec.batch_size
    memo = trained.memo_path(bench.memo_key(kind, dataset, batch, PLAN), ".json")
    speed = bench.load_memo(memo)
    if speed is not None:
        return speed
    timer = _timer(request)
    if timer is DISABLED:
        return DISABLED
    benchmark, runner = timer
    if benchmark is not None:
        benchmark.group = f"mlchecks-{kind}"
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
    if benchmark is None:
        return speed
    benchmark.extra_info.update(
        {k: v for k, v in speed.to_json().items() if isinstance(v, int | float | str)}
    )
    benchmark.extra_info["calibration_gflops"] = speed.calibration["gflops"]
    benchmark.extra_info["device"] = speed.device
    bench.save_memo(memo, speed)
    return speed


def _same_bytes(session, spec, trained, champion) -> bool:
    """The candidate's file is the champion's, byte for byte (sha256)."""
    from mlchecks.run.promote import model_sha256

    return trained.path is not None and model_sha256(session, spec) == champion.record.model_sha256


def _ab_plan(session):
    thresholds = session.settings.thresholds
    return dataclasses.replace(AB_PLAN, min_rounds=thresholds.speed_min_rounds,
                               max_budget_s=thresholds.speed_max_budget_s)  # fmt: skip


def _race(session, spec, trained, champion, probe=None):
    """The live A/B of ``trained`` against ``champion`` on fresh copies of both: its rounds, and
    with ``probe`` the candidate's training figure taken from its side of it (else None).

    Raises:
        ModelError: a copy could not be loaded, compiled or trained.
    """
    from mlchecks.model.training import load_model

    thresholds = session.settings.thresholds
    plan = _ab_plan(session)

    def decided(ratios):
        verdict = speed_checks.paired_verdict(ratios, thresholds.speed_tolerance,
                                              alpha=thresholds.alpha, looks=plan.looks)  # fmt: skip
        return verdict.decided

    # sha256-checked against the registry record; safe mode: no code from the file runs
    champion_copy = load_model(session.registry.model_path(champion.lineage, champion.version))
    if trained.path is not None:
        candidate_copy = load_model(trained.path, safe_mode=not spec.trusted)
    else:
        candidate_copy = bench.training_copy(trained.model)
    dataset = session.dataset
    args = (candidate_copy, champion_copy, dataset.x_train, dataset.y_train)
    if probe is None:
        return bench.measure_ab(*args, batch_size=spec.batch_size, plan=plan,
                                decided=decided), None  # fmt: skip
    return bench.measure_ab_training(*args, batch_size=spec.batch_size, plan=plan,
                                     decided=decided, probe=probe.get())  # fmt: skip


def _champion_name(champion) -> str:
    return f"{champion.version} of {champion.lineage!r}"


def _ab_result(session, spec, champion, rounds, speed, where):
    thresholds = session.settings.thresholds
    return speed_checks.ab_check(
        rounds.ratios, thresholds.speed_tolerance, alpha=thresholds.alpha,
        looks=_ab_plan(session).looks, model=spec.name, where=where,
        champion=_champion_name(champion), measurement=rounds.to_json(),
        history=_champion_figures(champion), current=speed.to_json(),
    )  # fmt: skip


def _ab(session, spec, trained, champion, speed, where):
    """``speed.training`` of ``trained`` against ``champion``: a same-run A/B, always live."""
    tolerance = session.settings.thresholds.speed_tolerance
    if _same_bytes(session, spec, trained, champion):
        return speed_checks.same_bytes_check(
            tolerance, model=spec.name, where=where, champion=_champion_name(champion),
            current=speed.to_json(),
        )  # fmt: skip
    try:
        rounds, _ = _race(session, spec, trained, champion)
    except ModelError as exc:
        return _not_raced(session, spec, champion, speed, where, exc)
    return _ab_result(session, spec, champion, rounds, speed, where)


def _not_raced(session, spec, champion, speed, where, exc):
    return speed_checks.speed_check(
        speed.to_json(), _champion_figures(champion), session.settings.thresholds.speed_tolerance,
        model=spec.name, where=where,
        reason=f"the A/B against champion {_champion_name(champion)} could not run here ({exc})",
    )  # fmt: skip


def _raced_file(request, session, spec, trained, champion, probe, record):
    """A model whose figures are never memoised (a given ``.keras``) raced against its
    champion: its training figure is its side of the A/B, not measured apart (that would trace
    and train it a second time, on every gate). Records the checks and returns None, or returns
    the ``ModelError`` that kept the A/B from running (the caller then measures the figure by
    ``fit`` and says why).
    """
    timer = _timer(request)
    if timer is DISABLED:
        record(_disabled("speed.training", spec))
        return None
    benchmark, _ = timer
    try:
        rounds, speed = _race(session, spec, trained, champion, probe)
    except ModelError as exc:
        return exc
    if benchmark is not None:  # timed by mlchecks' A/B, not by pytest-benchmark
        benchmark.skipped = True
    where = _where(session, spec, speed, request.config)
    record(speed_checks.memory_check(speed, model=spec.name, where=where),
           _ab_result(session, spec, champion, rounds, speed, where))  # fmt: skip
    return None


def test_speed_training(
    request,
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_trained_model,
    mlchecks_record_check,
    speed_probe,
    mlchecks_champion,
):
    spec, trained, champion = mlchecks_model_spec, mlchecks_trained_model, mlchecks_champion
    session = mlchecks_session
    not_raced = None
    if (
        champion is not None
        and trained.memo_dir is None  # a given .keras: its figures are never memoised
        and not _same_bytes(session, spec, trained, champion)
    ):
        not_raced = _raced_file(request, session, spec, trained, champion, speed_probe,
                                mlchecks_record_check)  # fmt: skip
        if not_raced is None:
            return
    speed = _speed("training", request, session, spec, trained, speed_probe)
    if speed is DISABLED:
        mlchecks_record_check(_disabled("speed.training", spec))
        return
    if isinstance(speed, ModelError):
        mlchecks_record_check(_not_measured("speed.training", spec, speed))
        return
    where = _where(session, spec, speed, request.config)
    settings = session.settings
    if not _xdist_workers(request.config):  # the machine's figures, not a share of them
        rows = settings.resolve(settings.cache_dir) / bench.BACKENDS_FILE
        bench.record_backend(rows, speed, model=spec.name, data=session.dataset.name)
    memory = speed_checks.memory_check(speed, model=spec.name, where=where)
    if champion is None:
        lineage = session.lineage(spec)
        check = speed_checks.speed_check(
            speed.to_json(), None, settings.thresholds.speed_tolerance, model=spec.name,
            where=where, budget=speed_checks.budget_text(speed),
            reason=f"no champion yet in lineage {lineage!r}",
        )  # fmt: skip
    elif not_raced is not None:
        check = _not_raced(session, spec, champion, speed, where, not_raced)
    else:
        check = _ab(session, spec, trained, champion, speed, where)
    mlchecks_record_check(memory, check)


@pytest.mark.parametrize("kind", ["predict_latency", "predict_throughput"])
def test_speed_predict(
    request,
    kind,
    mlchecks_session,
    mlchecks_model_spec,
    mlchecks_trained_model,
    mlchecks_record_check,
    speed_probe,
):
    spec = mlchecks_model_spec
    speed = _speed(kind, request, mlchecks_session, spec, mlchecks_trained_model, speed_probe)
    if speed is DISABLED:
        mlchecks_record_check(_disabled(f"speed.{kind}", spec))
        return
    if isinstance(speed, ModelError):
        mlchecks_record_check(_not_measured(f"speed.{kind}", spec, speed))
        return
    where = _where(mlchecks_session, spec, speed, request.config)
    budget = speed_checks.budget_text(speed)
    mlchecks_record_check(speed_checks.info_check(speed, model=spec.name, where=where,
                                                  budget=budget))  # fmt: skip
