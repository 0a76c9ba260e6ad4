"""A damaged registry and a candidate that does not fit: detected, reported, never used.

- Every file a version stands on (index, record, model, predictions, holdout), damaged in every
  way a disk or a person can (truncated, one byte flipped, emptied, deleted, replaced by a
  folder): reading the champion raises a ``RegistryError`` (exit 2, one line) and never anything
  else; ``verify`` reports it; the next promotion refuses to build on it and deletes nothing.
- A candidate whose input does not fit the data, through a real gate (``main()`` in this
  process) on a registry that has a champion: exit 1 with a failing ``setup.input_shape`` (the
  lint runs before anything loads the data into the model), no traceback, the registry
  byte-identical.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mlchecks.errors import GateExit, RegistryError
from mlchecks.registry import Holdout, NewVersion, open_registry, sha256_file
from mlchecks.run.gate import load_baseline

from . import candidates, tally


def _registry(folder: Path):
    """Lineage ``tiny`` with versions 0001 and 0002 (champion), both judged on one holdout."""
    reg = open_registry(folder / "reg")
    rng = np.random.default_rng(0)
    h = Holdout.from_arrays(rng.random((40, 4, 4, 1), dtype=np.float32), np.arange(40) % 4, 4)
    for tag in ("a", "b"):
        path = folder / f"{tag}.keras"
        path.write_bytes(tag.encode() + rng.bytes(20_000))
        reg.promote("tiny", NewVersion(path, sha256_file(path), h, {h.id: h.y}),
                    reg.state("tiny").champion)  # fmt: skip
    return reg, h


def _target(folder: Path, h: Holdout, which: str) -> Path:
    lineage = folder / "reg" / "tiny"
    if which == "index":
        return lineage / "index.json"
    if which == "holdout":
        return lineage / "holdouts" / f"{h.id}.npz"
    return lineage / "versions" / "0002" / which


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":
        i = len(data) // 2
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :])
    elif how == "emptied":
        path.write_bytes(b"")
    elif how == "deleted":
        path.unlink()
    else:  # a folder where the file was
        path.unlink()
        path.mkdir()


FILES = ("index", "version.json", "model.keras", "predictions.npz", "holdout")
HOW = ("truncated", "flipped", "emptied", "deleted", "folder")
# index.json carries a checksum of its own content, so a flipped byte is caught there too.
CASES = [(f, h) for f in FILES for h in HOW]


def test_every_damaged_file_is_detected_and_nothing_is_deleted(tmp_path):
    missed = []
    for which, how in CASES:
        folder = tmp_path / f"{which}-{how}"
        folder.mkdir()
        reg, h = _registry(folder)
        _damage(_target(folder, h, which), how)
        tally.bad_input()
        versions = sorted(p.name for p in (folder / "reg" / "tiny" / "versions").iterdir())
        try:
            load_baseline(reg, "tiny")
        except RegistryError as exc:
            assert "\n" not in str(exc) and exc.exit_code == GateExit.BAD_INPUT
        except Exception as exc:  # anything else is a traceback for the user
            missed.append((which, how, f"load: {type(exc).__name__}: {exc}"))
        else:
            missed.append((which, how, "baseline loaded"))
        try:
            if not reg.verify("tiny"):
                missed.append((which, how, "verify found nothing"))
        except Exception as exc:
            missed.append((which, how, f"verify: {type(exc).__name__}: {exc}"))
        # the next promotion, as a gate would make it (against the champion it read), must
        # not clean away the versions of a damaged lineage
        new = folder / "c.keras"
        new.write_bytes(b"c" * 1000)
        try:
            expected = reg.state("tiny").champion
            reg.promote("tiny", NewVersion(new, sha256_file(new), h, {h.id: h.y}), expected)
        except RegistryError:
            pass
        except Exception as exc:
            missed.append((which, how, f"promote: {type(exc).__name__}: {exc}"))
        kept = sorted(p.name for p in (folder / "reg" / "tiny" / "versions").iterdir())
        lost = len(set(versions) - set(kept))
        tally.lost(lost)
        if lost:
            missed.append((which, how, f"promotion deleted versions {versions} -> {kept}"))
    assert missed == [], "\n".join(map(str, missed))


FIRST = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from mlchecks.registry import Holdout, NewVersion, open_registry, sha256_file

    path = Path(sys.argv[1]) / "a.keras"
    path.write_bytes(b"a" * 20_000)
    h = Holdout.from_arrays(np.zeros((40, 4, 4, 1), np.float32), np.arange(40) % 4, 4)
    open_registry(Path(sys.argv[1]) / "reg").promote(
        "tiny", NewVersion(path, sha256_file(path), h, {h.id: h.y}), None)
    """
)


def test_a_first_promotion_killed_after_its_rename_is_listed_again(tmp_path):
    """The first version's folder is in place, its index not: an orphan (not damage) that the
    next promotion lists again (retired, never deleted); the lineage is not stuck."""
    env = {**os.environ, "MLCHECKS_FAULT": "promote:after-rename"}
    tally.fault()
    proc = subprocess.run([sys.executable, "-c", FIRST, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    reg = open_registry(tmp_path / "reg")
    assert (tmp_path / "reg" / "tiny" / "versions" / "0001").is_dir()
    assert reg.state("tiny").champion is None and reg.verify("tiny") == []
    assert reg.leftovers("tiny")
    h = Holdout.from_arrays(np.ones((40, 4, 4, 1), np.float32), np.arange(40) % 4, 4)
    path = tmp_path / "b.keras"
    path.write_bytes(b"b" * 20_000)
    assert reg.promote("tiny", NewVersion(path, sha256_file(path), h, {h.id: h.y}),
                       None).version == "0002"  # fmt: skip
    assert reg.model_path("tiny", "0002").read_bytes() == path.read_bytes()
    assert reg.model_path("tiny", "0001").read_bytes() == b"a" * 20_000  # kept, listed again
    state = reg.state("tiny")
    assert state.champion == "0002" and state.entry("0001").retired
    tally.lost(int(state.entry("0001") is None))
    assert reg.leftovers("tiny") == [] and reg.verify("tiny") == []


@pytest.mark.slow
def test_a_model_that_does_not_fit_the_data_fails_the_lint(tmp_path, request, digits, monkeypatch):
    models = candidates.models(Path(request.config.cache.mkdir("mlchecks-reliability-models")),
                               digits)  # fmt: skip
    folder = candidates.project(tmp_path, digits)
    assert candidates.seed_champion(folder, models["good"]) == "0001"
    before = candidates.snapshot(folder / "reg")
    wide = Path(shutil.copy(models["wide"], folder / "wide.keras"))  # input 28x28x1, data 8x8x1
    tally.bad_input()
    code, out, err = candidates.gate_here(folder, str(wide), "--json", "d.json",
                                          monkeypatch=monkeypatch)  # fmt: skip
    assert code == GateExit.REJECTED, out[-2000:] + err[-3000:]
    assert "Traceback" not in out + err
    decision = json.loads((folder / "d.json").read_text())
    failed = {c["id"] for c in decision["checks"] if not c["passed"]}
    assert "setup.input_shape" in failed, decision["checks"]
    assert decision["champion_before"] == decision["champion_after"] == "0001"
    assert candidates.snapshot(folder / "reg") == before
