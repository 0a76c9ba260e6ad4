"""Reliability suite: prints what it tried (bad inputs, faults injected, data lost)."""

from __future__ import annotations

from . import tally


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if any(tally.COUNTS.values()):
        line = ", ".join(f"{k}: {v}" for k, v in tally.COUNTS.items())
        terminalreporter.write_sep("-", f"mlchecks reliability: {line}")
