"""Class-incremental Split MNIST, measured: what the class scenario's forgetting budget is set from.

The benchmark of van de Ven, Tuytelaars & Tolias ("Three types of incremental learning", Nature
Machine Intelligence 2022): 5 tasks of two digits (0-1, 2-3, ..., 8-9), one 10-way softmax
head. Built from the real MNIST test set (the folder given by ``--mnist``, two IDX gzip files):
each task's samples split 80/20 (train / holdout), seeded. Version 1 is the MLP of
``mlchecks.model.zoo.mlp`` trained on task 1; every later version fine-tunes the previous one
on task k alone (``finetune``) or on task k plus a memory of ``--memory`` stored samples per
earlier digit (``replay``). Prints per seed and lineage the accuracy matrix R[i][j] (version i
on task j's holdout), the forgetting of each earlier holdout (best earlier accuracy on it minus
the version's), average accuracy over seen tasks and backward transfer (Lopez-Paz & Ranzato
2017), then the extremes over seeds that the defaults of the class scenario are read against.

Run: ``python benchmarks/class_incremental.py --mnist DIR [--seeds 5] [--epochs 5]
[--finetune-epochs 5] [--batch-size 32]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

TASKS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]


def split_tasks(x: np.ndarray, y: np.ndarray, seed: int) -> list[dict[str, np.ndarray]]:
    """Each task's samples, shuffled with ``seed`` and split 80/20 into train and test."""
    rng = np.random.default_rng(seed)
    x = (x.astype(np.float32) / 255.0)[..., None]
    out = []
    for digits in TASKS:
        idx = np.flatnonzero(np.isin(y, digits))
        rng.shuffle(idx)
        cut = round(0.8 * idx.size)
        tr, te = idx[:cut], idx[cut:]
        out.append({"x_train": x[tr], "y_train": y[tr].astype(np.int64),
                    "x_test": x[te], "y_test": y[te].astype(np.int64)})  # fmt: skip
    return out


def memory(tasks: list[dict[str, np.ndarray]], upto: int, per_digit: int, seed: int):
    """``per_digit`` stored training samples of each digit of tasks ``0 .. upto - 1``."""
    rng = np.random.default_rng(seed + 1000)
    xs, ys = [], []
    for t in tasks[:upto]:
        for d in np.unique(t["y_train"]):
            idx = np.flatnonzero(t["y_train"] == d)
            keep = rng.choice(idx, size=min(per_digit, idx.size), replace=False)
            xs.append(t["x_train"][keep])
            ys.append(t["y_train"][keep])
    return np.concatenate(xs), np.concatenate(ys)


def lineage(
    tasks,
    kind: str,
    seed: int,
    epochs: int,
    finetune_epochs: int,
    per_digit: int,
    batch_size: int = 32,
):
    """The versions' correct masks on every task's holdout: ``masks[i][j]``."""
    from mlchecks.model import training, zoo

    training.set_seed(seed)
    model = zoo.mlp((28, 28, 1), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    masks = []
    for k, task in enumerate(tasks):
        x, y = task["x_train"], task["y_train"]
        if kind == "replay" and k > 0:
            mx, my = memory(tasks, k, per_digit, seed)
            x, y = np.concatenate([x, mx]), np.concatenate([y, my])
        training.set_seed(seed + k)
        model.fit(x, y, epochs=epochs if k == 0 else finetune_epochs, batch_size=batch_size,
                  shuffle=True, verbose=0)  # fmt: skip
        masks.append([training.predict(model, t["x_test"]).argmax(1) == t["y_test"]
                      for t in tasks])  # fmt: skip
    return masks


def summary(masks, tasks) -> dict:
    n = len(masks)
    acc = [[float(m.mean()) for m in row] for row in masks]
    rows = []
    for k in range(1, n):
        forgetting = [max(acc[i][j] for i in range(k)) - acc[k][j] for j in range(k)]
        rows.append({
            "version": k + 1,
            "forgetting_pp": [round(100 * f, 2) for f in forgetting],
            "average_accuracy": round(float(np.mean(acc[k][: k + 1])), 4),
            "bwt_pp": round(100 * float(np.mean([acc[k][j] - acc[j][j] for j in range(k)])), 2),
            # what regression.accuracy / regression.per_class see: the champion (version k)
            # against this version on the champion's holdout (task k)
            "champion_drop_pp": round(100 * (acc[k - 1][k - 1] - acc[k][k - 1]), 2),
            "champion_class_drop_pp": round(100 * max(
                float(masks[k - 1][k - 1][y == d].mean() - masks[k][k - 1][y == d].mean())
                for y in [tasks[k - 1]["y_test"]] for d in np.unique(y)), 2),
        })  # fmt: skip
    return {"R": [[round(a, 4) for a in row] for row in acc], "steps": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--finetune-epochs", type=int, default=5)
    parser.add_argument("--memory", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    from mlchecks.data.dataset import load_mnist_t10k

    x, y = load_mnist_t10k(args.mnist)
    worst: dict[str, dict[str, float]] = {}
    for seed in range(args.seeds):
        tasks = split_tasks(x, y, seed)
        for kind in ("finetune", "replay"):
            t0 = time.perf_counter()
            masks = lineage(
                tasks, kind, seed, args.epochs, args.finetune_epochs, args.memory, args.batch_size
            )
            s = summary(masks, tasks)
            print(json.dumps({"seed": seed, "kind": kind, **s,
                              "seconds": round(time.perf_counter() - t0, 1)}))  # fmt: skip
            w = worst.setdefault(
                kind,
                {
                    "max_forgetting_pp": -1e9,
                    "min_forgetting_pp": 1e9,
                    "min_bwt_pp": 1e9,
                    "max_bwt_pp": -1e9,
                    "final_accuracy_min": 1e9,
                    "final_accuracy_max": -1e9,
                    "max_champion_class_drop_pp": -1e9,
                },
            )
            for step in s["steps"]:
                w["max_forgetting_pp"] = max(w["max_forgetting_pp"], max(step["forgetting_pp"]))
                w["min_forgetting_pp"] = min(w["min_forgetting_pp"], max(step["forgetting_pp"]))
                w["min_bwt_pp"] = min(w["min_bwt_pp"], step["bwt_pp"])
                w["max_bwt_pp"] = max(w["max_bwt_pp"], step["bwt_pp"])
                w["max_champion_class_drop_pp"] = max(
                    w["max_champion_class_drop_pp"], step["champion_class_drop_pp"]
                )
            final = s["steps"][-1]["average_accuracy"]
            w["final_accuracy_min"] = min(w["final_accuracy_min"], final)
            w["final_accuracy_max"] = max(w["final_accuracy_max"], final)
    print(json.dumps({"extremes over seeds and steps 2-5": worst}))


if __name__ == "__main__":
    main()
