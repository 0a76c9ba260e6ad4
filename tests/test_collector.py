"""The ``mlchecks`` program freezes long-lived objects out of the garbage collector; a caller's
own process (``main([...])``) is left alone. Each case runs in a fresh interpreter: a frozen
object would outlive its test in this one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import gc, json, sys
sys.path.insert(0, sys.argv[1])
from mlchecks._util import collector
collector.freeze_after_import("heavy_module")
before = gc.get_freeze_count()
import heavy_module
print(json.dumps({"before": before, "after": gc.get_freeze_count(),
                  "enabled_during": heavy_module.ENABLED, "enabled_after": gc.isenabled(),
                  "hook_left": any(getattr(f, "name", None) == "heavy_module"
                                   for f in sys.meta_path)}))
"""

MODULE = """
import gc
ENABLED = gc.isenabled()
BIG = [[i] for i in range(50_000)]  # long-lived objects the import leaves behind
"""


def _run(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_import_runs_without_the_collector_and_what_it_made_is_frozen(tmp_path: Path):
    (tmp_path / "heavy_module.py").write_text(MODULE)
    out = _run(PROBE, str(tmp_path))
    assert out["before"] == 0
    assert out["enabled_during"] is False  # no full collections while the backend loads
    assert out["after"] >= 50_000  # the module's objects are in the permanent generation
    assert out["enabled_after"] is True  # and the collector works again for the rest
    assert out["hook_left"] is False  # one shot


MAIN = """
import gc, json, sys
from mlchecks.cli import main
if sys.argv[1] == "program":
    sys.argv = ["mlchecks", "gate", "--name", "not a name", "--no-promote"]
    code = main()
else:
    code = main(["gate", "--name", "not a name", "--no-promote"])
print(json.dumps({"code": code, "frozen": gc.get_freeze_count(), "enabled": gc.isenabled(),
                  "hook_left": any(getattr(f, "name", None) == "keras"
                                   for f in sys.meta_path)}))
"""


def test_the_program_freezes_at_the_end_and_a_callers_process_is_left_alone(tmp_path: Path):
    program = _run(MAIN, "program")
    caller = _run(MAIN, "caller")
    assert program["code"] == caller["code"] == 2  # the same command, a bad name: exit 2
    assert program["frozen"] > 0 and program["enabled"] is True
    assert caller["frozen"] == 0 and caller["enabled"] is True
    assert caller["hook_left"] is False  # no import hook installed for a caller
