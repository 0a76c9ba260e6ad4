"""Behaviour properties of a trained model, searched with Hypothesis (``behaviour.*``).

==========================  ===================================================================
``behaviour.simplex``       outputs are probabilities: finite, in [0, 1], rows summing to 1
``behaviour.batch_size``    predictions do not depend on the batch size
``behaviour.order``         predictions do not depend on the order of a batch
``behaviour.round_trip``    a ``.keras`` save/load round trip gives bit-identical predictions
``behaviour.noise``         noise within ``noise_scale`` x the data's range flips at most
                            ``max_noise_flip_rate`` of the confident test predictions
==========================  ===================================================================

Inputs come from :mod:`mlchecks.strategies` (real test samples and made-up inputs in the data's
range). Runs are deterministic: Hypothesis is derandomized, keeps no example database and has no
deadline (model calls vary in time on a busy CI runner), so the same model gives the same result
on every run. The suites and the gate search :data:`EXAMPLES` examples per property, a small
number on purpose: the default gate stays well under its time budget (about 1-3 s per model on
digits here), and the result of a model trained by mlchecks is memoised in its cache entry
(:func:`run_check`), so a warm gate neither searches again nor loads the model. Call the
functions here with a larger ``examples`` in your own tests for a deeper search.

Keras is only touched through the model object passed in (and
:func:`mlchecks.model.training.load_model` for the round trip); no pytest import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import tempfile
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.result import BehaviourDetails, CheckResult

if TYPE_CHECKING:
    import keras
    from hypothesis import settings as HypothesisSettings
    from hypothesis.strategies import SearchStrategy

    from mlchecks.config import ModelSpec, Thresholds
    from mlchecks.data import Dataset
    from mlchecks.run.session import Session

__all__ = [
    "EXAMPLES",
    "PROPERTIES",
    "batch_size",
    "check",
    "hypothesis_settings",
    "noise",
    "order",
    "round_trip",
    "run_check",
    "simplex",
]

PROPERTIES = ("simplex", "batch_size", "order", "round_trip", "noise")
EXAMPLES = 10  # per property, in the suites and the gate (see the module docstring)
SIMPLEX_TOL = 1e-3  # float32 softmax rows sum to 1 within ~1e-6
BATCH_TOL = 1e-5  # relative to the output scale: batch size changes float summation order
CONFIDENT = 0.9  # "confident prediction" for behaviour.noise
MAX_NOISE_SAMPLES = 1000  # confident test samples perturbed per example (subsampled beyond)
CHUNK = 256
FORMAT = 4  # bump when a check's definition changes: invalidates memoised results (2: status,
# 3: short messages, details.explanation, 4: examples without Hypothesis' local constants)


def hypothesis_settings(examples: int = EXAMPLES, *, shrink: bool = True) -> HypothesisSettings:
    """Deterministic Hypothesis settings: derandomized, no database, no deadline.

    Args:
        examples: examples to try. Defaults to :data:`EXAMPLES`.
        shrink: shrink a counterexample to a minimal one. Defaults to True.
    """
    from hypothesis import HealthCheck, Phase, settings

    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ())
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def _predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Outputs of ``model`` on ``x``, without ``model.predict``'s per-call set-up cost."""
    from mlchecks._util.quiet import backend_warnings

    with backend_warnings():
        if x.shape[0] <= CHUNK:
            return np.asarray(model.predict_on_batch(x))
        return np.concatenate(
            [np.asarray(model.predict_on_batch(x[i : i + CHUNK])) for i in range(0, len(x), CHUNK)]
        )


def _search(
    strategy: SearchStrategy[Any],
    violated: Callable[[Any], bool],
    examples: int,
    shrink: bool = True,
) -> Any | None:
    """The (shrunk) first example violating the property, or None when none was found."""
    from hypothesis import find
    from hypothesis.errors import NoSuchExample

    with _without_local_constants():
        try:
            return find(strategy, violated, settings=hypothesis_settings(examples, shrink=shrink))
        except NoSuchExample:
            return None


