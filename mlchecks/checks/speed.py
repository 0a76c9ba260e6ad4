"""Speed measurement and machine calibration: throughput, latency, memory, normalised figures.

A raw samples/s figure recorded on one CI runner means little on the next one. Each figure here
is therefore measured together with a *calibration* taken in the same run on the same device:
the float32 matrix-multiply rate (GFLOP/s) of the machine. The *normalised* figure is

    model FLOPs/s ÷ calibration FLOPs/s  (the fraction of the machine's matmul peak the model uses)

with the model's FLOPs counted from its layers (:func:`count_flops`). The speed gate compares the
normalised training figure with the champion's (:func:`speed_check`), with a tolerance.

Timing is done by a *runner* ``(target, rounds, setup, teardown) -> [seconds per round]``:
:func:`time_rounds` (``time.perf_counter``) for scripts, ``benchmark.pedantic`` in the pytest
suite (see ``suites/test_speed.py``). The first call of every measurement is a warm-up that is
timed on its own (tracing/compilation plus one epoch or call) and never mixed into the rounds.
The calibration product runs untimed around the rounds (``setup``/``teardown``: around each
training round, once before and after the predict rounds), so each figure is divided by the
machine's speed at the time it was measured.

No pytest here; Keras and the backend are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlchecks.measure.speed import Speed
from mlchecks.result import CheckResult

if TYPE_CHECKING:

    pass

# --- checks ---------------------------------------------------------------------------------


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


def speed_check(
    current: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    tolerance: float = 0.25,
    *,
    model: str | None = None,
    where: str = "",
    budget: str = "",
) -> CheckResult:
    """``speed.training``: the normalised training throughput against the champion's.

    Pure: no Keras, no timing. ``current`` and ``champion`` are figures as produced by
    :meth:`Speed.to_json` (key ``normalised``, optionally ``samples_per_s``, ``calibration``,
    ``device``), or a stored ``speed.training`` check (``to_json()``; its ``value`` is the
    normalised figure). The candidate passes when its normalised figure is at least
    ``champion * (1 - tolerance)``. With no champion, or one measured on another kind of device
    (a GPU figure says nothing about a CPU one), the figure is recorded and not judged: the check
    passes with severity ``info`` and says so.

    Args:
        current: this run's figures.
        champion: the champion's recorded figures, or ``None``.
        tolerance: allowed relative slowdown, 0.25 = 25%. Defaults to 0.25.
        model: the model name for the result. Defaults to None.
        where: ``"<model> on <data> [backend, device]"`` for the message. Defaults to "".
        budget: what the measurement cost, appended to the message. Defaults to "".

    Raises:
        ValueError: ``current`` has no finite ``normalised`` figure, or tolerance is negative.

    Example:
        >>> speed_check({"normalised": 0.20}, {"normalised": 0.25}).passed   # -20% >= -25%
        True
        >>> speed_check({"normalised": 0.18}, {"normalised": 0.25}).passed   # -28%
        False
    """
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0):
        msg = f"speed_tolerance must be a number >= 0, e.g. 0.25 for 25%; got {tolerance!r}"
        raise ValueError(msg)
    value = _figure(current, "normalised")
    if value is None:
        msg = f"speed figures need a finite 'normalised' value; got keys {sorted(current)}"
        raise ValueError(msg)
    rate = _figure(current, "samples_per_s")
    gflops = _figure(current.get("calibration") or {}, "gflops")
    head = f"training throughput{' of ' + where if where else ''}: "
    head += f"{rate:,.0f} samples/s = " if rate is not None else ""
    head += f"{value:.2%} of this machine's float32 matmul rate"
    head += f" ({gflops:.1f} GFLOP/s)" if gflops is not None else ""
    tail = f"; {budget}" if budget else ""
    details = {
        "normalised": value,
        "samples_per_s": rate,
        "tolerance": tolerance,
        "current": dict(current),
    }
    reference = _figure(champion, "normalised")
    if champion is None or reference is None or reference <= 0:
        return CheckResult(
            "speed.training",
            "speed",
            True,
            value,
            None,
            f"{head}; no champion: recorded, not judged{tail}",
            model,
            "info",
            details,
        )
    details["champion"] = dict(champion)
    mine, theirs = _device_kind(current), _device_kind(champion)
    if mine and theirs and mine != theirs:
        return CheckResult(
            "speed.training",
            "speed",
            True,
            value,
            None,
            f"{head}; champion was measured on {theirs}, this run on {mine}: not "
            f"comparable, recorded, not judged{tail}",
            model,
            "info",
            details,
        )
    floor = max(0.0, reference * (1.0 - tolerance))
    change = value / reference - 1.0
    passed = value >= floor
    verdict = ">=" if passed else "<"
    message = (
        f"{head}; {change:+.1%} against the champion's {reference:.2%} "
        f"({verdict} floor {floor:.2%}, tolerance -{tolerance:.0%}){tail}"
    )
    return CheckResult(
        "speed.training", "speed", passed, value, floor, message, model, "error", details
    )


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
            {"p50_ms": p50_ms, "p95_ms": p95_ms, **speed.to_json()},
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
            speed.to_json(),
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
    message = f"peak {what} while training{on}: {shown}{scope}; recorded, not judged"
    return CheckResult(
        "speed.peak_memory", "speed", True, value, None, message, model, "info", dict(mem)
    )


def budget_text(speed: Speed) -> str:
    """How much the measurement cost, for check messages (the gate's speed budget)."""
    if speed.memoised:
        return (
            f"measured {speed.measured_at} on this machine, reused from the model cache "
            "(delete the cache entry to re-measure)"
        )
    if speed.kind == "training":
        return (
            f"{speed.rounds} rounds x {speed.steps} steps of {speed.batch_size} after a "
            f"{speed.warmup_s:.2f} s warm-up epoch (compile ~{speed.compile_s:.2f} s); "
            f"{speed.elapsed_s:.1f} s of the run"
        )
    return f"{speed.rounds} calls after a warm-up; {speed.elapsed_s:.1f} s of the run"


