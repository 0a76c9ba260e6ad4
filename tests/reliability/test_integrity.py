"""Integrity of what the registry and the model cache hand back, against edits and restores.

- Restoring an older ``index.json`` (as a damaged-index message advises) loses no version: the
  next write lists the newer version folders again (retired, not champion) and numbers the new
  version after them; a version folder is never deleted, an incomplete one is refused (exit 2).
- Every stored field is covered by a checksum: the index by its own ``checksum``, each record by
  the index, model and predictions by the record, a holdout's arrays *and* its ``num_classes``
  and ``class_names`` by the index's ``holdouts`` map. An edit is reported by ``verify`` and
  never used. An index written before the checksums (no ``checksum`` key) still reads: what can
  be verified is, and the next write adds the checksums (migrate on write).
- A hostile index (NaN, nesting 10⁵ deep, duplicate versions) or a lineage laid out wrongly (a
  file where a folder belongs, a read-only registry) is one ``mlchecks: error:`` line, exit 2.
- The model cache never hands back a model trained by a builder's older code.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mlchecks.errors import GateExit, RegistryError
from mlchecks.registry import Holdout, NewVersion, open_registry, sha256_file
from mlchecks.run.gate import load_baseline

from . import tally


def _holdout(seed: int = 0) -> Holdout:
    rng = np.random.default_rng(seed)
    x = rng.random((40, 4, 4, 1), dtype=np.float32)
    return Holdout.from_arrays(x, np.arange(40) % 4, 4, ("a", "b", "c", "d"))


def _new(folder: Path, tag: str, h: Holdout | None = None) -> NewVersion:
    h = h or _holdout()
    path = folder / f"{tag}.keras"
    path.write_bytes(tag.encode() + np.random.default_rng(len(tag)).bytes(5_000))
    return NewVersion(path, sha256_file(path), h, {h.id: h.y}, metrics={"accuracy": 0.9})


def _lineage(tmp_path: Path, n: int = 2):
    """Lineage ``tiny`` with versions 0001..n (champion n) on one holdout."""
    reg = open_registry(tmp_path / "reg")
    for i in range(n):
        reg.promote("tiny", _new(tmp_path, f"m{i}"), reg.state("tiny").champion)
    return reg, tmp_path / "reg" / "tiny"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".locks" not in p.parts}  # fmt: skip


def _versions(lineage: Path) -> dict[str, dict[str, bytes]]:
    return {p.name: _files(p) for p in sorted((lineage / "versions").iterdir())}


# ------------------------------------------------------------------ item 5: restored index
def test_restoring_an_older_index_loses_no_version(tmp_path):
    reg, lineage = _lineage(tmp_path, 1)
    backup = (lineage / "index.json").read_bytes()  # a backup taken while 0001 was champion
    reg.promote("tiny", _new(tmp_path, "m1"), "0001")
    before = _versions(lineage)
    (lineage / "index.json").write_bytes(backup)  # restored, as a damaged-index message advises
    tally.bad_input()
    assert reg.state("tiny").champion == "0001" and reg.verify("tiny") == []
    rec = reg.promote("tiny", _new(tmp_path, "m2"), "0001")
    after = _versions(lineage)
    lost = sum(after.get(v) != files for v, files in before.items())
    tally.lost(lost)
    assert lost == 0, "a complete version folder was deleted or changed"
    assert rec.version == "0003"  # never reuses the number of a stored version
    state = reg.state("tiny")
    assert [(v.version, v.retired) for v in state.versions] == [
        ("0001", False), ("0002", True), ("0003", False)]  # fmt: skip
    relisted = [h for h in state.history if h["event"] == "relist"]
    assert [h["version"] for h in relisted] == ["0002"] and "index" in relisted[0]["reason"]
    assert reg.verify("tiny") == [] and reg.leftovers("tiny") == []
    # the relisted version is whole and can be made champion again
    assert reg.set_champion("tiny", "0002").champion == "0002"
    assert reg.model_path("tiny", "0002").read_bytes() == before["0002"]["model.keras"]


def test_a_manual_promote_relists_a_version_the_restored_index_forgot(tmp_path):
    reg, lineage = _lineage(tmp_path, 1)
    backup = (lineage / "index.json").read_bytes()
    reg.promote("tiny", _new(tmp_path, "m1"), "0001")
    (lineage / "index.json").write_bytes(backup)
    tally.bad_input()
    state = reg.set_champion("tiny", "2", reason="restore")
    assert state.champion == "0002" and [v.version for v in state.active] == ["0001", "0002"]
    assert reg.verify("tiny") == []


@pytest.mark.parametrize("damage", ["no record", "model changed", "other lineage"])
def test_an_unlisted_incomplete_version_folder_is_refused_not_deleted(tmp_path, damage):
    reg, lineage = _lineage(tmp_path, 1)
    backup = (lineage / "index.json").read_bytes()
    reg.promote("tiny", _new(tmp_path, "m1"), "0001")
    (lineage / "index.json").write_bytes(backup)
    orphan = lineage / "versions" / "0002"
    if damage == "no record":
        (orphan / "version.json").unlink()
    elif damage == "model changed":
        (orphan / "model.keras").write_bytes(b"edited")
    else:
        record = json.loads((orphan / "version.json").read_text())
        record["name"] = "other"
        (orphan / "version.json").write_text(json.dumps(record))
    kept = _files(orphan)
    tally.bad_input()
    with pytest.raises(RegistryError) as info:
        reg.promote("tiny", _new(tmp_path, "m2"), "0001")
    message = str(info.value)
    assert info.value.exit_code == GateExit.BAD_INPUT and "\n" not in message
    assert str(orphan) in message and "move it" in message, message
    lost = int(_files(orphan) != kept)
    tally.lost(lost)
    assert not lost and reg.state("tiny").champion == "0001"
    assert any("0002" in p for p in reg.verify("tiny"))


# ------------------------------------------------------------------ item 12: checksums
def _rewrite_holdout(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize(
    "change",
    [{"num_classes": np.int64(5)}, {"num_classes": np.int64(3)},
     {"class_names": np.array(["a", "b", "c", "X"])}, {"class_names": np.array([], dtype=str)}],
    ids=["more classes", "fewer classes", "renamed class", "names dropped"],
)  # fmt: skip
def test_edited_holdout_metadata_is_detected(tmp_path, change):
    reg, lineage = _lineage(tmp_path)
    h = _holdout()
    _rewrite_holdout(lineage / "holdouts" / f"{h.id}.npz", **change)
    tally.bad_input()
    with pytest.raises(RegistryError, match="checksum") as info:
        reg.holdout("tiny", h.id)
    assert "\n" not in str(info.value) and "class" in str(info.value)
    with pytest.raises(RegistryError):
        load_baseline(reg, "tiny")
    assert any("holdout" in p and "checksum" in p for p in reg.verify("tiny"))


def _edit_index(lineage: Path, edit, *, reseal: bool = False) -> None:
    path = lineage / "index.json"
    data = json.loads(path.read_text())
    edit(data)
    if reseal:  # a forger who recomputes the checksum
        from mlchecks.registry.local import index_checksum

        data["checksum"] = index_checksum(data)
    path.write_text(json.dumps(data, indent=1))


EDITS = {
    "created": lambda d: d["versions"][0].update(created="2020-01-01T00:00:00+00:00"),
    "retired": lambda d: d["versions"][1].update(retired=True),
    "sha256": lambda d: d["versions"][0].update(sha256="0" * 64),
    "champion": lambda d: d.update(champion="0001"),
    "history": lambda d: d["history"][0].update(reason="nobody judged this"),
    "holdouts": lambda d: d["holdouts"].update({k: "f" * 64 for k in d["holdouts"]}),
    "removed version": lambda d: d["versions"].pop(0),
}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_every_index_field_is_covered_by_its_checksum(tmp_path, field):
    reg, lineage = _lineage(tmp_path)
    _edit_index(lineage, EDITS[field])
    tally.bad_input()
    with pytest.raises(RegistryError, match="checksum") as info:
        reg.state("tiny")
    assert info.value.exit_code == GateExit.BAD_INPUT and "\n" not in str(info.value)
    problems = reg.verify("tiny")
    assert problems and "checksum" in problems[0]
    before = _versions(lineage)
    with pytest.raises(RegistryError):
        reg.promote("tiny", _new(tmp_path, "m9"), "0002")
    assert _versions(lineage) == before


@pytest.mark.parametrize("reseal", [False, True], ids=["legacy index", "resealed index"])
def test_duplicate_version_entries_are_detected(tmp_path, reseal):
    reg, lineage = _lineage(tmp_path)

    def duplicate(d):
        d["versions"].append(dict(d["versions"][0]))
        if not reseal:
            d.pop("checksum")

    _edit_index(lineage, duplicate, reseal=reseal)
    tally.bad_input()
    with pytest.raises(RegistryError, match="0001 twice"):
        reg.state("tiny")
    assert any("0001 twice" in p for p in reg.verify("tiny"))


def test_an_index_written_before_the_checksums_still_reads_and_is_migrated(tmp_path):
    reg, lineage = _lineage(tmp_path)
    h = _holdout()

    def legacy(d):  # what mlchecks wrote before the checksums
        d.pop("checksum")
        d.pop("holdouts")

    _edit_index(lineage, legacy)
    tally.bad_input()
    state = reg.state("tiny")
    assert state.champion == "0002" and not state.checksummed and state.holdouts == {}
    assert reg.verify("tiny") == [] and load_baseline(reg, "tiny").version == "0002"
    stored = reg.holdout("tiny", h.id)  # arrays verified by the id, metadata as stored
    assert stored.num_classes == 4 and stored.class_names == ("a", "b", "c", "d")
    # what can be verified still is: labels outside num_classes, a name list of another length
    _rewrite_holdout(lineage / "holdouts" / f"{h.id}.npz", num_classes=np.int64(2))
    with pytest.raises(RegistryError, match="num_classes"):
        reg.holdout("tiny", h.id)
    _rewrite_holdout(lineage / "holdouts" / f"{h.id}.npz", num_classes=np.int64(4))
    # the next write migrates: checksum and holdouts map, older holdouts included
    other = _holdout(seed=1)
    reg.promote("tiny", _new(tmp_path, "m2", other), "0002")
    data = json.loads((lineage / "index.json").read_text())
    assert set(data["holdouts"]) == {h.id, other.id} and len(data["checksum"]) == 64
    state = reg.state("tiny")
    assert state.checksummed and reg.verify("tiny") == []
    _rewrite_holdout(lineage / "holdouts" / f"{h.id}.npz", class_names=np.array(list("wxyz")))
    assert any("checksum" in p for p in reg.verify("tiny"))


# ------------------------------------------------------------------ hostile index, bad layout
def _cli(tmp_path: Path, capsys, *args: str) -> tuple[int, str, str]:
    from mlchecks.cli import main

    (tmp_path / "mlchecks.toml").write_text(f'registry = "{tmp_path / "reg"}"\n')
    capsys.readouterr()
    code = main(["registry", *args, "--config", str(tmp_path / "mlchecks.toml")])
    out, err = capsys.readouterr()
    return code, out, err


HOSTILE = {
    "NaN in the history": lambda raw: raw.replace('"promote"', "NaN", 1),
    "Infinity as a value": lambda raw: raw.replace('"from": null', '"from": Infinity', 1),
    "nested 100000 deep": lambda raw: raw.replace(
        '"history": [', '"history": [' + "[" * 100_000 + "]" * 100_000 + ",", 1
    ),
    "history item not a table": lambda raw: raw.replace('"history": [', '"history": [7, ', 1),
    "retired not a boolean": lambda raw: raw.replace('"retired": false', '"retired": "no"', 1),
}


@pytest.mark.parametrize("how", sorted(HOSTILE))
def test_registry_show_on_a_hostile_index_is_exit_2(tmp_path, capsys, how):
    _lineage(tmp_path)
    path = tmp_path / "reg" / "tiny" / "index.json"
    raw = path.read_text()
    hostile = HOSTILE[how](raw)
    assert hostile != raw
    path.write_text(hostile)
    tally.bad_input()
    for action in (["show", "--json"], ["show"], ["list", "--name", "tiny", "--json"],
                   ["verify"]):  # fmt: skip
        code, _, err = _cli(tmp_path, capsys, *action, "--name", "tiny")
        assert code == GateExit.BAD_INPUT, (action, err)
        assert err.startswith("mlchecks: error: ") and err.count("\n") == 1, (action, err)
        assert "index" in err and "internal error" not in err


def test_registry_verify_command_reports_each_problem(tmp_path, capsys):
    _, lineage = _lineage(tmp_path)
    code, out, err = _cli(tmp_path, capsys, "verify", "--name", "tiny")
    assert code == 0 and "no problems" in out, out + err
    h = _holdout()
    _rewrite_holdout(lineage / "holdouts" / f"{h.id}.npz", num_classes=np.int64(9))
    (lineage / "versions" / "0001" / "model.keras").write_bytes(b"edited")
    tally.bad_input(2)
    code, out, err = _cli(tmp_path, capsys, "verify", "--name", "tiny", "--json")
    problems = json.loads(out)["problems"]
    assert code == GateExit.BAD_INPUT and err.startswith("mlchecks: error: ")
    assert any("model.keras" in p for p in problems) and any("holdout" in p for p in problems)


@pytest.mark.parametrize("where", [".staging", "versions", "holdouts", "lineage"])
def test_a_file_where_a_registry_folder_belongs_is_exit_2(tmp_path, where):
    reg = open_registry(tmp_path / "reg")
    if where == "lineage":
        (tmp_path / "reg").mkdir()
        (tmp_path / "reg" / "tiny").write_text("not a folder")
        expected = None
    else:
        reg.promote("tiny", _new(tmp_path, "m0"), None)
        target = tmp_path / "reg" / "tiny" / where
        if target.is_dir():
            shutil.move(target, tmp_path / f"{where}.moved")
        target.write_text("not a folder")
        expected = "0001"
    before = _files(tmp_path / "reg")
    tally.bad_input()
    with pytest.raises(RegistryError) as info:
        reg.promote("tiny", _new(tmp_path, "m1"), expected)
    message = str(info.value)
    assert info.value.exit_code == GateExit.BAD_INPUT and "\n" not in message
    assert "not a folder" in message and "Free space" not in message, message
    assert _files(tmp_path / "reg") == before


READ_ONLY = textwrap.dedent(
    """
    import json, subprocess, sys
    from pathlib import Path
    import numpy as np
    from mlchecks.registry import Holdout, NewVersion, open_registry, sha256_file

    work, mount, how = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    h = Holdout.from_arrays(np.zeros((40, 4, 4, 1), np.float32), np.arange(40) % 4, 4)
    def new(tag):
        path = work / f"{tag}.keras"
        path.write_bytes(tag.encode() * 1000)
        return NewVersion(path, sha256_file(path), h, {h.id: h.y})
    reg = open_registry(mount / "reg")
    reg.promote("tiny", new("a"), None)
    if how == "remount":
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    else:
        subprocess.run(["chattr", "-R", "+i", str(mount / "reg")], check=True)
    out = {}
    for lineage, champion in (("tiny", "0001"), ("other", None)):
        try:
            reg.promote(lineage, new("b"), champion)
            out[lineage] = ["promoted", 0]
        except Exception as exc:
            out[lineage] = [f"{type(exc).__name__}: {exc}", int(getattr(exc, "exit_code", 3))]
    out["champion"] = reg.state("tiny").champion
    if how != "remount":
        subprocess.run(["chattr", "-R", "-i", str(mount / "reg")], check=True)
    print(json.dumps(out))
    """
)


@pytest.mark.parametrize("how", ["remount", "immutable"])
def test_a_read_only_registry_is_exit_2_and_says_so(tmp_path, how):
    unshare = shutil.which("unshare")
    if unshare is None or (how == "immutable" and shutil.which("chattr") is None):
        pytest.skip("needs unshare(1) (and chattr(1)) to make a private read-only folder")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    script = (f'mount -t tmpfs -o size=4m tmpfs "{mount}" || exit 77; '
              f'exec "{sys.executable}" -c "$0" "{tmp_path}" "{mount}" {how}')  # fmt: skip
    proc = subprocess.run([unshare, "--mount", "sh", "-c", script, READ_ONLY],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    if proc.returncode == 77 or "unshare failed" in proc.stderr or "chattr:" in proc.stderr:
        pytest.skip(f"cannot make a read-only folder here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    tally.bad_input(2)
    assert out["champion"] == "0001"
    for lineage in ("tiny", "other"):
        message, code = out[lineage]
        assert code == GateExit.BAD_INPUT, out
        assert message.startswith("RegistryError") and "not writable" in message, out
        assert "Free space" not in message and "\n" not in message, out


# ------------------------------------------------------------------ item 6: stale model cache
TRAIN_BUILDER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[2])
    from mlchecks.config import ModelSpec
    from mlchecks.data import load_dataset
    from mlchecks.model.training import ModelCache, train
    ds = load_dataset("synthetic:200")
    trained = train(ModelSpec(name="m", builder=sys.argv[3], epochs=1), ds, seed=0,
                    cache=ModelCache(sys.argv[1]))
    units = [layer.units for layer in trained.model.layers if hasattr(layer, "units")]
    print(json.dumps({"cached": trained.record.cached, "units": units}))
    """
)
BUILDER = textwrap.dedent(
    """
    import keras

    def build(input_shape, num_classes):
        inputs = keras.Input(input_shape)
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(UNITS, activation="relu")(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))
    """
)


