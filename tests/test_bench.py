"""Speed measurement: FLOP counting, calibration, the speed gate, measurements, the speed suite."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from helpers import keras_backend

from mlchecks import measure as bench
from mlchecks._util.text import table
from mlchecks.checks import speed as speed_checks

ROOT = Path(__file__).resolve().parent.parent
SMALL = bench.Plan(train_steps=5, train_rounds=2, latency_rounds=5, predict_rounds=2)


def figures(normalised: float, kind: str = "CPU", rate: float = 1000.0) -> dict:
    return {
        "normalised": normalised,
        "samples_per_s": rate,
        "device": {"kind": kind},
        "calibration": {"gflops": 50.0},
    }


# --- the speed gate (pure) ------------------------------------------------------------------


def test_without_champion_speed_is_recorded_not_judged():
    result = speed_checks.speed_check(figures(0.01), None, 0.25, model="mlp", where="mlp on digits")
    assert (result.id, result.category, result.passed, result.status) == (
        "speed.training", "speed", True, "not_judged",
    )  # fmt: skip
    assert result.value == 0.01 and result.threshold is None and not result.blocking
    assert result.message.startswith("not judged: no champion yet; ")
    assert "1,000 samples/s" in result.message and "50.0 GFLOP/s" in result.message


@pytest.mark.parametrize("current", [0.30, 0.19, 0.1875, 0.18, 0.01])
def test_stored_champion_figures_are_history_never_a_gate(current):
    """A champion's figure measured at another moment (or on another machine) is shown, not
    judged against: speed.training is judged on a same-run A/B (tests/test_speed_ab.py)."""
    result = speed_checks.speed_check(figures(current), figures(0.25), 0.25,
                                      reason="the A/B could not run")  # fmt: skip
    assert result.passed and not result.blocking and result.status == "not_judged"
    assert result.threshold is None and result.details["champion"]["normalised"] == 0.25
    assert result.message.startswith("not judged: the A/B could not run; ")
    assert "stored figure, 25.00%, is history from another run, not a reference" in result.message


def test_champion_may_be_a_stored_check_shown_with_its_device():
    stored = speed_checks.speed_check(figures(0.25), None).to_json()  # what a registry keeps
    result = speed_checks.speed_check(figures(0.1), stored, 0.25)
    assert result.passed and result.details["champion"]["id"] == "speed.training"
    gpu = speed_checks.speed_check(figures(0.3), figures(0.02, kind="GPU"), 0.25)
    assert gpu.passed and "stored figure, 2.00% on GPU, is history" in gpu.message


def test_speed_check_rejects_bad_input():
    with pytest.raises(ValueError, match="normalised"):
        speed_checks.speed_check({"samples_per_s": 3.0}, None)
    with pytest.raises(ValueError, match="speed_tolerance must be a number >= 0"):
        speed_checks.speed_check(figures(0.1), None, -0.1)


def test_speed_check_needs_no_keras():
    code = (
        "import sys; from mlchecks.checks import speed as speed_checks;"
        "r = speed_checks.ab_check([2.0] * 8, 0.25);"
        "n = speed_checks.speed_check({'normalised': 0.2}, {'normalised': 0.3}, 0.25);"
        "print(r.passed, n.status, sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "not_judged", "[]"], out.stderr[-2000:]


# --- arithmetic, statistics, memo -----------------------------------------------------------


def test_normalised_is_model_flops_over_calibration_flops():
    cal = bench.Calibration(100.0, 120.0, "CPU", "numpy", 1024, 5)
    assert bench.normalised(50_000, 600_000, cal) == pytest.approx(0.3)
    assert bench.normalised(50_000, 0, cal) == 0.0


def test_rounds_statistics_and_runner_order():
    r = bench.Rounds((0.3, 0.1, 0.2, 0.4))
    assert (r.median, r.min, r.max) == (pytest.approx(0.25), 0.1, 0.4)
    assert r.percentile(95) == pytest.approx(0.385)
    with pytest.raises(ValueError):
        bench.Rounds(())
    calls: list[str] = []
    seconds = bench.time_rounds(
        lambda: calls.append("t"), 2, lambda: calls.append("s"), lambda: calls.append("d")
    )
    assert calls == ["s", "t", "d", "s", "t", "d"] and len(seconds) == 2


def test_calibration_measures_matmul_rate():
    cal = bench.calibrate(n=128, repeats=3)
    assert cal.gflops > 0 and cal.best_gflops >= cal.gflops and cal.repeats == 3
    assert (cal.device, cal.method, cal.n) == ("CPU", "numpy", 128)
    with pytest.raises(ValueError, match="'CPU' or 'GPU'"):
        bench.Probe("TPU")
    with pytest.raises(ValueError, match="repeats"):
        bench.calibrate(repeats=0)


def test_plan_validation():
    with pytest.raises(ValueError, match="train_rounds must be an integer >= 1, got 0"):
        bench.Plan(train_rounds=0)


def test_spread_and_table():
    assert bench.spread([2.0, 1.0, 4.0]) == (1.0, 2.0, 4.0, 1.5)
    text = table([{"a": "tf", "b": 1234.5}], [("a", "backend", ""), ("b", "s/s", ",.0f")])
    assert text.splitlines() == ["backend    s/s", "-------  -----", "tf       1,234"]


def _speed(backend: str, rate: float) -> bench.Speed:
    return bench.Speed(
        kind="training", samples_per_s=rate, normalised=rate / 1e5, warmup_s=1.0, median_s=0.1,
        min_s=0.1, max_s=0.1, p95_s=0.1, rounds=3, steps=40, batch_size=32,
        flops_per_sample=1.0, calibration={"gflops": 70.0}, memory={}, measured_at="t",
        device={"backend": backend, "backend_version": "1", "kind": "CPU"},
    )  # fmt: skip


def test_backend_table_keeps_the_latest_row_per_backend(tmp_path):
    path = tmp_path / bench.BACKENDS_FILE
    assert bench.backend_table(path) is None
    bench.record_backend(path, _speed("tensorflow", 1000.0), model="mlp", data="digits")
    bench.record_backend(path, _speed("jax", 3000.0), model="mlp", data="digits")
    bench.record_backend(path, _speed("tensorflow", 2000.0), model="mlp", data="digits")
    lines = bench.backend_table(path).splitlines()
    assert len(lines) == 4 and "samples/s" in lines[0] and "of peak" in lines[0]
    assert "jax" in lines[2] and "3,000" in lines[2] and "3.00%" in lines[2]
    assert "tensorflow" in lines[3] and "2,000" in lines[3]


# --- measurements on a real model -----------------------------------------------------------


def test_count_flops_of_the_reference_models():
    from mlchecks.model import zoo

    mlp = bench.count_flops(zoo.mlp((8, 8, 1), 10))
    assert mlp.forward == 2 * (64 * 128 + 128 * 10)
    assert mlp.train == 3 * mlp.forward and mlp.uncounted == ()
    cnn = bench.count_flops(zoo.cnn((8, 8, 1), 10))
    assert cnn.by_layer == {
        "conv1": 2 * 9 * 1 * 32 * 8 * 8,
        "conv2": 2 * 9 * 32 * 64 * 4 * 4,
        "hidden": 2 * (2 * 2 * 64) * 64,
        "output": 2 * 64 * 10,
    }


def test_count_flops_names_layers_it_cannot_count():
    import keras

    inputs = keras.Input((5, 3))
    x = keras.layers.LSTM(4, name="lstm")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    count = bench.count_flops(model)
    assert count.uncounted == ("lstm",) and count.by_layer == {"head": 2 * 4 * 2}


def test_training_benchmark_leaves_the_model_unchanged(trained_mlp, digits):
    from mlchecks.model.training import weights_digest

    model = trained_mlp.model
    before = weights_digest(model)
    iterations = int(np.asarray(model.optimizer.iterations))
    probe = bench.Probe(n=128)
    speed = bench.measure_training(
        model, digits.x_train, digits.y_train, batch_size=32, plan=SMALL, probe=probe
    )
    assert weights_digest(model) == before
    assert int(np.asarray(model.optimizer.iterations)) == iterations
    assert (speed.kind, speed.rounds, speed.steps, speed.batch_size) == ("training", 2, 5, 32)
    assert speed.samples_per_s == pytest.approx(160 / speed.median_s)
    assert speed.normalised == pytest.approx(float(np.median(speed.normalised_per_round)))
    assert len(probe.rates) == 4  # one calibration sample before and after each round
    assert speed.flops_per_sample == 3 * 2 * (64 * 128 + 128 * 10)
    assert speed.memory["rss_peak_mib"] > 0 and speed.device["kind"] in ("CPU", "GPU")


def test_preserved_state_zeroes_optimizer_slots_a_benchmark_created(digits):
    import keras

    from mlchecks.config import ModelSpec
    from mlchecks.model import training

    training.set_seed(1)
    model = training.build(ModelSpec(name="m", builder="mlp"), digits)
    x = digits.x_test[:16]
    expected = model.predict_on_batch(x)
    with bench.preserved_state(model):
        model.fit(digits.x_train[:64], digits.y_train[:64], epochs=1, verbose=0)
    np.testing.assert_array_equal(model.predict_on_batch(x), expected)
    assert all(
        not np.any(keras.ops.convert_to_numpy(v))
        for v in model.optimizer.variables
        if "learning_rate" not in v.path
    )


def test_predict_latency_and_throughput(trained_mlp, digits):
    model = trained_mlp.model
    probe = bench.Probe(n=128)
    latency = bench.measure_latency(model, digits.x_test, plan=SMALL, probe=probe)
    assert (latency.batch_size, latency.rounds) == (1, 5)
    assert latency.min_s <= latency.median_s <= latency.p95_s <= latency.max_s
    check = speed_checks.info_check(latency, model="mlp", where="mlp on digits")
    assert check.id == "speed.predict_latency" and check.value == pytest.approx(
        latency.median_s * 1e3
    )
    throughput = bench.measure_predict_throughput(model, digits.x_test, plan=SMALL, probe=probe)
    assert throughput.batch_size == min(SMALL.predict_batch, digits.n_test)
    assert throughput.normalised > 0
    assert speed_checks.info_check(throughput).id == "speed.predict_throughput"


def test_memo_round_trip(tmp_path, trained_mlp, digits):
    speed = bench.measure_latency(
        trained_mlp.model, digits.x_test, plan=SMALL, probe=bench.Probe(n=128)
    )
    path = tmp_path / "memo" / "x.json"
    bench.save_memo(path, speed)
    again = bench.load_memo(path)
    assert again is not None and again.memoised and not speed.memoised
    assert again.to_json() == {**speed.to_json(), "memoised": True}
    assert "reused from the model cache" in speed_checks.budget_text(again)
    path.write_text("{not json")
    assert bench.load_memo(path) is None


def test_gpu_benchmarks_say_why_they_cannot_run():
    reason = bench.gpu_unavailable_reason()
    if reason is None:
        pytest.skip("this machine has a GPU")
    assert "no GPU visible to the" in reason and "GPU benchmarks skipped" in reason


# --- the speed suite through pytest ---------------------------------------------------------

PROJECT = """
[tool.mlchecks]
data = "synthetic:400"
cache_dir = "{cache}"
[[tool.mlchecks.models]]
name = "tiny_mlp"
builder = "mlp"
epochs = 1
"""

KERAS_PROBE = """
import sys
def pytest_sessionfinish(session):
    with open("imported.txt", "w") as f:
        f.write(" ".join(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules))
