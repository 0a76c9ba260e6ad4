"""Peak resident memory of ``mlchecks gate CANDIDATE --data synthetic:70000 --no-promote``.

Runs the real command in a child process, in a temporary folder with its own ``mlchecks.toml``
(cache, registry and reports inside it, so the data-check memo is empty and Great Expectations
runs), and prints, in MiB, the gate process's peak resident set (Linux's ``VmHWM`` read at exit,
as ``tests/reliability/test_bombs.py`` measures it; ``ru_maxrss`` would be carried over from
this process across fork+exec) and the peak of its whole process tree, sampled every 50 ms (a
gate may check the data in a worker process while it loads Keras: the machine needs the sum).
Target (issue 13): under 2048 MiB on MNIST-sized data.

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
import threading
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


class TreeSampler(threading.Thread):
    """Samples the resident set of a process and all its descendants every ``interval`` s.

    A gate may check the data in a worker process while it loads Keras: the memory the machine
    needs is the sum over the tree at one moment, which no single process's VmHWM shows.
    ``peak_mib`` is the largest such sum seen; ``hwm_mib`` the last VmHWM seen per process
    (a worker's figure can miss its last ``interval``).
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_mib = 0.0
        self.hwm_mib: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            total = 0.0
            for pid in self._tree():
                fields = _status(pid)
                if "VmRSS" in fields:
                    total += fields["VmRSS"]
                    self.hwm_mib[pid] = fields.get("VmHWM", fields["VmRSS"])
                    self.names.setdefault(pid, _cmdline(pid))
            self.peak_mib = max(self.peak_mib, total)
            self.done.wait(self.interval)

    def _tree(self) -> list[int]:
        parents: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(parents.get(pid, []))
        return tree


def _status(pid: int) -> dict[str, float]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) / 1024 for k, _, v in (ln.partition(":") for ln in lines)
            if k in ("VmRSS", "VmHWM")}  # fmt: skip


def _cmdline(pid: int) -> str:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in args if a)
    return text if len(text) < 90 else text[:87] + "..."


def gate(args: list[str], cwd: Path, *, phases: bool = False) -> dict:
    """``mlchecks ARGS`` in a child: exit code, output, seconds, the gate process's phases
    ([[phase, peak, rss], ...]; one row without ``phases``) and the sampled process tree."""
    out = cwd / f".peak-{time.monotonic_ns()}.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "GATE_MEMORY_OUT": str(out)}
    env.pop("GATE_MEMORY_PHASES", None)
    if phases:
        env["GATE_MEMORY_PHASES"] = "1"
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    sampler = TreeSampler(proc.pid)
    sampler.start()
    text, _ = proc.communicate()
    sampler.done.set()
    sampler.join()
    seconds = time.monotonic() - start
    rows = json.loads(out.read_text())["phases"] if out.is_file() else []
    out.unlink(missing_ok=True)
    others = {sampler.names[p]: h for p, h in sampler.hwm_mib.items() if p != proc.pid}
    return {"code": proc.returncode, "text": text, "seconds": seconds, "rows": rows,
            "tree_peak": sampler.peak_mib, "others": others}  # fmt: skip


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
    peaks: list[float] = []
    trees: list[float] = []
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
                run = gate(["gate", str(opts.champion.resolve()), *common], work)
                if run["code"] != 0:
                    print(run["text"], file=sys.stderr)
                    print(f"the champion {opts.champion} was not accepted (exit {run['code']}); "
                          "pass a model that passes the gate", file=sys.stderr)  # fmt: skip
                    return 1
                shutil.rmtree(work / "cache", ignore_errors=True)  # no data-check memo
            args = ["gate", str(opts.candidate.resolve()), *common, "--no-promote"]
            run = gate(args, work, phases=opts.phases)
            if run["code"] not in (0, 1) or not run["rows"]:
                print(run["text"], file=sys.stderr)
                print(f"the gate failed (exit {run['code']})", file=sys.stderr)
                return 1
            peak = max(row[1] for row in run["rows"])
            peaks.append(peak)
            trees.append(run["tree_peak"])
            lines = run["text"].strip().splitlines()
            verdict = next((ln for ln in reversed(lines) if "ACCEPTED" in ln or "REJECTED" in ln),
                           lines[-1] if lines else "")  # fmt: skip
            print(
                f"exit {run['code']}, {run['seconds']:.1f} s, gate process peak {peak:.0f} MiB, "
                f"process tree peak {run['tree_peak']:.0f} MiB (sampled)  ({verdict})"
            )
            for name, hwm in run["others"].items():
                print(f"  child process peak {hwm:.0f} MiB: {name}")
            if opts.phases:
                for name, hwm, rss in run["rows"]:
                    print(f"  {hwm:7.0f} MiB peak, {rss:7.0f} MiB at its end  {name}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    median, tree = statistics.median(peaks), statistics.median(trees)
    case = "with a champion" if opts.champion else "no champion"
    worst = max(median, tree)
    print(
        f"peak RSS ({case}, {opts.data}), medians of {len(peaks)}: gate process {median:.0f} MiB, "
        f"process tree {tree:.0f} MiB (limit {LIMIT_MIB} MiB: "
        f"{'under' if worst < LIMIT_MIB else 'OVER'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
