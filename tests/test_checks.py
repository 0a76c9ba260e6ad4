"""Accuracy checks on hand-made predictions: Wilson floor, weakest class, ECE, loss, seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlchecks.checks import accuracy as checks
from mlchecks.config import ModelSpec, Thresholds
from mlchecks.stats.evaluation import Evaluation

NAMES = tuple(f"class-{c}" for c in range(4))


def evaluation(per_class_correct, support=50, k=4, confidence=0.9, seed=0):
    """Predictions with ``per_class_correct[c]`` of ``support`` samples of class c right."""
    rng = np.random.default_rng(seed)
    y_true, y_pred = [], []
    for c, right in enumerate(per_class_correct):
        y_true += [c] * support
        wrong = [(c + 1 + int(rng.integers(0, k - 1))) % k for _ in range(support - right)]
        y_pred += [c] * right + wrong
    y_true, y_pred = np.array(y_true), np.array(y_pred)
    probs = np.full((len(y_true), k), (1 - confidence) / (k - 1), np.float32)
    probs[np.arange(len(y_true)), y_pred] = confidence
    return Evaluation(y_true, probs, k)


def test_accuracy_min_passes_on_its_lower_bound():
    ev = evaluation([49, 48, 50, 47])  # 0.97 on 200
    result = checks.accuracy_min(ev, model="m", data="d", backend="tensorflow",
                                 thresholds=Thresholds(min_accuracy=0.9))  # fmt: skip
    assert result.passed and result.id == "accuracy.min"
    assert result.details["lower"] > 0.9 > result.details["lower"] - 0.05


def test_accuracy_min_too_few_samples_says_how_many():
    ev = evaluation([49, 48, 50, 47])  # 0.97 on 200: lower bound ~0.936
    result = checks.accuracy_min(ev, model="m", data="d", backend="tensorflow",
                                 thresholds=Thresholds(min_accuracy=0.95))  # fmt: skip
    assert not result.passed and result.blocking
    assert "cannot show it" in result.message and "samples at this accuracy would" in result.message


def test_accuracy_min_model_floor_per_backend():
    ev = evaluation([40, 40, 40, 40])  # 0.8
    spec = ModelSpec(name="m", min_accuracy={"tensorflow": 0.9, "jax": 0.5})
    tf = checks.accuracy_min(ev, model="m", data="d", backend="tensorflow",
                             thresholds=Thresholds(), spec=spec)  # fmt: skip
    jax = checks.accuracy_min(ev, model="m", data="d", backend="jax",
                              thresholds=Thresholds(), spec=spec)  # fmt: skip
    assert not tf.passed and "below 0.9000" in tf.message
    assert jax.passed


def test_class_recall_names_the_weakest_class():
    ev = evaluation([50, 30, 45, 49])
    result = checks.accuracy_class_recall(ev, model="m", data="d", class_names=NAMES,
                                          thresholds=Thresholds(min_class_recall=0.8))  # fmt: skip
    assert not result.passed and result.value == pytest.approx(0.6)
    assert "class 1 ('class-1')" in result.message and "(30/50" in result.message
    assert result.details["weakest"] == 1 and result.details["below"] == [1]
    rows = result.details["per_class"]
    assert [r["recall"] for r in rows] == pytest.approx([1.0, 0.6, 0.9, 0.98])
    assert sum(r["predicted"] for r in rows) == 200
    assert rows[1]["recall_lower"] < 0.6 < rows[1]["recall_upper"]
    confusion = np.array(result.details["confusion"])
    assert confusion.shape == (4, 4) and confusion.trace() == 174
    assert rows[0]["precision"] == pytest.approx(50 / confusion[:, 0].sum())
    json.dumps(result.to_json(), allow_nan=False)  # the report and --json can carry it


def test_class_recall_without_threshold_is_informational():
    ev = evaluation([50, 30, 45, 49])
    result = checks.accuracy_class_recall(ev, model="m", data="d", thresholds=Thresholds())
    assert result.passed and result.severity == "info" and "class 1" in result.message


def test_class_recall_ignores_classes_without_test_samples():
    ev = Evaluation(np.array([0, 0, 1]), np.eye(3, dtype=np.float32)[[0, 0, 1]], 3)
    result = checks.accuracy_class_recall(ev, model="m", data="d",
                                          thresholds=Thresholds(min_class_recall=0.9))  # fmt: skip
    assert result.passed and result.details["per_class"][2]["recall"] is None


def test_ece_and_loss():
    # 90% confident everywhere and 90% right: calibrated
    calibrated = evaluation([45, 45, 45, 45], confidence=0.9)
    over = evaluation([30, 30, 30, 30], confidence=0.99)
    th = Thresholds(max_ece=0.05, max_loss=1.0)
    assert checks.accuracy_ece(calibrated, model="m", data="d", thresholds=th).passed
    bad = checks.accuracy_ece(over, model="m", data="d", thresholds=th)
    assert not bad.passed and bad.value == pytest.approx(0.99 - 0.6, abs=1e-6)
    assert checks.accuracy_loss(calibrated, model="m", data="d", thresholds=th).passed
    loss = checks.accuracy_loss(over, model="m", data="d", thresholds=th)
    assert not loss.passed and "> max_loss 1.0000" in loss.message
    info = checks.accuracy_ece(over, model="m", data="d", thresholds=Thresholds())
    assert info.passed and info.severity == "info"


def test_ece_and_loss_on_logits():
    logits = Evaluation(np.array([0, 1]), np.array([[3.0, -1.0], [0.5, 2.0]], np.float32), 2)
    th = Thresholds(max_ece=0.1, max_loss=1.0)
    for check in (checks.accuracy_ece, checks.accuracy_loss):
        result = check(logits, model="m", data="d", thresholds=th)
        assert not result.passed and "not probabilities" in result.message
        assert check(logits, model="m", data="d", thresholds=Thresholds()).passed


def test_seeds_report_mean_std_and_judge_the_worst():
    evs = [(0, evaluation([49, 48, 50, 47], seed=0)), (1, evaluation([48, 47, 49, 46], seed=1)),
           (2, evaluation([44, 45, 46, 45], seed=2))]  # fmt: skip
    accs = [0.97, 0.95, 0.9]
    th = Thresholds(min_accuracy=0.85)
    result = checks.accuracy_seeds(evs, model="m", data="d", backend="tensorflow", thresholds=th)
    assert result.id == "accuracy.seeds" and result.passed
    assert result.details["mean"] == pytest.approx(np.mean(accs))
    assert result.details["std"] == pytest.approx(np.std(accs, ddof=1))
    assert result.details["worst_seed"] == 2 and result.value == pytest.approx(0.9)
    assert f"{np.mean(accs):.4f} ± {np.std(accs, ddof=1):.4f}" in result.message
    # the best seeds alone would pass 0.88; the worst one's lower bound does not
    strict = checks.accuracy_seeds(evs, model="m", data="d", backend="tensorflow",
                                   thresholds=Thresholds(min_accuracy=0.88))  # fmt: skip
    assert not strict.passed and "worst seed 2" in strict.message


# ----------------------------------------------------------------------------- the suites
SUITES = ("test_accuracy.py", "test_behaviour.py", "test_setup.py")
PROJECT = """
[tool.mlchecks]
data = "digits"
cache_dir = "{cache}"
seeds = 2
[tool.mlchecks.thresholds]
min_class_recall = 0.2
max_loss = 5.0
[[tool.mlchecks.models]]
name = "tiny"
builder = "mlp"
epochs = 1
"""


@pytest.mark.slow  # (tests/conftest.py keeps TensorFlow imported across inner runs)
def test_suites_record_every_check_with_junit_properties(pytester, tmp_path):
    import xml.etree.ElementTree as ET
    from pathlib import Path

    suites = Path(__file__).resolve().parent.parent / "suites"
    for name in SUITES:
        pytester.makepyfile(**{name[:-3]: (suites / name).read_text()})
    pytester.makefile(".toml", pyproject=PROJECT.format(cache=tmp_path / "cache"))
    result = pytester.runpytest("-p", "no:cacheprovider", f"--junitxml={tmp_path / 'j.xml'}")
    result.assert_outcomes(passed=4 + 1 + 5 + 8)  # accuracy (4 + seeds), behaviour, setup
    props = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "j.xml").iter("property")}
    for check_id in (
        "accuracy.min",
        "accuracy.class_recall",
        "accuracy.ece",
        "accuracy.loss",
        "accuracy.seeds",
        "behaviour.simplex",
        "behaviour.noise",
        "setup.input_shape",
    ):
        assert props[f"{check_id}.passed"] == "True", check_id
        assert f"{check_id}.value" in props and f"{check_id}.threshold" in props
    assert props["accuracy.class_recall.threshold"] == "0.2"
    assert float(props["accuracy.seeds.value"]) <= float(props["accuracy.min.value"])
    result.stdout.fnmatch_lines(["*accuracy.seeds*mean ± std of 2 seeds*"])
    assert len(list((tmp_path / "cache").glob("tiny-*/model.keras"))) == 2  # each seed cached
