"""data.drift is measured against the data the champion was accepted on, once there is one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlchecks.registry import open_registry

ROOT = Path(__file__).resolve().parent.parent


def _save(path: Path, ds, shift: float = 0.0) -> None:
    np.savez(
        path,
        x_train=np.clip(ds.x_train + shift, 0, 1), y_train=ds.y_train,
        x_test=np.clip(ds.x_test + shift, 0, 1), y_test=ds.y_test,
    )  # fmt: skip


def test_drift_against_the_champions_profile(pytester, tmp_path_factory, trained_mlp, digits):
    cache = tmp_path_factory.mktemp("cache")
    pytester.makefile(".toml", pyproject=f'[tool.mlchecks]\ncache_dir = "{cache}"\n')
    # promotion needs every category of the gate: all suites for the first run, then data only
    pytester.makepyfile(**{s.stem: s.read_text() for s in (ROOT / "suites").glob("test_*.py")})
    _save(pytester.path / "same.npz", digits)
    _save(pytester.path / "bright.npz", digits, shift=0.3)
    common = [f"--mlchecks-candidate={trained_mlp.path}", "--mlchecks-registry=reg",
              "--mlchecks-report=none", "-p", "no:cacheprovider"]  # fmt: skip

    # no champion, data named by a path: no shipped profile, so drift is not judged
    first = pytester.runpytest(*common, "--mlchecks-data=same.npz", "--mlchecks-promote")
    assert first.ret == 0, first.stdout.str()[-3000:]
    first.stdout.fnmatch_lines(["*data.drift*not judged*"])
    record = open_registry(pytester.path / "reg").record("default", "0001")
    assert record.data_profile is not None
    for suite in pytester.path.glob("test_*.py"):
        if suite.name != "test_data.py":
            suite.unlink()

    # the same data again: judged against the champion's profile, no drift
    again = pytester.runpytest(*common, "--mlchecks-data=same.npz")
    assert again.ret == 0, again.stdout.str()[-3000:]
    again.stdout.fnmatch_lines(["PASS*data.drift*"])
    assert "not judged" not in again.stdout.str()

    # brighter data: data.drift fails against the champion's profile
    bright = pytester.runpytest(*common, "--mlchecks-data=bright.npz")
    assert bright.ret == 1
    bright.stdout.fnmatch_lines(["FAIL*data.drift*"])
