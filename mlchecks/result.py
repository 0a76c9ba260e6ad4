"""Check results and the checks shared by the suites and the gate. No pytest, no keras.

A check is a function returning a :class:`CheckResult`; the suites record it (JUnit property,
terminal summary, gate decision) and fail when it did not pass. The same id means the same
check everywhere: report, ``--json`` and suites.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


CATEGORIES = ("setup", "data", "accuracy", "behaviour", "speed", "regression")
SEVERITIES = ("error", "warning", "info")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One check's outcome.

    Attributes:
        id: stable check id, ``<category>.<name>`` (e.g. ``accuracy.min``).
        category: one of :data:`CATEGORIES`.
        passed: whether the check passed. Warnings and infos never block a gate.
        value: the measured figure, when there is one.
        threshold: the figure it was judged against, when there is one.
        message: one sentence a person understands: what, value, threshold, where, what next.
        model: the model the check is about (``None`` for data-only checks).
        severity: ``error`` (blocks when failed), ``warning`` or ``info``.
        details: extra JSON-able data for reports (intervals, per-class figures, examples).
    """

    id: str
    category: str
    passed: bool
    value: float | None
    threshold: float | None
    message: str
    model: str | None = None
    severity: str = "error"
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            msg = f"check {self.id!r} has category {self.category!r}; expected one of {CATEGORIES}"
            raise ValueError(msg)
        if self.severity not in SEVERITIES:
            msg = f"check {self.id!r} has severity {self.severity!r}; expected one of {SEVERITIES}"
            raise ValueError(msg)

    @property
    def blocking(self) -> bool:
        """A failed error-severity check rejects the candidate."""
        return not self.passed and self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return {
            "id": self.id,
            "category": self.category,
            "passed": self.passed,
            "value": clean(self.value),
            "threshold": clean(self.threshold),
            "message": self.message,
            "model": self.model,
            "severity": self.severity,
            "details": self.details,
        }