"""


@pytest.mark.slow
def test_speed_suite_benchmarks_then_reuses_figures_without_keras(pytester, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    pytester.makefile(".toml", pyproject=PROJECT.format(cache=cache))
    pytester.makeconftest(KERAS_PROBE)
    shutil.copy(ROOT / "suites" / "test_speed.py", pytester.path / "test_speed.py")
    first = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--benchmark-json=bench.json", "--junitxml=junit.xml"
    )
    first.assert_outcomes(passed=2, skipped=1)  # speed.training: not judged, no champion
    report = json.loads((pytester.path / "bench.json").read_text())
    extra = {b["name"]: b["extra_info"] for b in report["benchmarks"]}
    assert set(extra) == {
        "test_speed_training[tiny_mlp]",
        "test_speed_predict[tiny_mlp-predict_latency]",
        "test_speed_predict[tiny_mlp-predict_throughput]",
    }
    training = extra["test_speed_training[tiny_mlp]"]
    assert training["samples_per_s"] > 0 and training["normalised"] > 0
    assert training["calibration_gflops"] > 0 and training["compile_s"] >= 0
    props = {
        p.get("name"): p.get("value")
        for p in ET.parse(pytester.path / "junit.xml").iter("property")
    }
    assert float(props["speed.training.value"]) == pytest.approx(training["normalised"])
    assert props["speed.training.passed"] == "True" and "speed.peak_memory.value" in props
    first.stdout.fnmatch_lines(
        [
            "*speed.training*not judged: no champion yet in lineage 'tiny_mlp'*",
            "mlchecks: training speed per backend on this machine",
            f"*tiny_mlp*synthetic:400*{keras_backend()}*CPU*",
        ]
    )
    assert {"keras", keras_backend()} <= set((pytester.path / "imported.txt").read_text().split())

    second = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    second.assert_outcomes(passed=2, skipped=1)
    second.stdout.fnmatch_lines(["*speed.training*reused from the model cache*"])
    assert (pytester.path / "imported.txt").read_text() == ""  # no Keras nor backend: warm run

    # in a pytest-xdist worker the memoised figures are reused too, and not said to have been
    # measured beside other workers (they were measured here, alone)
    pytester.makeconftest(
        "def pytest_configure(config):\n    config.workerinput = {'workercount': 2}\n"
    )
    worker = pytester.runpytest("-p", "no:cacheprovider")  # in-process: nothing to import
    worker.assert_outcomes(passed=2, skipped=1)
    worker.stdout.fnmatch_lines(["*speed.training*reused from the model cache*"])
    assert "pytest-xdist worker" not in worker.stdout.str()


def test_benchmark_disable_and_skip_still_hold_in_an_xdist_worker(pytester, tmp_path_factory):
    """In a worker the suite times its figures itself; what the user asked of pytest-benchmark
    still holds there. The process is made to look like a worker (``workerinput``, as
    pytest-xdist sets it) so this runs in-process; the real workers are the test below."""
    cache = tmp_path_factory.mktemp("cache")
    pytester.makefile(".toml", pyproject=PROJECT.format(cache=cache))
    pytester.makeconftest(
        "def pytest_configure(config):\n    config.workerinput = {'workercount': 2}\n"
    )
    shutil.copy(ROOT / "suites" / "test_speed.py", pytester.path / "test_speed.py")
    disabled = pytester.runpytest("-p", "no:cacheprovider", "--benchmark-disable",
                                  "-k", "predict_latency")  # fmt: skip
    disabled.assert_outcomes(skipped=1)  # not judged: the check says why
    disabled.stdout.fnmatch_lines(["*speed.predict_latency*pytest-benchmark is disabled*"])
    skipped = pytester.runpytest("-p", "no:cacheprovider", "--benchmark-skip",
                                 "-k", "predict_latency", "-rs")  # fmt: skip
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*--benchmark-skip*"])


@pytest.mark.slow
def test_speed_suite_runs_under_xdist_timed_by_mlchecks_and_not_memoised(
    pytester, tmp_path_factory
):
    """pytest-benchmark switches itself off in xdist workers; the suite does not: the A/B
    verdict is made to hold beside other work, and the figures are timed with mlchecks' own
    timer, said so, and kept out of the memo (another worker's load is in them)."""
    pytest.importorskip("xdist")
    cache = tmp_path_factory.mktemp("cache")
    pytester.makefile(".toml", pyproject=PROJECT.format(cache=cache))
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    shutil.copy(ROOT / "suites" / "test_speed.py", pytester.path / "test_speed.py")
    result = pytester.runpytest_subprocess("-n", "1", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2, skipped=1)  # speed.training: not judged, no champion
    text = result.stdout.str() + result.stderr.str()
    assert "automatically disabled" not in text and "Warning" not in text, text
    # the checks table of the workers' checks, as without xdist
    for line in ("*speed.training*not judged: no champion yet in lineage 'tiny_mlp'*xdist worker*",
                 "*speed.predict_latency*[[]*, CPU; measured in a pytest-xdist worker (1 in *)]*",
                 "mlchecks: 4 checks, 0 failed, 1 not judged"):  # fmt: skip
        result.stdout.fnmatch_lines([line])
    assert list(cache.rglob("model.keras")), "the model was trained into the cache"
    memos = [p for p in cache.rglob("*") if p.parent.name == "memo"]
    assert memos == [], memos  # a figure taken beside other workers is not memoised
    assert not list(cache.rglob(bench.BACKENDS_FILE))  # nor put in the per-backend table
