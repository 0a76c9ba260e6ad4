"""speed.training before and after: stored normalised figure vs same-run A/B, quiet and loaded.

``python benchmarks/speed_ab.py [--repeats 10] [--cache DIR] [--no-load] [--no-wide]``

The champion is the reference MLP (128 units, digits, seed 0); the candidate is **the same
file** (an identical resubmission), and, unless ``--no-wide``, the champion widened to
2 x 2048 units (``tests/helpers.widened``: the same predictions, a slower step). For each
condition (quiet; under ``tests/loadgen.py``'s load, unless ``--no-load``) and each repeat it
computes

- before: the old rule, the candidate's normalised training figure (``measure_training``:
  samples/s of ``fit`` / matmul calibration) against the champion's figure stored once at the
  start (quiet), ratio = candidate / stored, rejected below 0.75 (``speed_tolerance`` 0.25);
- after: the same-run A/B (``measure_ab`` + ``checks.speed.ab_check``), throughput ratio
  candidate / champion = 1 / median(seconds ratio), and its verdict.

Prints min/median/max of both ratios per condition, the verdicts, and the wall time one A/B
adds per model. Models are trained once and cached (``--cache``, default
``.mlchecks/bench-cache``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cache", default=str(ROOT / ".mlchecks" / "bench-cache"))
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--no-wide", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="one line per A/B")
    args = parser.parse_args(argv)

    from loadgen import ci_load

    from mlchecks import measure as bench
    from mlchecks.checks import speed as speed_checks
    from mlchecks.config import ModelSpec
    from mlchecks.data import load_dataset
    from mlchecks.model.training import ModelCache, load_model, train

    digits = load_dataset("digits")
    spec = ModelSpec(name="mlp", builder="mlp", epochs=20)
    champion_path = train(spec, digits, seed=0, cache=ModelCache(Path(args.cache))).path
    assert champion_path is not None
    files = {"identical": champion_path}
    if not args.no_wide:
        from helpers import widened

        folder = Path(args.cache) / "speed-ab"
        folder.mkdir(parents=True, exist_ok=True)
        files["wide 2x2048"] = widened(champion_path, folder / "wide.keras")
    probe = bench.Probe()
    plan = bench.ABPlan()

    def old_figure(path: Path) -> float:
        speed = bench.measure_training(load_model(path), digits.x_train, digits.y_train,
                                       batch_size=32, probe=probe)  # fmt: skip
        return speed.normalised

    stored = old_figure(champion_path)  # the champion's figure, stored on a quiet day
    print(f"stored champion figure (quiet): {stored:.3%} of the matmul peak")

    def ab(path: Path):
        start = time.perf_counter()
        cand, champ = load_model(path), load_model(champion_path)

        def decided(ratios):
            return speed_checks.paired_verdict(ratios, 0.25, looks=plan.looks).decided

        rounds = bench.measure_ab(cand, champ, digits.x_train, digits.y_train, batch_size=32,
                                  plan=plan, decided=decided)  # fmt: skip
        check = speed_checks.ab_check(rounds.ratios, 0.25, looks=plan.looks,
                                      measurement=rounds.to_json())  # fmt: skip
        return check, rounds, time.perf_counter() - start

    conditions = [("quiet", contextlib.nullcontext)]
    if not args.no_load:
        conditions.append(("load", lambda: ci_load(seconds=900, seed=0)))
    for label, context in conditions:
        with context():
            for name, path in files.items():
                before, after, verdicts, walls, rounds_n = [], [], [], [], []
                for _ in range(args.repeats):
                    before.append(old_figure(path) / stored)
                    check, rounds, wall = ab(path)
                    after.append(1 / check.value)
                    verdicts.append(check.details["verdict"])
                    walls.append(wall)
                    rounds_n.append(rounds.rounds)
                    if args.verbose:
                        d = check.details
                        print(f"    {d['verdict']:9} x{check.value:.3f} [{d['lower'] or 0:.3f}, "
                              f"{d['upper'] or 0:.3f}] {rounds.rounds} rounds of "
                              f"{rounds.steps} steps ({rounds.stopped}); timed "
                              f"{rounds.timed_s:.2f} s, A/B {rounds.elapsed_s:.2f} s, with "
                              f"loading {wall:.2f} s")  # fmt: skip
                old_rejected = sum(r < 0.75 for r in before)

                def mmm(values):
                    return (f"{min(values):.3f} / {statistics.median(values):.3f} / "
                            f"{max(values):.3f}")  # fmt: skip

                print(f"\n[{label}] candidate: {name}, {args.repeats} repeats")
                print(f"  before (normalised vs stored): min/median/max {mmm(before)}; rejected "
                      f"{old_rejected}/{args.repeats}")  # fmt: skip
                print(
                    f"  after (same-run A/B, throughput ratio): min/median/max {mmm(after)}; "
                    f"verdicts {dict((v, verdicts.count(v)) for v in sorted(set(verdicts)))}"
                )
                print(f"  A/B wall time per model (load both copies, warm-up, rounds): "
                      f"min/median/max {mmm(walls)} s; rounds {min(rounds_n)}-{max(rounds_n)}, "
                      f"{rounds.steps} steps each")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
