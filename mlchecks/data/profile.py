"""Per-sample summary statistics, data profiles, and drift between two profiles. Numpy only.

A *profile* is a small JSON-able summary of a :class:`~mlchecks.data.Dataset`: per split, the
row count, the label distribution, and a percentile sketch (101 quantiles) of four per-sample
statistics (``min``, ``max``, ``mean``, ``std`` of each sample's values). It is what a registry
stores next to a champion so that a later candidate's data can be compared with it by
:func:`drift` without keeping the champion's data.

Regenerate the shipped reference profile with::

    python -m mlchecks.data.profile digits > fixtures/profiles/digits.json
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.config.data_checks import DRIFT_METHODS, STATS
from mlchecks.errors import DataError
from mlchecks.result import CheckResult, DriftDetails, DriftRow

if TYPE_CHECKING:
    from mlchecks.data.dataset import Dataset

PROFILE_FORMAT = "mlchecks.data-profile"
PROFILE_VERSION = 1
SPLITS = ("train", "test")
LEVELS = np.linspace(0.0, 1.0, 101)  # the percentile sketch: 0th, 1st, ..., 100th
# Values per block of sample_stats: its temporaries (a float64 copy of the block, a finite mask,
# a contiguous copy for hashing) are a few times this many bytes x 8, about 20 MiB whatever the
# sample size. 8192 rows per block were 114 MiB of peak on MNIST rows (the peak phase of a gate
# on synthetic:70000) and 4x that on CIFAR rows.
BLOCK_VALUES = 2**20
HISTOGRAM_BINS = 20  # bins of the histograms a drift comparison keeps for the report
_EPS = 1e-4  # PSI smoothing for empty bins (the usual choice; keeps ln finite)


# ----------------------------------------------------------------------------- per-sample stats
def sample_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample statistics of ``x`` (samples on axis 0), computed block by block.

    Returns a dict of 1-D arrays, one entry per sample:
    ``min``, ``max``, ``mean``, ``std`` over the sample's finite values (NaN when it has none),
    ``nan`` and ``inf`` (counts of such values), and ``hash`` (int64 digest of the sample's
    values, ``-0.0`` and ``0.0`` alike, for duplicate detection).

    Args:
        x: numeric array of shape ``(N, ...)``.
    """
    n = int(x.shape[0]) if x.ndim else 0
    flat = x.reshape(n, -1) if n else np.zeros((0, 1), np.float32)
    out = {
        "min": np.empty(n, np.float64),
        "max": np.empty(n, np.float64),
        "mean": np.empty(n, np.float64),
        "std": np.empty(n, np.float64),
        "nan": np.empty(n, np.int64),
        "inf": np.empty(n, np.int64),
        "hash": np.empty(n, np.int64),
    }
    if flat.shape[1] == 0:  # samples without values: nothing to summarise
        for key in ("min", "max", "mean", "std"):
            out[key][:] = np.nan
        out["nan"][:] = out["inf"][:] = 0
        out["hash"][:] = 0
        return out
    rows_per_block = block_rows(flat.shape[1])
    for start in range(0, n, rows_per_block):
        stop = min(n, start + rows_per_block)
        block = flat[start:stop]
        if block.dtype.kind != "f":
            block = block.astype(np.float64)
        finite = np.isfinite(block)
        if finite.all():  # the usual case: no masking needed
            out["min"][start:stop] = block.min(axis=1)
            out["max"][start:stop] = block.max(axis=1)
            # float64 and two passes: exact enough for inputs with a large offset, and about
            # three times faster than ndarray.std(dtype=float64) on MNIST-sized blocks.
            wide = block.astype(np.float64)
            mean = wide.mean(axis=1)
            wide -= mean[:, None]
            out["mean"][start:stop] = mean
            out["std"][start:stop] = np.sqrt(np.einsum("ij,ij->i", wide, wide) / wide.shape[1])
            out["nan"][start:stop] = 0
            out["inf"][start:stop] = 0
        else:
            nan = np.isnan(block)
            count = finite.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                lo = np.where(finite, block, np.inf).min(axis=1).astype(np.float64)
                hi = np.where(finite, block, -np.inf).max(axis=1).astype(np.float64)
                zeroed = np.where(finite, block, 0).astype(np.float64)
                mean = zeroed.sum(axis=1) / count
                var = np.where(finite, (zeroed - mean[:, None]) ** 2, 0).sum(axis=1) / count
            empty = count == 0
            lo[empty] = hi[empty] = mean[empty] = var[empty] = np.nan
            out["min"][start:stop] = lo
            out["max"][start:stop] = hi
            out["mean"][start:stop] = mean
            out["std"][start:stop] = np.sqrt(var)
            out["nan"][start:stop] = nan.sum(axis=1)
            out["inf"][start:stop] = (~finite & ~nan).sum(axis=1)
        # + 0.0 maps -0.0 to 0.0 so that equal-looking samples hash alike.
        rows = np.ascontiguousarray(block + block.dtype.type(0))
        out["hash"][start:stop] = np.fromiter(
            (int.from_bytes(hashlib.blake2b(r, digest_size=8).digest(), "little", signed=True)
             for r in rows),
            np.int64,
            count=stop - start,
        )  # fmt: skip
    return out


