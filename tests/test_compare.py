"""compare.py: paired statistics and the regression checks, on synthetic correct masks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mlchecks.checks import regression as compare
from mlchecks.config import Thresholds

DEFAULT = Thresholds()
STRICT = Thresholds(regression_mode="strict")


def masks(n: int, base_right: int, neg: int, pos: int, seed: int = 0):
    """Correct masks of n samples: the reference gets base_right right; the candidate loses
    `neg` of those and gains `pos` of the others. Positions are shuffled."""
    base = np.zeros(n, bool)
    base[:base_right] = True
    cand = base.copy()
    cand[:neg] = False
    cand[base_right : base_right + pos] = True
    order = np.random.default_rng(seed).permutation(n)
    return base[order], cand[order]


@pytest.mark.parametrize(("b", "c"), [(9, 1), (5, 5), (0, 7), (13, 0), (30, 18)])
def test_mcnemar_matches_exact_binomial_test(b, c):
    expected = stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0
    assert compare.mcnemar_worse(b, c) == pytest.approx(expected)


def test_multinomial_bootstrap_matches_index_resampling():
    base, cand = masks(300, 270, 12, 5)
    pair = compare.paired(base, cand)
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 300, size=(4000, 300))
    direct = cand[idx].mean(axis=1) - base[idx].mean(axis=1)
    ours = compare.bootstrap_delta(pair.b, pair.c, pair.n, [0.05, 0.5, 0.95])
    assert ours == pytest.approx(np.quantile(direct, [0.05, 0.5, 0.95]), abs=0.004)


@pytest.mark.parametrize(("n", "discordance"), [(450, 0.04), (2000, 0.02)])
def test_detectable_drop_has_the_stated_power(n, discordance):
    """Simulate pairs with a true drop equal to the reported detectable drop: McNemar flags
    about 80% of them; at half that drop, far fewer."""
    alpha = 0.05
    mdd = compare.detectable_drop(n, discordance, alpha)
    rng = np.random.default_rng(0)

    def power(drop: float) -> float:
        psi = max(discordance, drop)
        draws = rng.multinomial(n, [(psi + drop) / 2, (psi - drop) / 2, 1 - psi], size=4000)
        p = stats.binom.sf(draws[:, 0] - 1, draws[:, 0] + draws[:, 1], 0.5)
        return float(np.mean((p <= alpha) & (draws[:, 0] > 0)))

    assert 0.77 <= power(mdd) <= 0.86
    assert power(mdd / 2) < 0.5
    assert compare.detectable_drop(4 * n, discordance, alpha) < mdd  # more samples, finer


def test_holm_is_step_down():
    assert compare.holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert compare.holm([0.5, 0.001]).tolist() == pytest.approx([0.5, 0.002])
    assert compare.holm([]).size == 0


def test_identical_candidate_passes_every_regression_check():
    base, _ = masks(450, 430, 0, 0)
    y = np.arange(450) % 10
    pred = np.where(base, y, (y + 1) % 10)
    acc = compare.accuracy_check(base, base, thresholds=DEFAULT, champion="0001")
    per = compare.per_class_check(y, pred, pred, 10, thresholds=DEFAULT, champion="0001")
    flip = compare.flip_rate_check(base, base, thresholds=DEFAULT, champion="0001")
    assert acc.passed and per.passed and flip.passed
    assert acc.details.negative_flips == 0 and flip.value == 0.0
    for mode in (DEFAULT, STRICT):
        assert compare.accuracy_check(base, base, thresholds=mode, champion="0001").passed


def test_planted_regression_is_rejected_with_its_numbers():
    base, cand = masks(450, 430, 20, 2)  # -4 pp, 20 vs 2 flips
    result = compare.accuracy_check(base, cand, thresholds=DEFAULT, champion="0001", model="m")
    assert not result.passed and result.id == "regression.accuracy"
    assert result.details.drop == pytest.approx(18 / 450)
    assert result.value == pytest.approx(cand.mean())
    assert result.threshold == pytest.approx(base.mean() - 0.005)
    assert "REGRESSION" in result.message
    assert "20 negative / 2 positive" in result.details.explanation


def test_noise_sized_drop_is_not_a_regression_but_strict_mode_rejects_it():
    base, cand = masks(450, 430, 5, 2)  # -0.67 pp: beyond the margin, p = 0.23
    assert compare.accuracy_check(base, cand, thresholds=DEFAULT, champion="0001").passed
    strict = compare.accuracy_check(base, cand, thresholds=STRICT, champion="0001")
    assert not strict.passed and "strict" in strict.message


def test_significant_but_tiny_drop_is_within_the_margin():
    base, cand = masks(100_000, 95_000, 600, 400)  # -0.2 pp, p ~ 1e-10
    result = compare.accuracy_check(base, cand, thresholds=DEFAULT, champion="0001")
    assert result.details.p_value < 1e-6
    assert result.passed


def test_power_warning_only_when_the_holdout_is_too_small():
    small = compare.accuracy_check(*masks(450, 430, 3, 3), thresholds=DEFAULT, champion="1")
    large = compare.accuracy_check(*masks(200_000, 190_000, 3000, 3000), thresholds=DEFAULT,
                                   champion="1")  # fmt: skip
    assert small.details.warning and "too small" in small.details.warning
    assert small.details.detectable_drop > 0.005
    assert large.details.warning is None and large.details.detectable_drop <= 0.005
    assert "80% power" in large.details.explanation


def test_per_class_names_the_forgotten_class_with_holm():
    y = np.repeat(np.arange(10), 45)
    champ = y.copy()
    cand = y.copy()
    forgotten = np.flatnonzero(y == 3)[:15]
    cand[forgotten] = 5  # class 3 loses 15 of 45
    better = np.flatnonzero(y == 8)[:3]
    champ[better] = 1  # the champion was wrong on 3 of class 8; the candidate is right
    result = compare.per_class_check(y, champ, cand, 10, thresholds=DEFAULT, champion="0002",
                                     model="m")  # fmt: skip
    assert not result.passed and result.details.failed == ("3",)
    assert "class 3" in result.message and result.value == pytest.approx(30 / 45)
    row = result.details.classes[3]
    assert row.index == 3 and row.negative_flips == 15 and row.p_adjusted >= row.p_value


def test_per_class_holm_spares_a_borderline_class():
    """5 vs 0 flips in one class: p = 0.031 alone, but not after Holm over 10 classes."""
    y = np.repeat(np.arange(10), 45)
    cand = y.copy()
    cand[np.flatnonzero(y == 4)[:5]] = 0
    result = compare.per_class_check(y, y, cand, 10, thresholds=DEFAULT, champion="0001")
    row = result.details.classes[4]
    assert row.p_value < 0.05 < row.p_adjusted
    assert result.passed


def test_flip_rate_lists_indices_and_is_gated_only_with_a_budget():
    base, cand = masks(200, 180, 6, 4, seed=3)
    info = compare.flip_rate_check(base, cand, thresholds=DEFAULT, champion="0001")
    assert info.passed and info.severity == "info" and info.threshold is None
    assert sorted(info.details.negative) == np.flatnonzero(base & ~cand).tolist()
    assert len(info.details.positive) == 4 and info.value == pytest.approx(6 / 200)
    assert info.status == "passed"  # recorded, not gated: a figure, judged by design
    gated = compare.flip_rate_check(base, cand, thresholds=Thresholds(max_flip_rate=0.02),
                                    champion="0001")  # fmt: skip
    assert not gated.passed and gated.blocking and "EXCEEDS" in gated.message


def test_forgetting_on_an_earlier_holdout_and_backward_transfer():
    kept = compare.HoldoutPair("a" * 16, "0001", 0.95, "0001", *masks(300, 285, 2, 1))
    base, cand = masks(200, 196, 40, 0)
    lost = compare.HoldoutPair("b" * 16, "0002", 0.98, "0002", base, cand)
    result = compare.forgetting_check([kept, lost], thresholds=DEFAULT, model="m")
    assert not result.passed and result.details.failed == ("b" * 16,)
    assert "holdout of version 0002" in result.message
    rows = result.details.holdouts
    assert rows[1].forgetting == pytest.approx(40 / 200) and rows[1].regressed
    expected_bwt = ((284 / 300 - 0.95) + (156 / 200 - 0.98)) / 2
    assert result.details.backward_transfer == pytest.approx(expected_bwt)
    fine = compare.forgetting_check([kept], thresholds=DEFAULT)
    assert fine.passed and "no forgetting" in fine.message


def test_no_champion_records_each_id_as_not_judged():
    results = compare.no_champion_checks("mlp", "/r")
    assert [r.id for r in results] == list(compare.CHECK_IDS)
    assert all(r.status == "not_judged" and not r.blocking for r in results)
    assert all(r.passed and "not judged: no champion" in r.message for r in results)
    # The JSON of --json and of registry records is what it was, plus the status.
    assert {k: v for k, v in results[0].to_json().items() if k != "status"} == {
        "id": "regression.accuracy", "category": "regression", "passed": True, "value": None,
        "threshold": None, "message": results[0].message, "model": None, "severity": "info",
        "details": {"champion": None, "lineage": "mlp"},
    }  # fmt: skip


def test_forgetting_with_no_earlier_holdout_is_not_judged():
    result = compare.forgetting_check([], thresholds=DEFAULT, model="m")
    assert result.status == "not_judged" and "no earlier holdout" in result.message


# Keys each check's details had as a dict, before they were typed: --json readers rely on them.
ACCURACY_KEYS = {
    "regressed", "drop", "p_value", "p_adjusted", "lower", "ci", "detectable_drop", "margin",
    "champion", "n", "champion_accuracy", "candidate_accuracy", "negative_flips",
    "positive_flips", "mode", "warning", "explanation",
}  # fmt: skip
VERDICT_KEYS = {"regressed", "drop", "p_value", "p_adjusted", "lower", "ci", "detectable_drop",
                "margin"}  # fmt: skip


def test_details_keep_their_json_keys_and_round_trip():
    from mlchecks.result import (
        CheckResult,
        ClassRegressionDetails,
        FlipDetails,
        ForgettingDetails,
        RegressionDetails,
    )

    base, cand = masks(450, 430, 20, 2)
    y = np.repeat(np.arange(10), 45)
    pred = np.where(base, y, (y + 1) % 10)
    worse = np.where(cand, y, (y + 1) % 10)
    matrix = {"versions": ["0001", "candidate"], "holdouts": ["h1"], "introduced_by": ["0001"],
              "accuracy": [[0.95], [None]]}  # fmt: skip
    results = [
        compare.accuracy_check(base, cand, thresholds=DEFAULT, champion="0001"),
        compare.per_class_check(y, pred, worse, 10, thresholds=DEFAULT, champion="0001"),
        compare.flip_rate_check(base, cand, thresholds=DEFAULT, champion="0001"),
        compare.forgetting_check([compare.HoldoutPair("h1", "0001", 0.95, "0001", base, cand)],
                                 thresholds=DEFAULT, matrix=matrix),
    ]  # fmt: skip
    acc, per, flip, forget = (r.to_json()["details"] for r in results)
    assert set(acc) == ACCURACY_KEYS and isinstance(acc["negative_flips"], int)
    # (plus "explanation": the statistics behind the message, issue 15 item 6)
    assert set(per) == {"champion", "classes", "failed", "mode", "warning", "margin",
                        "explanation"}  # fmt: skip
    assert set(per["classes"][0]) == VERDICT_KEYS | {
        "class", "name", "support", "champion_recall", "candidate_recall", "delta",
        "negative_flips", "positive_flips",
    }  # fmt: skip
    assert set(flip) == {"champion", "n", "negative", "positive", "negative_count",
                         "positive_count", "positive_rate", "reseed_flip_rate",
                         "explanation"}  # fmt: skip
    assert flip["reseed_flip_rate"] is None and isinstance(flip["negative"], list)
    assert set(forget) == {"holdouts", "backward_transfer", "margin", "failed", "matrix",
                           "warning", "explanation"}  # fmt: skip
    assert forget["matrix"] == matrix
    assert set(forget["holdouts"][0]) == VERDICT_KEYS | {
        "holdout", "introduced_by", "best_version", "best_accuracy", "candidate_accuracy",
        "forgetting", "n", "negative_flips", "positive_flips", "warning",
    }  # fmt: skip
    kinds = (RegressionDetails, ClassRegressionDetails, FlipDetails, ForgettingDetails)
    for result, kind in zip(results, kinds, strict=True):
        assert isinstance(result.details, kind)
        again = CheckResult.from_json(result.to_json())
        assert again == result and again.to_json() == result.to_json()
    # The mapping view is the JSON form, for scripts written against the dict.
    assert results[0].details["negative_flips"] == 20 and "warning" in results[0].details
