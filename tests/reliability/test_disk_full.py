"""A full disk while the registry writes: the champion stays intact, the registry consistent,
and the gate ends with one ``mlchecks: error:`` line and exit 3.

Why 3 and not 2: exit 2 tells the pipeline "your input is bad, fix it"; but the candidate, its
data and the config are fine, and the same gate passes once the disk has room. A full (or
failing) disk is the machine's problem: the gate could not finish its job, which is what 3
(internal error) means to a pipeline: retry or page someone, do not blame the model. The line
is a plain ``mlchecks: error:`` (not "a bug in mlchecks"): it names the registry, the errno
text and what the champion is now. A registry that is not writable for permissions stays
exit 2 (a bad ``--registry``, fixable by the user).

Three levels: every fsync/rename of a promotion failing in turn (in-process, patched ``os``);
a real full tmpfs (kernel ENOSPC on write, in a private mount namespace; skipped where mounting
is not allowed); a real gate (``main()``, in-process) whose index write fails with ENOSPC.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mlchecks.errors import GateExit, RegistryError
from mlchecks.registry import Holdout, NewVersion, open_registry, sha256_file

from . import candidates, tally

OPS = ("fsync", "replace", "rename")  # every write of a promotion is committed through these


def _holdout(seed: int = 0) -> Holdout:
    rng = np.random.default_rng(seed)
    x = rng.random((40, 4, 4, 1), dtype=np.float32)
    return Holdout.from_arrays(x, np.arange(40) % 4, 4)


def _new(path: Path, seed: int = 0) -> NewVersion:
    """A version judged on holdout ``seed`` (a new seed: the promotion also stores a holdout)."""
    h = _holdout(seed)
    return NewVersion(path, sha256_file(path), h, {h.id: h.y}, metrics={"accuracy": 1.0})


def _model(folder: Path, tag: str, size: int = 50_000) -> Path:
    path = folder / f"{tag}.keras"
    path.write_bytes(tag.encode() + np.random.default_rng(len(tag)).bytes(size))
    return path


class _Full:
    """Patches ``os.<op>`` so that its ``fail_at``-th call raises ENOSPC (0: count only)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, op: str, fail_at: int = 0) -> None:
        self.calls, self.fail_at, self.real = 0, fail_at, getattr(os, op)
        monkeypatch.setattr(os, op, self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.real(*args, **kwargs)


def _champion_files(root: Path) -> dict[str, bytes]:
    folder = root / "tiny" / "versions" / "0001"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_full_disk_at_any_write_of_a_promotion_keeps_the_champion(tmp_path, monkeypatch):
    counting = tmp_path / "count"
    counting.mkdir()
    reg = open_registry(counting / "reg")
    reg.promote("tiny", _new(_model(counting, "a")), None)
    calls = {}
    for op in OPS:
        with monkeypatch.context() as patch:
            counter = _Full(patch, op)
            reg.promote("tiny", _new(_model(counting, f"count-{op}"), seed=len(calls) + 1),
                        reg.state("tiny").champion)  # fmt: skip
        calls[op] = counter.calls
    assert all(calls.values()), calls

    for op in OPS:
        for k in range(1, calls[op] + 1):
            folder = tmp_path / f"{op}{k}"
            folder.mkdir()
            reg = open_registry(folder / "reg")
            reg.promote("tiny", _new(_model(folder, "a")), None)
            before = _champion_files(folder / "reg")
            candidate = _model(folder, "b")
            tally.fault()
            with monkeypatch.context() as patch, pytest.raises(RegistryError) as info:
                _Full(patch, op, fail_at=k)
                reg.promote("tiny", _new(candidate, seed=1), expected_champion="0001")
            where = f"ENOSPC at {op} call {k} of {calls[op]}"
            message = str(info.value)
            assert info.value.exit_code == GateExit.INTERNAL_ERROR, where
            assert "No space left on device" in message and "\n" not in message, where
            state = reg.state("tiny")
            assert f"the champion of 'tiny' is {state.champion}" in message, (where, message)
            lost = int(_champion_files(folder / "reg") != before)
            tally.lost(lost)
            assert not lost, where
            assert reg.verify("tiny") == [], where
            assert reg.leftovers("tiny") == [], where  # a half-built version is not left behind
            if state.champion == "0002":  # failed after the commit (fsync of the folder)
                assert reg.model_path("tiny", "0002").read_bytes() == candidate.read_bytes()
            else:
                assert state.champion == "0001" and len(state.versions) == 1, where
            # the next write finds a consistent registry
            nxt = reg.promote("tiny", _new(_model(folder, "c")), state.champion)
            assert nxt.version == f"{len(state.versions) + 1:04d}", where


def test_a_full_disk_while_rolling_back_keeps_the_champion(tmp_path, monkeypatch):
    reg = open_registry(tmp_path / "reg")
    reg.promote("tiny", _new(_model(tmp_path, "a")), None)
    reg.promote("tiny", _new(_model(tmp_path, "b")), "0001")
    tally.fault()
    with monkeypatch.context() as patch, pytest.raises(RegistryError) as info:
        _Full(patch, "replace", fail_at=1)
        reg.rollback("tiny")
    assert info.value.exit_code == GateExit.INTERNAL_ERROR
    assert reg.state("tiny").champion == "0002" and reg.verify("tiny") == []


TMPFS = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    from mlchecks.registry import Holdout, NewVersion, open_registry, sha256_file

    work, mount = Path(sys.argv[1]), Path(sys.argv[2])
    h = Holdout.from_arrays(np.zeros((40, 4, 4, 1), np.float32), np.arange(40) % 4, 4)
    def new(tag, size):
        path = work / f"{tag}.keras"
        path.write_bytes(np.random.default_rng(size).bytes(size))
        return NewVersion(path, sha256_file(path), h, {h.id: h.y})
    reg = open_registry(mount / "reg")
    reg.promote("tiny", new("a", 150_000), None)
    champion = reg.model_path("tiny", "0001").read_bytes()
    out = {}
    try:
        reg.promote("tiny", new("big", 600_000), "0001")  # does not fit in the 512 KiB tmpfs
    except Exception as exc:
        out["error"], out["exit"] = str(exc), int(getattr(exc, "exit_code", -1))
    out["champion"] = reg.state("tiny").champion
    out["intact"] = reg.model_path("tiny", "0001").read_bytes() == champion
    out["verify"], out["leftovers"] = reg.verify("tiny"), [str(p) for p in reg.leftovers("tiny")]
    out["next"] = reg.promote("tiny", new("small", 100_000), "0001").version  # room again
    print(json.dumps(out))
    """
)


def test_a_real_full_tmpfs_keeps_the_champion(tmp_path):
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1): cannot mount a private tmpfs here")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    script = (f'mount -t tmpfs -o size=512k tmpfs "{mount}" || exit 77; '
              f'exec "{sys.executable}" -c "$0" "{tmp_path}" "{mount}"')  # fmt: skip
    proc = subprocess.run([unshare, "--mount", "sh", "-c", script, TMPFS], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    if proc.returncode == 77 or "unshare failed" in proc.stderr:
        pytest.skip(f"mounting a tmpfs is not allowed here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    tally.fault()
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "No space left on device" in out["error"], out
    assert out["exit"] == GateExit.INTERNAL_ERROR
    tally.lost(int(not out["intact"]))
    assert out["champion"] == "0001" and out["intact"] and out["verify"] == []
    assert out["leftovers"] == [] and out["next"] == "0002"


@pytest.mark.slow
def test_gate_on_a_full_disk_exits_3_with_one_line(tmp_path, request, digits, monkeypatch):
    """A real gate, in this process (``main()``, as a caller runs it): the registry's commit
    (its ``index.json`` rename) fails with ENOSPC."""
    models = candidates.models(Path(request.config.cache.mkdir("mlchecks-reliability-models")),
                               digits)  # fmt: skip
    folder = candidates.project(tmp_path, digits)
    assert candidates.seed_champion(folder, models["good"]) == "0001"
    before = candidates.snapshot(folder / "reg")
    candidate = candidates.copy_of(models["good"], folder / "candidate.keras", "full")
    replace = os.replace

    def full(src, dst, *args, **kwargs):
        if os.path.basename(dst) == "index.json":  # the registry's commit: the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return replace(src, dst, *args, **kwargs)

    tally.fault()
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", full)
        code, out, err = candidates.gate_here(folder, str(candidate), "--json", "d.json",
                                              monkeypatch=monkeypatch)  # fmt: skip
    assert code == GateExit.INTERNAL_ERROR, out[-2000:] + err[-3000:]
    line = candidates.one_line_error(err)
    assert "cannot write to registry" in line and "No space left on device" in line, line
    assert "the champion of 'tiny' is 0001" in line
    registry = open_registry(folder / "reg")
    after = candidates.snapshot(folder / "reg")
    tally.lost(int(after != before))
    assert after == before  # nothing half-written stays behind
    assert registry.state("tiny").champion == "0001" and registry.verify("tiny") == []
    assert not (folder / "d.json").exists()  # no decision claims a promotion that did not happen


def test_a_full_model_cache_only_costs_the_memo(tmp_path, monkeypatch):
    """Memos (cached predictions, behaviour results) save time only: a write that fails with
    ENOSPC is skipped and the run goes on with the value it computed."""
    import errno

    from mlchecks.model import training

    def full(_path):
        raise OSError(errno.ENOSPC, "No space left on device")

    from . import tally

    tally.fault()
    assert training.save_memo(tmp_path / "memo" / "p.npy", full) is False
    assert [p for p in (tmp_path / "memo").iterdir()] == []  # no temp file left behind
    assert training.save_memo(tmp_path / "memo" / "p.npy", lambda p: p.write_text("ok")) is True
