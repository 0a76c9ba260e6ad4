"""The registry contract on both backends (the local folder and a real MLflow server):
promotion, reading back, rollback and manual promotion through `mlchecks registry` (the same
output), sha256 verification of every stored file, crash points (SIGKILL in a subprocess) and
racing promoters (2 x 10 rounds, nothing lost, the champions form one judged chain).

Model files are opaque bytes here; test_mlflow_gate.py promotes real Keras models.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from mlchecks.cli import main
from mlchecks.errors import GateExit, RegistryError
from mlchecks.registry import ChampionChanged, Holdout, NewVersion, open_registry, sha256_file

BACKENDS = ("local", "mlflow")


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> str:
    """A --registry value: a fresh folder, or the session's MLflow server."""
    if request.param == "local":
        return str(tmp_path / "reg")
    return request.getfixturevalue("mlflow_server").uri


@pytest.fixture
def name() -> str:
    """A lineage name no other test uses (the MLflow server is shared by the session)."""
    return f"t-{uuid.uuid4().hex[:10]}"


def holdout(seed: int = 0, n: int = 40) -> Holdout:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4, 4, 1), dtype=np.float32)
    return Holdout.from_arrays(x, np.arange(n) % 4, 4, ("a", "b", "c", "d"))


def model_file(folder: Path, tag: str, size: int = 2000) -> Path:
    path = folder / f"{tag}.keras"
    path.write_bytes(tag.encode() + np.random.default_rng(len(tag)).bytes(size))
    return path


def new_version(path: Path, h: Holdout | None = None, **kw) -> NewVersion:
    h = h or holdout()
    return NewVersion(path, sha256_file(path), h, {h.id: h.y}, **kw)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def normalised(text: str, location: str) -> str:
    """Output with what legitimately differs between backends blanked: where, and when."""
    text = text.replace(location, "<registry>")
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "<time>", text)


def test_promote_read_rollback_and_cli_output_match_on_both_backends(tmp_path, name, capsys,
                                                                      mlflow_server):  # fmt: skip
    """The same promotions on both backends give the same state, records, files and the same
    `mlchecks registry` output and exit codes (location and times aside)."""
    outputs = {}
    for kind in BACKENDS:
        location = str(tmp_path / "reg") if kind == "local" else mlflow_server.uri
        reg = open_registry(location)
        files = [model_file(tmp_path, t) for t in ("a", "b", "c")]
        second = holdout(1, 30)  # new data arrives with the third version
        reg.promote(name, new_version(files[0], metrics={"accuracy": 0.9}, data={"name": "d"}),
                    None)  # fmt: skip
        with reg.gate_lock(name):
            reg.promote(name, new_version(files[1], metrics={"accuracy": 0.91}), "0001")
        preds = {holdout().id: holdout().y, second.id: second.y}
        reg.promote(name, NewVersion(files[2], sha256_file(files[2]), second, preds), "0002")
        state = reg.state(name)
        assert state.champion == "0003" and [v.version for v in state.versions] == [
            "0001", "0002", "0003"]  # fmt: skip
        assert reg.record(name, "0002").parent == "0001"
        assert reg.model_path(name, "0003").read_bytes() == files[2].read_bytes()
        assert set(reg.predictions(name, "0003")) == {holdout().id, second.id}
        assert reg.holdout(name, second.id).class_names == ("a", "b", "c", "d")
        assert set(state.holdouts) == {holdout().id, second.id}
        assert name in reg.names() and reg.verify(name) == []
        runs = []
        for args in (["list"], ["list", "--name", name], ["show", "0002", "--name", name],
                     ["rollback", "--name", name], ["promote", "0003", "--name", name],
                     ["rollback", "--name", name], ["path", f"{name}@champion"],
                     ["verify", "--name", name], ["show", "0009", "--name", name],
                     ["list", "--name", name, "--json"]):  # fmt: skip
            code, out, err = cli(capsys, "registry", *args, "--registry", location)
            text = normalised(out + err, reg.location)
            if args[0] == "path":  # where the verified file lies differs; its bytes do not
                assert Path(out.strip()).read_bytes() == files[1].read_bytes()
                text = "<path>"
            if args[0] == "list" and len(args) == 1:  # the server holds other tests' lineages
                text = "\n".join(line for line in text.splitlines() if name in line)
            runs.append((args[0], code, text))
        outputs[kind] = runs
        state = reg.state(name)
        assert state.champion == "0002" and [v.retired for v in state.versions] == [
            False, False, True]  # fmt: skip
        assert [(h["event"], h["from"], h["version"]) for h in state.history][-3:] == [
            ("rollback", "0003", "0002"), ("promote", "0002", "0003"),
            ("rollback", "0003", "0002")]  # fmt: skip
    assert outputs["local"] == outputs["mlflow"]
    codes = [code for _, code, _ in outputs["mlflow"]]
    assert codes == [0, 0, 0, 0, 0, 0, 0, 0, GateExit.BAD_INPUT, 0]


