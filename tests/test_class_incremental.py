"""Class-incremental continual learning (issue 16): a lineage whose versions learn new classes.

The class space comes from the model's head, the width of one-hot labels and the ``classes``
setting, not from the labels one data set holds; ``data.classes_present`` checks the classes
the data is declared to hold; ``scenario = "class"`` judges forgetting by the class-incremental
budget (``mlchecks.checks.continual``). The main test is class-incremental Split MNIST on the
real MNIST test set, gated version by version, each decision recomputed here from an accuracy
matrix this test computes itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlchecks.checks import continual
from mlchecks.config import Thresholds, settings_from_table
from mlchecks.data.dataset import declare_classes, fit_head, from_arrays, load_dataset
from mlchecks.errors import ConfigError, DataError, ModelError
from mlchecks.plugin.runner import run_suites

TASKS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
# The recipe measured by benchmarks/class_incremental.py --epochs 3 --finetune-epochs 3 over
# seeds 0-4: replay forgets at most 26.7 pp of a holdout (BWT >= -15.8 pp), fine-tuning
# >= 97.5 pp (BWT <= -98.5 pp) at every step.
EPOCHS = 3
MEMORY = 100  # stored training samples per earlier digit (replay)
# The suites a class-incremental step is about (as mlchecks evolve): the data suite is tested on
# its own below (data.classes_present on a declared subset).
GATE = ("setup", "accuracy", "regression")


# ----------------------------------------------------------------------------- class space
def _arrays(labels, n=40, shape=(4, 4)):
    rng = np.random.default_rng(0)
    y = np.resize(np.asarray(labels), n)
    return rng.random((n, *shape), dtype=np.float32), y


def test_one_hot_width_is_the_class_space_and_labels_are_what_the_data_holds():
    x, y = _arrays([0, 1])
    onehot = np.eye(10, dtype=np.float32)[y]
    ds = from_arrays("task1", x, onehot, x, onehot)
    assert ds.num_classes == 10 and ds.label_format == "onehot"
    assert ds.classes_held == (0, 1) and "holds 2: 0-1" in ds.describe()
    ids = from_arrays("ids", x, y, x, y)  # ids alone: the labels say all there is
    assert ids.num_classes == 2 and ids.classes_held == (0, 1) and ids.held is None


def test_declared_classes_and_the_head_widen_the_space_never_shrink_it():
    x, y = _arrays([4, 5])
    ds = from_arrays("task3", x, y, x, y)
    assert ds.num_classes == 6 and ds.classes_held == tuple(range(6))  # 0-3 missing: flagged
    subset = declare_classes(ds, (4, 5))
    assert subset.num_classes == 6 and subset.classes_held == (4, 5)
    wide = fit_head(subset, 10, "m.keras")
    assert wide.num_classes == 10 and wide.classes_held == (4, 5)
    assert len(wide.class_names) == 10 and wide.fingerprint != subset.fingerprint
    with pytest.raises(DataError, match=r"output head of 4 unit\(s\).*class id 5.*at least 6"):
        fit_head(ds, 4, "m.keras")
    with pytest.raises(DataError, match=r"declares 5 classes .* class id 5"):
        declare_classes(ds, 5)
    named = declare_classes(from_arrays("pets", *_arrays([0, 1]), *_arrays([0, 1])), ("cat", "dog"))
    assert named.class_names == ("cat", "dog") and named.held is None
    assert load_dataset("digits", classes=10).num_classes == 10


def test_classes_present_checks_the_classes_the_data_is_declared_to_hold(digits):
    from mlchecks.data import expectations

    tr, te = np.isin(digits.y_train, (4, 5)), np.isin(digits.y_test, (4, 5))
    part = from_arrays("digits[4-5]", digits.x_train[tr], digits.y_train[tr], digits.x_test[te],
                       digits.y_test[te])  # fmt: skip
    undeclared = expectations.run(fit_head(part, 10, "m"), reference=None).results
    assert not undeclared["data.classes_present"].passed  # 0..5 by its labels: 0-3 missing
    assert "4 of 6 classes have no sample" in undeclared["data.classes_present"].message
    declared = fit_head(declare_classes(part, (4, 5)), 10, "m")
    results = expectations.run(declared, reference=None).results
    assert results["data.classes_present"].passed, results["data.classes_present"].message
    assert "all 2 classes present" in results["data.classes_present"].message
    assert results["data.labels"].passed and results["data.balance"].passed
    y = declared.y_test.copy()
    y[0] = 3  # a class the data is not declared to hold (but the head knows)
    stray = expectations.run(declared.replace(y_test=y), reference=None).results["data.labels"]
    assert not stray.passed and "outside the class set [4, 5]" in stray.message


def test_config_classes_and_scenario():
    def settings(**table):
        return settings_from_table(table, {})

    assert settings(classes="4-5").classes == (4, 5)
    assert settings(classes=[5, 4]).classes == (4, 5)
    assert settings(classes="0-3,8").classes == (0, 1, 2, 3, 8)
    assert settings(classes=10).classes == 10 and settings(classes="10").classes == 10
    assert settings(classes="cat,dog").classes == ("cat", "dog")
    assert settings(scenario="class").scenario == "class" and settings().scenario == "domain"
    assert settings_from_table({}, {"classes": "2,3", "scenario": "class"}).classes == (2, 3)
    for bad, fragment in (("x,", "must be a class count"), ([1, 1], "distinct"), (1, "2 to")):
        with pytest.raises(ConfigError, match=fragment):
            settings(classes=bad)
    with pytest.raises(ConfigError, match=r"scenario .* must be one of \('domain', 'class'\)"):
        settings(scenario="task")
    assert Thresholds().forgetting_budget == 50.0 and Thresholds().min_backward_transfer == -30.0
    with pytest.raises(ConfigError, match=r"-100\.\.0"):
        settings_from_table({"thresholds": {"min_backward_transfer": 5}}, {})


def test_matrix_figures_average_accuracy_and_backward_transfer():
    matrix = {"versions": ["0001", "0002", "candidate"], "holdouts": ["a", "b", "c"],
              "introduced_by": ["0001", "0002", "candidate"],
              "accuracy": [[1.0, None, None], [0.9, 0.98, None], [0.8, 0.9, 0.96]]}  # fmt: skip
    out = continual.matrix_figures(matrix)
    assert out["average_accuracy"] == pytest.approx([1.0, 0.94, (0.8 + 0.9 + 0.96) / 3])
    assert out["backward_transfer"][0] is None
    assert out["backward_transfer"][1:] == pytest.approx([-0.1, ((0.8 - 1.0) + (0.9 - 0.98)) / 2])


# ----------------------------------------------------------------------------- Split MNIST
def _split_tasks(x, y, seed=0):
    """Each task's samples, shuffled and split 80/20 (as benchmarks/class_incremental.py)."""
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


