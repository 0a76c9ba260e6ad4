"""Peak resident memory of ``mlchecks gate CANDIDATE --data synthetic:70000 --no-promote``.

Runs the real command in a child process, in a temporary folder with its own ``mlchecks.toml``
(cache, registry and reports inside it, so the data-check memo is empty and Great Expectations
runs), and prints the child's peak resident set in MiB: Linux's ``VmHWM`` read at exit, as
``tests/reliability/test_bombs.py`` measures it (``ru_maxrss`` would be carried over from this
process across fork+exec). Target (issue 13): under 2048 MiB on MNIST-sized data.

With ``--champion FILE`` that file is gated first and promoted into the temporary registry, so
the measured gate also runs the regression checks and the speed A/B against a champion.
``--phases`` adds the peak of each phase the gate announces (VmHWM reset at each phase line),
to see where the memory goes.

    python benchmarks/gate_memory.py CANDIDATE.keras [--champion FILE.keras] [--data SPEC]
                                     [--rounds N] [--phases]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_MIB = 2048

# The child: mlchecks' CLI, with its peak resident set written at exit (and, with --phases, the
# peak of each phase: VmHWM is reset to the current resident set at each progress phase).
RUNNER = r"""
import atexit, json, os, sys
from pathlib import Path

def _status(field):
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'):
            return int(line.split()[1]) / 1024
    return float('nan')

phases = []
current = ['whole run']
if os.environ.get('GATE_MEMORY_PHASES'):
    from mlchecks._util import progress
    original = progress.Progress.phase
    current[0] = 'start (imports, the candidate loaded)'
    def phase(self, text):
        phases.append([current[0], _status('VmHWM'), _status('VmRSS')])
        current[0] = text
        try:
            Path('/proc/self/clear_refs').write_text('5')
        except OSError:
            pass
        return original(self, text)
    progress.Progress.phase = phase

def _peak():
    phases.append([current[0], _status('VmHWM'), _status('VmRSS')])
    with open(os.environ['GATE_MEMORY_OUT'], 'w') as f:
        json.dump({'phases': phases}, f)

atexit.register(_peak)
from mlchecks.cli import main
sys.exit(main(sys.argv[1:]))
"""


def gate(args: list[str], cwd: Path, *, phases: bool = False) -> tuple[int, str, float, list]:
    """``mlchecks ARGS`` in a child: (exit code, output, seconds, [[phase, peak, rss], ...])."""
    out = cwd / f".peak-{time.monotonic_ns()}.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "GATE_MEMORY_OUT": str(out)}
    env.pop("GATE_MEMORY_PHASES", None)
    if phases:
        env["GATE_MEMORY_PHASES"] = "1"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", RUNNER, *args], cwd=cwd, env=env,
                          capture_output=True, text=True)  # fmt: skip
    seconds = time.monotonic() - start
    rows = json.loads(out.read_text())["phases"] if out.is_file() else []
    out.unlink(missing_ok=True)
    return proc.returncode, proc.stdout + proc.stderr, seconds, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate", type=Path)
    parser.add_argument("--champion", type=Path, default=None)
    parser.add_argument("--data", default="synthetic:70000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--phases", action="store_true")
    opts = parser.parse_args()
    for path in (opts.candidate, opts.champion):
        if path is not None and not path.is_file():
            parser.error(f"{path}: no such model file; pass a saved .keras model")
    peaks = []
    for _ in range(opts.rounds):
        work = Path(tempfile.mkdtemp(prefix="mlchecks-mem-"))
        try:
            (work / "mlchecks.toml").write_text(
                f'data = "{opts.data}"\ncache_dir = "{work / "cache"}"\n'
                f'registry = "{work / "registry"}"\nreports = "{work / "reports"}"\n'
            )
            common = ["--data", opts.data, "--registry", str(work / "registry"),
                      "--report", "none"]  # fmt: skip
            if opts.champion is not None:
                code, text, _, _ = gate(["gate", str(opts.champion.resolve()), *common], work)
                if code != 0:
                    print(text, file=sys.stderr)
                    print(f"the champion {opts.champion} was not accepted (exit {code}); "
                          "pass a model that passes the gate", file=sys.stderr)  # fmt: skip
                    return 1
                shutil.rmtree(work / "cache", ignore_errors=True)  # no data-check memo
            args = ["gate", str(opts.candidate.resolve()), *common, "--no-promote"]
            code, text, seconds, rows = gate(args, work, phases=opts.phases)
            if code not in (0, 1) or not rows:
                print(text, file=sys.stderr)
                print(f"the gate failed (exit {code})", file=sys.stderr)
                return 1
            peak = max(row[1] for row in rows)
            peaks.append(peak)
            verdict = text.strip().splitlines()[-1] if text.strip() else ""
            print(f"exit {code}, {seconds:.1f} s, peak RSS {peak:.0f} MiB  ({verdict})")
            if opts.phases:
                for name, hwm, rss in rows:
                    print(f"  {hwm:7.0f} MiB peak, {rss:7.0f} MiB at its end  {name}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    median = statistics.median(peaks)
    case = "with a champion" if opts.champion else "no champion"
    print(
        f"peak RSS ({case}, {opts.data}): median {median:.0f} MiB of {len(peaks)} "
        f"(limit {LIMIT_MIB} MiB: {'under' if median < LIMIT_MIB else 'OVER'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
