"""The local-folder registry: layout, integrity checks, crash safety (SIGKILL at every fault
point of a promotion, in a subprocess) and concurrent writers. No keras: model files here are
opaque bytes; tests/test_gate.py promotes real models through the gate."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reliability import tally  # counted in the reliability summary line when run with it

from mlchecks.errors import RegistryError
from mlchecks.registry import (
    Holdout,
    NewVersion,
    ReadOnlyRegistry,
    open_registry,
    sha256_file,
    validate_name,
    validate_version,
)

ROOT = Path(__file__).resolve().parent.parent

# A fresh Python process (so this test process's threads, TensorFlow's included, are not
# forked) that forks one child per job; each child promotes its model files the way the gate's
# promotion step does: under the lineage's gate lock, against the champion it reads. A job may
# set MLCHECKS_FAULT, so the child SIGKILLs itself at that point. Prints {job: exit status}.
DRIVER = """
import json, os, sys, traceback, numpy as np
from pathlib import Path
from mlchecks.registry import Holdout, NewVersion, open_registry, sha256_file

def promote_all(root, name, files):
    reg = open_registry(root)
    rng = np.random.default_rng(0)
    x = rng.random((40, 4, 4, 1), dtype=np.float32); y = np.arange(40) % 4
    holdout = Holdout.from_arrays(x, y, 4)
    for f in files:
        path = Path(f)
        with reg.gate_lock(name):
            champion = reg.state(name).champion
            reg.promote(name, NewVersion(path, sha256_file(path), holdout, {holdout.id: y},
                                         metrics={"accuracy": 1.0}), expected_champion=champion)

jobs = json.loads(sys.argv[1])
children = {}
for key, job in jobs.items():
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.environ["MLCHECKS_FAULT"] = job.get("fault", "")
            promote_all(job["root"], job["name"], job["files"])
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    children[pid] = key
status = {}
for _ in children:
    pid, raw = os.wait()
    status[children[pid]] = -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
