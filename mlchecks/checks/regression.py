"""Candidate vs champion on the same holdout: paired statistics and the regression checks.

Pure numpy/scipy: no keras, no pytest. Everything works on *correct masks* (one boolean per
holdout sample: did the model get it right?), so the same code judges the champion's holdout,
every earlier version's holdout, and each class of a holdout.

The regression rule (calibrated in ``benchmarks/calibration.py``):

- ``significant`` (default): a drop is a regression only when the candidate is significantly
  worse (one-sided exact McNemar test on the discordant pairs, level ``alpha``; Holm-corrected
  across classes or holdouts) **and** the point drop exceeds the margin. On small holdouts a
  raw point-estimate margin rejects honest retrains most of the time; this rule does not.
- ``strict``: non-inferiority for high-stakes deploys: reject unless the one-sided ``1 - alpha``
  lower bound of the paired-bootstrap delta is above ``-margin``.

Every check also reports its power: the smallest drop the holdout would detect with 80%
power (:func:`detectable_drop`), with a warning when that is larger than the margin.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.result import (
    CheckResult,
    ClassRegressionDetails,
    ClassRegressionRow,
    FlipDetails,
    ForgettingDetails,
    ForgettingMatrix,
    HoldoutRow,
    NoChampionDetails,
    RegressionDetails,
)

if TYPE_CHECKING:
    from mlchecks.config import Thresholds

__all__ = [
    "CHECK_IDS",
    "HoldoutPair",
    "Paired",
    "accuracy_check",
    "bootstrap_delta",
    "detectable_drop",
    "flip_rate_check",
    "forgetting_check",
    "holm",
    "mcnemar_worse",
    "no_champion_checks",
    "paired",
    "per_class_check",
]

CHECK_IDS = (
    "regression.accuracy",
    "regression.per_class",
    "regression.flip_rate",
    "regression.forgetting",
)
POWER = 0.8
N_BOOT = 10_000
MAX_LISTED_FLIPS = 1_000  # flipped indices listed in details; the count is always exact


# --------------------------------------------------------------------------- statistics
@dataclasses.dataclass(frozen=True, eq=False)
class Paired:
    """Two models' correct masks on the same samples.

    Attributes:
        base: the reference model's correct mask (champion, or best earlier version).
        cand: the candidate's correct mask, same length and order.
    """

    base: np.ndarray
    cand: np.ndarray

    def __post_init__(self) -> None:
        if self.base.shape != self.cand.shape or self.base.ndim != 1:
            msg = (
                f"paired comparison needs two 1-D masks of the same length; received "
                f"{self.base.shape} and {self.cand.shape}"
            )
            raise ValueError(msg)

    @property
    def n(self) -> int:
        return int(self.base.shape[0])

    @property
    def negative(self) -> np.ndarray:
        """Indices the reference got right and the candidate gets wrong (negative flips)."""
        return np.flatnonzero(self.base & ~self.cand)

    @property
    def positive(self) -> np.ndarray:
        """Indices the reference got wrong and the candidate gets right."""
        return np.flatnonzero(~self.base & self.cand)

    @property
    def b(self) -> int:
        return int((self.base & ~self.cand).sum())

    @property
    def c(self) -> int:
        return int((~self.base & self.cand).sum())

    @property
    def base_accuracy(self) -> float:
        return float(self.base.mean()) if self.n else float("nan")

    @property
    def cand_accuracy(self) -> float:
        return float(self.cand.mean()) if self.n else float("nan")

    @property
    def delta(self) -> float:
        """Candidate minus reference accuracy (fraction; negative = worse)."""
        return (self.c - self.b) / self.n if self.n else 0.0

    @property
    def discordance(self) -> float:
        return (self.b + self.c) / self.n if self.n else 0.0


def paired(base_correct: np.ndarray, cand_correct: np.ndarray) -> Paired:
    """A :class:`Paired` from two correct masks (anything ``np.asarray(..., bool)`` accepts)."""
    return Paired(np.asarray(base_correct, dtype=bool), np.asarray(cand_correct, dtype=bool))


def mcnemar_worse(b: int, c: int) -> float:
    """One-sided exact McNemar p-value for "the candidate is worse".

    Under the null hypothesis a discordant pair is equally likely to go either way, so the
    number of negative flips ``b`` among ``b + c`` discordant pairs is Binomial(b + c, 1/2).

    Example:
        >>> round(mcnemar_worse(9, 1), 4)
        0.0107
        >>> mcnemar_worse(0, 0)
        1.0
    """
    d = b + c
    if d == 0 or b == 0:
        return 1.0
    return float(_binom().sf(b - 1, d, 0.5))


def bootstrap_delta(
    b: int, c: int, n: int, quantiles: Sequence[float], n_boot: int = N_BOOT, seed: int = 0
) -> np.ndarray:
    """Quantiles of the paired-bootstrap distribution of the accuracy delta.

    Resampling n pairs with replacement only changes how many negative and positive flips the
    sample holds, so the bootstrap is drawn exactly as a multinomial over (negative, positive,
    concordant): the same distribution as index resampling, in O(n_boot) instead of
    O(n_boot * n).
    """
    if n <= 0:
        return np.zeros(len(quantiles))
    rng = np.random.default_rng(seed)
    # multinomial(n, (b, c, rest) / n) drawn as two binomials: same law, a few times faster
    neg = rng.binomial(n, b / n, size=n_boot)
    rest = 1.0 - b / n
    pos = rng.binomial(n - neg, min(1.0, (c / n) / rest) if rest > 0 else 0.0)
    deltas = (pos - neg) / n
    return np.quantile(deltas, np.asarray(quantiles, dtype=float))


def _critical(d: np.ndarray, alpha: float) -> np.ndarray:
    """For each count of discordant pairs, the fewest negative flips McNemar calls significant."""
    crit = _binom().ppf(1.0 - alpha, d, 0.5) + 1
    # ppf works on a grid of floats: make sure sf(crit - 1) <= alpha exactly.
    too_low = _binom().sf(crit - 1, d, 0.5) > alpha
    return np.where(too_low, crit + 1, crit).astype(np.int64)


@functools.lru_cache(maxsize=64)
def _critical_table(n: int, alpha: float) -> np.ndarray:
    out = _critical(np.arange(n + 1), alpha)
    out.flags.writeable = False
    return out


def _critical_counts(lo: int, hi: int, n: int, alpha: float) -> np.ndarray:
    # Small holdouts (classes, digits) reuse one table; large ones compute the slice needed.
    if n <= 5000:
        return _critical_table(n, alpha)[lo : hi + 1]
    return _critical(np.arange(lo, hi + 1), alpha)


def rejection_power(n: int, drop: float, discordance: float, alpha: float) -> float:
    """Probability that the one-sided exact McNemar test at ``alpha`` flags a true ``drop``.

    Args:
        n: samples in the holdout.
        drop: true accuracy drop (fraction, > 0).
        discordance: true share of discordant samples; raised to ``drop`` when smaller
            (a drop needs at least that many disagreements).
        alpha: significance level.
    """
    if n <= 0 or drop <= 0:
        return 0.0
    psi = min(1.0, max(discordance, drop))
    q = min(1.0, (psi + drop) / (2 * psi))  # P(a discordant pair is a negative flip)
    # Only counts of discordant pairs within 12 sd of the mean carry probability mass.
    sd = math.sqrt(n * psi * (1 - psi))
    lo = max(0, math.floor(n * psi - 12 * sd - 2))
    hi = min(n, math.ceil(n * psi + 12 * sd + 2))
    d = np.arange(lo, hi + 1)
    crit = _critical_counts(lo, hi, n, alpha)
    pmf = _binom().pmf(d, n, psi)
    hit = np.where(crit <= d, _binom().sf(crit - 1, d, q), 0.0)
    return float((pmf * hit).sum())


@functools.lru_cache(maxsize=4096)
def detectable_drop(n: int, discordance: float, alpha: float, power: float = POWER) -> float:
    """Smallest true accuracy drop (fraction) this holdout detects with ``power``.

    Assumes the models keep disagreeing on the observed share of samples (``discordance``),
    or more when the drop itself needs more. Returns ``1.0`` when no drop is detectable.

    Example:
        >>> round(detectable_drop(450, 0.02, 0.05), 3)
        0.017
    """
    if n <= 0 or rejection_power(n, 1.0, discordance, alpha) < power:
        return 1.0
    lo, hi = 0.0, 1.0
    while hi - lo > 2e-4:
        mid = (lo + hi) / 2
        if rejection_power(n, mid, discordance, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error rate control).

    Example:
        >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, (m - rank) * p[idx])
        adjusted[idx] = min(1.0, running)
    return adjusted


# --------------------------------------------------------------------------- the rule
@dataclasses.dataclass(frozen=True)
class Verdict:
    """The regression rule applied to one paired comparison."""

    regressed: bool
    drop: float  # reference minus candidate accuracy (fraction)
    p_value: float  # one-sided McNemar
    p_adjusted: float  # after Holm (equals p_value for a single test)
    lower: float  # one-sided 1 - alpha (adjusted) bootstrap lower bound of the delta
    ci: tuple[float, float]  # two-sided bootstrap interval of the delta at `confidence`
    mdd: float  # smallest drop detectable with 80% power
    margin: float  # fraction

    def to_json(self) -> dict[str, Any]:
        return {
            "regressed": self.regressed,
            "drop": self.drop,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "lower": self.lower,
            "ci": list(self.ci),
            "detectable_drop": self.mdd,
            "margin": self.margin,
        }


def judge(
    pair: Paired,
    margin: float,
    thresholds: Thresholds,
    p_adjusted: float | None = None,
    family: int = 1,
) -> Verdict:
    """Apply the configured rule to ``pair``.

    Args:
        pair: reference and candidate correct masks.
        margin: allowed drop, as a fraction.
        thresholds: ``regression_mode``, ``alpha`` and ``confidence``.
        p_adjusted: the Holm-adjusted p-value when ``pair`` is one of a family. Defaults to
            the raw p-value.
        family: number of comparisons in the family; the strict bound is Bonferroni-adjusted
            by it. Defaults to 1.
    """
    alpha, conf = thresholds.alpha, thresholds.confidence
    b, c, n = pair.b, pair.c, pair.n
    p = mcnemar_worse(b, c)
    p_adj = p if p_adjusted is None else p_adjusted
    tail = alpha / max(1, family)
    lower, lo, hi = bootstrap_delta(b, c, n, [tail, (1 - conf) / 2, (1 + conf) / 2])
    drop = -pair.delta
    mdd = detectable_drop(n, pair.discordance, alpha / max(1, family))
    if thresholds.regression_mode == "strict":
        regressed = bool(lower <= -margin)
    else:
        regressed = bool(p_adj <= alpha and drop > margin + 1e-12)
    return Verdict(regressed, drop, p, p_adj, float(lower), (float(lo), float(hi)), mdd, margin)


def _pp(x: float) -> str:
    return f"{x * 100:+.2f} pp"


def _power_text(v: Verdict, n: int) -> tuple[str, str | None]:
    """The power sentence and, when the holdout is too small for the margin, a warning."""
    if v.mdd >= 1.0:
        return f"with {n} samples no drop is detectable", (
            f"holdout of {n} samples is too small to detect any drop"
        )
    text = f"detects drops >= {v.mdd * 100:.2f} pp with 80% power"
    if v.mdd <= v.margin or v.margin <= 0:
        return text, None
    need = math.ceil(n * (v.mdd / v.margin) ** 2)
    warning = (
        f"holdout of {n} samples is too small to see the {v.margin * 100:g} pp margin (it "
        f"detects drops from {v.mdd * 100:.2f} pp); about {need} samples would"
    )
    return text, warning


def _rule_text(v: Verdict, thresholds: Thresholds) -> str:
    if thresholds.regression_mode == "strict":
        bound = 1 - thresholds.alpha
        return (
            f"strict: {bound:.0%} lower bound of the delta {_pp(v.lower)} "
            f"{'<=' if v.regressed else '>'} -{v.margin * 100:g} pp"
        )
    sig = "significant" if v.p_adjusted <= thresholds.alpha else "not significant"
    holm_text = "" if v.p_adjusted == v.p_value else f" (Holm {v.p_adjusted:.3g})"
    return (
        f"McNemar p={v.p_value:.3g}{holm_text} {sig} at {thresholds.alpha:g}, "
        f"drop {v.drop * 100:.2f} pp vs margin {v.margin * 100:g} pp"
    )


def _verdict_word(v: Verdict, thresholds: Thresholds) -> str:
    """The rule's verdict in two words, for the message (the figures are in the explanation)."""
    if thresholds.regression_mode == "strict":
        return "fails the strict bound" if v.regressed else "within the strict bound"
    return "significant" if v.p_adjusted <= thresholds.alpha else "not significant"


