"""The no-regression gate end to end: registry, regression suite, promotion (pytest plugin and
`mlchecks gate`), verdict calibration on reseeds, SIGKILL during a real gate's promotion and two
gates at once on one registry.

Models: the session's reference MLP (`trained_mlp`, 0.97 on digits), its reseeds, and two
recipes trained here once and cached in pytest's cache folder: `weak` (2 epochs, ~0.90) and
`forgetful` (20 epochs with class 3 weighted 0.02: higher overall accuracy than `weak`, class 3
recall ~30 pp lower).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli
from reliability import tally  # counted in the reliability summary line when run with it

from mlchecks.checks import regression as compare
from mlchecks.config import ModelSpec, Thresholds
from mlchecks.errors import GateExit
from mlchecks.registry import open_registry

ROOT = Path(__file__).resolve().parent.parent
SUITE = (ROOT / "suites" / "test_regression.py").read_text()
FORGOTTEN = 3
RECIPES = {"weak": (2, None), "forgetful": (20, {FORGOTTEN: 0.02})}
RESEEDS = (0, 1, 2, 3, 4)  # 5 seeds: 20 ordered pairs


@pytest.fixture(scope="session")
def gate_models(digits, request) -> dict[str, Path]:
    """The extra recipes as .keras files, trained once per machine/versions and cached."""
    from mlchecks.model import training

    env = training.environment_light()
    tag = f"{digits.fingerprint}-{env['keras']}-{env['backend']}-{env['backend_version']}"
    folder = Path(request.config.cache.mkdir("mlchecks-gate-models"))
    paths = {}
    for name, (epochs, weights) in RECIPES.items():
        path = folder / f"{name}-{tag}.keras"
        if not path.is_file():
            training.set_seed(0)
            model = training.build(ModelSpec(name=name, builder="mlp", epochs=epochs), digits)
            class_weight = {k: (weights or {}).get(k, 1.0) for k in range(digits.num_classes)}
            model.fit(digits.x_train, digits.y_train, epochs=epochs, batch_size=32, verbose=0,
                      class_weight=class_weight)  # fmt: skip
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.keras")
            model.save(tmp)
            os.replace(tmp, path)
        paths[name] = path
    return paths


def predicted(trained, digits) -> np.ndarray:
    """Predicted class ids on the test split, memoised like Session.predictions does."""
    from mlchecks.model.training import predict, save_memo

    memo = trained.memo_path(f"predict:test:{digits.fingerprint}", ".npy")
    if memo is not None and memo.is_file():
        return np.load(memo).argmax(axis=1)
    probs = predict(trained.model, digits.x_test)
    if memo is not None:
        save_memo(memo, lambda p: np.save(p, probs, allow_pickle=False))
    return probs.argmax(axis=1)


@pytest.fixture(scope="session")
def reseeds(digits, model_cache, trained_mlp) -> dict[int, np.ndarray]:
    """Test-split predictions of the reference MLP recipe trained with 5 seeds (cached)."""
    from mlchecks.model.training import train

    spec = ModelSpec(name="mlp", builder="mlp", epochs=20)  # as conftest's trained_mlp
    out = {0: predicted(trained_mlp, digits)}
    for seed in RESEEDS[1:]:
        out[seed] = predicted(train(spec, digits, seed=seed, cache=model_cache), digits)
    return out


@pytest.fixture
def project(pytester: pytest.Pytester, tmp_path_factory):
    """A project with every shipped suite (promotion needs every category of the gate); its
    registry is `project.path / 'reg'`."""
    cache = tmp_path_factory.mktemp("cache")
    config = f'[tool.mlchecks]\ndata = "digits"\ncache_dir = "{cache}"\n'
    pytester.makefile(".toml", pyproject=config)
    pytester.makepyfile(**{p.stem: p.read_text() for p in (ROOT / "suites").glob("test_*.py")})
    return pytester


def plugin_gate(project: pytest.Pytester, candidate: Path, *args: str):
    options = [f"--mlchecks-candidate={candidate}", "--mlchecks-registry=reg",
               "--mlchecks-report=none"]  # fmt: skip
    return project.runpytest("-p", "no:cacheprovider", *options, *args)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".locks" not in p.parts}  # fmt: skip


def test_recipes_make_the_intended_pair(gate_models, digits):
    """The fixture models are what the scenario needs: forgetful beats weak overall and has
    lost class 3."""
    from mlchecks.model.training import load_model, predict

    acc = {}
    for name, path in gate_models.items():
        pred = predict(load_model(path), digits.x_test).argmax(axis=1)
        mask = digits.y_test == FORGOTTEN
        acc[name] = ((pred == digits.y_test).mean(), (pred[mask] == FORGOTTEN).mean())
    assert acc["forgetful"][0] > acc["weak"][0]
    assert acc["weak"][1] - acc["forgetful"][1] >= 0.2


def test_promotion_lifecycle_through_the_plugin(project, gate_models, trained_mlp, tmp_path):
    reg = project.path / "reg"
    # 1. empty registry: absolute checks only, promoted as version 0001
    first = plugin_gate(project, gate_models["weak"], "--mlchecks-promote")
    assert first.ret == GateExit.ACCEPTED, first.stdout.str()[-3000:]
    first.stdout.fnmatch_lines(["*no champion yet in lineage 'default'*absolute checks only*",
                                "*default promoted to 'default' version 0001*"])  # fmt: skip
    registry = open_registry(reg)
    assert registry.state("default").champion == "0001"

    # 2. identical candidate (another copy of the same file): accepted, nothing to promote
    same = tmp_path / "same.keras"
    shutil.copy(gate_models["weak"], same)
    second = plugin_gate(project, same, "--mlchecks-promote")
    assert second.ret == GateExit.ACCEPTED, second.stdout.str()[-3000:]
    second.stdout.fnmatch_lines(["*already champion 0001*same sha256*"])
    second.stdout.fnmatch_lines(["PASS*regression.accuracy*+0.00 pp, not significant*",
                                 "PASS*regression.flip_rate*(0 of 450 samples*"])  # fmt: skip

    # 3. better on average, class 3 forgotten: rejected by regression.per_class, unchanged
    before = files(reg)
    third = plugin_gate(project, gate_models["forgetful"], "--mlchecks-promote")
    assert third.ret == GateExit.REJECTED
    out = third.stdout.str()
    assert "FAIL  regression.per_class" in out and "class 3 recall" in out
    assert "PASS  regression.accuracy" in out  # overall it is better
    assert "registry is unchanged" in out and "Traceback" not in out
    assert files(reg) == before
    assert registry.state("default").champion == "0001" and registry.verify("default") == []

    # 4. clearly better (the reference MLP, 0.97 vs 0.90): promoted as 0002
    fourth = plugin_gate(project, trained_mlp.path, "--mlchecks-promote")
    assert fourth.ret == GateExit.ACCEPTED, fourth.stdout.str()[-3000:]
    fourth.stdout.fnmatch_lines(["PASS*regression.accuracy*no regression: accuracy 0.97*",
                                 "*default promoted to 'default' version 0002*"])  # fmt: skip
    state = registry.state("default")
    assert state.champion == "0002" and registry.verify("default") == []
    record = registry.record("default", "0002")
    assert record.parent == "0001" and record.metrics["accuracy"] > 0.95
    assert record.data["name"] == "digits" and record.data_profile is not None
    assert set(compare.CHECK_IDS) <= {c["id"] for c in record.checks}


def test_without_promote_option_the_registry_is_only_read(project, gate_models):
    result = plugin_gate(project, gate_models["weak"])
    assert result.ret == 0 and not (project.path / "reg" / "default").exists()


def test_verdict_calibration_on_reseeds(reseeds, digits, gate_models):
    """20 ordered pairs of reseeds of the reference recipe, gated against each other: the
    default rule rejects at most 5% (1 pair); the planted class-3 loss is caught every time."""
    from mlchecks.model.training import load_model, predict

    t = Thresholds()
    y = digits.y_test
    rule = raw = 0
    pairs = [(a, b) for a in RESEEDS for b in RESEEDS if a != b]
    for a, b in pairs:
        acc = compare.accuracy_check(reseeds[a] == y, reseeds[b] == y, thresholds=t, champion="c")
        per = compare.per_class_check(y, reseeds[a], reseeds[b], 10, thresholds=t, champion="c")
        rule += not (acc.passed and per.passed)
        drop = (reseeds[a] == y).mean() - (reseeds[b] == y).mean()
        recall_drop = max(((reseeds[a] == y)[y == k].mean() - (reseeds[b] == y)[y == k].mean())
                          for k in range(10))  # fmt: skip
        raw += drop > 0.005 or recall_drop > 0.03
    print(f"\ncalibration: {len(pairs)} ordered reseed pairs; default rule rejected {rule} "
          f"({rule / len(pairs):.0%}), raw point-estimate margins rejected {raw} "
          f"({raw / len(pairs):.0%})")  # fmt: skip
    assert len(pairs) >= 20 and rule / len(pairs) <= 0.05
    forgetful = predict(load_model(gate_models["forgetful"]), digits.x_test).argmax(axis=1)
    for seed, champion in reseeds.items():
        per = compare.per_class_check(y, champion, forgetful, 10, thresholds=t, champion=str(seed))
        assert not per.passed and per.details["failed"] == [str(FORGOTTEN)]


# --------------------------------------------------------------------------- real processes
MLP_PROJECT = """
cache_dir = "{cache}"
registry = "{registry}"
reports = "none"
seed = {seed}
[[models]]
name = "mlp"
builder = "mlp"
epochs = 20
"""


def default_gate_dir(tmp_path: Path, name: str, cache: Path, registry: Path, seed: int) -> Path:
    """A folder whose config gates the reference MLP (seed `seed`, from the test model cache)."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "mlchecks.toml").write_text(
        MLP_PROJECT.format(cache=cache, registry=registry, seed=seed)
    )
    return folder


