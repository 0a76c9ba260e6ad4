"""HTML quality reports: one self-contained page per run plus a history page.

- :mod:`mlchecks.report.data`: :class:`ReportData`, built from check results and figures the run
  already computed (no pytest, no keras, no jinja2).
- :mod:`mlchecks.report.html`: the Jinja2 renderer and the atomic writer of
  ``<folder>/<run-id>/index.html`` and ``<folder>/index.html``.

``mlchecks gate`` writes a report for every run (``--report DIR``, default ``reports/``) and puts
its path into the ``--json`` decision; the pytest plugin writes one for every session that
recorded mlchecks checks (``--mlchecks-report DIR``). A folder named ``none`` turns reports off.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlchecks.report.data import ReportData, build, from_decision, from_session, new_run_id

if TYPE_CHECKING:
    from mlchecks.config import Settings
    from mlchecks.result import CheckResult
    from mlchecks.run.gate import GateDecision
    from mlchecks.run.session import Session

__all__ = [
    "OFF",
    "ReportData",
    "build",
    "from_decision",
    "from_session",
    "new_run_id",
    "report_folder",
    "write_report",
    "write_session_report",
]

OFF = "none"  # --report none / reports = "none": write no report


def report_folder(settings: Settings) -> Path | None:
    """The folder reports go to (relative paths from the config file's folder), or ``None``."""
    if settings.reports.strip().lower() == OFF:
        return None
    return settings.resolve(settings.reports)


def write_report(data: ReportData, folder: Path) -> Path:
    """Write ``data`` under ``folder`` and rebuild the history page; returns the page's path."""
    from mlchecks.report.html import write_report as _write

    return _write(data, folder)


def write_session_report(
    session: Session,
    *,
    decision: GateDecision | None = None,
    source: str = "pytest",
    run_id: str | None = None,
    checks: Sequence[CheckResult] | None = None,
    folder: Path | None = None,
) -> Path | None:
    """Build and write the report of a run; ``None`` when reports are turned off.

    Args:
        session: the run's session (settings, and whatever it already loaded).
        decision: the gate's decision, when a gate ran. Defaults to deciding from the checks.
        source: ``gate`` or ``pytest``. Defaults to ``pytest``.
        run_id: the run's folder name. Defaults to a new id.
        checks: the checks to report. Defaults to the decision's, else the session's.
        folder: where to write. Defaults to :func:`report_folder` of the session's settings.
    """
    folder = folder if folder is not None else report_folder(session.settings)
    if folder is None:
        return None
    data = from_session(session, decision=decision, source=source, run_id=run_id, checks=checks)
    return write_report(data, folder)