@contextlib.contextmanager
def _without_local_constants() -> Iterator[None]:
    """Hypothesis mixes constants found in the *local* modules imported so far (files outside
    site-packages: the user's project, an editable install) into what it generates, so with
    ``derandomize`` on, the examples still depended on what else the process had imported, and a
    verdict could change with the import order. The searches run without them: generated
    examples are a function of the strategy and the seed alone. (Hypothesis has no setting for
    this; where its internals differ, nothing is changed.)"""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - another Hypothesis layout
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(getattr(providers, "CONSTANTS_CACHE", None), "cache", None)
    if original is None or not hasattr(providers, "Constants") or cache is None:
        yield
        return
    empty = providers.Constants()
    providers._get_local_constants = lambda: empty
    cache.clear()  # it holds permitted constants computed with the local ones
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()


def _name(model: Any, name: str | None) -> str:
    return name or str(getattr(model, "name", "model"))


def _result(
    prop: str,
    passed: bool,
    value: float | None,
    threshold: float | None,
    message: str,
    model: str,
    details: BehaviourDetails,
) -> CheckResult:
    if value is not None and not math.isfinite(value):
        details = dataclasses.replace(details, value="inf" if value > 0 else "nan")
        value = None
    return CheckResult(f"behaviour.{prop}", "behaviour", passed, value, threshold, message,
                       model=model, details=details)  # fmt: skip


def _not_judged(
    prop: str, threshold: float | None, reason: str, model: str, details: BehaviourDetails
) -> CheckResult:
    return CheckResult.not_judged(f"behaviour.{prop}", "behaviour", reason, threshold=threshold,
                                  model=model, details=details)  # fmt: skip


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _failed_call(prop: str, name: str, exc: Exception, details: BehaviourDetails) -> CheckResult:
    text = " ".join(str(exc).split())[:300]
    message = (
        f"{prop.replace('_', ' ')} check of {name} could not run: the model raised "
        f"{type(exc).__name__}: {_short(text)}"
    )
    return _result(prop, False, None, None, message, name,
                   dataclasses.replace(details, error=text, explanation=text))  # fmt: skip


# ----------------------------------------------------------------------------- simplex
def _simplex_error(p: np.ndarray) -> float:
    if p.ndim != 2 or p.shape[0] == 0:
        return math.inf if p.ndim != 2 else 0.0
    if not np.isfinite(p).all():
        return math.inf
    p = p.astype(np.float64)
    return float(max(np.abs(p.sum(axis=1) - 1.0).max(), -p.min(), p.max() - 1.0, 0.0))


def _describe_rows(p: np.ndarray) -> str:
    if p.ndim != 2:
        return f"outputs of shape {p.shape} instead of (batch, classes)"
    if not np.isfinite(p).all():
        return "non-finite outputs (NaN or inf)"
    sums = p.sum(axis=1)
    return (
        f"rows summing to {sums.min():.4g}..{sums.max():.4g} with outputs in "
        f"[{p.min():.4g}, {p.max():.4g}]"
    )


def simplex(
    model: keras.Model,
    dataset: Dataset,
    *,
    name: str | None = None,
    examples: int = EXAMPLES,
    reference: np.ndarray | None = None,
) -> CheckResult:
    """``behaviour.simplex``: outputs are probabilities on the test split and generated batches.

    Args:
        model: the Keras model.
        dataset: its data (schema for generated inputs; the test split).
        name: the model name in the result. Defaults to the Keras model's name.
        examples: Hypothesis examples. Defaults to :data:`EXAMPLES`.
        reference: the model's outputs on the test split, when already computed. Defaults to
            predicting them.
    """
    from mlchecks import strategies

    name = _name(model, name)
    details = BehaviourDetails(examples=examples, tolerance=SIMPLEX_TOL)
    try:
        ref = reference if reference is not None else _predict(model, dataset.x_test)
    except Exception as exc:  # a model that cannot predict its own test split
        return _failed_call("simplex", name, exc, details)
    worst = [_simplex_error(ref)]
    fix = "end the model with a softmax activation (or add keras.layers.Softmax())"
    if worst[0] > SIMPLEX_TOL:
        message = (
            f"outputs of {name} are not probabilities: on the {len(ref)} test samples it gives "
            f"{_describe_rows(ref)}; add a softmax"
        )
        details = dataclasses.replace(details, counterexample={"source": "test split"},
                                      explanation=fix)  # fmt: skip
        return _result("simplex", False, worst[0], SIMPLEX_TOL, message, name, details)

    def violated(batch: np.ndarray) -> bool:
        error = _simplex_error(_predict(model, batch))
        worst.append(error)
        return error > SIMPLEX_TOL

    try:
        found = _search(strategies.batches(dataset), violated, examples)
    except Exception as exc:
        return _failed_call("simplex", name, exc, details)
    value = max(worst)
    if found is None:
        message = (
            f"outputs of {name} are probabilities on {len(ref)} test samples and {examples} "
            f"generated batches (worst deviation {value:.2g} <= {SIMPLEX_TOL:g})"
        )
        return _result("simplex", True, value, SIMPLEX_TOL, message, name, details)
    out = _predict(model, found)
    details = dataclasses.replace(details, counterexample={
        "batch": len(found), "min": float(found.min()), "max": float(found.max())},
        explanation=fix)  # fmt: skip
    message = (
        f"outputs of {name} are not probabilities: a batch of {len(found)} inputs in "
        f"[{found.min():.3g}, {found.max():.3g}] gives {_describe_rows(out)}; add a softmax"
    )
    return _result("simplex", False, value, SIMPLEX_TOL, message, name, details)