def promote_in_process(registry: Path, cache: Path, digits, seed: int = 0) -> None:
    """Make the seed-`seed` reference MLP champion of lineage 'mlp' (the gate's own steps:
    baseline, regression checks, promotion), without running every suite."""
    from mlchecks.config import settings_from_table
    from mlchecks.run import gate
    from mlchecks.run.session import Session

    table = {"registry": str(registry), "cache_dir": str(cache), "seed": seed,
             "models": [{"name": "mlp", "builder": "mlp", "epochs": 20}]}  # fmt: skip
    session = Session(settings_from_table(table, {}, root=str(registry.parent)), dataset=digits)
    spec = session.settings.models[0]
    gate.prepare(session, hash_models=True)
    for result in gate.regression_checks(session, spec):
        session.record(result)
    (outcome,) = gate.promote_all(session, gate.decide(session.checks), promote=True)
    assert outcome.version is not None, outcome.note


@pytest.mark.slow
def test_sigkill_during_a_gates_promotion_keeps_a_loadable_champion(
    tmp_path, model_cache, reseeds, trained_mlp, digits
):
    registry = tmp_path / "reg"
    promote_in_process(registry, model_cache.root, digits)  # champion 0001: seed 0
    seed1 = default_gate_dir(tmp_path, "seed1", model_cache.root, registry, 1)
    tally.fault()
    proc = run_cli("gate", cwd=seed1, env={"MLCHECKS_FAULT": "promote:after-rename"})
    assert proc.returncode == -9, proc.stdout + proc.stderr
    reg = open_registry(registry)
    assert reg.state("mlp").champion == "0001" and reg.verify("mlp") == []
    assert reg.leftovers("mlp")  # the new version's folder, never committed to the index
    from mlchecks.model.training import load_model

    model = load_model(reg.model_path("mlp", "0001"))  # loadable, sha256-checked
    assert model.output_shape == (None, 10)


