"""Reference training throughput: the old compile recipe against the shipped one, interleaved.

    python benchmarks/training_throughput.py [--pairs 3] [--data synthetic:70000] [--epochs 2]
                                             [--builder mlp] [--batch-size 32] [--try 8,64]

Each run is a fresh process on the active Keras backend (``KERAS_BACKEND``): seed, build, fit
the reference model on the data (``synthetic:70000``: 60,000 MNIST-shaped training samples,
10,000 as the validation split), batch 32 as in pyproject.toml (``--batch-size``), through
mlchecks' own ``set_seed`` / ``build`` / ``fit``. The arms:

- **old**: compiled and fitted by hand exactly as ``build()`` and ``fit()`` did before the
  recipe changed (``steps_per_execution=1``, validation at the training batch);
- **shipped**: ``build()`` and ``fit()`` as shipped (the recipe of this backend, see
  ``mlchecks.model.training.reference_recipe``);
- with ``--try 8,64``: ``fit()`` as shipped on models compiled by hand with those
  ``steps_per_execution`` values (to choose a backend's value; the PyTorch trainer refuses
  anything but 1); ``--try xla=32``: the same with ``jit_compile=True`` (XLA).

``--pairs`` rounds, the arms' order reversed every other round so a slow spell of a shared
machine hits all of them. Prints samples/s per run (training samples x epochs / the seconds of
``fit``, validation included: the ``samples_per_s`` of the training record), the weights digest
of each run, the medians, the ratios to **old**, and whether the runs of each arm agree bit for
bit (they must: exit 1 otherwise).

Two figures per run, because a ``fit`` call has a fixed cost (tracing the training and the
validation step, building the data pipeline) besides its per-epoch cost:

- **fit**: training samples x epochs / the seconds of the whole ``fit`` call (what a user
  waits for; the fixed cost weighs more the fewer the epochs);
- **epoch**: training samples / the median seconds of the epochs after the first (each from
  ``on_epoch_begin`` to ``on_epoch_end``, its validation pass included): the steady rate, with
  the first epoch's tracing left out. Needs ``--epochs`` 2 or more.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}


def child(arm: str, data: str, epochs: int, builder: str, batch_size: int, seed: int) -> None:
    """One run in this (fresh) process: prints one JSON line."""
    import keras

    from mlchecks._util.quiet import backend_warnings
    from mlchecks.config import ModelSpec, active_backend
    from mlchecks.data import load_dataset
    from mlchecks.model import training, zoo

    epoch_s: list[float] = []

    class EpochTimer(keras.callbacks.Callback):  # only reads the clock: no weight changes
        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_s.append(time.perf_counter() - self.began)

    ds = load_dataset(data)
    spec = ModelSpec(name=builder, builder=builder, epochs=epochs, batch_size=batch_size)
    training.set_seed(seed, True)
    if arm == "shipped":
        model = training.build(spec, ds)
    else:  # "old", "spe=K" or "xla=K": the previous build() compile, by hand
        steps = 1 if arm == "old" else int(arm.partition("=")[2])
        xla = {"jit_compile": True} if arm.startswith("xla=") else {}
        model = zoo.get(builder)(ds.input_shape, ds.num_classes)
        model.compile(
            optimizer=keras.optimizers.get(spec.optimizer),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=steps,
            **xla,
        )
    if arm == "old":  # the previous fit(), by hand
        start = time.perf_counter()
        with backend_warnings():
            history = model.fit(
                ds.x_train, ds.y_train, epochs=spec.epochs, batch_size=spec.batch_size,
                validation_data=(ds.x_test, ds.y_test), shuffle=True, verbose=0,
                callbacks=[EpochTimer()],
            )  # fmt: skip
        wall = time.perf_counter() - start
        samples_per_s, val_accuracy = ds.n_train * epochs / wall, history.history["val_accuracy"]
    else:
        record = training.fit(model, ds, spec, seed, callbacks=[EpochTimer()])
        samples_per_s, wall = record.samples_per_s, record.wall_time_s
        val_accuracy = record.history["val_accuracy"]
    print(
        json.dumps(
            {
                "arm": arm,
                "backend": active_backend(),
                "steps_per_execution": int(model.steps_per_execution),
                "samples_per_s": samples_per_s,
                "epoch_samples_per_s": (
                    ds.n_train / statistics.median(epoch_s[1:]) if len(epoch_s) > 1 else None
                ),
                "epoch_s": epoch_s,
                "fit_s": wall,
                "val_accuracy": val_accuracy[-1],
                "digest": training.weights_digest(model),
            }
        ),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--data", default="synthetic:70000")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--builder", default="mlp")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--try", dest="extra", default="", help="more steps_per_execution arms")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.data, args.epochs, args.builder, args.batch_size, args.seed)
        return 0

    extra = [k.strip() for k in args.extra.split(",") if k.strip()]
    arms = ["old", "shipped", *(k if "=" in k else f"spe={k}" for k in extra)]
    common = ["--data", args.data, "--epochs", str(args.epochs), "--builder", args.builder,
              "--batch-size", str(args.batch_size), "--seed", str(args.seed)]  # fmt: skip
    runs: dict[str, list[dict]] = {arm: [] for arm in arms}
    for i in range(args.pairs):
        for arm in arms if i % 2 == 0 else reversed(arms):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", arm, *common]
            proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stdout + proc.stderr)
                raise SystemExit(f"{arm} exited {proc.returncode}")
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[arm].append(run)
            steady = run["epoch_samples_per_s"]
            print(f"round {i + 1} {arm:8s} {run['backend']:10s} steps_per_execution "
                  f"{run['steps_per_execution']:3d}  fit {run['samples_per_s']:7.0f} samples/s "
                  f"({run['fit_s']:5.2f} s)  epoch {steady or 0:7.0f} samples/s  "
                  f"val_accuracy {run['val_accuracy']:.4f}  digest {run['digest'][:16]}",
                  flush=True)  # fmt: skip
    print()
    def median(arm: str, key: str) -> float:
        values = [r[key] for r in runs[arm] if r[key] is not None]
        return statistics.median(values) if values else float("nan")

    base, base_epoch = median("old", "samples_per_s"), median("old", "epoch_samples_per_s")
    agree = True
    for arm in arms:
        fit, epoch = median(arm, "samples_per_s"), median(arm, "epoch_samples_per_s")
        digests = {r["digest"] for r in runs[arm]}
        agree &= len(digests) == 1
        same = (
            "all runs bit-identical" if len(digests) == 1 else f"{len(digests)} DIFFERENT digests"
        )
        print(f"{arm:8s} median fit {fit:7.0f} samples/s {fit / base:5.2f}x old   epoch "
              f"{epoch:7.0f} samples/s {epoch / base_epoch:5.2f}x old   {same}")  # fmt: skip
    old = {r["digest"] for r in runs["old"]}
    for arm in arms[1:]:
        if {r["digest"] for r in runs[arm]} == old:
            print(f"{arm}: the same weights as old")
        else:
            print(f"{arm}: other weights than old")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
