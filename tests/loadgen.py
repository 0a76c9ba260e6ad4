"""Background load that looks like other CI jobs sharing the machine, for speed tests.

``with ci_load(seconds=120, seed=0): ...`` starts two subprocesses and stops them on exit:

- ``train``: small Keras training in bursts (a few dozen steps of an MLP on random data, then
  a pause of 0.2-2 s), like a neighbour's test suite fitting models;
- ``mixed``: spells of 0.05-0.6 s of pure-Python CPU spin, memory-bound numpy copies of about
  100 MB, float32 matmuls (multithreaded BLAS) and idle time, in a seeded random order.

Each child exits on its own after ``seconds`` and when its parent dies (it polls its parent
pid), so a crashed or killed test run leaves nothing behind; on exit of the context manager the
children are terminated and, after a grace period, killed. Run one directly:
``python tests/loadgen.py mixed --seconds 30 --seed 1``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

READY = "loadgen-ready"
JOBS = ("train", "mixed")


def _parent_alive(parent: int) -> bool:
    return os.getppid() == parent


def _train(deadline: float, rng: random.Random, parent: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    keras.utils.set_random_seed(rng.randrange(2**31))
    data = np.random.default_rng(rng.randrange(2**31))
    x = data.standard_normal((2048, 64)).astype("float32")
    y = data.integers(0, 10, 2048)
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(256, activation="relu")(inputs)
    hidden = keras.layers.Dense(256, activation="relu")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x[:32], y[:32])  # trace before saying ready
    print(READY, flush=True)
    while time.monotonic() < deadline and _parent_alive(parent):
        steps = rng.randint(24, 60)
        start = rng.randrange(0, len(x) - steps * 32 + 1) if steps * 32 < len(x) else 0
        n = min(len(x) - start, steps * 32)
        model.fit(x[start : start + n], y[start : start + n], batch_size=32, epochs=1,
                  verbose=0)  # fmt: skip
        time.sleep(min(rng.uniform(0.2, 2.0), max(0.0, deadline - time.monotonic())))


def _mixed(deadline: float, rng: random.Random, parent: int) -> None:
    import numpy as np

    src = np.ones(25_000_000, dtype=np.float32)  # 100 MB
    dst = np.empty_like(src)
    a = np.random.default_rng(rng.randrange(2**31)).standard_normal((512, 512)).astype("float32")
    print(READY, flush=True)
    while time.monotonic() < deadline and _parent_alive(parent):
        kind = rng.choice(("spin", "copy", "matmul", "idle"))
        until = min(deadline, time.monotonic() + rng.uniform(0.05, 0.6))
        if kind == "idle":
            time.sleep(max(0.0, until - time.monotonic()))
            continue
        while time.monotonic() < until:
            if kind == "spin":
                total = 0
                for i in range(20_000):
                    total += i * i
            elif kind == "copy":
                np.copyto(dst, src)
            else:
                a @ a


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=JOBS)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parent", type=int, default=None)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.seconds
    parent = args.parent if args.parent is not None else os.getppid()
    rng = random.Random(f"{args.job}-{args.seed}")
    (_train if args.job == "train" else _mixed)(deadline, rng, parent)
    return 0


@contextlib.contextmanager
def ci_load(seconds: float = 120.0, seed: int = 0, ready_timeout: float = 60.0) -> Iterator[None]:
    """Run the two load jobs for the duration of the block (at most ``seconds``).

    Waits until both say they are ready (imports done, model traced), so the block starts
    under load. Raises ``RuntimeError`` when a job dies or is not ready within
    ``ready_timeout`` seconds.
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs: list[subprocess.Popen[str]] = []
    try:
        for i, job in enumerate(JOBS):
            cmd = [sys.executable, str(Path(__file__).resolve()), job, "--seconds", str(seconds),
                   "--seed", str(seed + i), "--parent", str(os.getpid())]  # fmt: skip
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          text=True, env=env))  # fmt: skip
        limit = time.monotonic() + ready_timeout
        for proc in procs:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, limit - time.monotonic()))
            line = proc.stdout.readline() if ready else ""  # a dead job gives "" at once
            if READY not in line:
                msg = f"load job {proc.args[2]} not ready (exit {proc.poll()}, said {line!r})"
                raise RuntimeError(msg)
        yield
        dead = [p.args[2] for p in procs if p.poll() is not None]
        if dead:
            msg = f"load job(s) {dead} ended before the block did: the load was not there"
            raise RuntimeError(msg)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
