"""SIGKILL while writing a report: the history page stays whole, and the registry untouched.

The report writer has a fault point half-way through each file it writes (``report:mid-page``,
``report:mid-summary``, ``report:mid-index``): a process killed there has written half a file.
Each is hit in a small writer process (no Keras, about a second), and ``report:mid-index``
once more in a real ``mlchecks gate`` whose candidate is rejected by the lint (the cheapest
gate that writes a report), with a champion in its registry.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlchecks.registry import open_registry

from . import candidates, tally

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlchecks.result import CheckResult
    from mlchecks.report.data import build
    from mlchecks.report.html import write_report

    check = CheckResult("accuracy.overall", "accuracy", True, 0.9, 0.5, "accuracy 0.90 >= 0.50",
                        model="tiny")
    write_report(build([check], name="tiny", run_id=sys.argv[2]), Path(sys.argv[1]))
    """
)


def _write(folder: Path, run_id: str, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLCHECKS_FAULT"}
    if fault:
        env["MLCHECKS_FAULT"] = fault
    return subprocess.run([sys.executable, "-c", WRITER, str(folder), run_id], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def _visible_files_are_whole(folder: Path) -> None:
    """Every file a reader can reach (no dot name) is complete."""
    for page in folder.glob("*/index.html"):
        assert page.read_text("utf-8").rstrip().endswith("</html>"), page
    for summary in folder.glob("*/summary.json"):
        json.loads(summary.read_text("utf-8"))


POINTS = ("report:mid-page", "report:mid-summary", "report:mid-index")


@pytest.mark.parametrize("point", POINTS)
def test_killed_report_writes_keep_the_history_page(tmp_path, point):
    reports = tmp_path / "reports"
    assert _write(reports, "20260101-000000-gate-tiny-000001").returncode == 0
    before = (reports / "index.html").read_bytes()
    tally.fault()
    killed = _write(reports, "20260101-000001-gate-tiny-000002", fault=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (reports / "index.html").read_bytes() == before  # not one byte of the new index
    assert candidates.index_runs(reports / "index.html") == {
        "20260101-000000-gate-tiny-000001": "accepted"
    }
    _visible_files_are_whole(reports)
    new_run = reports / "20260101-000001-gate-tiny-000002"
    assert (new_run / "index.html").exists() == (point != "report:mid-page")
    assert (new_run / "summary.json").exists() == (point == "report:mid-index")
    # the next run rebuilds the index from complete runs only (a run without a summary is not
    # listed); the killed run's temp file stays hidden
    assert _write(reports, "20260101-000002-gate-tiny-000003").returncode == 0
    listed = set(candidates.index_runs(reports / "index.html"))
    complete = {p.parent.name for p in reports.glob("*/summary.json")}
    assert listed == complete
    _visible_files_are_whole(reports)


@pytest.mark.slow
def test_gate_killed_while_writing_its_report(tmp_path, request, digits):
    models = candidates.models(Path(request.config.cache.mkdir("mlchecks-reliability-models")),
                               digits)  # fmt: skip
    folder = candidates.project(tmp_path, digits)
    candidates.seed_champion(folder, models["good"])
    assert _write(folder / "reports", "20260101-000000-gate-tiny-000001").returncode == 0
    index = (folder / "reports" / "index.html").read_bytes()
    registry_before = candidates.snapshot(folder / "reg")
    wide = Path(shutil.copy(models["wide"], folder / "wide.keras"))
    tally.fault()
    code, out, err = candidates.finish(
        candidates.gate(folder, str(wide), env={"MLCHECKS_FAULT": "report:mid-index"})
    )
    assert code == -signal.SIGKILL, out[-2000:] + err[-3000:]
    assert (folder / "reports" / "index.html").read_bytes() == index
    assert candidates.index_runs(folder / "reports" / "index.html") == {
        "20260101-000000-gate-tiny-000001": "accepted"
    }
    _visible_files_are_whole(folder / "reports")
    # the killed gate's own page was complete before the index was touched: rejected by the lint
    (summary,) = [p for p in (folder / "reports").glob("*/summary.json")
                  if p.parent.name != "20260101-000000-gate-tiny-000001"]  # fmt: skip
    assert "setup.input_shape" in json.loads(summary.read_text())["failed_ids"]
    after = candidates.snapshot(folder / "reg")
    tally.lost(int(after != registry_before))
    assert after == registry_before
    registry = open_registry(folder / "reg")
    assert registry.state(candidates.NAME).champion == "0001"
    assert registry.verify(candidates.NAME) == []