def _gate(folder, lineage, data, classes, candidate, scenario="class", categories=GATE):
    """One in-process gate of ``candidate`` on ``data``; returns the decision (an exit 2 or 3
    would raise here)."""
    from mlchecks.run.gate import Gate

    table = {"name": lineage, "registry": str(folder / "registry"), "data": str(data),
             "classes": list(classes), "scenario": scenario}  # fmt: skip
    settings = settings_from_table(table, {}, root=str(folder))
    with Gate.for_settings(settings, candidate=candidate, categories=categories) as gate:
        return gate.run(run_suites)


def _expected_forgetting(accepted, cand, masks, thresholds):
    """The class-incremental forgetting rule, recomputed from this test's own correct masks:
    ``masks[i][j]`` is version ``i`` (the one trained on task ``i``) on task ``j``'s holdout,
    ``accepted`` the versions of the lineage, ``cand[j]`` the candidate on holdout ``j``.
    Returns (passed, forgetting per holdout, backward transfer)."""
    from scipy.stats import binom

    budget, alpha = thresholds.forgetting_budget / 100, thresholds.alpha
    drops, pvalues, deltas = [], [], []
    for j in accepted:  # each accepted version brought its task's holdout
        evaluated = [i for i in accepted if i >= j]  # a version predicts the holdouts it saw
        best = max(evaluated, key=lambda i: (masks[i][j].mean(), i))  # ties: the later one
        b = int((masks[best][j] & ~cand[j]).sum())
        c = int((~masks[best][j] & cand[j]).sum())
        pvalues.append(float(binom.sf(b - 1, b + c, 0.5)) if b else 1.0)
        drops.append(float(masks[best][j].mean() - cand[j].mean()))
        deltas.append(float(cand[j].mean() - masks[j][j].mean()))
    order = np.argsort(pvalues)
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):  # Holm
        running = max(running, (len(pvalues) - rank) * pvalues[i])
        adjusted[i] = min(1.0, running)
    regressed = [p <= alpha and d > budget + 1e-12 for p, d in zip(adjusted, drops, strict=True)]
    bwt = float(np.mean(deltas))
    passed = not any(regressed) and bwt * 100 >= thresholds.min_backward_transfer - 1e-9
    return passed, drops, bwt