def _listed(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _flips(indices: np.ndarray) -> list[int]:
    return [int(i) for i in indices[:MAX_LISTED_FLIPS]]


# --------------------------------------------------------------------------- checks
def no_champion_checks(lineage: str, registry: str, model: str | None = None) -> list[CheckResult]:
    """One not-judged result per regression check id: nothing to compare with yet."""
    message = (
        f"not judged: no champion yet in lineage {lineage!r} of registry {registry}: absolute "
        "checks only; an accepted candidate becomes the first version"
    )
    return [
        CheckResult.not_judged(check_id, "regression", message, model=model,
                               details=NoChampionDetails(lineage=lineage))
        for check_id in CHECK_IDS
    ]  # fmt: skip


def accuracy_check(
    champion_correct: np.ndarray,
    candidate_correct: np.ndarray,
    *,
    thresholds: Thresholds,
    champion: str,
    model: str | None = None,
) -> CheckResult:
    """``regression.accuracy``: overall accuracy on the champion's holdout.

    Args:
        champion_correct: the champion's correct mask on its holdout.
        candidate_correct: the candidate's correct mask on the same samples.
        thresholds: margin ``max_accuracy_drop`` (pp), ``alpha``, ``regression_mode``.
        champion: the champion's version id (for messages).
        model: the model under test. Defaults to ``None``.
    """
    pair = paired(champion_correct, candidate_correct)
    margin = thresholds.max_accuracy_drop / 100
    v = judge(pair, margin, thresholds)
    power, warning = _power_text(v, pair.n)
    conf = f"{thresholds.confidence:.0%}"
    verdict = "REGRESSION" if v.regressed else "no regression"
    message = (
        f"{verdict}: accuracy {pair.cand_accuracy:.4f} vs champion {champion} "
        f"{pair.base_accuracy:.4f} on its holdout ({pair.n} samples): {_pp(pair.delta)}, "
        f"{_verdict_word(v, thresholds)}"
    )
    explanation = (
        f"{conf} CI [{_pp(v.ci[0])}, {_pp(v.ci[1])}]; {pair.b} negative / {pair.c} positive "
        f"flips; {_rule_text(v, thresholds)}; {power}"
    )
    details = RegressionDetails(**v.to_json(), champion=champion, n=pair.n,
                                champion_accuracy=pair.base_accuracy,
                                candidate_accuracy=pair.cand_accuracy, negative_flips=pair.b,
                                positive_flips=pair.c, mode=thresholds.regression_mode,
                                warning=warning, explanation=explanation)  # fmt: skip
    return CheckResult(
        "regression.accuracy", "regression", not v.regressed, pair.cand_accuracy,
        pair.base_accuracy - margin, message, model=model, details=details,
    )  # fmt: skip


def per_class_check(
    y_true: np.ndarray,
    champion_pred: np.ndarray,
    candidate_pred: np.ndarray,
    num_classes: int,
    *,
    thresholds: Thresholds,
    champion: str,
    class_names: Sequence[str] | None = None,
    model: str | None = None,
) -> CheckResult:
    """``regression.per_class``: recall of every class on the champion's holdout (Holm).

    Each class present in the holdout is a paired comparison of its samples; p-values are
    Holm-adjusted across those classes, the strict bound Bonferroni-adjusted.
    """
    y_true = np.asarray(y_true)
    base = np.asarray(champion_pred) == y_true
    cand = np.asarray(candidate_pred) == y_true
    names = list(class_names or [str(k) for k in range(num_classes)])
    margin = thresholds.max_class_recall_drop / 100
    present = [k for k in range(num_classes) if (y_true == k).any()]
    pairs = {k: paired(base[y_true == k], cand[y_true == k]) for k in present}
    adjusted = holm([mcnemar_worse(pairs[k].b, pairs[k].c) for k in present])
    rows: list[ClassRegressionRow] = []
    verdicts: dict[int, Verdict] = {}
    for k, p_adj in zip(present, adjusted, strict=True):
        pair = pairs[k]
        v = judge(pair, margin, thresholds, p_adjusted=float(p_adj), family=len(present))
        verdicts[k] = v
        rows.append(ClassRegressionRow(index=k, name=names[k] if k < len(names) else str(k),
                                       support=pair.n, champion_recall=pair.base_accuracy,
                                       candidate_recall=pair.cand_accuracy, delta=pair.delta,
                                       negative_flips=pair.b, positive_flips=pair.c,
                                       **v.to_json()))  # fmt: skip
    if not present:
        msg = "per-class comparison needs at least one labelled holdout sample"
        raise ValueError(msg)
    worst = min(present, key=lambda k: pairs[k].delta)
    failed = [k for k in present if verdicts[k].regressed]
    warnings = [k for k in present if _power_text(verdicts[k], pairs[k].n)[1]]

    def describe(k: int) -> str:
        pair, v = pairs[k], verdicts[k]
        return (
            f"recall of class {names[k]} {pair.cand_accuracy:.3f} vs {pair.base_accuracy:.3f} "
            f"({_pp(pair.delta)}, {pair.b} vs {pair.c} flips on {pair.n} samples; "
            f"{_rule_text(v, thresholds)})"
        )

    def brief(k: int) -> str:
        pair = pairs[k]
        return (
            f"class {names[k]} recall {pair.cand_accuracy:.3f} vs {pair.base_accuracy:.3f} "
            f"({_pp(pair.delta)}, {_verdict_word(verdicts[k], thresholds)})"
        )

    ordered = sorted(failed, key=lambda k: pairs[k].delta)
    if failed:
        message = f"REGRESSION against champion {champion}: {brief(ordered[0])}"
        if len(ordered) > 1:
            others = [names[k] for k in sorted(ordered[1:])]
            message += f"; {len(others)} more classes regressed: {_listed(others)}"
        explanation = "; ".join(describe(k) for k in ordered)
    else:
        message = f"no class regressed against champion {champion}; largest drop: {brief(worst)}"
        explanation = f"largest drop: {describe(worst)}"
    mdds = [verdicts[k].mdd for k in present]
    explanation += f"; per class detects drops >= {min(mdds) * 100:.1f}-{max(mdds) * 100:.1f} pp"
    warning = None
    if warnings:
        warning = (
            f"{len(warnings)} of {len(present)} classes have too few holdout samples to see the "
            f"{margin * 100:g} pp margin (e.g. class {names[warnings[0]]}: "
            f"{pairs[warnings[0]].n} samples)"
        )
    shown = min(failed, key=lambda k: pairs[k].delta) if failed else worst
    details = ClassRegressionDetails(champion=champion, classes=rows,
                                     failed=[names[k] for k in failed],
                                     mode=thresholds.regression_mode, margin=margin,
                                     warning=warning, explanation=explanation)  # fmt: skip
    return CheckResult(
        "regression.per_class", "regression", not failed, pairs[shown].cand_accuracy,
        pairs[shown].base_accuracy - margin, message, model=model, details=details,
    )  # fmt: skip


def flip_rate_check(
    champion_correct: np.ndarray,
    candidate_correct: np.ndarray,
    *,
    thresholds: Thresholds,
    champion: str,
    reseed_flip_rate: float | None = None,
    model: str | None = None,
) -> CheckResult:
    """``regression.flip_rate``: share of holdout samples the champion got right and the
    candidate gets wrong. Always reported with the flipped indices; gated only when
    ``max_flip_rate`` is configured.

    Args:
        reseed_flip_rate: the flip rate between reseeds of the same recipe, when known, for
            context. Defaults to ``None``.
    """
    pair = paired(champion_correct, candidate_correct)
    rate = pair.b / pair.n if pair.n else 0.0
    budget = thresholds.max_flip_rate
    passed = budget is None or rate <= budget
    text = (
        f"negative flip rate {rate:.4f} ({pair.b} of {pair.n} samples the champion {champion} got "
        f"right are now wrong)"
    )
    explanation = f"{pair.c} positive flips (wrong before, right now)"
    if reseed_flip_rate is not None:
        # the chance level of this figure: short enough to stay in the message too
        explanation += f"; reseeds of the same recipe flip {reseed_flip_rate:.4f}"
        text += f"; reseeds of the same recipe flip {reseed_flip_rate:.4f}"
    if budget is None:
        message = f"{text}; not gated (set --max-flip-rate to gate it)"
    else:
        message = f"{text}; {'within' if passed else 'EXCEEDS'} the budget {budget:.4f}"
    details = FlipDetails(champion=champion, n=pair.n, negative=_flips(pair.negative),
                          positive=_flips(pair.positive), negative_count=pair.b,
                          positive_count=pair.c,
                          positive_rate=pair.c / pair.n if pair.n else 0.0,
                          reseed_flip_rate=reseed_flip_rate,
                          explanation=explanation)  # fmt: skip
    return CheckResult(
        "regression.flip_rate", "regression", passed, rate, budget, message, model=model,
        severity="error" if budget is not None else "info", details=details,
    )  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False)
