"""The gate end to end on a real MLflow server: the promotion scenario of tests/test_gate.py
(first version, identical resubmission, class-forgetting candidate rejected, better candidate
promoted) through the pytest plugin, two real `mlchecks gate` processes racing on one lineage,
and the server SIGKILLed in the middle of a promotion.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from helpers import run_cli_here
from test_gate import (  # noqa: F401 - fixtures
    MLP_PROJECT,
    files,
    gate_models,
    plugin_gate,
    project,
    reseeds,
)

from mlchecks.errors import GateExit
from mlchecks.registry import open_registry

pytestmark = pytest.mark.slow


def remote_gate(pytester, server, name: str, candidate: Path, *args: str):
    return plugin_gate(pytester, candidate, f"--mlchecks-registry={server.uri}",
                       f"--mlchecks-name={name}", *args)  # fmt: skip


def test_promotion_lifecycle_on_mlflow(project, gate_models, trained_mlp, tmp_path,  # noqa: F811
                                       mlflow_server, monkeypatch):  # fmt: skip
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    registry = open_registry(mlflow_server.uri)
    # 1. no champion: absolute checks only, promoted as version 0001 (alias champion -> 1)
    first = remote_gate(project, mlflow_server, name, gate_models["weak"], "--mlchecks-promote")
    assert first.ret == GateExit.ACCEPTED, first.stdout.str()[-3000:]
    first.stdout.fnmatch_lines([f"*no champion yet in lineage '{name}'*absolute checks only*",
                                f"*promoted to '{name}' version 0001*"])  # fmt: skip
    assert registry.state(name).champion == "0001"
    # 2. identical candidate: accepted, nothing promoted
    same = tmp_path / "same.keras"
    shutil.copy(gate_models["weak"], same)
    second = remote_gate(project, mlflow_server, name, same, "--mlchecks-promote")
    assert second.ret == GateExit.ACCEPTED, second.stdout.str()[-3000:]
    second.stdout.fnmatch_lines(["*already champion 0001*same sha256*"])
    # 3. class 3 forgotten: rejected, the server's registry unchanged
    before = files(mlflow_server.root / "artifacts")
    third = remote_gate(project, mlflow_server, name, gate_models["forgetful"],
                        "--mlchecks-promote")  # fmt: skip
    assert third.ret == GateExit.REJECTED
    out = third.stdout.str()
    assert "FAIL  regression.per_class" in out and "class 3" in out
    assert "registry is unchanged" in out and "Traceback" not in out
    assert files(mlflow_server.root / "artifacts") == before
    assert len(registry.state(name).versions) == 1
    # 4. clearly better: promoted as 0002, judged against 0001
    fourth = remote_gate(project, mlflow_server, name, trained_mlp.path, "--mlchecks-promote")
    assert fourth.ret == GateExit.ACCEPTED, fourth.stdout.str()[-3000:]
    fourth.stdout.fnmatch_lines([f"*promoted to '{name}' version 0002*"])
    state = registry.state(name)
    assert state.champion == "0002" and registry.verify(name) == []
    record = registry.record(name, "0002")
    assert record.parent == "0001" and record.metrics["accuracy"] > 0.95
    assert record.data_profile is not None and any(c["id"] == "regression.per_class"
                                                   for c in record.checks)  # fmt: skip
    # models:/NAME@champion is the file mlchecks promoted
    import mlflow.artifacts

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.http)
    got = Path(mlflow.artifacts.download_artifacts(f"models:/{name}@champion",
                                                   dst_path=str(tmp_path / "dl")))  # fmt: skip
    assert (got / "model.keras").read_bytes() == trained_mlp.path.read_bytes()


def gate_dir(tmp_path: Path, label: str, cache: Path, registry: str, seed: int) -> Path:
    folder = tmp_path / label
    folder.mkdir()
    (folder / "mlchecks.toml").write_text(MLP_PROJECT.format(cache=cache, registry=registry,
                                                             seed=seed))  # fmt: skip
    return folder


def test_two_real_gates_race_one_wins_the_other_re_gates(tmp_path, model_cache, reseeds,  # noqa: F811
                                                         mlflow_server):  # fmt: skip
    """Two `mlchecks gate` processes promote into one empty lineage on MLflow at once: both
    versions are registered, one becomes champion, the other is told to re-gate (exit 3) and,
    rerun, is judged against the winner and promoted."""
    name = f"race-{uuid.uuid4().hex[:8]}"  # seeds 1 and 2 come trained from `reseeds`' cache
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    folders = {s: gate_dir(tmp_path, f"seed{s}", model_cache.root, mlflow_server.uri, s)
               for s in (1, 2)}  # fmt: skip
    cmd = [sys.executable, "-m", "mlchecks.cli", "gate", "--name", name, "--json", "d.json"]
    procs = {s: subprocess.Popen(cmd, cwd=f, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
             for s, f in folders.items()}  # fmt: skip
    outs = {s: p.communicate(timeout=600)[0] for s, p in procs.items()}
    codes = {s: p.returncode for s, p in procs.items()}
    reg = open_registry(mlflow_server.uri)
    lineage = f"{name}.mlp"
    state = reg.state(lineage)
    if sorted(codes.values()) == [0, 0]:  # one gate finished before the other read the champion
        pytest.fail(f"the gates did not race: {outs}")
    assert sorted(codes.values()) == [GateExit.ACCEPTED, GateExit.INTERNAL_ERROR], outs
    loser = next(s for s, c in codes.items() if c == GateExit.INTERNAL_ERROR)
    assert "re-gate" in outs[loser] and "Traceback" not in outs[loser]
    assert [v.version for v in state.versions] == ["0001", "0002"]
    winner_version = state.champion
    assert [v.retired for v in state.versions if v.version != winner_version] == [True]
    # the rerun races nobody: in this process, as a caller's own process runs the gate
    rerun = run_cli_here(*cmd[3:], cwd=folders[loser], env={"TF_CPP_MIN_LOG_LEVEL": "3"})
    assert rerun.returncode == GateExit.ACCEPTED, rerun.stdout[-3000:] + rerun.stderr[-2000:]
    state = reg.state(lineage)
    assert state.champion == "0003" and reg.record(lineage, "0003").parent == winner_version
    assert reg.verify(lineage) == []
    decision = json.loads((folders[loser] / "d.json").read_text())
    assert decision["champion_before"] == winner_version and decision["version"] == "0003"


PROMOTER = r"""
import sys, numpy as np
from pathlib import Path
from mlchecks.errors import MlchecksError
from mlchecks.registry import Holdout, NewVersion, open_registry, sha256_file
reg = open_registry(sys.argv[1])
x = np.zeros((40, 4), np.float32); y = np.arange(40) % 4
h = Holdout.from_arrays(x, y, 4)
path = Path(sys.argv[3])
try:
    reg.promote(sys.argv[2], NewVersion(path, sha256_file(path), h, {h.id: y}), "0001")
