"""Check messages are written for people (issue 15, item 6): the message of a failing check
(and the caveat of a passing one, which the gate prints as WARN) starts with one plain
sentence ("class 5 recall 0.006 vs champion 0.959: -95.30 pp, significant") and stays short
enough for a terminal line and the report's banner; the statistics (McNemar, Holm, power,
bounds) and the longer advice are in ``details.explanation``.

Every family is driven into failure with its real check functions: regression and accuracy on
hand-made predictions, speed on per-round ratios, behaviour on small Keras models with planted
faults, setup on a mis-compiled model.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from mlchecks.checks import accuracy, regression, speed
from mlchecks.config import Thresholds
from mlchecks.result import CheckResult
from mlchecks.stats.evaluation import Evaluation

#: The longest message a terminal line or the report's banner shows whole.
LIMIT = 200
STATISTICS = re.compile(r"McNemar|Holm|p=|power|bootstrap|sign-test|bounds \d|CI \[")
CHAMPION = "0003 of 'mlp'"


def _shown(result: CheckResult) -> list[str]:
    """What the gate prints of a result: a failed one's message, a passed one's caveat."""
    if not result.passed:
        return [result.message]
    return [result.details.warning] if result.details.warning else []


def assert_plain(result: CheckResult) -> None:
    for text in _shown(result):
        assert len(text) <= LIMIT, f"{result.id}: {len(text)} characters: {text}"
        first = text.split("; ")[0]
        assert not STATISTICS.search(first), f"{result.id}: statistics up front: {text}"
        assert "\n" not in text


def _masks(n: int, base_right: int, neg: int, pos: int, seed: int = 0):
    base = np.zeros(n, bool)
    base[:base_right] = True
    cand = base.copy()
    cand[:neg] = False
    cand[base_right : base_right + pos] = True
    order = np.random.default_rng(seed).permutation(n)
    return base[order], cand[order]


def _regression_results() -> list[CheckResult]:
    y = np.repeat(np.arange(10), 45)
    champion = y.copy()
    champion[::23] = (y[::23] + 1) % 10  # a few mistakes
    candidate = champion.copy()
    for k in (1, 2, 3, 5, 6, 7):  # six classes forgotten
        candidate[y == k] = (k + 1) % 10
    t = Thresholds(max_flip_rate=0.05)
    base, cand = champion == y, candidate == y
    holdouts = [
        regression.HoldoutPair(f"h{i}", f"000{i}", 0.95, f"000{i}", *_masks(450, 430, 200, 2, i))
        for i in (1, 2, 3)
    ]
    return [
        regression.accuracy_check(base, cand, thresholds=t, champion=CHAMPION, model="mlp"),
        regression.accuracy_check(
            *_masks(450, 430, 40, 2),
            thresholds=Thresholds(regression_mode="strict"),
            champion=CHAMPION,
            model="mlp",
        ),
        regression.per_class_check(
            y, champion, candidate, 10, thresholds=t, champion=CHAMPION, model="mlp"
        ),
        regression.flip_rate_check(
            base, cand, thresholds=t, champion=CHAMPION, reseed_flip_rate=0.012, model="mlp"
        ),
        regression.forgetting_check(holdouts, thresholds=t, model="mlp"),
        # passing, with a holdout too small to see the margin: the WARN line
        regression.per_class_check(
            y[:60], champion[:60], champion[:60], 10, thresholds=t, champion=CHAMPION, model="mlp"
        ),
        regression.accuracy_check(
            *_masks(40, 38, 0, 0), thresholds=t, champion=CHAMPION, model="mlp"
        ),
    ]


def test_regression_messages_lead_with_a_plain_sentence():
    results = _regression_results()
    assert [r.passed for r in results] == [False, False, False, False, False, True, True]
    for result in results:
        assert_plain(result)
    acc, strict, per_class, flips, forgetting, *_ = results
    assert re.match(
        r"REGRESSION: accuracy 0\.\d{4} vs champion 0003 of 'mlp' 0\.\d{4} on its "
        r"holdout \(450 samples\): -\d+\.\d\d pp, significant$",
        acc.message,
    )
    assert "McNemar p=" in acc.details.explanation and "80% power" in acc.details.explanation
    assert "strict" in strict.message
    # per class: the worst class first, the others named, the p-values only in details
    assert per_class.message.startswith(
        "REGRESSION against champion 0003 of 'mlp': class 1 recall 0.000 vs "
    )
    assert "5 more classes regressed: 2, 3, 5, 6, 7" in per_class.message
    assert per_class.details.explanation.count("Holm") == 6
    assert "EXCEEDS the budget" in flips.message
    assert "reseeds of the same recipe flip 0.0120" in flips.details.explanation
    assert forgetting.message.startswith("FORGETTING on the holdout of version 0001: ")
    assert "2 more holdouts" in forgetting.message
    assert "backward transfer" in forgetting.details.explanation


def _ev(correct, support, k):
    y_true = np.concatenate([[c] * n for c, n in enumerate(support)]).astype(np.int64)
    y_pred = np.concatenate(
        [
            [c] * right + [(c + 1) % k] * (n - right)
            for c, (right, n) in enumerate(zip(correct, support, strict=True))
        ]
    ).astype(np.int64)
    probs = np.full((len(y_true), k), 0.1 / (k - 1), np.float32)
    probs[np.arange(len(y_true)), y_pred] = 0.9
    return Evaluation(y_true, probs, k)


def test_accuracy_messages_are_short():
    near_chance = _ev([45] + [0] * 9, [45] * 10, 10)  # right on one class only
    partial = _ev([45, 45, 45, 0, 0, 45, 45, 0, 45, 45], [45] * 10, 10)
    weak = _ev([45, 10, 12, 40, 9, 45, 8, 45, 11, 45], [45] * 10, 10)
    default = Thresholds()
    strict = Thresholds(min_accuracy=0.99, min_class_recall=0.9, max_ece=0.01, max_loss=0.01)
    where = {"model": "mlp", "data": "digits"}
    results = [
        accuracy.accuracy_min(near_chance, **where, backend="tensorflow", thresholds=default),
        accuracy.accuracy_min(partial, **where, backend="tensorflow", thresholds=default),
        accuracy.accuracy_min(weak, **where, backend="tensorflow", thresholds=strict),
        accuracy.accuracy_min(
            _ev([44] * 10, [45] * 10, 10), **where, backend="tensorflow", thresholds=default
        ),  # passes on the default bar: a WARN line
        accuracy.accuracy_class_recall(weak, **where, thresholds=strict),
        accuracy.accuracy_ece(weak, **where, thresholds=strict),
        accuracy.accuracy_loss(weak, **where, thresholds=strict),
        accuracy.accuracy_seeds(
            [(0, weak), (1, near_chance)], **where, backend="tensorflow", thresholds=strict
        ),
    ]
    assert [r.passed for r in results] == [False, False, False, True, False, False, False, False]
    for result in results:
        assert_plain(result)
    never = results[1]
    assert "never right on class 3 (recall 0/45) and 2 more" in never.message
    assert "class 4 (recall 0/45)" in never.details.explanation
    assert "--min-accuracy FRACTION" in never.details.explanation


def test_speed_messages_are_short():
    slower = speed.ab_check(
        [2.0, 2.1, 1.9, 2.05, 1.95, 2.2, 1.98, 2.02],
        0.25,
        looks=4,
        model="mlp",
        where="mlp on digits [tensorflow, CPU]",
        champion=CHAMPION,
        measurement={"steps": 20, "batch_size": 32, "elapsed_s": 6.2},
    )
    undecided = speed.ab_check(
        [1.2, 1.5, 0.9, 1.4, 1.1],
        0.25,
        looks=4,
        model="mlp",
        where="mlp on digits [tensorflow, CPU]",
        champion=CHAMPION,
        measurement={"steps": 20, "batch_size": 32, "budget_s": 3.0},
    )
    assert not slower.passed and undecided.passed and undecided.details.warning
    for result in (slower, undecided):
        assert_plain(result)
    assert "slower than the 1.25x allowed" in slower.message
    assert "interleaved rounds" in slower.details.explanation


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def test_behaviour_messages_are_short(keras, digits):
    from mlchecks.checks import behaviour

    def head(*middle, activation="softmax"):
        keras.utils.set_random_seed(0)
        inputs = keras.Input(shape=(8, 8, 1))
        x = keras.layers.Flatten()(inputs)
        for layer in middle:
            x = layer(x)
        return keras.Model(inputs, keras.layers.Dense(10, activation=activation)(x))

    class BatchCentering(keras.layers.Layer):
        def call(self, x):
            return x - keras.ops.mean(x, axis=0, keepdims=True)

    class Position(keras.layers.Layer):
        def call(self, x):
            return x + keras.ops.cumsum(keras.ops.ones_like(x[:, :1]), axis=0)

    results = [
        behaviour.simplex(head(activation=None), digits, name="mlp", examples=3),
        behaviour.batch_size(head(BatchCentering()), digits, name="mlp", examples=3),
        behaviour.order(head(Position()), digits, name="mlp", examples=3),
    ]
    assert [r.passed for r in results] == [False, False, False]
    for result in results:
        assert_plain(result)
    assert "softmax" in results[0].details.explanation
    assert "BatchNormalization" in results[1].details.explanation
