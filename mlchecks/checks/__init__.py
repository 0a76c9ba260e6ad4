"""The checks: pure functions from inputs and thresholds to :class:`~mlchecks.result.CheckResult`.

One module per category (``setup``, ``accuracy``, ``behaviour``, ``speed``, ``regression``; the
``data.*`` checks run through :mod:`mlchecks.data.expectations`). No session, registry, files or
pytest here. The accuracy checks, the ones most often reused in a project's own tests, are
re-exported: ``from mlchecks import checks; checks.accuracy_min(...)``.
"""

from mlchecks.checks.accuracy import (
    accuracy_class_recall,
    accuracy_ece,
    accuracy_loss,
    accuracy_min,
    accuracy_seeds,
)

__all__ = [
    "accuracy_class_recall",
    "accuracy_ece",
    "accuracy_loss",
    "accuracy_min",
    "accuracy_seeds",
]
