"""Speed checks: ``speed.training`` (same-run A/B against the champion), and the recorded
figures ``speed.peak_memory``, ``speed.predict_latency``, ``speed.predict_throughput``.

Pure: figures and thresholds in, :class:`~mlchecks.result.CheckResult` out; no Keras, no timing
(the measurements are in :mod:`mlchecks.measure`).

``speed.training`` judges the user's cost, seconds per training step of the same batches,
measured for the candidate and the champion **in the same run**, interleaved
(:func:`mlchecks.measure.measure_ab`). Each round gives one paired ratio
``r = candidate seconds / champion seconds``; a load spell of the shared machine slows both
sides of a round, so it cancels in ``r``. The decision (:func:`paired_verdict`) is on the
median of ``r``:

- ``slower`` (fails): the one-sided lower confidence bound of the median is above
  ``1 + speed_tolerance`` (default 1.25: a step more than 25% slower, i.e. a throughput below
  1/1.25 = 0.8 of the champion's);
- ``within`` (passes): the upper bound is at or below ``1 + speed_tolerance``;
- ``undecided`` (passes, with a warning that says about how many rounds would decide).

The bounds are exact distribution-free order-statistic bounds (the inverted sign test): with
``n`` rounds, the lower bound is the ``k``-th smallest ratio where ``k - 1`` is the largest
count with ``P(Binomial(n, 1/2) <= k - 1) <= alpha``. They assume only that rounds are
independent; not normality, which load does not give: a burst that hits a few rounds of one
side makes heavy, skewed tails that move a mean and a t-interval but move an order statistic
by a few places only. The measurement looks at its rounds a few planned times (after 8, 16,
32, ... rounds) and stops when decided, so each look is a test at ``alpha / looks``
(Bonferroni): over all looks, a candidate at exactly the tolerance is rejected with
probability at most ``alpha``, and one exactly as fast as the champion far less often. A
candidate whose median round is faster than the champion's never fails: the lower bound is at
most the median.

Stored figures of the champion (its ``speed.training`` check from the registry, measured on
another day, maybe on another machine) and the fraction of the matmul peak are history,
shown in the details and the report, never the reference of a decision; without a champion
the figure is recorded and not judged.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from mlchecks.measure.speed import Speed
from mlchecks.result import CheckResult, MemoryDetails, SpeedDetails


def _figure(data: Mapping[str, Any] | None, key: str) -> float | None:
    """``key`` of a figures dict, or of a stored check's ``details`` / ``value``."""
    if not data:
        return None
    for source in (data, data.get("details") or {}):
        value = source.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
    if key == "normalised" and data.get("id") == "speed.training":
        value = data.get("value")
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
    return None


def _device_kind(data: Mapping[str, Any]) -> str | None:
    for source in (data, data.get("details") or {}):
        device = source.get("device")
        if isinstance(device, Mapping):
            return str(device.get("kind"))
        if isinstance(device, str):
            return device
    return None


# --- speed.training: the paired A/B decision ------------------------------------------------

#: Give up computing "rounds needed" beyond this many rounds (the ratio sits on the tolerance).
MAX_ROUNDS_NEEDED = 10_000