def test_every_stored_file_is_sha256_verified(tmp_path, backend, name, mlflow_server):
    reg = open_registry(backend)
    reg.promote(name, new_version(model_file(tmp_path, "a")), None)
    reg.model_path(name, "0001")
    if backend.startswith("mlflow"):
        run_id = reg._get(name, "0001").run_id  # the artifacts as the server stores them
        stored = mlflow_server.root / "artifacts"
        (target,) = stored.glob(f"*/{run_id}/artifacts/model/model.keras")
    else:
        target = Path(backend) / name / "versions" / "0001" / "model.keras"
    target.write_bytes(target.read_bytes()[:-1] + b"X")
    fresh = open_registry(backend)  # nothing cached
    with pytest.raises(RegistryError, match="sha256") as info:
        fresh.model_path(name, "0001")
    assert info.value.exit_code == GateExit.BAD_INPUT
    assert fresh.verify(name) and "sha256" in fresh.verify(name)[0]
    record_file = target.with_name("version.json")
    record_file.write_text(record_file.read_text().replace('"accuracy"', '"accuracX"', 1)
                           + " ")  # fmt: skip
    with pytest.raises(RegistryError, match="sha256"):
        open_registry(backend).record(name, "0001")


def test_a_stale_promotion_is_refused_with_exit_3_and_re_gate(tmp_path, backend, name):
    reg = open_registry(backend)
    reg.promote(name, new_version(model_file(tmp_path, "a")), None)
    with pytest.raises(ChampionChanged, match="re-gate") as info:
        reg.promote(name, new_version(model_file(tmp_path, "b")), expected_champion=None)
    assert info.value.exit_code == GateExit.INTERNAL_ERROR
    state = reg.state(name)
    assert state.champion == "0001"
    if backend.startswith("mlflow"):  # registered, withdrawn: kept, never champion
        assert [(v.version, v.retired) for v in state.versions] == [("0001", False),
                                                                    ("0002", True)]  # fmt: skip
    else:  # refused before writing
        assert len(state.versions) == 1


