"""speed.training as a same-run A/B: the paired-ratio decision (pure), the interleaved
measurement, and both under load that looks like other CI jobs (``tests/loadgen.py``)."""

from __future__ import annotations

import json
import math
import random
import shutil
import statistics
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import keras_backend
from hypothesis import given, settings
from hypothesis import strategies as st

from mlchecks.checks import speed as speed_checks

ROOT = Path(__file__).resolve().parent.parent


def lognormal(center: float, sigma: float, n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [center * math.exp(rng.gauss(0.0, sigma)) for _ in range(n)]


# --- the decision on synthetic per-round ratios (candidate s/step / champion s/step) --------


def test_identical_models_are_accepted():
    ratios = lognormal(1.0, 0.1, 16)
    result = speed_checks.ab_check(ratios, 0.25, looks=4, model="mlp", where="mlp on digits",
                                   champion="0001")  # fmt: skip
    assert (result.id, result.category, result.passed, result.severity) == (
        "speed.training", "speed", True, "error",
    )  # fmt: skip
    assert not result.blocking and result.details["verdict"] == "within"
    d = result.details
    assert d["lower"] <= result.value <= d["upper"] < 1.25 == result.threshold
    assert d["ci"] == [d["lower"], d["upper"]] and d["rounds"] == 16
    assert d["alpha_per_look"] == pytest.approx(0.05 / 4) and d.get("warning") is None
    assert "within the 1.25x allowed" in result.message and "champion 0001" in result.message
    json.dumps(result.to_json(), allow_nan=False)  # what --json and the registry write


def test_twice_as_slow_is_rejected():
    result = speed_checks.ab_check(lognormal(2.0, 0.1, 8), 0.25, looks=4, champion="0001")
    assert not result.passed and result.blocking and result.details["verdict"] == "slower"
    assert result.details["lower"] > 1.25 and result.value == pytest.approx(2.0, rel=0.15)
    assert "slower than the 1.25x allowed" in result.message
    assert "trains at 0.5" in result.message  # throughput ratio, the inverse


def test_load_spikes_in_a_few_rounds_do_not_decide():
    """A burst of load that hits 3 of 16 rounds of one side (4x) moves order statistics by 3
    places, not the verdict: the bound is on the median, not the mean."""
    ratios = [*lognormal(1.0, 0.05, 13), 4.0, 5.0, 3.5]
    result = speed_checks.ab_check(ratios, 0.25, looks=4)
    assert result.passed and result.details["verdict"] == "within"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.01, 100.0), min_size=1, max_size=80),
    st.floats(0.0, 2.0),
    st.integers(1, 6),
)
def test_a_faster_candidate_never_fails(ratios, tolerance, looks):
    ratios = sorted(ratios)
    median = (
        ratios[len(ratios) // 2]
        if len(ratios) % 2
        else math.sqrt(ratios[len(ratios) // 2 - 1] * ratios[len(ratios) // 2])
    )
    if median > 1.0:
        ratios = [r / median for r in ratios]  # now the median round is exactly as fast
    result = speed_checks.ab_check(ratios, tolerance, looks=looks)
    assert result.passed and not result.blocking


def test_straddling_the_tolerance_passes_with_a_warning_saying_how_many_rounds_would_decide():
    ratios = [1.1, 1.4, 1.35, 1.3, 1.2, 1.45, 1.15, 1.5]  # median 1.325, 3 of 8 within 1.25
    result = speed_checks.ab_check(ratios, 0.25, looks=1, champion="0001")
    d = result.details
    assert result.passed and not result.blocking and d["verdict"] == "undecided"
    assert d["lower"] < 1.25 < d["upper"]
    need = d["rounds_needed"]
    assert need > 8 and f"about {need} rounds would decide" in d["warning"]
    assert d["warning"] in result.message
    # the same spread over that many rounds decides (slower); one round fewer does not
    decide = speed_checks.paired_verdict
    assert decide(stretch(ratios, need), 0.25).verdict == "slower"
    assert decide(stretch(ratios, need - 1), 0.25).verdict == "undecided"


def stretch(ratios: list[float], n: int) -> list[float]:
    """``n`` ratios with (to rounding) the same fraction at or below 1.25 as ``ratios``."""
    within = sum(r <= 1.25 for r in ratios) / len(ratios)
    k = math.floor(within * n)
    return [1.1] * k + [1.4] * (n - k)


def test_a_ratio_on_the_tolerance_cannot_be_decided():
    v = speed_checks.paired_verdict([1.0, 1.5] * 10, 0.25)  # half within, half beyond
    assert v.verdict == "undecided" and v.rounds_needed is None
    near = speed_checks.paired_verdict([1.0] * 49 + [1.5] * 51, 0.25)
    assert near.verdict == "undecided" and near.rounds_needed > 5000
    closer = speed_checks.paired_verdict([1.0] * 45 + [1.5] * 55, 0.25)
    assert closer.verdict == "undecided" and 250 < closer.rounds_needed < 400


def test_too_few_rounds_for_any_bound_is_undecided():
    v = speed_checks.paired_verdict([3.0, 3.1, 2.9, 3.2], 0.25, alpha=0.05)
    assert v.verdict == "undecided" and v.lower is None and v.upper is None
    assert v.rounds_needed == 5  # 0.5 ** 5 = 0.031 <= 0.05 < 0.5 ** 4
    assert speed_checks.paired_verdict([3.0, 3.1, 2.9, 3.2, 3.3], 0.25).verdict == "slower"


def test_bounds_are_the_exact_sign_test():
    """Rejected exactly when the one-sided sign test of "median ratio <= 1 + tolerance" has
    p <= alpha / looks (scipy's binomtest), for random lists."""
    from scipy.stats import binomtest

    rng = random.Random(3)
    for _ in range(200):
        n, looks = rng.randint(1, 40), rng.randint(1, 4)
        ratios = lognormal(rng.uniform(0.8, 1.8), rng.uniform(0.05, 0.6), n, rng.randrange(99))
        within = sum(r <= 1.25 for r in ratios)
        p = binomtest(within, n, 0.5, alternative="less").pvalue
        v = speed_checks.paired_verdict(ratios, 0.25, alpha=0.05, looks=looks)
        assert (v.verdict == "slower") == bool(p <= 0.05 / looks), (ratios, p, v)


def test_ab_check_rejects_bad_input():
    with pytest.raises(ValueError, match="speed_tolerance must be a number >= 0"):
        speed_checks.ab_check([1.0] * 8, -0.1)
    with pytest.raises(ValueError, match="positive finite"):
        speed_checks.ab_check([1.0, 0.0, 1.0], 0.25)
    with pytest.raises(ValueError, match="at least one round"):
        speed_checks.ab_check([], 0.25)


# --- the measurement (small and quick: the statistics are tested above) -----------------------


def quick_plan(**kw):
    from mlchecks import measure as bench

    return bench.ABPlan(**{"first_look": 2, "looks": 2, "round_s": 0.01, "min_steps": 2,
                           "budget_s": 1.0, "warmup_steps": 2, **kw})  # fmt: skip


def test_ab_rounds_are_interleaved_paired_and_leave_the_originals_alone(trained_mlp, digits):
    from mlchecks import measure as bench
    from mlchecks.model.training import weights_digest

    original = trained_mlp.model
    before = weights_digest(original)
    looks: list[int] = []

    def decided(ratios):
        looks.append(len(ratios))
        return False

    rounds = bench.measure_ab(bench.training_copy(original), bench.training_copy(original),
                              digits.x_train, digits.y_train, batch_size=32, plan=quick_plan(),
                              decided=decided)  # fmt: skip
    assert weights_digest(original) == before
    assert looks == [2, 4] and rounds.looked_at == (2, 4) and rounds.stopped == "last look"
    assert rounds.rounds == 4 and rounds.candidate_first == (True, False, True, False)
    assert all(r > 0 for r in rounds.ratios) and 2 <= rounds.steps <= 64
    assert len(rounds.round_steps) == 4 and all(1 <= k <= 64 for k in rounds.round_steps)
    assert all(
        total >= step
        for total, step in zip(rounds.candidate_total_s, rounds.candidate_s, strict=True)
    )  # a sum of steps, a median
    info = rounds.compile
    assert info["same_execution"] and info["candidate"]["from"] == "its compile config"
    assert info["candidate"]["optimizer"] == info["champion"]["optimizer"] == "Adam"
    assert rounds.samples_per_s("candidate") == pytest.approx(32 / rounds.step_s("candidate"))
    json.dumps(rounds.to_json(), allow_nan=False)


def test_the_candidates_training_figure_is_its_side_of_the_ab(trained_mlp, digits):
    """With a champion to race, the candidate is trained once: its figure is its own rounds of
    the A/B (median seconds per step, normalised by calibration taken around the A/B), with
    the peak memory of the A/B, and says so (``source``)."""
    from mlchecks import measure as bench

    probe = bench.Probe("CPU")
    rounds, speed = bench.measure_ab_training(
        bench.training_copy(trained_mlp.model), bench.training_copy(trained_mlp.model),
        digits.x_train, digits.y_train, batch_size=32, plan=quick_plan(), probe=probe,
    )  # fmt: skip
    assert speed.source == "ab" and speed.kind == "training"
    assert (speed.steps, speed.batch_size, speed.rounds) == (1, 32, rounds.rounds)
    assert speed.round_s == rounds.candidate_s  # the candidate's side, not the champion's
    assert speed.samples_per_s == pytest.approx(rounds.samples_per_s("candidate"))
    assert speed.warmup_s == rounds.warmup_s["candidate"]
    assert len(probe.rates) == 2 and all(g > 0 for g in probe.rates)  # before and after
    assert len(speed.calibration["per_round"]) == rounds.rounds
    assert 0 < speed.normalised < 1
    assert speed.memory["scope"] == "block" and speed.memory["rss_peak_mib"] > 0
    assert bench.Speed.from_json(json.loads(json.dumps(speed.to_json()))) == speed
    memory = speed_checks.memory_check(speed, model="mlp")
    assert "while training beside its champion (the speed A/B)" in memory.message
    assert "taken from its side of the speed A/B" in speed_checks.budget_text(speed)
    fit = bench.measure_training(trained_mlp.model, digits.x_train, digits.y_train,
                                 batch_size=32, plan=bench.Plan(train_rounds=1))  # fmt: skip
    assert fit.source == "fit" and "while training:" in speed_checks.memory_check(fit).message


def test_ab_recompiles_both_with_the_same_execution_settings(trained_mlp, digits, tmp_path):
    """A .keras saved with jit_compile and steps_per_execution of its own (as one saved under
    another backend keeps jit_compile False) and one saved uncompiled run alike."""
    from mlchecks import measure as bench
    from mlchecks.model import zoo
    from mlchecks.model.training import load_model

    odd = bench.training_copy(trained_mlp.model)
    odd.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=False,
                steps_per_execution=3)  # fmt: skip
    odd.save(tmp_path / "odd.keras")
    bare = zoo.mlp(digits.input_shape, digits.num_classes)  # never compiled
    bare.set_weights(trained_mlp.model.get_weights())
    bare.save(tmp_path / "bare.keras")
    rounds = bench.measure_ab(load_model(tmp_path / "odd.keras"),
                              load_model(tmp_path / "bare.keras"), digits.x_train,
                              digits.y_train, batch_size=32, plan=quick_plan(looks=1))  # fmt: skip
    cand, champ = rounds.compile["candidate"], rounds.compile["champion"]
    assert rounds.compile["same_execution"] and cand["steps_per_execution"] == 1
    assert cand["jit_compile"] == champ["jit_compile"]
    assert (cand["optimizer"], champ["optimizer"]) == ("SGD", "Adam")  # each keeps its own
    assert "reference settings" in champ["from"]


def test_ab_names_the_model_that_cannot_train(trained_mlp, digits):
    import keras

    from mlchecks import measure as bench
    from mlchecks.errors import ModelError

    inputs = keras.Input((5,))
    other = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    with pytest.raises(ModelError, match=r"the champion's model .* cannot be trained"):
        bench.measure_ab(bench.training_copy(trained_mlp.model), other, digits.x_train,
                         digits.y_train, batch_size=32, plan=quick_plan())  # fmt: skip
    with pytest.raises(ModelError, match="at least one batch of 32 samples; the data has 10"):
        bench.measure_ab(other, other, digits.x_train[:10], digits.y_train[:10], batch_size=32)
    with pytest.raises(ValueError, match="budget_s must be a number > 0"):
        bench.ABPlan(budget_s=0)


def _scaled_clock(factor: float):
    """A clock on which every real second lasts ``factor`` seconds: the real models and the
    real measurement, seen as on a machine ``factor`` times slower (e.g. PyTorch on a shared
    CPU, ~0.2 s per step where TensorFlow takes ~2 ms)."""
    import time

    return lambda: time.perf_counter() * factor


def _wide_untrained(digits):
    """A 2 x 2048-unit MLP: a training step ~10x the reference MLP's (speed only, untrained)."""
    import keras

    inputs = keras.Input(digits.input_shape)
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(2048, activation="relu")(x)
    x = keras.layers.Dense(2048, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(digits.num_classes, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _judge(rounds, plan):
    return speed_checks.ab_check(rounds.ratios, 0.25, looks=plan.looks, champion="0001",
                                 measurement=rounds.to_json())  # fmt: skip


def test_slow_steps_get_the_minimum_rounds_by_scaling_the_budget(trained_mlp, digits):
    """Steps so slow that the 3 s budget holds one or two rounds (PyTorch here: ~0.2 s per
    step) left a 10x slower candidate undecided, passed with a warning. The A/B sizes its
    budget from the measured step time: at least ``min_rounds`` interleaved rounds, the budget
    raised up to ``max_budget_s`` for them, and the check says so; so it is rejected."""
    from mlchecks import measure as bench

    assert (bench.ABPlan().min_rounds, bench.ABPlan().budget_s, bench.ABPlan().max_budget_s) == (
        8, 3.0, 30.0)  # fmt: skip
    plan = bench.ABPlan(max_budget_s=1000.0)  # what the load here does to the steps varies

    def decided(ratios):
        return speed_checks.paired_verdict(ratios, 0.25, looks=plan.looks).decided

    rounds = bench.measure_ab(_wide_untrained(digits), bench.training_copy(trained_mlp.model),
                              digits.x_train, digits.y_train, batch_size=32, plan=plan,
                              decided=decided, clock=_scaled_clock(100.0))  # fmt: skip
    assert rounds.rounds >= plan.min_rounds, rounds.to_json()
    assert plan.budget_s < rounds.budget_s <= plan.max_budget_s
    assert rounds.budget["planned_s"] == 3.0 and rounds.budget["min_rounds"] == 8
    check = _judge(rounds, plan)
    assert not check.passed and check.details["verdict"] == "slower", check.message
    explained = check.details["explanation"]
    assert "budget raised from 3.0 s to" in explained and "8 rounds fit" in explained


def test_the_minimum_rounds_are_not_bought_beyond_the_max_budget(trained_mlp, digits):
    """When even ``max_budget_s`` cannot hold ``min_rounds`` rounds, the A/B runs what fits
    and the check (undecided, not rejected) says how long the minimum would take."""
    from mlchecks import measure as bench

    plan = bench.ABPlan(max_budget_s=4.0)
    rounds = bench.measure_ab(_wide_untrained(digits), bench.training_copy(trained_mlp.model),
                              digits.x_train, digits.y_train, batch_size=32, plan=plan,
                              clock=_scaled_clock(300.0))  # fmt: skip
    assert rounds.rounds < plan.min_rounds and rounds.budget_s == 4.0
    assert rounds.budget["min_rounds_s"] > 4.0
    check = _judge(rounds, plan)
    assert check.passed and check.details["verdict"] == "undecided"
    assert "8 rounds of these steps take" in check.message
    assert "above speed_max_budget_s 4 s" in check.details["warning"]


def test_fast_steps_keep_the_planned_budget(trained_mlp, digits):
    """The default TensorFlow gate's A/B costs what it did: steps of a few ms fit the minimum
    rounds in the planned 3 s, which is not raised."""
    from mlchecks import measure as bench

    plan = bench.ABPlan(looks=1)
    model = trained_mlp.model
    rounds = bench.measure_ab(bench.training_copy(model), bench.training_copy(model),
                              digits.x_train, digits.y_train, batch_size=32, plan=plan)  # fmt: skip
    assert rounds.budget_s == plan.budget_s == 3.0 and rounds.rounds >= plan.min_rounds
    assert "budget raised" not in _judge(rounds, plan).details["explanation"]


def test_the_minimum_rounds_and_the_max_budget_are_configurable():
    from mlchecks.config import settings_from_table
    from mlchecks.errors import ConfigError

    table = {"thresholds": {"speed_min_rounds": 16, "speed_max_budget_s": 60}}
    t = settings_from_table(table, {}).thresholds
    assert (t.speed_min_rounds, t.speed_max_budget_s) == (16, 60.0)
    assert settings_from_table({}, {}).thresholds.speed_min_rounds == 8
    for key, bad in (("speed_min_rounds", 0), ("speed_min_rounds", 2.5),
                     ("speed_max_budget_s", 1.0), ("speed_max_budget_s", True)):  # fmt: skip
        with pytest.raises(ConfigError, match=key):
            settings_from_table({"thresholds": {key: bad}}, {})


# --- under load that looks like other CI jobs (tests/loadgen.py) ------------------------------
# The champion is the reference MLP (128 units, 20 epochs, ~0.97 on digits). `wide` is that
# model widened to 2 x 2048 units (helpers.widened): the same predictions, and a training step
# about 10x as slow.

LOAD_S = 240  # each load job ends by itself after this long, whatever happens to the test


@pytest.fixture(scope="session")
def wide_file(trained_mlp, tmp_path_factory) -> Path:
    """The champion widened, as a .keras file (built from its weights: no training)."""
    from helpers import widened

    return widened(trained_mlp.path, tmp_path_factory.mktemp("wide") / "wide.keras")


def ab_once(candidate: Path, champion: Path, digits):
    """What the speed suite does for one candidate: load both files, A/B, judge."""
    from mlchecks import measure as bench
    from mlchecks.model.training import load_model

    plan = bench.ABPlan()

    def decided(ratios):
        return speed_checks.paired_verdict(ratios, 0.25, looks=plan.looks).decided

    rounds = bench.measure_ab(load_model(candidate), load_model(champion), digits.x_train,
                              digits.y_train, batch_size=32, plan=plan,
                              decided=decided)  # fmt: skip
    return speed_checks.ab_check(rounds.ratios, 0.25, looks=plan.looks, champion="0001",
                                 measurement=rounds.to_json())  # fmt: skip


def summary(label: str, checks) -> str:
    throughput = sorted(1 / c.value for c in checks)
    verdicts = {v: sum(c.details["verdict"] == v for c in checks)
                for v in ("within", "undecided", "slower")}  # fmt: skip
    took = sorted(c.details["measurement"]["elapsed_s"] for c in checks)
    return (f"{label}: throughput ratio candidate/champion min {throughput[0]:.3f}, median "
            f"{statistics.median(throughput):.3f}, max {throughput[-1]:.3f}; {verdicts}; A/B "
            f"{took[0]:.1f}-{took[-1]:.1f} s")  # fmt: skip


@pytest.mark.slow
def test_the_champions_own_file_is_accepted_10_of_10_under_load(
    trained_mlp, digits, tmp_path, model_cache
):
    """The bug this replaces: an identical resubmission of the champion's .keras was rejected
    under load (judged -48% against a figure stored on another day). The resubmission is the
    champion loaded and saved again: the same model in other bytes, so the gate measures it
    (a byte-identical file passes by identity, unmeasured)."""
    from helpers import run_cli_here
    from loadgen import ci_load
    from test_gate import promote_in_process

    from mlchecks.model.training import load_model, weights_digest
    from mlchecks.registry import sha256_file

    champion = trained_mlp.path
    resubmitted = tmp_path / "resubmitted.keras"
    load_model(champion).save(resubmitted)
    assert sha256_file(resubmitted) != sha256_file(champion)
    assert weights_digest(load_model(resubmitted)) == weights_digest(load_model(champion))
    registry = tmp_path / "reg"
    promote_in_process(registry, model_cache.root, digits)  # the same file: champion 0001
    (tmp_path / "mlchecks.toml").write_text('data = "digits"\nreports = "none"\n')
    with ci_load(seconds=LOAD_S, seed=0):
        checks = [ab_once(resubmitted, champion, digits) for _ in range(10)]
        # one real gate end to end, under the same load: `mlchecks gate resubmitted.keras`,
        # through main() in this process (the A/B is timed in-process either way; a new
        # interpreter would only add its imports to the load)
        gate = run_cli_here("gate", str(resubmitted), "--name", "mlp", "--registry",
                            str(registry), "--cache-dir", str(model_cache.root), "--json",
                            "decision.json", cwd=tmp_path)  # fmt: skip
    print("\n" + summary("identical, under load", checks))
    assert [c.passed for c in checks] == [True] * 10, [c.message for c in checks]
    assert gate.returncode == 0, (gate.stdout + gate.stderr)[-3000:]
    decision = json.loads((tmp_path / "decision.json").read_text())
    (speed,) = [c for c in decision["checks"] if c["id"] == "speed.training"]
    print(f"gate: {speed['message']}")
    assert decision["decision"] == "accepted" and speed["passed"]
    assert speed["details"]["verdict"] in ("within", "undecided") and speed["value"] < 1.25
    assert speed["details"]["measurement"]["rounds"] >= 1  # measured live, same run
    # the candidate was trained once: its own figure is its side of that A/B
    current = speed["details"]["current"]
    assert current["source"] == "ab" and current["rounds"] == speed["details"]["rounds"]
    assert current["samples_per_s"] == pytest.approx(speed["details"]["samples_per_s"])
    (memory,) = [c for c in decision["checks"] if c["id"] == "speed.peak_memory"]
    assert "beside its champion (the speed A/B)" in memory["message"]


@pytest.mark.slow
def test_a_candidate_10x_slower_to_train_is_rejected_with_and_without_load(
    trained_mlp, wide_file, digits
):
    from loadgen import ci_load

    from mlchecks.model.training import load_model, predict

    champion = trained_mlp.path
    # same quality: the wide model predicts what the champion predicts on the test split
    predicted = {name: predict(load_model(path), digits.x_test).argmax(1)
                 for name, path in (("wide", wide_file), ("champion", champion))}  # fmt: skip
    accuracy = {name: float((p == digits.y_test).mean()) for name, p in predicted.items()}
    assert (predicted["wide"] == predicted["champion"]).mean() >= 0.99, accuracy
    assert accuracy["wide"] >= accuracy["champion"] - 0.01, accuracy
    quiet = ab_once(wide_file, champion, digits)
    assert quiet.value >= 2.0, quiet.message  # really >= 2x slower per step, here
    with ci_load(seconds=LOAD_S, seed=1):
        loaded = ab_once(wide_file, champion, digits)
    print(f"\nwide vs champion: quiet {quiet.value:.1f}x, under load {loaded.value:.1f}x slower "
          f"per step; accuracy {accuracy}")  # fmt: skip
    for check in (quiet, loaded):
        assert not check.passed and check.blocking, check.message
        assert check.details["verdict"] == "slower" and check.details["lower"] > 1.25


@pytest.mark.slow
def test_a_memoised_figure_never_gates(pytester, tmp_path, model_cache, trained_mlp, digits):
    """With a champion, speed.training is always a live A/B: a figure memoised in the model
    cache (planted here, absurdly slow) is shown as information and judges nothing. The
    candidate is the reference recipe with seed 1 (cached), the champion seed 0."""
    import dataclasses

    from test_gate import promote_in_process

    from mlchecks import measure as bench
    from mlchecks.config import ModelSpec
    from mlchecks.model.training import train

    registry = tmp_path / "reg"
    promote_in_process(registry, model_cache.root, digits)  # champion 0001: seed 0
    spec = ModelSpec(name="mlp", builder="mlp", epochs=20)  # as test_gate's reseeds
    candidate = train(spec, digits, seed=1, cache=model_cache)
    memo = candidate.memo_path(bench.memo_key("training", digits, 32, bench.Plan()), ".json")
    real = bench.measure_training(candidate.model, digits.x_train, digits.y_train,
                                  batch_size=32, plan=bench.Plan(train_rounds=1))  # fmt: skip
    bench.save_memo(memo, dataclasses.replace(real, samples_per_s=1.0, normalised=1e-9))
    try:
        pytester.makefile(".toml", pyproject=(
            f'[tool.mlchecks]\ndata = "digits"\ncache_dir = "{model_cache.root}"\n'
            f'registry = "{registry}"\nreports = "none"\nseed = 1\n'
            '[[tool.mlchecks.models]]\nname = "mlp"\nbuilder = "mlp"\nepochs = 20\n'))  # fmt: skip
        shutil.copy(ROOT / "suites" / "test_speed.py", pytester.path / "test_speed.py")
        result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly",
                                    "-k", "training", "--junitxml=junit.xml")  # fmt: skip
    finally:
        memo.unlink(missing_ok=True)  # the next run measures the real figure again
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "PASS*speed.training*x the seconds per step of champion 0001*",
        "mlchecks: training speed per backend on this machine",
        f"*mlp*digits*{keras_backend()}*CPU* 1 *0.00%*",  # the planted memo: shown, not judged
    ])  # fmt: skip
    props = {p.get("name"): p.get("value")
             for p in ET.parse(pytester.path / "junit.xml").iter("property")}  # fmt: skip
    assert props["speed.training.passed"] == "True"
    assert 0.5 < float(props["speed.training.value"]) < 1.25  # the live ratio, not 1e-9