def _train_builder(cache: Path, code: Path, identifier: str) -> dict:
    import os

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", TRAIN_BUILDER, str(cache), str(code),
                           identifier], capture_output=True, text=True, env=env,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_editing_a_builder_never_reuses_the_model_of_its_older_code(tmp_path):
    code, cache = tmp_path / "code", tmp_path / "cache"
    (code / "mypkg").mkdir(parents=True)
    module = code / "mypkg" / "nets.py"
    # the import path names a re-export: the defining module must count as well
    (code / "mypkg" / "__init__.py").write_text("from mypkg.nets import build\n")
    module.write_text(BUILDER.replace("UNITS", "8"))
    first = _train_builder(cache, code, "mypkg:build")
    assert first == {"cached": False, "units": [8, 10]}
    assert _train_builder(cache, code, "mypkg:build")["cached"] is True  # unchanged: reused
    tally.bad_input()
    module.write_text(BUILDER.replace("UNITS", "16"))  # same import path, new code
    edited = _train_builder(cache, code, "mypkg:build")
    stale = int(edited["units"] != [16, 10] or edited["cached"])
    tally.lost(stale)  # a stale model judged as the new code's would be a wrong verdict
    assert not stale, edited


# ------------------------------------------------------------------ data: the right message
def _npz(path: Path, y_train=None, **arrays) -> Path:
    x = np.random.default_rng(0).random((60, 4), dtype=np.float32)
    y = np.arange(60) % 3 if y_train is None else y_train
    np.savez(path, **{"x_train": x, "y_train": y, "x_test": x[:20], "y_test": y[:20], **arrays})
    return path