@pytest.fixture(scope="module")
def split_mnist(mnist_t10k, tmp_path_factory):
    """Both lineages trained and gated, version by version: (tasks, masks, decisions, folder,
    data files)."""
    from mlchecks.model import training, zoo

    x, y = mnist_t10k
    tasks = _split_tasks(x, y)
    folder = tmp_path_factory.mktemp("split-mnist")
    data = []
    for k, t in enumerate(tasks, start=1):
        np.savez(folder / f"task{k}.npz", **t)
        data.append(folder / f"task{k}.npz")
    masks: dict[str, list[list[np.ndarray]]] = {}
    decisions: dict[str, list] = {}
    rng = np.random.default_rng(1)
    stored = [np.sort(np.concatenate([rng.choice(np.flatnonzero(t["y_train"] == d), MEMORY,
                                                 replace=False) for d in digits]))
              for t, digits in zip(tasks, TASKS, strict=True)]  # fmt: skip
    for kind in ("finetune", "replay"):
        masks[kind], decisions[kind] = [], []
        for k, task in enumerate(tasks):
            xs, ys = task["x_train"], task["y_train"]
            if kind == "replay" and k:
                xs = np.concatenate([xs, *(tasks[i]["x_train"][stored[i]] for i in range(k))])
                ys = np.concatenate([ys, *(tasks[i]["y_train"][stored[i]] for i in range(k))])
            path = folder / f"{kind}-v{k + 1}.keras"
            if k == 0 and kind == "replay":  # version 1 is the same for both: its saved file,
                model = training.load_model(folder / "finetune-v1.keras")  # optimizer included
                path = folder / "finetune-v1.keras"
            else:
                if k == 0:
                    training.set_seed(0)
                    model = zoo.mlp((28, 28, 1), 10)
                    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
                training.set_seed(k)
                model.fit(xs, ys, epochs=EPOCHS, batch_size=32, shuffle=True, verbose=0)
                model.save(path)
            masks[kind].append([training.predict(model, t["x_test"]).argmax(1) == t["y_test"]
                                for t in tasks])  # fmt: skip
            decisions[kind].append(_gate(folder, kind, data[k], TASKS[k], path))
    return tasks, masks, decisions, folder, data


def _check(decision, check_id):
    return next(c for c in decision.checks if c.id == check_id)


