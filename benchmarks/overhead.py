"""Framework overhead: mlchecks' training path against a bare ``model.fit``, same run.

``python benchmarks/overhead.py [--data digits] [--builder mlp] [--epochs 3] [--pairs 7]``

Both sides train the same compiled model on the same data with the same arguments
(``epochs``, ``batch_size``, ``validation_data``, ``shuffle=True``, ``verbose=0``):

- ours: ``mlchecks.model.training.fit(model, dataset, spec, seed)`` (adds the training record,
  environment and history conversion);
- bare: ``model.fit(...)`` as a user would call it.

The two are timed alternately (order swapped every pair, so a slow spell of a shared machine or
a first-call effect hits both); the figure is the median of the per-pair ratios ours / bare.
Target: at most 1.03 (3% overhead). Prints one line per pair and the summary, and what mlchecks
adds outside ``model.fit`` in the same calls (``training.fit`` times its own ``model.fit``), which
is exact where the difference of two separate fits on a shared machine is noise.
"""

from __future__ import annotations

import argparse
import os
import statistics
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

    from mlchecks import measure as bench
    from mlchecks.config import ModelSpec
    from mlchecks.data import load_dataset
    from mlchecks.model import training

    ds = load_dataset(args.data)
    spec = ModelSpec(name=args.builder, builder=args.builder, epochs=args.epochs,
                     batch_size=args.batch)  # fmt: skip
    training.set_seed(0)
    model = training.build(spec, ds)

    inside: list[float] = []  # model.fit's own time inside each training.fit call

    def ours() -> None:
        inside.append(training.fit(model, ds, spec, 0).wall_time_s)

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
    # What mlchecks adds around model.fit, from the same calls: each training.fit times its own
    # model.fit (TrainingRecord.wall_time_s), so outer - inner is mlchecks' cost with none of
    # the machine's noise between two separate fits.
    own = [outer - inner for outer, inner in zip(result.ours, inside[-args.pairs :], strict=True)]
    bare_median = bench.Rounds(result.bare).median
    print(
        f"mlchecks' own work per fit (outside model.fit): median {statistics.median(own) * 1e6:.0f}"
        f" us = {statistics.median(own) / bare_median:.4%} of a bare fit ({bare_median:.3f} s)"
    )
    lo, _, hi, _ = bench.spread(result.ratios)
    inner = statistics.median(
        a / b for a, b in zip(inside[-args.pairs :], result.bare, strict=True) if b > 0
    )
    print(f"model.fit inside training.fit vs bare model.fit, median pair ratio: {inner:.4f}")
    exact = 1.0 + statistics.median(own) / bare_median
    verdict = "within" if exact <= 1.03 else "ABOVE"
    print(
        f"framework overhead ({spec.name} on {ds.name}, {spec.epochs} epochs of batch "
        f"{spec.batch_size}, {args.pairs} interleaved pairs): median ratio {result.ratio:.4f} "
        f"(min {lo:.4f}, max {hi:.4f}: the pair-to-pair noise of this machine); same-call ratio "
        f"{exact:.4f}, {verdict} the 1.03 target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
