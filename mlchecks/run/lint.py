"""Training-setup lint: catch a broken model/loss/data set-up before any training.

The lint reads only the model's architecture and compile configuration (the JSON Keras stores
in a ``.keras`` file, or the same serialisation of an in-memory model) and the dataset. It never
trains or predicts, and on a ``.keras`` file it does not even import Keras, so ``mlchecks gate``
runs it first and rejects a broken set-up before a minute is spent training it.

Each rule has a stable check id (``setup.<kind>``) and yields at most one finding with a
severity, what is wrong, where (a layer name) and the fix:

==========================  ===================================================================
``setup.label_encoding``    sparse loss with one-hot labels, or categorical loss with class ids
``setup.output_units``      output units differ from the number of classes
``setup.from_logits``       softmax/sigmoid output with ``from_logits=True``, or raw logits with
                            ``from_logits=False``
``setup.input_shape``       model input shape incompatible with the data's sample shape
``setup.per_pixel_output``  a Dense head on an un-flattened image (one prediction per pixel)
``setup.label_range``       labels outside ``[0, units)``
``setup.binary_loss``       binary cross-entropy on multi-class labels
``setup.input_scale``       unscaled inputs (e.g. 0..255) and no rescaling layer (a warning)
==========================  ===================================================================

The origin article (``shared/seed``) has bugs of the kinds ``label_encoding`` (``to_categorical``
labels with ``sparse_categorical_crossentropy``), ``input_shape`` (a 32x32x3 CNN fed 28x28
MNIST) and ``per_pixel_output`` (``Dense`` directly on a ``(28, 28, 1)`` input).

No pytest import; Keras is imported only to serialise an in-memory model or build a builder.
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