def _binom_half_cdf(k: int, n: int) -> float:
    """``P(Binomial(n, 1/2) <= k)``, exact for small ``n``, in log space for large ``n``."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if n <= 1000:
        return sum(math.comb(n, j) for j in range(k + 1)) / 2**n
    log_half = n * math.log(0.5)
    base = math.lgamma(n + 1)
    terms = [base - math.lgamma(j + 1) - math.lgamma(n - j + 1) + log_half for j in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _bound_rank(n: int, alpha: float) -> int:
    """The rank ``k`` (1-based) of the order-statistic bound of the median at level ``alpha``:
    the largest ``k`` with ``P(Binomial(n, 1/2) <= k - 1) <= alpha``; 0 when ``n`` rounds are
    too few for any bound."""
    k = 0
    while k < n and _binom_half_cdf(k, n) <= alpha:
        k += 1
    return k


def _rounds_needed(fraction: float, n: int, alpha: float) -> int | None:
    """Smallest number of rounds ``m > n`` at which ``fraction`` of them on the far side of the
    tolerance would be few enough to decide: ``P(Binomial(m, 1/2) <= floor(fraction * m)) <=
    alpha``. ``None``: no number up to :data:`MAX_ROUNDS_NEEDED` would (the median ratio sits
    on the tolerance)."""

    def decides(m: int) -> bool:
        return _binom_half_cdf(math.floor(fraction * m), m) <= alpha

    if fraction >= 0.5:
        return None
    lo = hi = n + 1
    while not decides(hi):
        if hi >= MAX_ROUNDS_NEEDED:
            return None
        lo, hi = hi + 1, min(MAX_ROUNDS_NEEDED, hi * 2)
    if hi - lo <= 256:  # exact: the first m that decides (the floor makes the tail step)
        return next(m for m in range(lo, hi + 1) if decides(m))
    while lo < hi:  # about: the tail shrinks with m, up to the floor's small steps
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decides(mid) else (mid + 1, hi)
    return hi


@dataclasses.dataclass(frozen=True)
class PairedVerdict:
    """The decision on per-round paired ratios (candidate seconds / champion seconds).

    Attributes:
        n: rounds.
        ratio: median ratio (> 1: the candidate's step is slower).
        lower: lower confidence bound of the median ratio (``None``: too few rounds).
        upper: upper confidence bound (``None``: too few rounds).
        limit: ``1 + tolerance``, the slowest ratio allowed.
        alpha: the level of each bound (``alpha / looks``).
        verdict: ``slower`` (fails), ``within`` or ``undecided``.
        rounds_needed: when undecided, about how many rounds at the same spread would decide
            (``None``: decided, or none would: the median is on the tolerance).
        within_fraction: fraction of rounds at or below ``limit``.
    """

    n: int
    ratio: float
    lower: float | None
    upper: float | None
    limit: float
    alpha: float
    verdict: str
    rounds_needed: int | None
    within_fraction: float

    @property
    def decided(self) -> bool:
        return self.verdict != "undecided"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _tolerance(tolerance: float) -> float:
    if isinstance(tolerance, bool) or not (
        isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0
    ):
        msg = f"speed_tolerance must be a number >= 0, e.g. 0.25 for 25%; got {tolerance!r}"
        raise ValueError(msg)
    return float(tolerance)


def paired_verdict(
    ratios: Sequence[float], tolerance: float = 0.25, *, alpha: float = 0.05, looks: int = 1
) -> PairedVerdict:
    """Judge per-round ratios ``candidate seconds / champion seconds`` against ``1 + tolerance``.

    Args:
        ratios: one positive ratio per interleaved round.
        tolerance: allowed slowdown of a training step, 0.25 = 25%. Defaults to 0.25.
        alpha: error rate over all looks of the rejection (and of the acceptance) of a
            candidate exactly at the tolerance. Defaults to 0.05.
        looks: how many times the measurement may look at its rounds (the planned looks,
            whether or not all happened); each bound is at ``alpha / looks``. Defaults to 1.

    Raises:
        ValueError: no rounds, a ratio that is not positive and finite, a bad tolerance,
            alpha or looks.

    Example:
        >>> paired_verdict([2.1, 1.9, 2.0, 2.2, 1.8, 2.05, 1.95, 2.0]).verdict
        'slower'
    """
    tolerance = _tolerance(tolerance)
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must be in (0, 0.5); got {alpha!r}")
    if isinstance(looks, bool) or not isinstance(looks, int) or looks < 1:
        raise ValueError(f"looks must be an integer >= 1; got {looks!r}")
    if not ratios:
        raise ValueError("speed.training needs at least one round of both models")
    if any(not (isinstance(r, int | float) and math.isfinite(r) and r > 0) for r in ratios):
        raise ValueError(f"per-round ratios must be positive finite numbers; got {list(ratios)}")
    level = alpha / looks
    logs = sorted(math.log(r) for r in ratios)
    n = len(logs)
    limit = 1.0 + tolerance
    threshold = math.log(limit)
    median = float(statistics.median(logs))
    k = _bound_rank(n, level)
    lower = math.exp(logs[k - 1]) if k else None
    upper = math.exp(logs[n - k]) if k else None
    within = sum(d <= threshold for d in logs)
    if k and logs[k - 1] > threshold and median > 0:  # the bound is <= the median: faster never
        verdict = "slower"
    elif k and logs[n - k] <= threshold:
        verdict = "within"
    else:
        verdict = "undecided"
    needed = None
    if verdict == "undecided":
        far = within / n if median > threshold else (n - within) / n
        needed = _rounds_needed(far, n, level)
    return PairedVerdict(n, math.exp(median), lower, upper, limit, level, verdict, needed,
                         within / n)  # fmt: skip


def _x(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}x"


def same_bytes_check(
    tolerance: float = 0.25,
    *,
    model: str | None = None,
    where: str = "",
    champion: str = "",
    current: Mapping[str, Any] | None = None,
) -> CheckResult:
    """``speed.training`` of a candidate whose file is byte-identical to the champion's.

    The same bytes are the same model, so the ratio of their training steps is 1 by identity;
    measuring it would only measure the machine's noise (and cost the gate a Keras import and two
    trainings). Passed, with value 1.0; deterministic.
    """
    details = {"tolerance": tolerance, "unit": "ratio of seconds per step"}
    if current is not None:
        details["current"] = dict(current)
    message = (
        f"training speed of {where or model}: same bytes (sha256) as champion {champion}, so the "
        f"same model: step-time ratio 1.00 by identity (limit {1 + tolerance:.2f}); not measured"
    )
    return CheckResult("speed.training", "speed", True, 1.0, 1.0 + tolerance, message,
                       model=model, details=SpeedDetails.from_json(details))  # fmt: skip


def ab_check(
    ratios: Sequence[float],
    tolerance: float = 0.25,
    *,
    alpha: float = 0.05,
    looks: int = 1,
    model: str | None = None,
    where: str = "",
    champion: str = "",
    measurement: Mapping[str, Any] | None = None,
    history: Mapping[str, Any] | None = None,
    current: Mapping[str, Any] | None = None,
) -> CheckResult:
    """``speed.training``: the candidate's training step against the champion's, same run.

    Pure: no Keras, no timing. The value is the median ratio of seconds per step (candidate /
    champion), the threshold ``1 + tolerance``; see :func:`paired_verdict` for the rule.

    Args:
        ratios: per-round ratios candidate seconds / champion seconds (same steps, batches).
        tolerance: allowed slowdown, 0.25 = 25%. Defaults to 0.25.
        alpha: see :func:`paired_verdict`. Defaults to 0.05.
        looks: planned looks of the measurement. Defaults to 1.
        model: the model name for the result. Defaults to None.
        where: ``"<model> on <data> [backend, device]"`` for the message. Defaults to "".
        champion: the champion's version, for the message. Defaults to "".
        measurement: the A/B measurement (:meth:`mlchecks.measure.ABRounds.to_json`): steps,
            batch size, seconds per round, compile settings; kept in the details. Defaults
            to None.
        history: the champion's stored ``speed.training`` check or figures, shown as
            history, never judged. Defaults to None.
        current: this run's figures of the candidate (:meth:`Speed.to_json`: samples/s of
            ``fit``, fraction of the matmul peak), for information. Defaults to None.

    Raises:
        ValueError: see :func:`paired_verdict`.

    Example:
        >>> ab_check([1.02, 0.98, 1.01, 0.99, 1.0, 1.03, 0.97, 1.0]).passed
        True
    """
    v = paired_verdict(ratios, tolerance, alpha=alpha, looks=looks)
    m = dict(measurement or {})
    name = f"champion {champion}" if champion else "the champion"
    steps, batch = m.get("steps"), m.get("batch_size")
    sizes = [s for s in m.get("round_steps") or () if isinstance(s, int)]
    if sizes and min(sizes) != max(sizes):
        steps = f"{min(sizes)}-{max(sizes)}"
    how = f"median of {v.n} interleaved rounds"
    if steps and batch:
        how += f" of {steps} steps of batch {batch}"
    how += ", same run"
    level = 1 - v.alpha * looks
    bounds = (
        f"bounds {_x(v.lower)}-{_x(v.upper)} at {level:.0%} over {looks} look(s)"
        if v.lower is not None else f"too few rounds for a bound at {level:.0%}"
    )  # fmt: skip
    head = (
        f"training step{' of ' + where if where else ''}: {v.ratio:.2f}x the seconds per step "
        f"of {name}"
    )
    explanation = f"{bounds}; {how}"
    allowed = f"the {v.limit:.2f}x allowed (speed_tolerance {tolerance:.0%})"
    warning = None
    if v.verdict == "slower":
        tail = f"slower than {allowed}"
    elif v.verdict == "within":
        tail = f"within {allowed}"
    else:
        more = (
            f"about {v.rounds_needed} rounds would decide"
            if v.rounds_needed is not None
            else f"no number of rounds up to {MAX_ROUNDS_NEEDED:,} would decide: its median "
            "ratio is on the tolerance"
        )
        budget = m.get("budget_s")
        spent = f" within the {budget:.1f} s budget" if isinstance(budget, int | float) else ""
        sized = m.get("budget") or {}
        need, cap = sized.get("min_rounds_s"), sized.get("max_budget_s")
        if isinstance(need, int | float) and isinstance(cap, int | float) and need > cap:
            more += (
                f"; {sized.get('min_rounds')} rounds of these steps take ~{need:.0f} s, above "
                f"speed_max_budget_s {cap:g} s"
            )
        warning = (
            f"speed.training undecided: {v.n} rounds{spent} cannot tell whether the candidate "
            f"is more than {tolerance:.0%} slower than {name} ({v.ratio:.2f}x); {more}"
        )
        tail = f"undecided against {allowed}, so not rejected; {warning}"
    champ: dict[str, Any] = {"version": champion or None}
    for key in ("champion_samples_per_s", "champion_step_s"):
        if isinstance(m.get(key), int | float):
            champ[key.removeprefix("champion_")] = m[key]
    if history:
        champ["stored"] = dict(history)
        stored = _figure(history, "normalised")
        if stored is not None:
            champ["normalised"] = stored
        rate = _figure(history, "samples_per_s")
        if rate is not None:
            champ["stored_samples_per_s"] = rate
    details: dict[str, Any] = {
        **v.to_json(),
        "rounds": v.n,
        "ci": [v.lower, v.upper],
        "alpha": alpha,
        "alpha_per_look": v.alpha,
        "looks": looks,
        "tolerance": tolerance,
        "throughput_ratio": 1 / v.ratio,
        "unit": "x champion's s/step",
        "method": "same-run A/B: interleaved rounds of the same batches; median of the paired "
        "ratios, exact sign-test bounds",
        "ratios": [float(r) for r in ratios],
        "samples_per_s": m.get("candidate_samples_per_s"),
        "champion": champ,
        "measurement": m,
        "warning": warning,
    }
    tail += f"; it trains at {1 / v.ratio:.2f}x the champion's samples/s"
    if current:
        details["current"] = dict(current)
        normalised = _figure(current, "normalised")
        if normalised is not None:
            details["normalised"] = normalised
    sized = m.get("budget") or {}
    if sized.get("raised"):
        explanation += (
            f"; budget raised from {sized['planned_s']:.1f} s to {m['budget_s']:.1f} s so that "
            f"{sized['min_rounds']} rounds fit these steps (at most speed_max_budget_s "
            f"{sized['max_budget_s']:g} s)"
        )
    elapsed = m.get("elapsed_s")
    if isinstance(elapsed, int | float):
        explanation += f"; the A/B took {elapsed:.1f} s of the run (warm-up included)"
    details["explanation"] = explanation
    return CheckResult("speed.training", "speed", v.verdict != "slower", v.ratio, v.limit,
                       f"{head}: {tail}", model, "error",
                       SpeedDetails.from_json(details, strict=True))  # fmt: skip


# --- recorded figures -----------------------------------------------------------------------


def _not_judged(message: str, value: float | None, model: str | None, details: dict[str, Any]
                ) -> CheckResult:  # fmt: skip
    return CheckResult.not_judged("speed.training", "speed", message, value=value, model=model,
                                  details=SpeedDetails.from_json(details, strict=True))  # fmt: skip


def speed_check(
    current: Mapping[str, Any],
    champion: Mapping[str, Any] | None = None,
    tolerance: float = 0.25,
    *,
    model: str | None = None,
    where: str = "",
    budget: str = "",
    reason: str = "",
) -> CheckResult:
    """``speed.training`` without a same-run A/B: the figure is recorded, not judged.

    Used when the lineage has no champion (``reason`` empty), or when the champion's model
    could not be measured in this run (``reason`` says why). A stored figure of the champion
    (``champion``: its figures or its stored ``speed.training`` check) was measured at another
    moment, maybe on another machine, so it is shown as history and never judged against: an
    identical model measured under load would look 50% slower.

    Pure: no Keras, no timing. ``current`` is :meth:`Speed.to_json` (key ``normalised``,
    optionally ``samples_per_s``, ``calibration``, ``device``).

    Args:
        current: this run's figures.
        champion: the champion's stored figures or check (history), or ``None``.
        tolerance: the configured ``speed_tolerance`` (validated, kept in the details).
            Defaults to 0.25.
        model: the model name for the result. Defaults to None.
        where: ``"<model> on <data> [backend, device]"`` for the message. Defaults to "".
        budget: what the measurement cost, appended to the message. Defaults to "".
        reason: why a lineage with a champion is not judged. Defaults to "" (no champion).

    Raises:
        ValueError: ``current`` has no finite ``normalised`` figure, or tolerance is negative.

    Example:
        >>> r = speed_check({"normalised": 0.18}, {"normalised": 0.25})
        >>> r.passed, r.message.startswith("not judged:")
        (True, True)
    """
    tolerance = _tolerance(tolerance)
    value = _figure(current, "normalised")
    if value is None:
        msg = f"speed figures need a finite 'normalised' value; got keys {sorted(current)}"
        raise ValueError(msg)
    rate = _figure(current, "samples_per_s")
    gflops = _figure(current.get("calibration") or {}, "gflops")
    figure = f"training throughput{' of ' + where if where else ''}: "
    figure += f"{rate:,.0f} samples/s = " if rate is not None else ""
    figure += f"{value:.2%} of this machine's float32 matmul rate"
    figure += f" ({gflops:.1f} GFLOP/s)" if gflops is not None else ""
    why = reason or "no champion yet"
    message = f"not judged: {why}; {figure} recorded"
    details: dict[str, Any] = {
        "normalised": value,
        "samples_per_s": rate,
        "tolerance": tolerance,
        "current": dict(current),
    }
    stored = _figure(champion, "normalised")
    if champion is not None:
        details["champion"] = dict(champion)
        if stored is not None:
            mine, theirs = _device_kind(current), _device_kind(champion)
            on = f" on {theirs}" if theirs and theirs != mine else ""
            message += (
                f"; the champion's stored figure, {stored:.2%}{on}, is history from another "
                "run, not a reference"
            )
    message += f"; {budget}" if budget else ""
    return _not_judged(message, value, model, details)


def info_check(
    speed: Speed, *, model: str | None = None, where: str = "", budget: str = ""
) -> CheckResult:
    """``speed.predict_latency`` / ``speed.predict_throughput``: recorded, never blocking.

    Batch-1 latency is dominated by per-call framework overhead, not FLOPs, so normalising it by
    the matmul rate says little; both predict figures are recorded for the report and the
    registry and do not gate.
    """
    tail = f"; {budget}" if budget else ""
    on = f" of {where}" if where else ""
    if speed.kind == "predict_latency":
        p50_ms, p95_ms = speed.median_s * 1e3, speed.p95_s * 1e3
        message = (
            f"predict latency{on} (batch 1): p50 {p50_ms:.2f} ms, p95 {p95_ms:.2f} ms over "
            f"{speed.rounds} calls; recorded, not judged{tail}"
        )
        return CheckResult(
            "speed.predict_latency",
            "speed",
            True,
            p50_ms,
            None,
            message,
            model,
            "info",
            SpeedDetails.from_json(
                {"p50_ms": p50_ms, "p95_ms": p95_ms, **speed.to_json()}, strict=True
            ),
        )
    if speed.kind == "predict_throughput":
        message = (
            f"predict throughput{on} (batch {speed.batch_size}): "
            f"{speed.samples_per_s:,.0f} samples/s = {speed.normalised:.2%} of the matmul "
            f"rate; recorded, not judged{tail}"
        )
        return CheckResult(
            "speed.predict_throughput",
            "speed",
            True,
            speed.samples_per_s,
            None,
            message,
            model,
            "info",
            SpeedDetails.from_json(speed.to_json(), strict=True),
        )
    msg = f"info_check takes predict_latency or predict_throughput figures, got {speed.kind!r}"
    raise ValueError(msg)


def memory_check(speed: Speed, *, model: str | None = None, where: str = "") -> CheckResult:
    """``speed.peak_memory``: peak memory while training (MiB); recorded, never blocking."""
    mem = speed.memory
    device_peak = mem.get("device_peak_mib")
    value = device_peak if device_peak is not None else mem.get("rss_peak_mib")
    what = "GPU memory" if device_peak is not None else "process resident memory"
    on = f" of {where}" if where else ""
    shown = f"{value:,.0f} MiB" if value is not None else "unknown"
    scope = "" if mem.get("scope") == "block" else " (process peak since start)"
    during = " beside its champion (the speed A/B)" if speed.source == "ab" else ""
    message = f"peak {what} while training{on}{during}: {shown}{scope}; recorded, not judged"
    return CheckResult(
        "speed.peak_memory",
        "speed",
        True,
        value,
        None,
        message,
        model,
        "info",
        MemoryDetails.from_json(mem, strict=True),
    )


def budget_text(speed: Speed) -> str:
    """How much the measurement cost, for check messages (the gate's speed budget)."""
    if speed.memoised:
        return (
            f"measured {speed.measured_at} on this machine, reused from the model cache "
            "(delete the cache entry to re-measure)"
        )
    if speed.kind == "training" and speed.source == "ab":
        return (
            f"taken from its side of the speed A/B ({speed.rounds} rounds, the median "
            f"seconds per train_on_batch step of each; fit's per-epoch costs left out), not "
            f"measured apart"
        )
    if speed.kind == "training":
        return (
            f"{speed.rounds} rounds x {speed.steps} steps of {speed.batch_size} after a "
            f"{speed.warmup_s:.2f} s warm-up epoch (compile ~{speed.compile_s:.2f} s); "
            f"{speed.elapsed_s:.1f} s of the run"
        )
    return f"{speed.rounds} calls after a warm-up; {speed.elapsed_s:.1f} s of the run"
