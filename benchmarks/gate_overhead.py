"""What the gate costs beyond "load the candidate and predict": whole processes, interleaved.

    python benchmarks/gate_overhead.py [--pairs 5] [--compare OTHER_PYTHON] [--profile]

Setup (once, in a temporary folder): the embedded digits data written as ``digits.npz``, a
champion MLP trained and promoted by ``mlchecks gate champion.keras --data digits.npz``, and a
better candidate ``better.keras`` (a different seed, more epochs). Then, ``--pairs`` times, in
alternating order so a slow spell of a shared machine hits both sides:

- **bare**: a script that imports Keras, loads ``better.keras`` in safe mode, predicts the test
  split and prints the accuracy, the least any gate must do;
- **gate**: ``mlchecks gate better.keras --data digits.npz --no-promote`` (every check runs:
  setup lint, Great Expectations data checks, accuracy, behaviour properties, the speed A/B
  against the champion, regression against it, the HTML report);
- with ``--compare PYTHON``, a third command: the same gate run by another installation's
  interpreter (e.g. an older checkout's venv), for a before/after figure measured side by side.

Prints each run's wall and CPU seconds (user+system of the child, from ``wait4``), the medians,
and the ratios gate/bare of the medians (target: at most 1.4x in wall time). ``--profile``
samples one extra gate run with py-spy (``pip install py-spy``; 200 samples/s, the native
stacks left out), writes its collapsed stacks to ``gate.raw`` in the current folder and prints
the mlchecks and suite functions by inclusive time. Not cProfile: under it pytest-benchmark's
pedantic rounds raise ``TypeError`` (it re-installs the C profiler as a Python one), so the
speed suite errors and the profile describes a gate that did not run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}

BARE = """
import sys
import numpy as np
import keras
data = np.load(sys.argv[2])
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
p = model.predict(data["x_test"], verbose=0)
print("accuracy", float((p.argmax(axis=1) == data["y_test"]).mean()))
"""

TRAIN = """
import sys
import keras
import numpy as np
from mlchecks.model.zoo import mlp as build_mlp
seed, epochs, out, npz = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
keras.utils.set_random_seed(seed)
d = np.load(npz)
m = build_mlp(input_shape=d["x_train"].shape[1:], num_classes=10)
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
m.fit(d["x_train"], d["y_train"], epochs=epochs, batch_size=32, verbose=0)
m.save(out)
"""


def run(cmd: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU (user+sys, from the children's rusage) seconds of one child process."""
    _last_child_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return wall, _last_child_cpu(), proc


_SEEN = [0.0]


def _last_child_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = r.ru_utime + r.ru_stime
    delta, _SEEN[0] = total - _SEEN[0], total
    return delta


def setup(work: Path, python: str) -> None:
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    x, y = x[order], y[order].astype("int64")
    cut = len(y) - 450
    np.savez(work / "digits.npz", x_train=x[:cut], y_train=y[:cut], x_test=x[cut:], y_test=y[cut:])
    (work / "train.py").write_text(TRAIN)
    (work / "bare.py").write_text(BARE)
    for seed, epochs, name in ((1, 10, "champion.keras"), (2, 20, "better.keras")):
        _check(run([python, "train.py", str(seed), str(epochs), name, "digits.npz"], work)[2])
    proc = run([python, "-m", "mlchecks.cli", "gate", "champion.keras", "--data", "digits.npz"],
               work)[2]  # fmt: skip
    if proc.returncode != 0:
        _check(proc, f"the champion was not accepted (exit {proc.returncode})")


#: py-spy's sampling rate for ``--profile`` (samples per second).
RATE = 200


def profile(work: Path, gate_args: list[str]) -> None:
    """Sample one gate with py-spy; print inclusive seconds of mlchecks' and the suites'
    functions (a function counts once per sample, however deep it recurs)."""
    import collections
    import re

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).is_file():
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    raw = Path.cwd() / "gate.raw"
    cmd = [spy, "record", "-r", str(RATE), "--format", "raw", "-o", str(raw), "--",
           sys.executable, *gate_args]  # fmt: skip
    _check(run(cmd, work)[2])
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        names = {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}
        for name in names:
            inclusive[name] += int(count)
    print(f"\npy-spy: {total} samples = {total / RATE:.2f} s of the gate's main thread "
          f"(sampling slows it); inclusive seconds:")  # fmt: skip
    ours = re.compile(r"\((mlchecks|suites)/")
    shown = [(n, c) for n, c in inclusive.most_common() if ours.search(n)][:40]
    for name, count in shown:
        print(f"{count / RATE:7.2f} s  {count / total:6.1%}  {name}")


def _check(proc: subprocess.CompletedProcess, why: str = "") -> None:
    if proc.returncode != 0 or why:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(why or f"{proc.args} exited {proc.returncode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--compare", metavar="PYTHON", help="another installation's python")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="mlchecks-overhead-"))
    gate_args = ["-m", "mlchecks.cli", "gate", "better.keras", "--data", "digits.npz",
                 "--no-promote"]  # fmt: skip
    sides = {"bare": [sys.executable, "bare.py", "better.keras", "digits.npz"],
             "gate": [sys.executable, *gate_args]}  # fmt: skip
    if args.compare:
        sides["compare"] = [args.compare, *gate_args]
    try:
        setup(work, sys.executable)
        _last_child_cpu()
        wall: dict[str, list[float]] = {k: [] for k in sides}
        cpu: dict[str, list[float]] = {k: [] for k in sides}
        for i in range(args.pairs):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            for side in order:
                w, c, proc = run(sides[side], work)
                if proc.returncode not in (0, 1):
                    _check(proc, f"{side} exited {proc.returncode}")
                verdict = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
                wall[side].append(w)
                cpu[side].append(c)
                print(f"pair {i + 1} {side:8s} wall {w:6.2f} s  cpu {c:6.2f} s  {verdict[:70]}")
        print()
        for side in sides:
            print(f"{side:8s} median wall {statistics.median(wall[side]):6.2f} s  "
                  f"median cpu {statistics.median(cpu[side]):6.2f} s")  # fmt: skip
        for side in sides:
            if side == "bare":
                continue
            rw = statistics.median(wall[side]) / statistics.median(wall["bare"])
            rc = statistics.median(cpu[side]) / statistics.median(cpu["bare"])
            own = statistics.median(wall[side]) - statistics.median(wall["bare"])
            print(f"{side}/bare: wall {rw:.2f}x  cpu {rc:.2f}x  (own work {own:.2f} s wall)")
        if args.profile:
            profile(work, gate_args)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