@pytest.mark.slow
def test_split_mnist_finetuning_rejected_replay_promoted_as_recomputed(split_mnist):
    _, masks, decisions, _, _ = split_mnist
    thresholds = Thresholds()
    for kind in ("finetune", "replay"):
        accepted = [0]
        assert decisions[kind][0].accepted, [c.message for c in decisions[kind][0].failed]
        for k in range(1, len(TASKS)):
            decision = decisions[kind][k]
            forgetting = _check(decision, "regression.forgetting")
            details = forgetting.details
            assert details.scenario == "class"
            passed, drops, bwt = _expected_forgetting(accepted, masks[kind][k], masks[kind],
                                                      thresholds)  # fmt: skip
            assert forgetting.passed == passed, (kind, k + 1, forgetting.message)
            assert details.backward_transfer == pytest.approx(bwt, abs=1e-12)
            rows = {r.holdout: r for r in details.holdouts}
            assert [r.forgetting for r in rows.values()] == pytest.approx(drops, abs=1e-12)
            # mlchecks' accuracy matrix equals this test's: versions x holdouts, then the
            # candidate's row (its own task's holdout last)
            m = details.matrix
            ours = [[masks[kind][i][j].mean() if j <= i and i in accepted else None
                     for j in [*accepted, k]] for i in [*accepted, k]]  # fmt: skip
            ours[-1] = [float(masks[kind][k][j].mean()) for j in [*accepted, k]]
            for mine, theirs in zip(ours, m.accuracy, strict=True):
                assert [v is None for v in mine] == [v is None for v in theirs]
                assert [v for v in mine if v is not None] == pytest.approx(
                    [v for v in theirs if v is not None], abs=1e-12
                )
            assert m.average_accuracy[-1] == pytest.approx(np.mean(ours[-1]), abs=1e-12)
            assert m.backward_transfer[-1] == pytest.approx(bwt, abs=1e-12)
            if kind == "finetune":
                assert not decision.accepted and not passed, (k + 1, forgetting.message)
                assert "regression.forgetting" in [c.id for c in decision.failed]
            else:
                assert decision.accepted and passed, (k + 1, [c.message for c in decision.failed])
                accepted.append(k)
    final = {kind: float(np.mean([masks[kind][-1][j].mean() for j in range(5)]))
             for kind in masks}  # fmt: skip
    assert final["finetune"] < 0.25 < 0.8 < final["replay"]  # the benchmark: ~20% vs ~88%


@pytest.mark.slow
def test_the_domain_rule_rejects_replay_and_says_why(split_mnist):
    """Without scenario = "class" the domain rule (1 pp per earlier holdout) rejects the
    replay step it accepts above, and the message points to the class scenario."""
    _, masks, _, folder, data = split_mnist
    path = folder / "replay-v2.keras"
    decision = _gate(folder, "replay-domain-rule", data[0], TASKS[0],
                     folder / "finetune-v1.keras", scenario="domain")  # fmt: skip
    assert decision.accepted
    decision = _gate(folder, "replay-domain-rule", data[1], TASKS[1], path, scenario="domain")
    forgetting = _check(decision, "regression.forgetting")
    assert not forgetting.passed and 'set scenario = "class"' in forgetting.message
    assert "classes no earlier holdout held (2, 3)" in forgetting.message
    del masks


@pytest.mark.slow
def test_a_shrinking_head_or_labels_beyond_the_head_are_bad_input(split_mnist):
    from mlchecks.model import zoo

    _, _, decisions, folder, data = split_mnist
    narrow = zoo.mlp((28, 28, 1), 4)  # not compiled: saved without an optimizer
    narrow.save(folder / "head4.keras")
    # labels 8, 9 beyond a 4-unit head: exit 2 before any check
    with pytest.raises(DataError, match=r"head4.keras has an output head of 4 unit.*class id 9"):
        _gate(folder, "replay", data[4], TASKS[4], folder / "head4.keras")
    # a 4-unit head fits task 1's labels, but the replay lineage's class space is 10
    with pytest.raises(ModelError, match=r"class space of 10 classes.*never shrink") as info:
        _gate(folder, "replay", data[0], TASKS[0], folder / "head4.keras")
    assert info.value.exit_code == 2
    assert decisions["replay"][-1].accepted  # the champion survived both