@pytest.mark.slow
def test_two_gates_at_once_lose_no_version(tmp_path, model_cache, reseeds):
    """Two `mlchecks gate` processes promote into one empty lineage at once: the second waits
    for the first's promotion and is judged against it."""
    registry = tmp_path / "reg"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = []
    for seed in (1, 2):
        folder = default_gate_dir(tmp_path, f"seed{seed}", model_cache.root, registry, seed)
        procs.append(subprocess.Popen([sys.executable, "-m", "mlchecks.cli", "gate", "--json",
                                       "d.json"], cwd=folder, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))  # fmt: skip
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    reg = open_registry(registry)
    state = reg.state("mlp")
    assert [v.version for v in state.versions] == ["0001", "0002"] and state.champion == "0002"
    assert reg.verify("mlp") == []
    decisions = {s: json.loads((tmp_path / f"seed{s}" / "d.json").read_text()) for s in (1, 2)}
    summary = sorted((d["champion_before"] or "", d["version"], d["champion_after"])
                     for d in decisions.values())  # fmt: skip
    assert summary == [("", "0001", "0001"), ("0001", "0002", "0002")]
    first = next(s for s, d in decisions.items() if d["version"] == "0001")
    assert "no champion yet in lineage 'mlp'" in outs[(1, 2).index(first)]
    second = decisions[3 - first]
    assert {c["id"] for c in second["checks"]} >= set(compare.CHECK_IDS)


def test_flip_rate_is_read_against_reseeds(pytester, tmp_path, model_cache, reseeds, digits):
    """With --mlchecks-seeds 2 the flip-rate check reports how much the recipe flips by chance
    (seed 0 vs seed 1 on the champion's holdout)."""
    registry = tmp_path / "reg"
    promote_in_process(registry, model_cache.root, digits)
    pytester.makefile(".toml", pyproject=(
        f'[tool.mlchecks]\ndata = "digits"\ncache_dir = "{model_cache.root}"\n'
        f'registry = "{registry}"\nreports = "none"\n'
        '[[tool.mlchecks.models]]\nname = "mlp"\nbuilder = "mlp"\nepochs = 20\n'))  # fmt: skip
    pytester.makepyfile(test_regression=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--mlchecks-seeds", "2")
    assert result.ret == 0, result.stdout.str()[-3000:]
    expected = ((reseeds[0] == digits.y_test) & (reseeds[1] != digits.y_test)).mean()
    result.stdout.fnmatch_lines([f"*regression.flip_rate*reseeds of the same recipe flip "
                                 f"{expected:.4f}*"])  # fmt: skip