class HoldoutPair:
    """The candidate against the best earlier version on one earlier version's holdout.

    Attributes:
        holdout: holdout id.
        introduced_by: the version whose gate brought this holdout.
        first_accuracy: that version's accuracy on it when it was accepted (for backward
            transfer).
        best_version: the earlier version with the highest accuracy on it.
        best_correct: that version's correct mask.
        cand_correct: the candidate's correct mask.
    """

    holdout: str
    introduced_by: str
    first_accuracy: float
    best_version: str
    best_correct: np.ndarray
    cand_correct: np.ndarray


def forgetting_check(
    holdouts: Sequence[HoldoutPair],
    *,
    thresholds: Thresholds,
    matrix: dict[str, Any] | None = None,
    model: str | None = None,
) -> CheckResult:
    """``regression.forgetting``: the candidate on every earlier accepted version's holdout.

    Forgetting on a holdout = best earlier accuracy on it - the candidate's; judged by the same
    rule (margin ``max_forgetting``), Holm-adjusted across holdouts. Backward transfer =
    mean over holdouts of (candidate accuracy - accuracy of the version that brought the
    holdout, when it was accepted).

    Args:
        matrix: the forgetting matrix (versions x holdouts) for the report. Defaults to ``None``.
    """
    margin = thresholds.max_forgetting / 100
    if not holdouts:
        return CheckResult.not_judged("regression.forgetting", "regression",
                                      "forgetting not judged: no earlier holdout to check it on",
                                      model=model)  # fmt: skip
    pairs = [paired(h.best_correct, h.cand_correct) for h in holdouts]
    adjusted = holm([mcnemar_worse(p.b, p.c) for p in pairs])
    rows: list[HoldoutRow] = []
    failed: list[int] = []
    verdicts: list[Verdict] = []
    for i, (h, pair, p_adj) in enumerate(zip(holdouts, pairs, adjusted, strict=True)):
        v = judge(pair, margin, thresholds, p_adjusted=float(p_adj), family=len(pairs))
        verdicts.append(v)
        if v.regressed:
            failed.append(i)
        rows.append(HoldoutRow(holdout=h.holdout, introduced_by=h.introduced_by,
                               best_version=h.best_version, best_accuracy=pair.base_accuracy,
                               candidate_accuracy=pair.cand_accuracy,
                               forgetting=pair.base_accuracy - pair.cand_accuracy, n=pair.n,
                               negative_flips=pair.b, positive_flips=pair.c,
                               warning=_power_text(v, pair.n)[1], **v.to_json()))  # fmt: skip
    bwt = float(
        np.mean([p.cand_accuracy - h.first_accuracy for h, p in zip(holdouts, pairs, strict=True)])
    )
    worst = max(range(len(rows)), key=lambda i: pairs[i].base_accuracy - pairs[i].cand_accuracy)

    def describe(i: int) -> str:
        h, pair = holdouts[i], pairs[i]
        return (
            f"holdout of version {h.introduced_by}: {pair.cand_accuracy:.4f} vs best "
            f"{pair.base_accuracy:.4f} (version {h.best_version}), forgetting "
            f"{(pair.base_accuracy - pair.cand_accuracy) * 100:.2f} pp, {pair.b} vs {pair.c} "
            "flips; " + _rule_text(verdicts[i], thresholds)
        )

    def brief(i: int) -> str:
        h, pair = holdouts[i], pairs[i]
        return (
            f"the holdout of version {h.introduced_by}: {pair.cand_accuracy:.4f} vs best "
            f"{pair.base_accuracy:.4f} (version {h.best_version}), "
            f"{_pp(pair.cand_accuracy - pair.base_accuracy)}, "
            f"{_verdict_word(verdicts[i], thresholds)}"
        )

    if failed:
        message = f"FORGETTING on {brief(failed[0])}"
        if len(failed) > 1:
            more = [holdouts[i].introduced_by for i in failed[1:]]
            message += f"; and on {len(more)} more holdouts (of versions {_listed(more)})"
        explanation = "; ".join(describe(i) for i in failed)
    else:
        message = f"no forgetting on {len(rows)} earlier holdout(s); largest: {brief(worst)}"
        explanation = f"largest: {describe(worst)}"
    explanation += f"; backward transfer {bwt * 100:+.2f} pp"
    details = ForgettingDetails(
        holdouts=rows, backward_transfer=bwt, margin=margin,
        failed=[holdouts[i].holdout for i in failed],
        matrix=ForgettingMatrix.from_json(matrix, strict=True) if matrix is not None else None,
        warning=next((r.warning for r in rows if r.warning), None), explanation=explanation,
    )  # fmt: skip
    shown = failed[0] if failed else worst
    return CheckResult(
        "regression.forgetting", "regression", not failed, pairs[shown].cand_accuracy,
        pairs[shown].base_accuracy - margin, message, model=model, details=details,
    )  # fmt: skip


def _binom() -> Any:
    """scipy's binomial distribution, imported on first use: importing scipy.stats costs
    seconds and mlchecks is imported by every pytest run (the plugin)."""
    from scipy.stats import binom

    return binom