# ----------------------------------------------------------------------------- batch, order
def _tolerance(reference: np.ndarray) -> float:
    scale = (
        float(np.abs(reference).max()) if reference.size and np.isfinite(reference).all() else 1.0
    )
    return BATCH_TOL * max(1.0, scale)


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return math.inf
    with np.errstate(invalid="ignore"):
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return float(np.nanmax(diff)) if diff.size else 0.0


def batch_size(
    model: keras.Model, dataset: Dataset, *, name: str | None = None, examples: int = EXAMPLES
) -> CheckResult:
    """``behaviour.batch_size``: a batch predicted whole equals it predicted in smaller chunks."""
    from hypothesis import strategies as st

    from mlchecks import strategies

    name = _name(model, name)
    worst = [0.0]
    tolerances: list[float] = []
    details = BehaviourDetails(examples=examples, tolerance=BATCH_TOL)

    def violated(case: tuple[np.ndarray, int]) -> bool:
        batch, chunk = case
        chunk = max(1, min(chunk, len(batch) - 1))
        whole = _predict(model, batch)
        parts = np.concatenate(
            [_predict(model, batch[i : i + chunk]) for i in range(0, len(batch), chunk)]
        )
        diff, tol = _max_diff(whole, parts), _tolerance(whole)
        worst.append(diff)
        tolerances.append(tol)
        return diff > tol

    strategy = st.tuples(strategies.batches(dataset, min_batch=2), st.integers(1, 15))
    try:
        found = _search(strategy, violated, examples)
    except Exception as exc:
        return _failed_call("batch_size", name, exc, details)
    value = max(worst)
    if found is None:
        message = (
            f"predictions of {name} do not depend on batch size: {examples} batches predicted "
            f"whole and in chunks differ by at most {value:.2g}"
        )
        return _result("batch_size", True, value, BATCH_TOL, message, name, details)
    batch, chunk = found
    chunk = max(1, min(chunk, len(batch) - 1))
    details = dataclasses.replace(details, counterexample={"batch": len(batch), "chunk": chunk},
                                  explanation="a layer uses batch statistics at inference (e.g. "
                                  "BatchNormalization called with training=True, or a custom "
                                  "layer reducing over the batch axis)")  # fmt: skip
    message = (
        f"predictions of {name} depend on batch size: a batch of {len(batch)} predicted whole and "
        f"in chunks of {chunk} differs by up to {value:.3g} (tolerance {tolerances[-1]:.2g})"
    )
    return _result("batch_size", False, value, BATCH_TOL, message, name, details)