def block_rows(values_per_sample: int) -> int:
    """Rows of one :func:`sample_stats` block: :data:`BLOCK_VALUES` values, at least one row."""
    return max(1, BLOCK_VALUES // max(1, int(values_per_sample)))


def label_shares(labels: np.ndarray, num_classes: int) -> list[float]:
    """Share of each class id among ``labels`` (ids beyond ``num_classes`` extend the list)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return [0.0] * num_classes
    valid = labels[(labels >= 0) & (labels == np.floor(labels))].astype(np.int64)
    counts = np.bincount(valid, minlength=num_classes)
    return [float(c) / labels.size for c in counts]


# ----------------------------------------------------------------------------- profiles
def profile(dataset: Dataset, stats: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> dict:
    """The JSON-able data profile of ``dataset`` (what :func:`drift` compares).

    Args:
        dataset: the data to summarise.
        stats: per split, the output of :func:`sample_stats`, when already computed.
            Defaults to computing it.

    Returns:
        ``{"format", "version", "name", "fingerprint", "input_shape", "num_classes",
        "splits": {"train"|"test": {"rows", "nonfinite_rows", "labels", "stats": {stat:
        [101 quantiles]}}}}``; quantiles of a statistic no sample has are ``null``.

    Example:
        >>> from mlchecks.data import load_dataset
        >>> p = profile(load_dataset("digits"))
        >>> p["splits"]["test"]["rows"], len(p["splits"]["test"]["stats"]["mean"])
        (450, 101)
    """
    splits: dict[str, Any] = {}
    for split in SPLITS:
        x = getattr(dataset, f"x_{split}")
        y = getattr(dataset, f"y_{split}")
        per = stats[split] if stats is not None else sample_stats(x)
        nonfinite = int(((per["nan"] + per["inf"]) > 0).sum())
        splits[split] = {
            "rows": int(x.shape[0]),
            "nonfinite_rows": nonfinite,
            "labels": [round(s, 6) for s in label_shares(y, dataset.num_classes)],
            "stats": {name: _sketch(per[name]) for name in STATS},
        }
    return {
        "format": PROFILE_FORMAT,
        "version": PROFILE_VERSION,
        "name": dataset.name,
        "fingerprint": dataset.fingerprint,
        "input_shape": list(dataset.input_shape),
        "num_classes": int(dataset.num_classes),
        "splits": splits,
    }


def _sketch(values: np.ndarray) -> list[float] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    return [float(f"{q:.7g}") for q in np.quantile(finite, LEVELS)]


def check_profile(data: Any, where: str) -> dict:
    """Validate a profile read from JSON (or a registry); raises DataError naming ``where``."""
    if not isinstance(data, Mapping) or data.get("format") != PROFILE_FORMAT:
        msg = (
            f'{where} is not an mlchecks data profile (no "format": "{PROFILE_FORMAT}"); '
            "write one with mlchecks.data.profile.profile(dataset)"
        )
        raise DataError(msg)
    if data.get("version") != PROFILE_VERSION:
        msg = (
            f"{where} is a data profile of version {data.get('version')!r}; this mlchecks reads "
            f"version {PROFILE_VERSION}: regenerate it with mlchecks.data.profile.profile(dataset)"
        )
        raise DataError(msg)
    splits = data.get("splits")
    for split in SPLITS:
        entry = splits.get(split) if isinstance(splits, Mapping) else None
        ok = (
            isinstance(entry, Mapping)
            and isinstance(entry.get("rows"), int)
            and isinstance(entry.get("labels"), list)
            and isinstance(entry.get("stats"), Mapping)
            and all(_is_sketch(entry["stats"].get(s, None)) for s in entry["stats"])
        )
        if not ok:
            msg = (
                f"{where} lacks a valid splits.{split} entry (rows, labels, stats with 101 "
                "quantiles each); regenerate it with mlchecks.data.profile.profile(dataset)"
            )
            raise DataError(msg)
    return dict(data)


def _is_sketch(value: Any) -> bool:
    if value is None:
        return True
    return (
        isinstance(value, list)
        and len(value) == len(LEVELS)
        and all(isinstance(v, int | float) and math.isfinite(v) for v in value)
    )


def load_profile(path: Any) -> dict:
    """Read and validate a profile JSON file. Raises DataError when it is unusable."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        msg = f"data profile {path} cannot be read ({exc.strerror}); give an existing JSON file"
        raise DataError(msg) from None
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"data profile {path} is not valid JSON ({exc}); regenerate it"
        raise DataError(msg) from None
    return check_profile(data, f"data profile {path}")


# ----------------------------------------------------------------------------- drift
def _cdf(sketch: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The distribution function a percentile sketch describes, at ``values``.

    Right-continuous and linear between distinct quantiles, with point masses where quantiles
    repeat (e.g. a per-sample minimum that is 0 for most samples).
    """
    k = np.searchsorted(sketch, values, side="right")  # sketch points <= value
    last = len(sketch) - 1
    lo = np.clip(k - 1, 0, last)
    hi = np.clip(k, 0, last)
    span = sketch[hi] - sketch[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(span > 0, (values - sketch[lo]) / span, 0.0)
    cdf = (lo + frac) / last
    cdf = np.where(k == 0, 0.0, cdf)
    return np.where(k > last, 1.0, cdf)


def psi(expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray) -> float:
    """Population stability index of two share vectors (padded to equal length)."""
    size = max(len(expected), len(actual))
    e = np.zeros(size)
    a = np.zeros(size)
    e[: len(expected)] = expected
    a[: len(actual)] = actual
    e = np.clip(e, _EPS, None)
    a = np.clip(a, _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def stat_drift(reference: Sequence[float], current: Sequence[float]) -> tuple[float, float]:
    """PSI (on the reference's deciles) and KS distance of two percentile sketches."""
    ref = np.asarray(reference, np.float64)
    cur = np.asarray(current, np.float64)
    edges = np.unique(ref[10:-1:10])  # interior deciles; ties collapse into one edge
    bounds_ref = np.concatenate([[0.0], _cdf(ref, edges), [1.0]])
    bounds_cur = np.concatenate([[0.0], _cdf(cur, edges), [1.0]])
    value_psi = psi(np.diff(bounds_ref), np.diff(bounds_cur))
    points = np.union1d(ref, cur)
    value_ks = float(np.max(np.abs(_cdf(ref, points) - _cdf(cur, points))))
    return value_psi, value_ks


def histograms(
    reference: Sequence[float], current: Sequence[float], bins: int = HISTOGRAM_BINS
) -> dict[str, list[float]]:
    """Shares of samples per bin of two percentile sketches, on shared equal-width bins.

    Read off the sketches (no raw data): the report draws them overlaid. The first bin holds
    its lower edge. Returns ``{"edges": [bins + 1], "reference": [bins], "current": [bins]}``.
    """
    ref = np.asarray(reference, np.float64)
    cur = np.asarray(current, np.float64)
    lo, hi = float(min(ref[0], cur[0])), float(max(ref[-1], cur[-1]))
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)

    def shares(sketch: np.ndarray) -> list[float]:
        bounds = np.concatenate([[0.0], _cdf(sketch, edges[1:-1]), [1.0]])
        return [round(float(v), 5) for v in np.clip(np.diff(bounds), 0.0, 1.0)]

    return {"edges": [float(f"{e:.6g}") for e in edges], "reference": shares(ref),
            "current": shares(cur)}  # fmt: skip


def drift(
    reference: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    method: str = "psi",
    max_psi: float = 0.25,
    max_ks: float = 0.15,
    stats: Iterable[str] = STATS,
    labels: bool = True,
    current_stats: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    severity: str = "error",
) -> CheckResult:
    """``data.drift``: compare two data profiles split by split.

    Each per-sample statistic and the label distribution of every split is compared; the
    check fails when any comparison exceeds its threshold (``max_psi`` for ``method="psi"``,
    ``max_ks`` for ``method="ks"``; the other figure is reported too). Each comparison keeps
    the two distributions as small histograms (:func:`histograms`; label shares), kept in the
    details as ``histogram`` for the report.

    Args:
        reference: the profile to compare against (the champion's, or a stored one).
        current: the profile of the data under test (:func:`profile`).
        method: ``"psi"`` (population stability index on the reference's deciles) or ``"ks"``
            (largest distance between the two distribution functions). Defaults to ``"psi"``.
        max_psi: PSI above which a distribution has drifted. Defaults to 0.25 (the usual
            "significant shift" level).
        max_ks: KS distance above which a distribution has drifted. Defaults to 0.15.
        stats: which per-sample statistics to compare. Defaults to all of :data:`STATS`.
        labels: whether to compare label distributions too. Defaults to True.
        current_stats: per split, :func:`sample_stats` of the current data; when given, the
            message counts and names samples outside the reference's 1st-99th percentile range.
            Defaults to None.
        severity: severity of the result. Defaults to ``"error"``.

    Raises:
        DataError: a profile is malformed, or ``method`` is unknown.
    """
    if method not in DRIFT_METHODS:
        msg = f"drift method {method!r} is unknown; expected one of {DRIFT_METHODS}"
        raise DataError(msg)
    reference = check_profile(reference, "the reference profile")
    current = check_profile(current, "the current profile")
    threshold = max_psi if method == "psi" else max_ks
    ref_name = f"{reference.get('name')} ({reference.get('fingerprint')})"
    if list(reference.get("input_shape", [])) != list(current.get("input_shape", [])):
        message = (
            f"data drift not measurable: samples of shape {tuple(current.get('input_shape', []))}"
            f" vs {tuple(reference.get('input_shape', []))} in reference profile {ref_name}; "
            "see data.schema"
        )
        return CheckResult("data.drift", "data", False, None, threshold, message,
                           severity=severity, details=DriftDetails(reference=ref_name))  # fmt: skip
    rows: list[dict[str, Any]] = []
    for split in SPLITS:
        ref_split = reference["splits"][split]
        cur_split = current["splits"][split]
        for name in stats:
            ref_sketch = ref_split["stats"].get(name)
            cur_sketch = cur_split["stats"].get(name)
            if ref_sketch is None or cur_sketch is None:
                continue
            value_psi, value_ks = stat_drift(ref_sketch, cur_sketch)
            rows.append({"split": split, "what": f"per-sample {name}", "stat": name,
                         "psi": value_psi, "ks": value_ks,
                         "histogram": histograms(ref_sketch, cur_sketch)})  # fmt: skip
        if labels:
            value_psi = psi(ref_split["labels"], cur_split["labels"])
            value_ks = _share_ks(ref_split["labels"], cur_split["labels"])
            rows.append({"split": split, "what": "label distribution", "stat": None,
                         "psi": value_psi, "ks": value_ks,
                         "histogram": {"reference": list(ref_split["labels"]),
                                       "current": list(cur_split["labels"])}})  # fmt: skip
    for row in rows:
        row["drifted"] = row[method] > threshold
    worst = max((row[method] for row in rows), default=0.0)
    drifted = [row for row in rows if row["drifted"]]
    if not drifted:
        message = (
            f"no data drift against reference profile {ref_name}: largest {method.upper()} "
            f"{worst:.3f} <= {threshold:g} over {len(rows)} distributions"
        )
    else:
        parts = []
        for row in sorted(drifted, key=lambda r: -r[method])[:4]:
            other = "ks" if method == "psi" else "psi"
            part = (
                f"{row['split']}: {row['what']} {method.upper()} {row[method]:.3f} > "
                f"{threshold:g} ({other.upper()} {row[other]:.3f})"
            )
            outside = _outside(reference, row, current_stats)
            if outside is not None:
                count, total, lo, hi, examples = outside
                part += (
                    f", {count} of {total} samples outside the reference's 1st-99th "
                    f"percentile range [{lo:.4g}, {hi:.4g}], e.g. indices {examples}"
                )
                row["outside"] = count
                row["examples"] = examples
            parts.append(part)
        more = f" (+{len(drifted) - 4} more)" if len(drifted) > 4 else ""
        message = f"data drift against reference profile {ref_name}: " + "; ".join(parts) + more
    return CheckResult(
        id="data.drift",
        category="data",
        passed=not drifted,
        value=worst,
        threshold=threshold,
        message=message,
        severity=severity,
        details=DriftDetails(
            reference=ref_name,
            method=method,
            comparisons=[DriftRow.from_json(row, strict=True) for row in rows],
        ),
    )


def _share_ks(a: Sequence[float], b: Sequence[float]) -> float:
    size = max(len(a), len(b))
    ca = np.cumsum(np.pad(np.asarray(a, np.float64), (0, size - len(a))))
    cb = np.cumsum(np.pad(np.asarray(b, np.float64), (0, size - len(b))))
    return float(np.max(np.abs(ca - cb))) if size else 0.0


def _outside(
    reference: Mapping[str, Any],
    row: Mapping[str, Any],
    current_stats: Mapping[str, Mapping[str, np.ndarray]] | None,
) -> tuple[int, int, float, float, list[int]] | None:
    if current_stats is None or row["stat"] is None or row["split"] not in current_stats:
        return None
    sketch = reference["splits"][row["split"]]["stats"][row["stat"]]
    lo, hi = float(sketch[1]), float(sketch[99])
    values = current_stats[row["split"]][row["stat"]]
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero((values < lo) | (values > hi))
    return int(bad.size), int(values.size), lo, hi, bad[:5].tolist()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mlchecks.data.profile DATA``: print the profile of a dataset as JSON."""
    from mlchecks.data.dataset import load_dataset

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m mlchecks.data.profile DATA  (e.g. digits)", file=sys.stderr)
        return 2
    try:
        data = profile(load_dataset(args[0]))
    except DataError as exc:
        print(f"mlchecks: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
