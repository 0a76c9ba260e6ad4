"""Four `mlchecks gate` processes at once on one registry and one reports folder.

Candidates: three byte-distinct copies of one small trained model (same predictions, so each is
accepted against whichever copy was promoted before it) and one that always predicts class 0
(rejected whatever it is judged against). The gates race for the lineage's gate lock; the test
does not choose the order, it reads it back from the decisions and the registry's history.

"The right champion" at the end: the last accepted candidate in the order the gates took the
lock, i.e. the version every other accepted gate's promotion came before; each accepted gate
was judged against the champion the previous one promoted (no stale read, no lost update), and
the rejected gate left the champion it found.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlchecks.registry import open_registry, sha256_file

from . import candidates, tally

pytestmark = pytest.mark.slow  # four gates on two cores: about a minute

GATES = ("good0", "good1", "good2", "constant")


@pytest.fixture(scope="module")
def race(tmp_path_factory, request, digits):
    cache = Path(request.config.cache.mkdir("mlchecks-reliability-models"))
    models = candidates.models(cache, digits)
    folder = candidates.project(tmp_path_factory.mktemp("race"), digits)
    files = {f"good{i}": candidates.copy_of(models["good"], folder / f"good{i}.keras", str(i))
             for i in range(3)}  # fmt: skip
    files["constant"] = Path(shutil.copy(models["constant"], folder / "constant.keras"))
    procs = {k: candidates.gate(folder, str(files[k]), "--json", f"{k}.json") for k in GATES}
    results = {k: candidates.finish(p, timeout=480) for k, p in procs.items()}
    decisions = {}
    for key, (code, out, err) in results.items():
        assert code in (0, 1), f"{key} exited {code}\n{out[-2000:]}\n{err[-3000:]}"
        decisions[key] = json.loads((folder / f"{key}.json").read_text())
    return folder, files, results, decisions


def test_every_gate_decides(race):
    _, _, results, decisions = race
    assert {k: r[0] for k, r in results.items()} == {"good0": 0, "good1": 0, "good2": 0,
                                                      "constant": 1}  # fmt: skip
    assert decisions["constant"]["decision"] == "rejected"
    assert decisions["constant"]["version"] is None
    # rejected: the registry is unchanged by it, whatever champion it found
    assert decisions["constant"]["champion_after"] == decisions["constant"]["champion_before"]
    for _, out, err in results.values():
        assert "Traceback" not in out + err


def test_every_version_recorded(race):
    folder, files, _, decisions = race
    registry = open_registry(folder / "reg")
    state = registry.state(candidates.NAME)
    accepted = {k: d["version"] for k, d in decisions.items() if d["decision"] == "accepted"}
    stored = {v.version: registry.model_path(candidates.NAME, v.version).read_bytes()
              for v in state.versions}  # fmt: skip
    lost = [k for k, v in accepted.items() if stored.get(v) != files[k].read_bytes()]
    tally.lost(len(lost))
    assert lost == []
    assert sorted(accepted.values()) == [v.version for v in state.versions] == ["0001", "0002",
                                                                                "0003"]  # fmt: skip
    assert registry.verify(candidates.NAME) == []
    assert registry.leftovers(candidates.NAME) == []


def test_the_last_accepted_in_lock_order_is_champion(race):
    folder, files, _, decisions = race
    registry = open_registry(folder / "reg")
    state = registry.state(candidates.NAME)
    order = sorted((d["version"], d["champion_before"], k)
                   for k, d in decisions.items() if d["decision"] == "accepted")  # fmt: skip
    # each accepted gate was judged against the version the previous accepted gate promoted
    assert [before for _, before, _ in order] == [None, order[0][0], order[1][0]]
    assert [(h["from"], h["version"]) for h in state.history] == [
        (before, version) for version, before, _ in order
    ]
    last_version, _, last_gate = order[-1]
    assert state.champion == last_version
    record = registry.record(candidates.NAME, state.champion)
    assert record.model_sha256 == sha256_file(files[last_gate])
    for decision in decisions.values():
        if decision["decision"] == "accepted":
            assert decision["champion_after"] == decision["version"]
    assert decisions["constant"]["champion_before"] in (None, *[v for v, _, _ in order])


def test_the_history_page_lists_every_run(race):
    folder, _, _, decisions = race
    reports = folder / "reports"
    runs = candidates.index_runs(reports / "index.html")
    # the verdict comes first: the accepted gate that found no champion reads "accepted"
    # (its "first version" tag follows it)
    expected = {Path(d["report"]).parent.name: d["decision"] for d in decisions.values()}
    assert runs == expected
    for run_id in runs:
        assert (reports / run_id / "index.html").read_text("utf-8").rstrip().endswith("</html>")
    assert sorted(p.name for p in reports.rglob("*.tmp")) == []