def order(
    model: keras.Model, dataset: Dataset, *, name: str | None = None, examples: int = EXAMPLES
) -> CheckResult:
    """``behaviour.order``: permuting a batch permutes its predictions, nothing more."""
    from hypothesis import strategies as st

    from mlchecks import strategies

    name = _name(model, name)
    worst = [0.0]
    details = BehaviourDetails(examples=examples, tolerance=BATCH_TOL)

    def violated(case: tuple[np.ndarray, list[int]]) -> bool:
        batch, perm = case
        base = _predict(model, batch)
        shuffled = _predict(model, batch[np.asarray(perm)])
        diff = _max_diff(base[np.asarray(perm)], shuffled)
        worst.append(diff)
        return diff > _tolerance(base)

    strategy = strategies.batches(dataset, min_batch=2).flatmap(
        lambda b: st.tuples(st.just(b), st.permutations(list(range(len(b)))))
    )
    try:
        found = _search(strategy, violated, examples)
    except Exception as exc:
        return _failed_call("order", name, exc, details)
    value = max(worst)
    if found is None:
        message = (
            f"predictions of {name} do not depend on the order of a batch: {examples} permuted "
            f"batches agree within {value:.2g}"
        )
        return _result("order", True, value, BATCH_TOL, message, name, details)
    batch, perm = found
    details = dataclasses.replace(
        details, counterexample={"batch": len(batch), "permutation": list(perm)},
        explanation=f"the batch reordered as {list(perm)}; a layer mixes samples of a batch (a "
        "position-dependent or batch-reducing custom layer)",
    )  # fmt: skip
    message = (
        f"predictions of {name} depend on the order of a batch: reordering a batch of "
        f"{len(batch)} changes its predictions by up to {value:.3g}"
    )
    return _result("order", False, value, BATCH_TOL, message, name, details)


# ----------------------------------------------------------------------------- round trip
def round_trip(
    model: keras.Model,
    dataset: Dataset,
    *,
    name: str | None = None,
    examples: int = EXAMPLES,
    trusted: bool = False,
) -> CheckResult:
    """``behaviour.round_trip``: ``model.save`` then load predicts bit-identically.

    Compared on up to :data:`MAX_NOISE_SAMPLES` test samples and on generated batches.

    The reload uses the trust the user gave the model: Keras safe mode, unless ``trusted``
    (``--trust-candidate``, :attr:`ModelSpec.trusted`). Safe mode refuses code-carrying layers
    (``Lambda``), so an untrusted model with one fails here, as it would when the gate loads
    its file. A trusted one is reloaded with safe mode off: the code that runs then is the
    code the user's file already carried and the gate already ran when it loaded the file
    with the same trust, now written by this process to its own temporary folder; nothing
    from anywhere else is loaded.

    Args:
        model: the Keras model.
        dataset: its data.
        name: the model name in the result. Defaults to the Keras model's name.
        examples: Hypothesis examples. Defaults to :data:`EXAMPLES`.
        trusted: reload without safe mode (only for a model whose file was loaded trusted).
            Defaults to False.
    """
    from mlchecks import strategies
    from mlchecks.model.training import load_model

    name = _name(model, name)
    details = BehaviourDetails(examples=examples)
    x = dataset.x_test[:MAX_NOISE_SAMPLES]
    with tempfile.TemporaryDirectory(prefix="mlchecks-roundtrip-") as tmp:
        path = Path(tmp) / "model.keras"
        try:
            model.save(path)
            # this model, already in memory; the same trust as when its file was loaded
            loaded = load_model(path, safe_mode=not trusted, max_parameters=None)
        except Exception as exc:  # custom objects that do not serialise, unsafe layers...
            text = " ".join(str(exc).split())[:300]
            message = (
                f"{name} does not survive a .keras save/load round trip: {type(exc).__name__}: "
                f"{_short(text, 80)}"
            )
            advice = (
                f"{text}; register custom layers with keras.saving.register_keras_serializable "
                "and implement get_config"
            )
            return _result(
                "round_trip", False, None, 0.0, message, name,
                dataclasses.replace(details, error=text, explanation=advice),
            )  # fmt: skip
    try:
        before, after = _predict(model, x), _predict(loaded, x)
    except Exception as exc:
        return _failed_call("round_trip", name, exc, details)
    worst = [_max_diff(before, after)]
    if before.shape == after.shape:
        differing = int((before != after).reshape(len(x), -1).any(axis=1).sum())
    else:
        differing = len(x)
    fix = (
        "state outside the saved weights and config changes after loading (a custom layer's "
        "attribute set in __init__ or build must be a weight or part of get_config)"
    )
    if differing:
        details = dataclasses.replace(
            details, counterexample={"source": "test split", "differing": differing},
            explanation=fix,
        )  # fmt: skip
        message = (
            f"a .keras save/load round trip changes predictions of {name}: {differing} of "
            f"{len(x)} test samples differ, by up to {worst[0]:.3g}"
        )
        return _result("round_trip", False, worst[0], 0.0, message, name, details)

    def violated(batch: np.ndarray) -> bool:
        a, b = _predict(model, batch), _predict(loaded, batch)
        worst.append(_max_diff(a, b))
        return not np.array_equal(a, b)

    try:
        found = _search(strategies.batches(dataset), violated, examples, shrink=False)
    except Exception as exc:
        return _failed_call("round_trip", name, exc, details)
    value = max(worst)
    if found is None:
        message = (
            f"a .keras save/load round trip of {name} gives bit-identical predictions on "
            f"{len(x)} test samples and {examples} generated batches"
        )
        return _result("round_trip", True, value, 0.0, message, name, details)
    details = dataclasses.replace(details, counterexample={"batch": len(found)},
                                  explanation=fix)  # fmt: skip
    message = (
        f"a .keras save/load round trip changes predictions of {name} on a generated batch of "
        f"{len(found)} by up to {value:.3g}"
    )
    return _result("round_trip", False, value, 0.0, message, name, details)