print(json.dumps(status))
"""


def run_driver(jobs: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(jobs)], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


BEFORE_COMMIT = ("locked", "mid-copy", "after-copy", "after-holdout", "after-record",
                 "after-rename", "index-tmp")  # fmt: skip
AFTER_COMMIT = ("after-index", "done")


def holdout(seed: int = 0, n: int = 40) -> Holdout:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4, 4, 1), dtype=np.float32)
    return Holdout.from_arrays(x, np.arange(n) % 4, 4, ("a", "b", "c", "d"))


def model_file(tmp_path: Path, tag: str, size: int = 300_000) -> Path:
    """An opaque 'model' (big enough that a half-way kill leaves a partial copy)."""
    path = tmp_path / f"{tag}.keras"
    path.write_bytes(tag.encode() + np.random.default_rng(len(tag)).bytes(size))
    return path


def new_version(path: Path, h: Holdout | None = None, **kw) -> NewVersion:
    h = h or holdout()
    return NewVersion(path, sha256_file(path), h, {h.id: h.y}, **kw)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every registry file (lock files aside) and its content."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".locks" not in p.parts
    }


def test_promote_records_a_complete_verifiable_version(tmp_path):
    reg = open_registry(tmp_path / "reg")
    first = model_file(tmp_path, "a")
    rec = reg.promote("mlp", new_version(first, metrics={"accuracy": 0.9}, data={"name": "d"}),
                      expected_champion=None)  # fmt: skip
    assert rec.version == "0001" and rec.parent is None
    second = model_file(tmp_path, "b")
    rec2 = reg.promote("mlp", new_version(second), expected_champion="0001")
    state = reg.state("mlp")
    assert state.champion == "0002" and [v.version for v in state.versions] == ["0001", "0002"]
    assert [(h["event"], h["from"], h["version"]) for h in state.history] == [
        ("promote", None, "0001"), ("promote", "0001", "0002")]  # fmt: skip
    assert rec2.parent == "0001" and rec2.model_sha256 == sha256_file(second)
    assert reg.model_path("mlp", "0002").read_bytes() == second.read_bytes()
    assert reg.record("mlp", "0001").metrics == {"accuracy": 0.9}
    h = holdout()
    stored = reg.holdout("mlp", rec.holdout)
    assert np.array_equal(stored.x, h.x) and stored.class_names == ("a", "b", "c", "d")
    assert np.array_equal(reg.predictions("mlp", "0001")[h.id], h.y)
    # one holdout file serves both versions (content-addressed)
    assert len(list((tmp_path / "reg" / "mlp" / "holdouts").glob("*.npz"))) == 1
    assert reg.names() == ["mlp"] and reg.verify("mlp") == [] and reg.leftovers("mlp") == []
    index = json.loads((tmp_path / "reg" / "mlp" / "index.json").read_text())
    assert index["champion"] == "0002"


@pytest.mark.parametrize("bad", ["../x", "/etc", "a/b", "", "..", ".hidden", "a" * 101, "x\\y",
                                 "a..b", None, 3])  # fmt: skip
def test_names_that_could_escape_the_registry_are_refused(tmp_path, bad):
    tally.bad_input()
    with pytest.raises(RegistryError, match="not valid"):
        validate_name(bad)
    reg = open_registry(tmp_path)
    with pytest.raises(RegistryError):
        reg.state(bad)


@pytest.mark.parametrize("bad", ["../0001", "1/2", "-1", "0", "abc", "", None, 1.5])
def test_version_ids_are_validated(bad):
    tally.bad_input()
    with pytest.raises(RegistryError, match="not valid"):
        validate_version(bad)
    assert validate_version("7") == "0007" and validate_version(12) == "0012"


def test_tampered_champion_is_detected_not_used(tmp_path):
    tally.bad_input()
    reg = open_registry(tmp_path / "reg")
    reg.promote("mlp", new_version(model_file(tmp_path, "a")), None)
    stored = tmp_path / "reg" / "mlp" / "versions" / "0001" / "model.keras"
    stored.write_bytes(stored.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(RegistryError, match="sha256"):
        reg.model_path("mlp", "0001")
    assert any("sha256" in p for p in reg.verify("mlp"))
    from mlchecks.run.gate import load_baseline

    with pytest.raises(RegistryError, match="tampered"):
        load_baseline(reg, "mlp")


@pytest.mark.parametrize("target", ["version.json", "predictions.npz", "holdout"])
def test_every_stored_file_is_checked(tmp_path, target):
    tally.bad_input()
    reg = open_registry(tmp_path / "reg")
    rec = reg.promote("mlp", new_version(model_file(tmp_path, "a")), None)
    folder = tmp_path / "reg" / "mlp"
    path = (folder / "holdouts" / f"{rec.holdout}.npz" if target == "holdout"
            else folder / "versions" / "0001" / target)  # fmt: skip
    if target == "version.json":
        data = json.loads(path.read_text())
        data["metrics"] = {"accuracy": 1.0}  # a better-looking champion
        path.write_text(json.dumps(data))
    elif target == "predictions.npz":
        np.savez(path, **{f"h{rec.holdout}": np.zeros(40, np.int64)})
    else:
        h = holdout()
        np.savez(path, x=h.x, y=np.zeros(40, np.int64), num_classes=np.int64(4),
                 class_names=np.array([], dtype=str))  # fmt: skip
    problems = reg.verify("mlp")
    assert problems and any("tampered" in p or "sha256" in p for p in problems)


def test_stale_champion_or_changed_file_writes_nothing(tmp_path):
    reg = open_registry(tmp_path / "reg")
    reg.promote("mlp", new_version(model_file(tmp_path, "a")), None)
    before = snapshot(tmp_path / "reg")
    with pytest.raises(RegistryError, match="changed from None to 0001"):
        reg.promote("mlp", new_version(model_file(tmp_path, "b")), expected_champion=None)
    judged = model_file(tmp_path, "c")
    new = new_version(judged)
    judged.write_bytes(b"swapped after judging")
    with pytest.raises(RegistryError, match="changed after it was judged"):
        reg.promote("mlp", new, expected_champion="0001")
    assert snapshot(tmp_path / "reg") == before


def test_rollback_retires_and_promote_restores(tmp_path):
    reg = open_registry(tmp_path / "reg")
    for i, tag in enumerate("abc"):
        reg.promote("mlp", new_version(model_file(tmp_path, tag)), f"{i:04d}" if i else None)
    state = reg.rollback("mlp")
    assert state.champion == "0002" and state.entry("0003").retired
    assert [v.version for v in state.active] == ["0001", "0002"]
    assert reg.rollback("mlp").champion == "0001"
    with pytest.raises(RegistryError, match="no earlier active version"):
        reg.rollback("mlp")
    state = reg.set_champion("mlp", "3", reason="manual")
    assert state.champion == "0003" and not state.entry("0003").retired
    assert state.history[-1]["event"] == "promote" and state.history[-1]["from"] == "0001"
    with pytest.raises(RegistryError, match="no version 0009"):
        reg.set_champion("mlp", "9")
    assert reg.verify("mlp") == []


def test_read_only_view_and_uri_schemes(tmp_path):
    reg = open_registry(f"file://{tmp_path / 'reg'}")
    reg.promote("mlp", new_version(model_file(tmp_path, "a")), None)
    view = ReadOnlyRegistry(reg)
    assert view.champion("mlp").version == "0001" and view.names() == ["mlp"]
    with pytest.raises(AttributeError, match="read-only"):
        _ = view.promote
    with pytest.raises(RegistryError, match="unsupported scheme 's3'"):
        open_registry("s3://bucket/x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RegistryError, match="not a folder"):
        open_registry(tmp_path / "file")
    (tmp_path / "reg" / "mlp" / "index.json").write_text("{broken")
    with pytest.raises(RegistryError, match="unreadable"):
        reg.state("mlp")


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """One registry per fault point, each with a champion; a child process promotes a new
    candidate into each and SIGKILLs itself at that point (all run at once)."""
    base = tmp_path_factory.mktemp("faults")
    jobs, cases = {}, {}
    for point in BEFORE_COMMIT + AFTER_COMMIT:
        folder = base / point
        folder.mkdir()
        reg = open_registry(folder / "reg")
        champion = model_file(folder, "champion")
        reg.promote("mlp", new_version(champion), None)
        candidate = model_file(folder, "candidate")
        jobs[point] = {"root": str(folder / "reg"), "name": "mlp", "files": [str(candidate)],
                       "fault": f"promote:{point}"}  # fmt: skip
        cases[point] = (folder, reg, champion, candidate)
    return run_driver(jobs), cases


@pytest.mark.parametrize("point", BEFORE_COMMIT + AFTER_COMMIT)
def test_sigkill_during_promotion_leaves_a_consistent_registry(killed, point):
    status, cases = killed
    folder, reg, champion, candidate = cases[point]
    tally.fault()
    assert status[point] == -signal.SIGKILL

    committed = point in AFTER_COMMIT
    state = reg.state("mlp")
    assert state.champion == ("0002" if committed else "0001")
    assert reg.verify("mlp") == []
    expected = candidate if committed else champion
    assert reg.model_path("mlp", state.champion).read_bytes() == expected.read_bytes()
    if point in ("after-copy", "after-rename", "index-tmp"):
        assert reg.leftovers("mlp")  # the half-done version is there, invisible
    # A complete version folder the index does not list (killed after the rename) is never
    # deleted: the next promotion lists it again, retired, and numbers after it; a half-built
    # one in .staging is cleaned up.
    orphan = point in ("after-rename", "index-tmp")
    nxt = model_file(folder, "next")
    rec = reg.promote("mlp", new_version(nxt), expected_champion=state.champion)
    assert rec.version == ("0003" if committed or orphan else "0002")
    assert reg.leftovers("mlp") == [] and reg.verify("mlp") == []
    if orphan:
        state = reg.state("mlp")
        assert state.entry("0002").retired and state.history[-2]["event"] == "relist"
        assert reg.model_path("mlp", "0002").read_bytes() == candidate.read_bytes()


def test_concurrent_writers_lose_no_version(tmp_path):
    root = tmp_path / "reg"
    files = [[model_file(tmp_path, f"w{w}-{i}", size=20_000) for i in range(5)]
             for w in range(4)]  # fmt: skip
    status = run_driver({f"w{w}": {"root": str(root), "name": "mlp", "files": list(map(str, fs))}
                         for w, fs in enumerate(files)})  # fmt: skip
    assert status == {"w0": 0, "w1": 0, "w2": 0, "w3": 0}
    reg = open_registry(root)
    state = reg.state("mlp")
    assert len(state.versions) == 20 and reg.verify("mlp") == []
    stored = {reg.record("mlp", v.version).model_sha256 for v in state.versions}
    assert stored == {sha256_file(f) for fs in files for f in fs}  # every version, once
    # a chain: each promotion was judged against the version before it (no lost update)
    chain = [(h["from"], h["version"]) for h in state.history]
    assert chain == [(None if i == 0 else f"{i:04d}", f"{i + 1:04d}") for i in range(20)]
    assert state.champion == "0020"


def test_registry_command_lists_shows_rolls_back_and_promotes(tmp_path, capsys):
    from mlchecks.cli import main

    root = tmp_path / "reg"
    reg = open_registry(root)
    for i, tag in enumerate("ab"):
        new = new_version(model_file(tmp_path, tag), metrics={"accuracy": 0.9 + i / 100},
                          data={"name": "digits"})  # fmt: skip
        reg.promote("mlp", new, f"{i:04d}" if i else None)
    (tmp_path / "mlchecks.toml").write_text(f'registry = "{root}"\n')
    capsys.readouterr()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["registry", *args, "--config", str(tmp_path / "mlchecks.toml")])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("list", "--json")
    assert code == 0 and json.loads(out)["lineages"] == [{"name": "mlp", "champion": "0002",
                                                          "versions": 2}]  # fmt: skip
    code, out, _ = run("list", "--name", "mlp")
    assert code == 0 and "* 0002" in out and "accuracy 0.9100" in out
    code, out, _ = run("show", "--json")  # the only lineage, its champion
    shown = json.loads(out)
    assert shown["record"]["version"] == "0002" and shown["record"]["parent"] == "0001"
    code, out, _ = run("rollback", "--name", "mlp", "--json")
    assert code == 0 and json.loads(out)["champion_after"] == "0001"
    code, out, _ = run("promote", "2", "--name", "mlp")
    assert code == 0 and "0001 -> 0002" in out
    code, _, err = run("show", "7", "--name", "mlp")
    assert code == 2 and err.startswith("mlchecks: error: ") and "no version 0007" in err
    code, _, err = run("list", "--name", "../etc")
    assert code == 2 and "not valid" in err
