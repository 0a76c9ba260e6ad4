"""Training throughput of the reference MLP per Keras backend, raw and normalised.

Two modes:

``python benchmarks/backends.py run [--variant NAME]``
    Measure in this interpreter (its ``KERAS_BACKEND``): the MLP on ``synthetic:70000``
    (60,000 MNIST-shaped training samples), batch 128, one warm-up epoch then ``--rounds``
    timed epochs of ``model.fit``, each bracketed by a float32 matmul calibration. Prints one
    JSON line.

``python benchmarks/backends.py compare [--python BACKEND=INTERPRETER ...]``
    Run ``run`` once per backend in a fresh subprocess (each backend in its own virtual
    environment, e.g. ``jax=/tmp/venv-jax/bin/python``) and print the comparison table and the
    spread (min / median / max over the rounds) of raw and normalised throughput.

Variants (TensorFlow investigation; what is measured stays the same: the same model, data,
batch, optimizer, loss and metric, one ``fit`` epoch per round):

- ``default``: exactly what mlchecks does (``training.set_seed(deterministic=True)``, compile as
  ``training.build``; on TensorFlow/CPU Keras resolves ``jit_compile="auto"`` to False).
- ``nondeterministic``: without TensorFlow op determinism / torch deterministic algorithms.
- ``xla``: ``jit_compile=True`` (TensorFlow: XLA; torch: ``torch.compile``).
- ``xla-nondeterministic``: both.
- ``dataset``: a prebuilt, prefetched ``tf.data.Dataset`` instead of numpy arrays (TF only).
- ``spe8``, ``spe32``: ``steps_per_execution=8`` / ``32`` (several steps per compiled call).
- ``xla-spe32``: no determinism, XLA and ``steps_per_execution=32`` on numpy input.
- ``dataset-spe32``: prebuilt dataset and ``steps_per_execution=32``, determinism kept.
- ``tuned``: all of them (no determinism, XLA, prebuilt dataset, ``steps_per_execution=32``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = ("default", "nondeterministic", "xla", "xla-nondeterministic", "dataset", "spe8",
            "spe32", "xla-spe32", "dataset-spe32", "tuned")  # fmt: skip


def run(variant: str, rounds: int, data: str, batch: int, builder: str) -> dict:
    from mlchecks import measure as bench
    from mlchecks.config import ModelSpec
    from mlchecks.data import load_dataset
    from mlchecks.measure import speed as bench_speed
    from mlchecks.model import training

    start = time.perf_counter()
    ds = load_dataset(data)
    spec = ModelSpec(name=builder, builder=builder, batch_size=batch)
    deterministic = "nondeterministic" not in variant and variant not in ("tuned", "xla-spe32")
    training.set_seed(0, deterministic)
    model = training.build(spec, ds)
    import keras

    if variant.startswith(("xla", "spe", "dataset-")) or variant == "tuned":
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=True if variant.startswith("xla") or variant == "tuned" else "auto",
            steps_per_execution={
                "spe8": 8,
                "spe32": 32,
                "xla-spe32": 32,
                "dataset-spe32": 32,
                "tuned": 32,
            }.get(variant, 1),
        )
    steps = ds.n_train // batch
    x, y = ds.x_train[: steps * batch], ds.y_train[: steps * batch]
    if variant in ("dataset", "dataset-spe32", "tuned"):
        if keras.backend.backend() != "tensorflow":
            raise SystemExit(f"the {variant!r} variant is TensorFlow-only")
        import tensorflow as tf

        data_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).cache()
        data_ds = data_ds.prefetch(tf.data.AUTOTUNE)

        def epoch() -> None:
            model.fit(data_ds, epochs=1, verbose=0)
            bench.sync_model(model)

        info = bench.device_info()
        probe = bench.Probe(info.kind)
        epoch()  # warm-up
        timed, per_round = bench_speed._bracketed(bench.time_rounds, epoch, rounds, probe)
        fl = bench.count_flops(model)
        speed = bench_speed._speed(
            "training",
            steps * batch,
            steps,
            batch,
            0.0,
            timed,
            per_round,
            probe,
            fl.train,
            fl,
            info,
            bench.PeakMemory(),
            start,
        )
    else:
        plan = bench.Plan(train_steps=steps, train_rounds=rounds)
        speed = bench.measure_training(model, x, y, batch_size=batch, plan=plan)
    return {
        "backend": keras.backend.backend(),
        "variant": variant,
        "version": speed.device["backend_version"],
        "device": speed.device["kind"],
        "jit_compile": bool(model.jit_compile),
        "samples_per_s": speed.samples_per_s,
        "normalised": speed.normalised,
        "gflops_model": speed.samples_per_s * speed.flops_per_sample / 1e9,
        "calibration_gflops": speed.calibration["gflops"],
        "per_round_gflops": speed.calibration["per_round"],
        "round_s": list(speed.round_s),
        "raw_per_round": speed.raw_per_round,
        "normalised_per_round": speed.normalised_per_round,
        "warmup_s": speed.warmup_s,
        "train_flops_per_sample": speed.flops_per_sample,
        "steps": speed.steps,
        "batch": batch,
        "rss_peak_mib": speed.memory.get("rss_peak_mib"),
        "elapsed_s": time.perf_counter() - start,
    }


def compare(
    pythons: dict[str, str],
    variant: str,
    rounds: int,
    data: str,
    batch: int,
    builder: str,
    out: Path | None,
) -> int:
    from mlchecks import measure as bench
    from mlchecks._util.text import table

    rows = []
    for backend, python in pythons.items():
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        cmd = [
            python,
            __file__,
            "run",
            "--variant",
            variant,
            "--rounds",
            str(rounds),
            "--data",
            data,
            "--batch",
            str(batch),
            "--builder",
            builder,
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            print(f"{backend}: failed ({proc.returncode}): {' | '.join(tail)}", file=sys.stderr)
            continue
        rows.append(json.loads(lines[-1]))
    if not rows:
        return 1
    for row in rows:
        raw, norm = row["raw_per_round"], row["normalised_per_round"]
        row["raw_spread"] = bench.spread(raw)
        row["norm_spread"] = bench.spread(norm)
        row["raw_range"] = "{:,.0f} / {:,.0f} / {:,.0f}".format(*row["raw_spread"][:3])
        row["norm_range"] = "{:.1%} / {:.1%} / {:.1%}".format(*row["norm_spread"][:3])
        row["raw_rel"] = f"{row['raw_spread'][3]:.1%}"
        row["norm_rel"] = f"{row['norm_spread'][3]:.1%}"
    print(
        f"{builder} on {data}, batch {batch}, {rounds} timed epochs after a warm-up, "
        f"variant {variant}"
    )
    print(
        table(
            rows,
            [
                ("backend", "backend", ""),
                ("version", "version", ""),
                ("device", "device", ""),
                ("jit_compile", "jit", ""),
                ("samples_per_s", "samples/s", ",.0f"),
                ("gflops_model", "model GFLOP/s", ".1f"),
                ("calibration_gflops", "matmul GFLOP/s", ".1f"),
                ("normalised", "of peak", ".1%"),
                ("warmup_s", "warm-up s", ".2f"),
            ],
        )
    )
    print("\nspread over rounds (min / median / max; (max-min)/median):")
    print(
        table(
            rows,
            [
                ("backend", "backend", ""),
                ("raw_range", "raw samples/s", ""),
                ("raw_rel", "raw", ""),
                ("norm_range", "normalised", ""),
                ("norm_rel", "norm", ""),
            ],
        )
    )
    if out is not None:
        out.write_text(json.dumps(rows, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("run", "compare"))
    parser.add_argument("--variant", default="default", choices=VARIANTS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", default="synthetic:70000")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--builder", default="mlp")
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        help="BACKEND=INTERPRETER (repeatable); default: this interpreter, tensorflow only",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args(argv)
    if args.mode == "run":
        print(json.dumps(run(args.variant, args.rounds, args.data, args.batch, args.builder)))
        return 0
    pythons = dict(p.split("=", 1) for p in args.python) or {"tensorflow": sys.executable}
    return compare(
        pythons, args.variant, args.rounds, args.data, args.batch, args.builder, args.json
    )


if __name__ == "__main__":
    sys.exit(main())
