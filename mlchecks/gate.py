"""Checks -> one decision. Shared by ``mlchecks gate`` and the pytest plugin; no pytest, no keras."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlchecks.checks import CheckResult
from mlchecks.errors import GateExit

__all__ = ["GateDecision", "GateExit", "decide", "write_json"]


@dataclasses.dataclass(frozen=True)
class GateDecision:
    """The outcome of a gate run, as written by ``--json`` (see DESIGN.md)."""

    accepted: bool
    name: str
    checks: tuple[CheckResult, ...]
    version: str | None = None
    champion_before: str | None = None
    champion_after: str | None = None
    report: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> GateExit:
        return GateExit.ACCEPTED if self.accepted else GateExit.REJECTED

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.blocking)

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": "accepted" if self.accepted else "rejected",
            "name": self.name,
            "version": self.version,
            "champion_before": self.champion_before,
            "champion_after": self.champion_after,
            "checks": [c.to_json() for c in self.checks],
            "report": self.report,
            "notes": list(self.notes),
        }


def decide(checks: Sequence[CheckResult]) -> bool:
    """Accept when no error-severity check failed (and at least one check ran)."""
    return bool(checks) and not any(c.blocking for c in checks)


def write_json(decision: GateDecision, path: Path) -> None:
    """Write the decision atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(decision.to_json(), f, indent=2, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