# ----------------------------------------------------------------------------- noise
def noise(
    model: keras.Model,
    dataset: Dataset,
    *,
    scale: float = 0.05,
    budget: float = 0.02,
    name: str | None = None,
    examples: int = EXAMPLES,
    reference: np.ndarray | None = None,
) -> CheckResult:
    """``behaviour.noise``: small noise does not flip confident predictions beyond a budget.

    The confident test samples (top probability >= :data:`CONFIDENT`) are perturbed by one
    noise pattern drawn by Hypothesis, each value within ``±scale`` x the data's value range,
    then clipped to that range; at most ``budget`` of their predicted classes may change.

    Args:
        model: the Keras model.
        dataset: its data.
        scale: noise amplitude as a fraction of the value range. Defaults to 0.05.
        budget: largest tolerated fraction of flipped confident predictions. Defaults to 0.02.
        name: the model name in the result. Defaults to the Keras model's name.
        examples: Hypothesis examples (noise patterns). Defaults to :data:`EXAMPLES`.
        reference: the model's outputs on the test split. Defaults to predicting them.
    """
    from mlchecks import strategies

    name = _name(model, name)
    lo, hi = strategies.value_range(dataset)
    details = BehaviourDetails(
        examples=examples, scale=scale, amplitude=scale * (hi - lo), confident_at=CONFIDENT
    )
    try:
        ref = reference if reference is not None else _predict(model, dataset.x_test)
    except Exception as exc:
        return _failed_call("noise", name, exc, details)
    if _simplex_error(ref) > SIMPLEX_TOL:
        message = (
            f"noise robustness of {name} not judged: its outputs are not probabilities "
            "(see behaviour.simplex)"
        )
        return _not_judged("noise", budget, message, name, details)
    confident = np.flatnonzero(ref.max(axis=1) >= CONFIDENT)
    if len(confident) > MAX_NOISE_SAMPLES:  # a fixed subsample keeps runs repeatable
        confident = np.sort(np.random.default_rng(0).choice(confident, MAX_NOISE_SAMPLES, False))
    details = dataclasses.replace(details, confident=len(confident))
    if len(confident) == 0:
        message = (
            f"noise robustness of {name} not judged: no confident test prediction (none has a "
            f"top probability >= {CONFIDENT:g})"
        )
        return _not_judged("noise", budget, message, name, details)
    x = dataset.x_test[confident]
    base = ref[confident].argmax(axis=1)
    worst = [0.0]

    def violated(delta: np.ndarray) -> bool:
        noisy = np.clip(x + delta, lo, hi).astype(x.dtype, copy=False)
        rate = float((_predict(model, noisy).argmax(axis=1) != base).mean())
        worst.append(rate)
        return rate > budget

    try:
        found = _search(strategies.perturbations(dataset, scale=scale), violated, examples,
                        shrink=False)  # fmt: skip
    except Exception as exc:
        return _failed_call("noise", name, exc, details)
    value = max(worst)
    amplitude = f"±{scale:g} of the value range (±{scale * (hi - lo):.3g})"
    if found is None:
        message = (
            f"noise within {amplitude} flips at most {value:.2%} of the {len(x)} confident test "
            f"predictions of {name} (budget {budget:.2%}; {examples} noise patterns)"
        )
        return _result("noise", True, value, budget, message, name, details)
    details = dataclasses.replace(details, counterexample={
        "min": float(found.min()), "max": float(found.max()),
        "mean_abs": float(np.abs(found).mean())},
        explanation=f"a noise pattern with values in [{found.min():.3g}, {found.max():.3g}]; "
        "train with noise/augmentation or regularise, or raise max_noise_flip_rate if this "
        "sensitivity is acceptable")  # fmt: skip
    message = (
        f"noise within {amplitude} flips {value:.2%} of the {len(x)} confident test predictions "
        f"of {name}, above the budget of {budget:.2%}"
    )
    return _result("noise", False, value, budget, message, name, details)


