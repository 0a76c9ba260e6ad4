"""One verdict whatever the Keras backend: the same ``.keras`` candidates, gated under
TensorFlow, JAX and PyTorch against the same champion (its registry made under TensorFlow),
get the same decision and the same accuracy, regression and behaviour results; accuracy comes
from the same predictions, so it agrees to float tolerance. One candidate is accepted, one
rejected.

Each backend runs in its own subprocess with ``KERAS_BACKEND`` set, with the Python that has
it installed: this one when it imports the backend, else ``MLCHECKS_JAX_PYTHON`` /
``MLCHECKS_TORCH_PYTHON`` (``.ci/run`` points them at the venvs it made for those backends).
Without either, that backend's case is skipped and says so. Speed is per backend (a same-run
A/B on each, judged by ``tests/test_speed_ab.py`` in every backend's run), so it is switched
off here (``--benchmark-disable``: recorded as not judged) and not compared.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

#: Runs in a subprocess per backend: promote the champion (TensorFlow only), then judge each
#: candidate with --no-promote; one Python process per backend (one import of it).
SCRIPT = """
import json, sys
from mlchecks.cli import main
folder, promote, *candidates = sys.argv[1:]
common = ["--name", "mlp", "--registry", "reg", "--cache-dir", "cache", "--report", "none"]
codes = {}
if promote:
    codes["champion"] = main(["gate", promote, *common, "--json", "champion.json"])
for name in candidates:
    codes[name] = main(["gate", name + ".keras", *common, "--no-promote",
                        "--json", name + "." + folder + ".json"])
print("CODES " + json.dumps(codes))
"""

CANDIDATES = ("accepted", "rejected")
TIMEOUT = 600


def backend_python(backend: str) -> str | None:
    """The Python that runs ``backend``: this one if it has it, else the one named by
    ``MLCHECKS_<BACKEND>_PYTHON``; ``None`` when neither."""
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    if importlib.util.find_spec(module) is not None:
        return sys.executable
    named = os.environ.get(f"MLCHECKS_{backend.upper()}_PYTHON")
    return named if named and Path(named).is_file() else None


def gate_under(backend: str, folder: Path, *, promote: str = "") -> dict:
    python = backend_python(backend)
    assert python is not None
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTEST_ADDOPTS": "--benchmark-disable"}  # fmt: skip
    env.pop("PYTEST_XDIST_WORKER", None)
    if backend == "torch":  # spinning OpenMP threads starve a shared CPU (.ci/backends)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    proc = subprocess.run([python, "-c", SCRIPT, backend, promote, *CANDIDATES], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("CODES ")]
    assert proc.returncode == 0 and lines, (proc.stdout + proc.stderr)[-4000:]
    codes = json.loads(lines[-1].removeprefix("CODES "))
    decisions = {n: json.loads((folder / f"{n}.{backend}.json").read_text()) for n in CANDIDATES}
    return {"codes": codes, "decisions": decisions, "output": proc.stdout[-4000:]}


OTHERS = [b for b in ("jax", "torch") if backend_python(b) is not None]
pytestmark = pytest.mark.skipif(not OTHERS, reason=(
    "neither JAX nor PyTorch is installed for this Python or named by MLCHECKS_JAX_PYTHON / "
    "MLCHECKS_TORCH_PYTHON: no other backend to compare TensorFlow's verdict with (.ci/run "
    "runs this test with both)"))  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory, trained_mlp):
    """A project (digits, min_accuracy 0.94) with the champion and two candidates as files:
    ``accepted`` is the champion with its weights nudged by 1e-4 (the same predictions up to
    rounding, other bytes), ``rejected`` the champion with class 3 switched off (its output
    bias at -30: never predicted, accuracy drops ~10 points)."""
    import keras

    from mlchecks.model.training import active_backend

    if active_backend() != "tensorflow":
        pytest.skip(
            "the champion and its registry are made under TensorFlow: this test runs in the "
            "TensorFlow run and starts the other backends itself"
        )
    folder = tmp_path_factory.mktemp("backends")
    (folder / "mlchecks.toml").write_text(
        'data = "digits"\nreports = "none"\n[thresholds]\nmin_accuracy = 0.94\n'
    )
    champion = keras.saving.load_model(trained_mlp.path)
    champion.save(folder / "champion.keras")
    rng = np.random.default_rng(0)
    nudged = keras.saving.load_model(trained_mlp.path)
    nudged.set_weights([w + rng.normal(0, 1e-4, w.shape).astype(w.dtype)
                        for w in nudged.get_weights()])  # fmt: skip
    nudged.save(folder / "accepted.keras")
    broken = keras.saving.load_model(trained_mlp.path)
    kernel, bias = broken.layers[-1].get_weights()
    bias[3] = -30.0
    broken.layers[-1].set_weights([kernel, bias])
    broken.save(folder / "rejected.keras")
    return folder


@pytest.fixture(scope="module")
def tensorflow(project):
    return gate_under("tensorflow", project, promote="champion.keras")


def backend_of(decision: dict) -> str:
    (check,) = [c for c in decision["checks"] if c["id"] == "accuracy.min"]
    return check["details"]["backend"]


def judged(decision: dict) -> dict[str, tuple[str, float | None]]:
    """Every check but speed (per backend): id -> (status, value)."""
    return {c["id"]: (c["status"], c["value"]) for c in decision["checks"]
            if c["category"] != "speed"}  # fmt: skip


def test_under_tensorflow_one_candidate_is_accepted_and_one_rejected(tensorflow):
    assert tensorflow["codes"] == {"champion": 0, "accepted": 0, "rejected": 1}
    accepted, rejected = (tensorflow["decisions"][n] for n in CANDIDATES)
    assert accepted["decision"] == "accepted" and rejected["decision"] == "rejected"
    failed = {c["id"] for c in rejected["checks"] if c["status"] == "failed"}
    assert {"accuracy.min", "regression.accuracy"} <= failed, failed


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_same_candidates_get_the_same_verdict_under(backend, project, tensorflow):
    if backend_python(backend) is None:
        pytest.skip(
            f"{backend} is not installed for this Python and MLCHECKS_{backend.upper()}_PYTHON "
            f"names no Python that has it (.ci/run sets it to its {backend} venv)"
        )
    other = gate_under(backend, project)
    assert other["codes"] == {"accepted": 0, "rejected": 1}, other["output"]
    for name in CANDIDATES:
        tf, it = tensorflow["decisions"][name], other["decisions"][name]
        assert (backend_of(tf), backend_of(it)) == ("tensorflow", backend)
        assert it["decision"] == tf["decision"], (name, it["decision"])
        assert it["champion_before"] == tf["champion_before"] == "0001"
        a, b = judged(tf), judged(it)
        assert a.keys() == b.keys(), (name, sorted(a.keys() ^ b.keys()))
        statuses = {k: (a[k][0], b[k][0]) for k in a if a[k][0] != b[k][0]}
        assert statuses == {}, (name, backend, statuses)
        for check in ("accuracy.min", "accuracy.class_recall", "regression.accuracy"):
            assert b[check][1] == pytest.approx(a[check][1], abs=1e-6), (name, check)
        for check in ("accuracy.loss", "accuracy.ece"):  # float sums over the same outputs
            assert b[check][1] == pytest.approx(a[check][1], abs=1e-4), (name, check)
