"""The training-setup lint of a run's models (``setup.*``), memoised per session: the gate
runs it before any training and the setup suite records its results.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from mlchecks.checks.setup import run
from mlchecks.result import CheckResult

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec
    from mlchecks.run.session import Session

# ----------------------------------------------------------------------------- sessions
_SESSION_RESULTS: weakref.WeakKeyDictionary[Session, dict[str, list[CheckResult]]] = (
    weakref.WeakKeyDictionary()
)


def run_spec(session: Session, spec: ModelSpec) -> list[CheckResult]:
    """Lint one configured model of ``session`` without training it; memoised per session.

    A saved model is loaded (a bad file is a :class:`ModelError`, exit 2) and linted from its
    file against the data's labels as unknown (they are its holdout, not its training labels).
    A builder is linted from its entry in the model cache when trained already (no Keras import),
    else built (not trained) once; mlchecks trains builders on class ids.
    """
    per_session = _SESSION_RESULTS.setdefault(session, {})
    if spec.name in per_session:
        return per_session[spec.name]
    dataset = session.dataset
    known = getattr(session, "_models", {}).get(spec.name)
    source: Any
    if spec.is_file:
        source, label_format = session.model(spec), "unknown"
    elif known is not None:
        source, label_format = known, "ids"
    else:
        from mlchecks.model.training import ModelCache, build

        settings = session.settings
        cache = ModelCache(settings.resolve(settings.cache_dir))
        entry = cache.root / cache.key(spec, dataset, settings.seed, settings.deterministic)
        cached = entry / "model.keras"
        source = cached if cached.is_file() else build(spec, dataset)
        label_format = "ids"
    results = run(source, dataset, name=spec.name, label_format=label_format)
    per_session[spec.name] = results
    return results


def run_session(session: Session) -> list[CheckResult]:
    """Lint every configured model of ``session`` (see :func:`run_spec`), before any training.

    ``mlchecks gate`` calls this first and rejects when a result blocks.
    """
    results: list[CheckResult] = []
    for spec in session.settings.models:
        results.extend(run_spec(session, spec))
    return results