except MlchecksError as exc:  # as the CLI reports it
    print(f"mlchecks: error: {exc}", file=sys.stderr)
    sys.exit(int(exc.exit_code))
"""


def test_server_sigkilled_during_promotion_leaves_a_loadable_champion(tmp_path, mlflow_server,
                                                                      monkeypatch):  # fmt: skip
    """The server is SIGKILLed while a promotion uploads a 32 MB model: the promoting process
    exits 3 with one line (no traceback); after a restart, `models:/NAME@champion` still
    downloads the previous champion, complete and sha256-verified, and the lineage verifies."""
    name = f"kill-{uuid.uuid4().hex[:8]}"
    reg = open_registry(mlflow_server.uri)
    small = tmp_path / "champion.keras"
    small.write_bytes(os.urandom(5000))
    import numpy as np

    from mlchecks.registry import Holdout, NewVersion, sha256_file

    h = Holdout.from_arrays(np.zeros((40, 4), np.float32), np.arange(40) % 4, 4)
    reg.promote(name, NewVersion(small, sha256_file(small), h, {h.id: h.y}), None)
    big = tmp_path / "big.keras"
    big.write_bytes(os.urandom(32 << 20))
    uploads = mlflow_server.root / "artifacts"
    before = {p for p in uploads.rglob("model.keras")}
    proc = subprocess.Popen([sys.executable, "-c", PROMOTER, mlflow_server.uri, name, str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # the upload has begun
        if any(p not in before for p in uploads.rglob("model.keras")):
            break
        time.sleep(0.01)
    mlflow_server.kill()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == GateExit.INTERNAL_ERROR, out + err
    assert "unreachable" in err and err.count("\n") == 1 and "Traceback" not in err, err
    mlflow_server.start()
    fresh = open_registry(mlflow_server.uri)
    state = fresh.state(name)
    assert state.champion == "0001" and fresh.verify(name) == []
    # the kill came during the upload, before the version was registered
    assert [v.version for v in state.versions] == ["0001"]
    import mlflow.artifacts

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.http)
    got = Path(mlflow.artifacts.download_artifacts(f"models:/{name}@champion",
                                                   dst_path=str(tmp_path / "dl")))  # fmt: skip
    digest = hashlib.sha256((got / "model.keras").read_bytes()).hexdigest()
    assert digest == fresh.record(name, "0001").model_sha256 == sha256_file(small)
    rec = fresh.promote(name, NewVersion(big, sha256_file(big), h, {h.id: h.y}), "0001")
    assert rec.version == "0002" and fresh.state(name).champion == "0002"
