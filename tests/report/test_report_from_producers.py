"""The report read from what the real checks write: every section shows values, not "—".

Each category's results come from its real producer, on small arrays or digits: accuracy checks
on an Evaluation, regression checks against a champion's predictions (as the gate hands them
over: correct masks and the forgetting matrix of its baseline), data checks with Great
Expectations on a corrupted copy of digits and drift against a shifted profile, speed checks
from measured figures, behaviour and setup checks of a small untrained Keras model. The same
page must come back from the ``--json`` form of the checks (the registry and ``--json`` store
them so; old records hold plain dicts).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mlchecks.checks import accuracy as acc_checks
from mlchecks.checks import behaviour
from mlchecks.checks import regression as compare
from mlchecks.checks import setup as lint
from mlchecks.checks import speed as speed_checks
from mlchecks.config import Thresholds
from mlchecks.data import expectations as ex
from mlchecks.data import profile as pf
from mlchecks.report import data as report_data
from mlchecks.report.html import render_html
from mlchecks.result import CheckResult
from mlchecks.run.gate import GateDecision
from mlchecks.stats.evaluation import Evaluation

MODEL = "mlp"
FORGOTTEN, CONFUSED_WITH = 3, 5
DASH = "—"


def _probs(pred: np.ndarray, k: int = 10) -> np.ndarray:
    """Probabilities that put 0.8 on ``pred`` and share the rest evenly."""
    out = np.full((len(pred), k), 0.2 / (k - 1), dtype=np.float64)
    out[np.arange(len(pred)), pred] = 0.8
    return out


@pytest.fixture(scope="module")
def predictions(digits):
    """Champion: wrong on every 25th test sample. Candidate: the same, and every 3 is a 5."""
    y = digits.y_test
    champion = y.copy()
    champion[::25] = (y[::25] + 1) % 10
    candidate = champion.copy()
    candidate[y == FORGOTTEN] = CONFUSED_WITH
    return champion, candidate


@pytest.fixture(scope="module")
def keras_model():
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input(shape=(8, 8, 1)), keras.layers.Flatten(),
         keras.layers.Dense(10, activation="softmax")], name="tiny",
    )  # fmt: skip


@pytest.fixture(scope="module")
def checks(digits, predictions, keras_model):
    y = digits.y_test
    champion_pred, candidate_pred = predictions
    thresholds = Thresholds(min_accuracy=0.5, min_class_recall=0.5)
    candidate = Evaluation(y, _probs(candidate_pred), 10)
    names = tuple(digits.class_names)
    out: list[CheckResult] = [
        acc_checks.accuracy_min(candidate, model=MODEL, data="digits", backend="tensorflow",
                                thresholds=thresholds),
        acc_checks.accuracy_class_recall(candidate, model=MODEL, data="digits",
                                         thresholds=thresholds, class_names=names),
        acc_checks.accuracy_ece(candidate, model=MODEL, data="digits", thresholds=thresholds),
    ]  # fmt: skip
    # Regression: what mlchecks.run.gate hands over from the champion's baseline.
    base, cand = champion_pred == y, candidate_pred == y
    t = Thresholds()
    matrix = {"versions": ["0001", "candidate"], "holdouts": ["9f2c41d0e1"],
              "introduced_by": ["0001"], "accuracy": [[float(base.mean())],
                                                       [float(cand.mean())]]}  # fmt: skip
    out += [
        compare.accuracy_check(base, cand, thresholds=t, champion="0001", model=MODEL),
        compare.per_class_check(y, champion_pred, candidate_pred, 10, thresholds=t,
                                champion="0001", class_names=names, model=MODEL),
        compare.flip_rate_check(base, cand, thresholds=t, champion="0001", model=MODEL),
        compare.forgetting_check(
            [compare.HoldoutPair("9f2c41d0e1", "0001", float(base.mean()), "0001", base, cand)],
            thresholds=t, matrix=matrix, model=MODEL,
        ),
    ]  # fmt: skip
    # Data: one NaN pixel in test sample 17, drift against a profile of brighter digits.
    x = digits.x_test.copy()
    x[17, 3, 4, 0] = np.nan
    brighter = digits.replace(x_test=np.clip(digits.x_test + 0.3, 0, 1),
                              x_train=np.clip(digits.x_train + 0.3, 0, 1))  # fmt: skip
    report = ex.run(digits.replace(x_test=x), reference=pf.profile(brighter))
    out += list(report)
    # Speed: this run's training figures, the champion's stored speed.training check beside them.
    stored = {"id": "speed.training", "value": 0.011,
              "details": {"normalised": 0.011, "samples_per_s": 2400.0}}  # fmt: skip
    figures = {"normalised": 0.012, "samples_per_s": 2500.0, "device": {"kind": "CPU"},
               "calibration": {"gflops": 50.0}}  # fmt: skip
    out.append(speed_checks.speed_check(figures, stored, 0.25, model=MODEL))
    # Behaviour and setup of a small untrained model: outputs are probabilities; none of them
    # is confident, so noise robustness cannot be judged; uncompiled, the loss rules neither.
    out += [
        behaviour.simplex(keras_model, digits, name=MODEL, examples=2),
        behaviour.noise(keras_model, digits, name=MODEL, examples=2),
    ]
    out += lint.run(keras_model, digits, name=MODEL)
    return out


@pytest.fixture(scope="module")
def data(checks, digits, predictions):
    candidate = Evaluation(digits.y_test, _probs(predictions[1]), 10)
    decision = GateDecision(accepted=False, name="digits", checks=tuple(checks),
                            champion_before="0001", champion_after="0001")  # fmt: skip
    return report_data.build(checks, name="digits", decision=decision, dataset=digits,
                             evaluations={MODEL: candidate})  # fmt: skip


def section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert match is not None, f"section {name!r} missing"
    return match.group(1)


def row_of(html: str, check_id: str) -> str:
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", html, re.S) if f">{check_id}<" in r]
    assert rows, f"no row for {check_id}"
    return rows[0]


def test_every_category_comes_from_a_real_producer(checks):
    assert {c.category for c in checks} == {
        "accuracy", "regression", "data", "speed", "behaviour", "setup",
    }  # fmt: skip
    statuses = {c.id: c.status for c in checks}
    assert statuses["regression.per_class"] == "failed"  # class 3 forgotten
    assert statuses["data.finite"] == "failed" and statuses["data.drift"] == "failed"
    assert statuses["behaviour.noise"] == "not_judged"
    assert statuses["setup.label_encoding"] == "not_judged"  # the model is not compiled


def test_sections_show_values_from_the_typed_details(data, predictions, digits):
    champion_pred, candidate_pred = predictions
    y = digits.y_test
    assert not data.skipped, data.skipped
    (accuracy,) = data.accuracy
    assert None not in (accuracy.lower, accuracy.upper, accuracy.n, accuracy.correct,
                        accuracy.confidence, accuracy.threshold)  # fmt: skip
    (recall,) = data.class_recall
    assert recall.candidate[FORGOTTEN] == 0.0 and recall.champion is not None
    assert recall.champion[FORGOTTEN] == pytest.approx(((champion_pred == y) & (y == 3)).sum()
                                                       / (y == 3).sum())  # fmt: skip
    assert None not in recall.candidate and None not in recall.champion
    (confusion,) = data.confusion
    assert confusion.matrix[FORGOTTEN][CONFUSED_WITH] == int((y == FORGOTTEN).sum())
    (flips,) = data.flips
    n_flips = int(((champion_pred == y) & (candidate_pred != y)).sum())
    assert flips.total == n_flips and flips.rate == pytest.approx(n_flips / len(y))
    assert {(f.true, f.candidate) for f in flips.flips} == {("3", "5")}
    assert all(f.image for f in flips.flips)  # this run's test split: images shown
    (speed,) = data.speed
    assert (speed.samples_per_s, speed.champion_samples_per_s) == (2500.0, 2400.0)
    assert (speed.fraction_of_peak, speed.champion_fraction_of_peak) == (0.012, 0.011)
    rows = {r.id: r for r in data.data}
    assert (rows["data.finite"].split, rows["data.finite"].unexpected_count) == ("test", 1)
    assert rows["data.finite"].examples == ["17"]
    assert rows["data.drift"].split and rows["data.drift"].unexpected_count
    assert (rows["data.range"].split, rows["data.range"].unexpected_count) == ("train, test", 0)
    (history,) = data.history
    assert history.matrix_versions == ["0001", "candidate"]
    assert history.holdouts == ["holdout of 0001"] and len(history.matrix) == 2
    assert history.forgetting[0]["forgetting"] > 0
    (matrix,) = data.continual  # two versions on one holdout: the continual section shows
    assert matrix.versions == ["0001", "candidate"] and matrix.holdouts == ["0001"]
    assert matrix.accuracy == [[pytest.approx((champion_pred == y).mean())],
                               [pytest.approx((candidate_pred == y).mean())]]  # fmt: skip
    bwt = (candidate_pred == y).mean() - (champion_pred == y).mean()
    assert matrix.backward_transfer[1] == pytest.approx(bwt)


def test_page_sections_show_no_dash_where_a_producer_wrote_a_figure(data):
    page = render_html(data)
    for name in ("accuracy", "speed", "history", "continual"):
        assert DASH not in section(page, name), name
    rows = section(page, "data")
    for check_id in ("data.finite", "data.drift"):
        assert DASH not in row_of(rows, check_id), check_id
    assert DASH not in row_of(section(page, "checks"), "regression.accuracy")  # its Δ interval
    assert 'class="flip"' in section(page, "flips")


def test_not_judged_checks_have_their_own_badge(data):
    page = render_html(data)
    not_judged = {c.id for c in data.checks if c.status == "not-judged"}
    assert {"behaviour.noise", "setup.label_encoding"} <= not_judged
    row = row_of(section(page, "checks"), "behaviour.noise")
    assert 'class="check-row not-judged"' in row
    assert '<span class="status not-judged">NOT JUDGED</span>' in row
    assert f"{len(not_judged)} not judged" in page
    assert data.summary()["not_judged"] == len(not_judged)
    # Shown after the failures and warnings, before the passes; never among the failures.
    order = [c.status for c in data.checks]
    assert order.index("not-judged") > order.index("fail")
    assert order.index("pass") > max(i for i, s in enumerate(order) if s == "not-judged")
    assert not_judged.isdisjoint(c.id for c in data.failed)


def test_the_json_form_gives_the_same_report(data, checks, digits, predictions):
    stored = json.loads(json.dumps([c.to_json() for c in checks]))  # what --json writes
    again = report_data.checks_from_json(stored)
    assert again == checks
    candidate = Evaluation(digits.y_test, _probs(predictions[1]), 10)
    decision = GateDecision(accepted=False, name="digits", checks=tuple(again),
                            champion_before="0001", champion_after="0001")  # fmt: skip
    rebuilt = report_data.build(again, name="digits", decision=decision, dataset=digits,
                                evaluations={MODEL: candidate})  # fmt: skip
    for name in (
        "checks",
        "accuracy",
        "class_recall",
        "confusion",
        "flips",
        "speed",
        "data",
        "history",
        "continual",
        "skipped",
    ):
        assert getattr(rebuilt, name) == getattr(data, name), name


def test_old_records_with_plain_dicts_and_wrong_types_still_render(checks):
    """A record stored before details were typed (or by another tool) holds plain dicts; a value
    of the wrong type leaves its section out with a note, never the page."""
    old = {c.id: c.to_json() for c in checks if c.id in ("regression.flip_rate", "accuracy.min")}
    for item in old.values():
        del item["status"]  # written before statuses existed
    old["regression.flip_rate"]["details"]["negative"] = ["x", 2]  # not indices
    rebuilt = report_data.checks_from_json(old.values())
    assert [c.status for c in rebuilt] == ["passed", "passed"]
    flip = next(c for c in rebuilt if c.id == "regression.flip_rate")
    assert flip.details.negative is None and flip.details.extra["negative"] == ["x", 2]
    assert flip.to_json()["details"]["negative"] == ["x", 2]  # written back as it was
    page = report_data.build(rebuilt, name="old")
    assert not page.flips and any("regression.flip_rate [mlp]" in n for n in page.skipped)
    assert "negative" in render_html(page)


def test_a_same_run_ab_speed_check_shows_its_ratio_and_both_rates():
    """speed.training from interleaved rounds: its value is a ratio, not a fraction of peak."""
    stored = {"id": "speed.training", "value": 0.011,
              "details": {"normalised": 0.011, "samples_per_s": 2400.0}}  # fmt: skip
    check = speed_checks.ab_check(
        [1.01, 0.99, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01], model=MODEL,
        champion="0001", history=stored,
        measurement={"steps": 5, "batch_size": 32, "candidate_samples_per_s": 2500.0,
                     "champion_samples_per_s": 2480.0},
        current={"normalised": 0.012, "samples_per_s": 2500.0},
    )  # fmt: skip
    (row,) = report_data.build([check]).speed
    assert row.unit == "x champion's s/step" and row.value == pytest.approx(1.0)
    assert (row.samples_per_s, row.champion_samples_per_s) == (2500.0, 2480.0)
    assert (row.fraction_of_peak, row.champion_fraction_of_peak) == (0.012, 0.011)
    speed = section(render_html(report_data.build([check])), "speed")
    assert '<td class="num value">1 x champion&#39;s s/step</td>' in speed and DASH not in speed