# A fresh interpreter that imports the backend once, then forks one child per job: the child
# promotes (with MLCHECKS_FAULT set, it SIGKILLs itself at that point) or, for races, runs
# rounds of: wait for the other racers, read the champion under gate_lock, promote, re-gate
# on ChampionChanged. Prints {job: exit status}.
DRIVER = r"""
import json, os, sys, time, traceback, numpy as np
from pathlib import Path
from mlchecks.registry import ChampionChanged, Holdout, NewVersion, open_registry, sha256_file
import mlchecks.registry.local
if sys.argv[1].startswith("mlflow"):
    import mlchecks.registry.mlflow, mlflow.tracking, requests  # imported before the forks
location, name, jobs, folder = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), Path(sys.argv[4])
rng = np.random.default_rng(0)
x = rng.random((40, 4, 4, 1), dtype=np.float32); y = np.arange(40) % 4
holdout = Holdout.from_arrays(x, y, 4, ("a", "b", "c", "d"))

def submit(reg, lineage, path):
    while True:  # re-gate until promoted
        barrier(path)
        with reg.gate_lock(lineage):
            champion = reg.state(lineage).champion
            try:
                return reg.promote(lineage, NewVersion(path, sha256_file(path), holdout,
                                   {holdout.id: y}), expected_champion=champion)
            except ChampionChanged:
                print("re-gate", path.name, flush=True)

def barrier(path):
    # racers start each round together (a re-gate finds its round's barrier open)
    if not (folder / "barrier").is_dir():
        return
    racer, round_ = path.stem.split("-")
    (folder / "barrier" / f"{round_}-{racer}").touch()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(list((folder / "barrier").glob(f"{round_}-*"))) >= len(jobs):
            return
        time.sleep(0.005)

children = {}
for key, job in jobs.items():
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.environ["MLCHECKS_FAULT"] = job.get("fault", "")
            reg = open_registry(location)
            for f in job["files"]:
                submit(reg, job.get("name", name), Path(f))
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


def run_driver(location: str, name: str, jobs: dict, folder: Path) -> tuple[dict, str]:
    proc = subprocess.run([sys.executable, "-c", DRIVER, location, name, json.dumps(jobs),
                           str(folder)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stdout + proc.stderr


FAULTS = {"local": ("promote:after-copy", "promote:after-rename", "promote:done"),
          "mlflow": ("mlflow:after-upload", "mlflow:after-register", "mlflow:after-tenure",
                     "mlflow:after-alias")}  # fmt: skip


def test_sigkill_at_each_crash_point_keeps_a_complete_champion(tmp_path, backend, name):
    """Killed at every step of a promotion: the champion is always a complete version whose
    files verify, and the next promotion succeeds (after a re-gate where the killed one's
    version was already registered and is rolled forward)."""
    kind = "mlflow" if backend.startswith("mlflow") else "local"
    reg = open_registry(backend)
    base = model_file(tmp_path, "base")
    jobs = {}
    for i, fault in enumerate(FAULTS[kind]):
        reg.promote(f"{name}-{i}", new_version(base), None)
        jobs[fault] = {"files": [str(model_file(tmp_path, f"killed{i}"))], "fault": fault,
                       "name": f"{name}-{i}"}  # fmt: skip
    status, log = run_driver(backend, name, jobs, tmp_path)
    assert status == dict.fromkeys(jobs, -9), log
    for i, fault in enumerate(FAULTS[kind]):
        lineage, killed = f"{name}-{i}", Path(jobs[fault]["files"][0])
        fresh = open_registry(backend)
        state = fresh.state(lineage)
        assert state.champion in ("0001", "0002"), fault
        champion = fresh.model_path(lineage, state.champion).read_bytes()
        assert champion in (killed.read_bytes(), base.read_bytes())
        assert fresh.verify(lineage) == [], fault
        after = model_file(tmp_path, f"after{i}")
        try:
            rec = fresh.promote(lineage, new_version(after), state.champion)
        except ChampionChanged:  # the killed gate's registered version was rolled forward
            assert fault in ("mlflow:after-register", "mlflow:after-tenure"), fault
            assert fresh.state(lineage).champion == "0002"
            assert fresh.model_path(lineage, "0002").read_bytes() == killed.read_bytes()
            rec = fresh.promote(lineage, new_version(after), "0002")
        assert fresh.state(lineage).champion == rec.version
        assert fresh.model_path(lineage, rec.version).read_bytes() == after.read_bytes()
        assert fresh.verify(lineage) == []


def test_two_racers_ten_rounds_lose_nothing_and_chain_the_champions(tmp_path, backend, name):
    """2 promoters x 10 rounds, each round both judged against the same champion: every
    submission ends up an active version exactly once, each active version's parent is the
    active version before it (so every champion was judged against its predecessor), and the
    champion is the last one. A lost race costs a withdrawn (retired, kept) version and a
    re-gate, never a version."""
    rounds = 10
    (tmp_path / "barrier").mkdir()
    jobs = {}
    for racer in ("p", "q"):
        files = [model_file(tmp_path, f"{racer}-r{i:02d}") for i in range(rounds)]
        jobs[racer] = {"files": [str(f) for f in files]}
    status, log = run_driver(backend, name, jobs, tmp_path)
    assert status == {"p": 0, "q": 0}, log
    reg = open_registry(backend)
    state = reg.state(name)
    active = [v.version for v in state.active]
    shas = [reg.record(name, v).model_sha256 for v in active]
    submitted = sorted(sha256_file(Path(f)) for job in jobs.values() for f in job["files"])
    assert sorted(shas) == submitted  # nothing lost, nothing twice
    parents = [reg.record(name, v).parent for v in active]
    assert parents == [None, *active[:-1]]
    assert state.champion == active[-1] and reg.verify(name) == []
    withdrawn = [v.version for v in state.versions if v.retired]
    regates = log.count("re-gate ")
    if backend.startswith("mlflow"):
        assert len(withdrawn) == regates >= 1, log  # the barrier makes them race
    else:
        assert withdrawn == [] and regates == 0  # the folder's gate lock serialises them
    print(f"{backend.split(':')[0]}: {len(state.versions)} versions, {regates} re-gates")


def test_an_unreachable_server_is_exit_3_in_one_line_and_a_bad_uri_exit_2(tmp_path, capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = cli(capsys, "registry", "list", "--registry",
                         f"mlflow+http://127.0.0.1:{port}")  # fmt: skip
    assert code == GateExit.INTERNAL_ERROR and out == ""
    assert err.count("\n") == 1 and "unreachable" in err and "rerun" in err, err
    for bad in ("mlflow+http://", "mlflow+ftp://host:1", "mlflow+http://host:99999",
                "mlflow+http://a b:5000"):  # fmt: skip
        code, out, err = cli(capsys, "registry", "list", "--registry", bad)
        assert code == GateExit.BAD_INPUT and err.startswith("mlchecks: error: registry "), err
        assert "mlflow+http://HOST:PORT" in err and err.count("\n") == 1


def test_mlflow_tracking_uri_is_honoured(mlflow_server, tmp_path, name, monkeypatch, capsys):
    reg = open_registry(mlflow_server.uri)
    reg.promote(name, new_version(model_file(tmp_path, "a")), None)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.http)
    code, out, _ = cli(capsys, "registry", "list", "--registry", "mlflow", "--name", name)
    assert code == 0 and f"lineage {name!r} in {mlflow_server.uri} (champion 0001)" in out
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(tmp_path))
    code, _, err = cli(capsys, "registry", "list", "--registry", "mlflow")
    assert code == GateExit.BAD_INPUT and "MLFLOW_TRACKING_URI" in err


def test_copy_migrates_a_folder_registry(tmp_path, mlflow_server, name, capsys, monkeypatch):
    folder = tmp_path / "reg"
    local = open_registry(folder)
    for i, tag in enumerate(("a", "b", "c")):
        local.promote(name, new_version(model_file(tmp_path, tag), metrics={"accuracy": 0.9}),
                      f"{i:04d}" if i else None)  # fmt: skip
    local.rollback(name)
    code, out, err = cli(capsys, "registry", "copy", "--from", str(folder), "--to",
                         mlflow_server.uri, "--name", name)  # fmt: skip
    assert code == 0, err
    assert f"  {name}: champion 0002, 3 version(s)" in out
    remote = open_registry(mlflow_server.uri)
    assert remote.verify(name) == []
    views = []
    for location in (str(folder), mlflow_server.uri):
        for args in (["list", "--name", name], ["show", "--name", name]):
            code, out, _ = cli(capsys, "registry", *args, "--registry", location)
            views.append(out.replace(location, "<registry>"))
    assert views[:2] == views[2:]
    for v in ("0001", "0002", "0003"):
        assert remote.model_path(name, v).read_bytes() == local.model_path(name, v).read_bytes()
    # models:/NAME@champion is what mlchecks says the champion is
    import mlflow.artifacts

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.http)
    got = Path(mlflow.artifacts.download_artifacts(f"models:/{name}@champion",
                                                   dst_path=str(tmp_path / "dl")))  # fmt: skip
    assert hashlib.sha256((got / "model.keras").read_bytes()).hexdigest() == \
        local.record(name, "0002").model_sha256  # fmt: skip
    code, _, err = cli(capsys, "registry", "copy", "--from", str(folder), "--to",
                       mlflow_server.uri, "--name", name)  # fmt: skip
    assert code == GateExit.BAD_INPUT and "already has versions" in err


def test_a_server_that_never_answers_is_exit_3_within_the_timeout(capsys, monkeypatch):
    """A slow (here: silent) server costs the request timeout times the attempts, not a hang."""
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never answers
        port = silent.getsockname()[1]
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
        start = time.monotonic()
        code, out, err = cli(capsys, "registry", "list", "--registry",
                             f"mlflow+http://127.0.0.1:{port}")  # fmt: skip
        took = time.monotonic() - start
    assert code == GateExit.INTERNAL_ERROR and out == "" and err.count("\n") == 1, err
    assert "unreachable" in err and "timed out" in err, err
    assert took < 30, took  # 1 s x (1 + 1 retry), backoff, import; not 120 s x 7 retries
