"""Output paths of the commands, validated before any work (an unwritable ``--json`` found after
promotion would be a promoted model and a failed command), and the Markdown summary of a
decision (``--summary FILE``, ``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlchecks._util.io import atomic_write
from mlchecks.errors import ConfigError

if TYPE_CHECKING:
    from mlchecks.result import CheckResult
    from mlchecks.run.gate import GateDecision

STDOUT = "-"


def check_writable(option: str, value: str | None) -> None:
    """Refuse an output file that cannot be written, before the command does anything.

    Raises:
        ConfigError: ``value`` is a folder, or its folder does not exist and cannot be made, or
            is not writable (exit 2, naming the option, the path and the fix).
    """
    if value is None or value == STDOUT:
        return
    path = Path(value)
    if path.is_dir():
        msg = f"{option} {value} is a folder; give a file path (or {STDOUT} for stdout)"
        raise ConfigError(msg)
    folder = path.parent if str(path.parent) else Path(".")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        msg = (
            f"{option} {value} cannot be written: {existing} is not a writable folder; give a "
            f"path in a folder you can write (or {STDOUT} for stdout)"
        )
        raise ConfigError(msg)
    if path.exists() and not os.access(path, os.W_OK):
        msg = f"{option} {value} exists and is read-only; remove it or give another path"
        raise ConfigError(msg)


def write_text(option: str, value: str, text: str) -> None:
    """Write ``text`` to the file ``value`` atomically, or to stdout for ``-``.

    Raises:
        ConfigError: the file cannot be written after all (exit 2).
    """
    if value == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        atomic_write(Path(value), text)
    except OSError as exc:
        msg = f"{option} {value} cannot be written ({exc.strerror}); give a writable path"
        raise ConfigError(msg) from None


# --------------------------------------------------------------------------- Markdown summary
GITHUB_STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
_LABELS = {"passed": "PASS", "failed": "FAIL", "warning": "WARN", "not_judged": "NOT JUDGED"}
#: Failing reasons listed under the table (the table has them all).
MAX_REASONS = 10


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return " ".join(str(value).split()).replace("|", "\\|")


def _rank(check: CheckResult) -> int:
    """Failed first, then warnings (a failed warning-severity check, a passed one's caveat),
    then not judged, then passed."""
    if check.status == "passed":
        return 1 if check.details.warning else 3
    return {"failed": 0, "warning": 1, "not_judged": 2}.get(check.status, 2)


def markdown_summary(decision: GateDecision) -> str:
    """The decision as Markdown for CI job pages and pull-request comments: the verdict, a
    table of the checks (failed first, then warnings, then the rest), the first failing
    reasons."""
    from mlchecks.result import status_counts

    verdict = "ACCEPTED" if decision.accepted else "REJECTED"
    lineages = decision.lineages or ()
    names = ", ".join(lineage.name for lineage in lineages) or decision.name
    lines = [f"## mlchecks gate: {verdict}", ""]
    counts = status_counts(decision.checks)
    lines.append(
        f"Lineage {names}; {len(decision.checks)} checks: {counts['passed']} passed, "
        f"{counts['failed']} failed, {counts['warnings']} warnings, "
        f"{counts['not_judged']} not judged."
    )
    for lineage in lineages:
        if lineage.note:
            lines.append(f"- {_cell(lineage.note)}")
    if decision.report:
        lines.append(f"\nReport: `{decision.report}`")
    failed = [c for c in decision.checks if c.blocking]
    if failed:
        lines += ["", "**Why rejected:**", ""]
        for check in failed[:MAX_REASONS]:
            model = f" ({check.model})" if check.model else ""
            lines.append(f"- `{check.id}`{model}: {_cell(check.message)}")
        if len(failed) > MAX_REASONS:
            lines.append(f"- ... and {len(failed) - MAX_REASONS} more in the table")
    lines += ["", "| status | model | check | value | threshold | message |",
              "| --- | --- | --- | ---: | ---: | --- |"]  # fmt: skip
    for check in sorted(decision.checks, key=_rank):
        label = _LABELS.get(check.status, check.status)
        text = check.message
        if check.status == "passed" and check.details.warning:
            label, text = "WARN", check.details.warning
        lines.append(
            f"| {label} | {_cell(check.model)} | `{check.id}` | {_cell(check.value)} | "
            f"{_cell(check.threshold)} | {_cell(text)} |"
        )
    return "\n".join(lines) + "\n"


def write_summary(value: str | None, decision: GateDecision) -> None:
    """Write :func:`markdown_summary` to ``--summary FILE`` (``-``: stdout) and append it to
    ``$GITHUB_STEP_SUMMARY`` when that is set (GitHub Actions' job summary).

    Raises:
        ConfigError: the file cannot be written after all (exit 2).
    """
    text = None
    if value is not None:
        text = markdown_summary(decision)
        write_text("--summary", value, text)
    step = os.environ.get(GITHUB_STEP_SUMMARY)
    if step:
        text = text or markdown_summary(decision)
        try:
            with open(step, "a", encoding="utf-8") as f:
                f.write(text + "\n")
        except OSError as exc:
            print(f"mlchecks: warning: ${GITHUB_STEP_SUMMARY} {step} not written "
                  f"({exc.strerror})", file=sys.stderr)  # fmt: skip
