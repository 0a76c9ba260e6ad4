"""Framework overhead: mlchecks' training path against a bare ``model.fit``, same run.

``python benchmarks/overhead.py [--data digits] [--builder mlp] [--epochs 3] [--pairs 7]``

Both sides train the same compiled model on the same data with the same arguments
(``epochs``, ``batch_size``, ``validation_data``, ``shuffle=True``, ``verbose=0``):

- ours: ``mlchecks.training.fit(model, dataset, spec, seed)`` (adds the training record,
  environment and history conversion);
- bare: ``model.fit(...)`` as a user would call it.

The two are timed alternately (order swapped every pair, so a slow spell of a shared machine or
a first-call effect hits both); the figure is the median of the per-pair ratios ours / bare.
Target: at most 1.03 (3% overhead). Prints one line per pair and the summary, and times what
mlchecks adds (the environment record) on its own, which is steadier than the difference of
two noisy fits on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--builder", default="mlp")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args(argv)

    from mlchecks import bench, training
    from mlchecks.config import ModelSpec
    from mlchecks.data import load_dataset

    ds = load_dataset(args.data)
    spec = ModelSpec(name=args.builder, builder=args.builder, epochs=args.epochs,
                     batch_size=args.batch)  # fmt: skip
    training.set_seed(0)
    model = training.build(spec, ds)

    def ours() -> None:
        training.fit(model, ds, spec, 0)

    def bare() -> None:
        model.fit(
            ds.x_train,
            ds.y_train,
            epochs=spec.epochs,
            batch_size=spec.batch_size,
            validation_data=(ds.x_test, ds.y_test),
            shuffle=True,
            verbose=0,
        )

    ours()  # warm-up: traces the train and test functions used by both sides
    bare()
    result = bench.interleave(ours, bare, args.pairs)
    for i, (a, b) in enumerate(zip(result.ours, result.bare, strict=True)):
        print(f"pair {i}: mlchecks {a:.3f} s, bare {b:.3f} s, ratio {a / b:.3f}")
    # What mlchecks adds around model.fit, timed on its own: far steadier than the difference
    # of two noisy fits on a shared machine.
    own = bench.Rounds(tuple(bench.time_rounds(training.environment, 20)))
    bare_median = bench.Rounds(result.bare).median
    print(
        f"mlchecks' own work per fit (environment record): {own.median * 1e3:.2f} ms = "
        f"{own.median / bare_median:.3%} of a bare fit ({bare_median:.3f} s)"
    )
    lo, _, hi, _ = bench.spread(result.ratios)
    verdict = "within" if result.ratio <= 1.03 else "ABOVE"
    print(
        f"framework overhead ({spec.name} on {ds.name}, {spec.epochs} epochs of batch "
        f"{spec.batch_size}, {args.pairs} interleaved pairs): median ratio {result.ratio:.4f} "
        f"(min {lo:.4f}, max {hi:.4f}); {verdict} the 1.03 target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