@pytest.mark.slow
def test_drift_is_not_judged_against_a_profile_of_other_classes(split_mnist):
    """A learning step's data (new digits) differs from the champion's data profile by design:
    data.drift is not judged then (it rejected every learning step before)."""
    _, _, _, folder, data = split_mnist
    step = _gate(folder, "finetune", data[1], TASKS[1], folder / "finetune-v2.keras",
                 categories=("data", "regression"))  # fmt: skip
    drift = _check(step, "data.drift")
    assert drift.status == "not_judged" and "brings classes 2, 3" in drift.message
    assert _check(step, "data.classes_present").passed  # the declared 2, 3


# ----------------------------------------------------------------------------- evolve
def test_evolve_scenarios_are_checked():
    from mlchecks.run import evolve

    with pytest.raises(ConfigError, match=r"--scenario 'task'"):
        evolve.evolve(settings_from_table({}, {}), None, 2, workdir=None, runner=run_suites,
                      scenario="task")  # fmt: skip
    labels = np.array([0, 0, 0, 1, 1, 2])
    keep = evolve.stored_samples(labels, 2, np.random.default_rng(0))
    assert sorted(np.bincount(labels[keep]).tolist()) == [1, 2, 2]


@pytest.mark.slow
def test_evolve_class_scenario_rejects_naive_promotes_rehearsal(digits, tmp_path):
    """``mlchecks evolve --scenario class`` on the embedded digits, three tasks of two digits
    (0-1, 2-3, 4-5; the CLI's default is all five), evolve's default recipe and memory."""
    from mlchecks.run import evolve

    tr, te = digits.y_train < 6, digits.y_test < 6
    six = digits.replace(x_train=digits.x_train[tr], y_train=digits.y_train[tr],
                         x_test=digits.x_test[te], y_test=digits.y_test[te], num_classes=6,
                         class_names=digits.class_names[:6])  # fmt: skip
    settings = settings_from_table({"name": "evolve", "registry": str(tmp_path / "reg")}, {},
                                   root=str(tmp_path))  # fmt: skip
    lines: list[str] = []
    result = evolve.evolve(settings, six, 3, workdir=tmp_path, runner=run_suites,
                           echo=lines.append, scenario="class")  # fmt: skip
    kinds = [(a.step, a.kind, a.accepted, a.version) for a in result.attempts]
    assert kinds == [(1, "initial", True, "0001"), (2, "naive", False, None),
                     (2, "rehearsal", True, "0002"), (3, "naive", False, None),
                     (3, "rehearsal", True, "0003")]  # fmt: skip
    for attempt in result.attempts:
        if attempt.kind == "naive":
            assert "regression.forgetting" in attempt.failed
            assert attempt.accuracy["classes 0-1"] < 0.2
    assert result.attempts[-1].accuracy["classes 0-1"] > 0.8
    text = "\n".join(lines)
    assert "forgetting matrix" in text and "average" in text
    assert "REJECTED" in text and "FORGETTING on the holdout of version 0001" in text


def test_the_bwt_floor_fails_a_forgetting_check_within_the_per_holdout_budget():
    """Every earlier holdout within the 50 pp budget, but 40 pp lost on average: the BWT floor
    (-30 pp) rejects; a single holdout beyond the budget is named first."""
    from mlchecks.checks import regression

    thresholds = Thresholds(max_forgetting=50.0)
    best = np.ones(200, bool)
    lost40 = np.arange(200) >= 80  # 60% right: 40 pp forgotten
    pairs = [
        regression.HoldoutPair(h, v, 1.0, v, best, lost40)
        for h, v in (("a", "0001"), ("b", "0002"))
    ]
    result = continual.apply_bwt_floor(regression.forgetting_check(pairs, thresholds=thresholds),
                                       -30.0, 50.0)  # fmt: skip
    assert not result.passed and result.message.startswith("FORGETTING: backward transfer -40")
    assert result.details.scenario == "class" and result.details.min_backward_transfer == -0.3
    kept = continual.apply_bwt_floor(
        regression.forgetting_check([pairs[0]], thresholds=Thresholds(max_forgetting=50.0)),
        -45.0,
        50.0,
    )
    assert kept.passed
