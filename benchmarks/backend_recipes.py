"""The recipes that tests and pyproject.toml rely on, measured on the active Keras backend.

Run once per backend (each in its own virtual environment), e.g.
``KERAS_BACKEND=jax /work/venv-jax/bin/python benchmarks/backend_recipes.py reference``.
Prints one JSON line per measurement and a summary.

``reference [--seeds 5]``
    The reference MLP (20 epochs) and CNN (15 epochs) on digits, exactly as configured in
    pyproject.toml ``[[tool.mlchecks.models]]``, trained by ``mlchecks.model.training.train``
    with seeds 0..N-1: test accuracy per seed, mean +- std, and the Wilson 95% lower bound per
    seed (what ``accuracy.min`` judges). Sets the per-backend ``min_accuracy`` floors.

``evolve [--seeds 5] [--recipes 10x3,10x5,...]``
    The two-increment loop of tests/test_evolve.py (classes 0-4, then 5-9; initial training
    for E epochs, naive and rehearsal fine-tuning for F epochs from the saved champion), the
    same seeding as ``mlchecks.run.evolve.evolve``, judged by the same forgetting rule
    (``regression.judge`` with the default thresholds) without the gate around it: whether
    naive is rejected and rehearsal kept, per seed and recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def reference(seeds: int) -> None:
    from mlchecks.config import ModelSpec, active_backend
    from mlchecks.data import load_dataset
    from mlchecks.model.training import predict, train
    from mlchecks.stats import wilson_lower

    ds = load_dataset("digits")
    backend = active_backend()
    for builder, epochs in (("mlp", 20), ("cnn", 15)):
        accs, lows = [], []
        for seed in range(seeds):
            t0 = time.perf_counter()
            trained = train(ModelSpec(name=builder, builder=builder, epochs=epochs), ds, seed=seed)
            correct = int((predict(trained.model, ds.x_test).argmax(1) == ds.y_test).sum())
            acc, low = correct / ds.n_test, wilson_lower(correct, ds.n_test)
            accs.append(acc)
            lows.append(low)
            print(
                json.dumps(
                    {
                        "backend": backend,
                        "builder": builder,
                        "seed": seed,
                        "accuracy": round(acc, 4),
                        "wilson_lower": round(low, 4),
                        "seconds": round(time.perf_counter() - t0, 1),
                    }
                ),
                flush=True,
            )
        print(
            f"SUMMARY {backend} {builder}: accuracy {statistics.mean(accs):.4f} +- "
            f"{statistics.stdev(accs):.4f} (min {min(accs):.4f}); Wilson 95% lower bound "
            f"min {min(lows):.4f}, mean {statistics.mean(lows):.4f}",
            flush=True,
        )


def evolve(seeds: int, recipes: list[tuple[int, int]]) -> None:
    import numpy as np

    from mlchecks.checks.regression import judge, paired
    from mlchecks.config import ModelSpec, Thresholds, active_backend
    from mlchecks.data import load_dataset
    from mlchecks.model import training
    from mlchecks.run.evolve import increments

    backend = active_backend()
    ds = load_dataset("digits")
    (_, first), (_, second) = increments(ds, 2)
    th = Thresholds()
    work = Path(tempfile.mkdtemp())
    tally: dict[str, list[bool]] = {}
    for epochs, finetune in recipes:
        for seed in range(seeds):
            t0 = time.perf_counter()
            recipe = ModelSpec(name="evolve", builder="mlp", epochs=epochs)
            training.set_seed(seed + 1, True)
            model = training.build(recipe, first)
            model.fit(first.x_train, first.y_train, epochs=epochs, batch_size=32, verbose=0)
            champion = work / f"{seed}.keras"
            model.save(champion)
            base = training.predict(model, first.x_test).argmax(1) == first.y_test
            rng = np.random.default_rng(seed)
            keep = rng.choice(first.y_train.size, size=first.y_train.size, replace=False)
            row = {"backend": backend, "recipe": f"{epochs}x{finetune}", "seed": seed,
                   "initial": round(float(base.mean()), 4)}  # fmt: skip
            for kind, x, y in (
                ("naive", second.x_train, second.y_train),
                ("rehearsal", np.concatenate([second.x_train, first.x_train[keep]]),
                 np.concatenate([second.y_train, first.y_train[keep]])),
            ):  # fmt: skip
                training.set_seed(seed + 2, True)
                cand = training.load_model(champion)
                cand.fit(x, y, epochs=finetune, batch_size=32, shuffle=True, verbose=0)
                correct = training.predict(cand, first.x_test).argmax(1) == first.y_test
                new = training.predict(cand, second.x_test).argmax(1) == second.y_test
                verdict = judge(paired(base, correct), th.max_forgetting / 100, th)
                row[kind] = {"old": round(float(correct.mean()), 4),
                             "new": round(float(new.mean()), 4),
                             "forgetting_pp": round(verdict.drop * 100, 2),
                             "rejected": verdict.regressed}  # fmt: skip
            naive, rehearsal = row["naive"], row["rehearsal"]
            ok = naive["rejected"] and naive["old"] < 0.2  # type: ignore[index]
            ok = ok and not rehearsal["rejected"] and rehearsal["old"] > 0.9  # type: ignore[index]
            row["as_test_expects"] = ok
            row["seconds"] = round(time.perf_counter() - t0, 1)
            tally.setdefault(row["recipe"], []).append(ok)
            print(json.dumps(row), flush=True)
    for recipe, oks in tally.items():
        print(
            f"SUMMARY {backend} evolve {recipe}: {sum(oks)}/{len(oks)} seeds as the test expects",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("reference", "evolve"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--recipes", default="10x3,10x5,20x5",
                        help="evolve: EPOCHSxFINETUNE_EPOCHS, comma-separated")  # fmt: skip
    args = parser.parse_args(argv)
    if args.mode == "reference":
        reference(args.seeds)
    else:
        recipes = [tuple(int(n) for n in r.split("x")) for r in args.recipes.split(",")]
        evolve(args.seeds, recipes)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