def test_a_relative_npz_whose_name_starts_with_synthetic_is_read(tmp_path, monkeypatch):
    from mlchecks.data import load_dataset

    _npz(tmp_path / "synthetic_run3.npz")
    tally.bad_input()
    assert load_dataset("synthetic_run3.npz", root=tmp_path).n_test == 20
    monkeypatch.chdir(tmp_path)
    assert load_dataset("synthetic_run3.npz").num_classes == 3
    with pytest.raises(Exception, match="synthetic:N"):
        load_dataset("synthetic:3")


def test_an_oversized_npz_header_is_not_called_object_arrays(tmp_path):
    from mlchecks.data import load_dataset
    from mlchecks.errors import DataError

    wide = np.dtype([(f"f{i}", "<f4") for i in range(2000)])  # a header of ~30 kB
    path = tmp_path / "header.npz"
    np.savez(path, x_train=np.zeros(2, wide), y_train=np.zeros(2, np.int64),
             x_test=np.zeros(2, np.float32), y_test=np.zeros(2, np.int64))  # fmt: skip
    tally.bad_input()
    with pytest.raises(DataError) as info:
        load_dataset(str(path))
    message = str(info.value)
    assert "object arrays" not in message and "header" in message, message


@pytest.mark.parametrize("label", [0, 1])
def test_labels_of_one_class_are_reported_as_one_class(tmp_path, label):
    from mlchecks.data import load_dataset
    from mlchecks.errors import DataError

    path = _npz(tmp_path / "one.npz", y_train=np.full(60, label))
    tally.bad_input()
    with pytest.raises(DataError, match="one class") as info:
        load_dataset(str(path))
    assert f"class {label} in every sample" in str(info.value)


def test_lint_of_a_model_whose_config_is_nested_deep_is_exit_2(tmp_path, monkeypatch, capsys):
    import zipfile

    from mlchecks.cli import main

    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", '{"a": ' * 100_000 + "1" + "}" * 100_000)
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        archive.writestr("model.weights.h5", b"")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    tally.bad_input()
    assert main(["lint", str(path), "--data", "synthetic:200"]) == GateExit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("mlchecks: error: ") and err.count("\n") == 1, err
    assert "deep.keras" in err and "internal error" not in err