# ----------------------------------------------------------------------------- dispatch
def check(
    prop: str,
    model: keras.Model,
    dataset: Dataset,
    thresholds: Thresholds | None = None,
    *,
    name: str | None = None,
    examples: int = EXAMPLES,
    reference: np.ndarray | None = None,
    trusted: bool = False,
) -> CheckResult:
    """Run one property of :data:`PROPERTIES` (``noise`` reads its scale and budget from
    ``thresholds``; defaults to the Thresholds defaults; ``trusted``: see :func:`round_trip`)."""
    if prop == "simplex":
        return simplex(model, dataset, name=name, examples=examples, reference=reference)
    if prop == "batch_size":
        return batch_size(model, dataset, name=name, examples=examples)
    if prop == "order":
        return order(model, dataset, name=name, examples=examples)
    if prop == "round_trip":
        return round_trip(model, dataset, name=name, examples=examples, trusted=trusted)
    if prop == "noise":
        from mlchecks.config import Thresholds

        t = thresholds or Thresholds()
        return noise(model, dataset, scale=t.noise_scale, budget=t.max_noise_flip_rate, name=name,
                     examples=examples, reference=reference)  # fmt: skip
    msg = f"unknown behaviour property {prop!r}; expected one of {PROPERTIES}"
    raise ValueError(msg)


def memo_key(prop: str, name: str, fingerprint: str, thresholds: Thresholds, examples: int) -> str:
    """What a memoised result depends on besides the model file itself."""
    params: dict[str, Any] = {"examples": examples}
    if prop == "noise":
        params.update(scale=thresholds.noise_scale, budget=thresholds.max_noise_flip_rate)
    try:
        hypothesis_version = metadata.version("hypothesis")
    except metadata.PackageNotFoundError:  # pragma: no cover - a declared dependency
        hypothesis_version = "missing"
    payload = {"check": f"behaviour.{prop}", "format": FORMAT, "model": name,
               "data": fingerprint, "params": params, "hypothesis": hypothesis_version}  # fmt: skip
    return json.dumps(payload, sort_keys=True)


def run_check(
    session: Session, spec: ModelSpec, prop: str, *, examples: int = EXAMPLES
) -> CheckResult:
    """One property for one configured model of ``session``, memoised in its cache entry.

    The result is a pure function of the model file, the data, the parameters and the Hypothesis
    version (derandomized search), so it is stored as JSON beside the cached model: a warm run
    returns it without loading the model or importing Keras. Saved candidates (no cache entry)
    are searched every time.
    """
    from mlchecks._util.io import try_write as save_memo
    from mlchecks.checks.accuracy import inputs_not_finite

    dataset = session.dataset
    unjudged = inputs_not_finite(f"behaviour.{prop}", "behaviour", dataset, model=spec.name,
                                 trained_here=not spec.is_file)  # fmt: skip
    if unjudged is not None:  # NaN/inf inputs: the data's fault (data.finite), not the model's
        return unjudged
    trained = session.model(spec)
    thresholds = session.settings.thresholds
    key = memo_key(prop, spec.name, dataset.fingerprint, thresholds, examples)
    memo = trained.memo_path(key, ".json")
    if memo is not None and memo.is_file():
        try:
            return CheckResult.from_json(json.loads(memo.read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            pass  # unreadable memo: search again
    reference = session.predictions(trained, "test") if prop in ("simplex", "noise") else None
    result = check(prop, trained.model, dataset, thresholds, name=spec.name, examples=examples,
                   reference=reference, trusted=spec.trusted)  # fmt: skip
    if memo is not None:
        text = json.dumps(result.to_json(), allow_nan=False)

        def write(path: Path) -> None:
            path.write_text(text)

        save_memo(memo, write)
    return result
