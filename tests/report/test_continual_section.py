"""The report's continual-learning section: the accuracy matrix R[i][j] (version x holdout),
each version's average accuracy and backward transfer, and the rule that judged the candidate.

One test gates a real class-incremental lineage on the embedded digits (three tasks of two
digits, replay of a few stored samples; one gate per version, in process) and reads the numbers
back from the rendered page: they equal ``matrix_figures`` of the check's matrix and this test's
own accuracy of each version on each task's holdout. The others build the section from the real
``regression.forgetting`` producer on small masks.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from mlchecks.checks import continual
from mlchecks.checks import regression as compare
from mlchecks.config import Thresholds, settings_from_table
from mlchecks.report import data as report_data
from mlchecks.report.html import render_html
from mlchecks.result import ForgettingDetails

TASKS = [(0, 1), (2, 3), (4, 5)]
EPOCHS = 8
MEMORY = 20  # stored training samples per earlier digit (replay)


def section(page: str) -> str:
    match = re.search(r'<section id="continual">(.*?)</section>', page, re.S)
    assert match is not None, "continual section missing"
    return match.group(1)


def rows_of(html: str) -> dict[str, list[str]]:
    """Each matrix row of the page: version -> the cells after the version's name (holdouts,
    then average accuracy, then backward transfer), as their HTML."""
    out = {}
    for version, body in re.findall(r'<tr data-version="([^"]*)">(.*?)</tr>', html, re.S):
        out[version] = re.findall(r"<td class=\"num[^\"]*\"[^>]*>.*?</td>", body, re.S)
    return out


def value_of(cell: str) -> float | None:
    match = re.search(r'data-value="([^"]+)"', cell)
    return float(match.group(1)) if match else None


def text_of(cell: str) -> str:
    return re.sub(r"<[^>]+>", "", cell).strip()


def _pair(holdout, version, first, best, cand):
    return compare.HoldoutPair(holdout, version, first, version, best, cand)


def _class_check(thresholds: Thresholds | None = None):
    """regression.forgetting of a third version under the class scenario, as the gate builds it:
    two earlier holdouts, the candidate's own holdout last in the matrix."""
    t = thresholds or Thresholds()
    right = np.ones(200, bool)
    lost30 = np.arange(200) >= 60  # 70% right: 30 pp forgotten
    lost10 = np.arange(200) >= 20
    matrix = continual.matrix_figures({
        "versions": ["0001", "0002", "candidate"], "holdouts": ["h1", "h2", "h3"],
        "introduced_by": ["0001", "0002", "candidate"],
        "accuracy": [[1.0, None, None], [0.95, 1.0, None], [0.7, 0.9, 0.98]],
    })  # fmt: skip
    budgeted = Thresholds(max_forgetting=t.forgetting_budget)
    check = compare.forgetting_check([_pair("h1", "0001", 1.0, right, lost30),
                                      _pair("h2", "0002", 1.0, right, lost10)],
                                     thresholds=budgeted, matrix=matrix, model="mlp")  # fmt: skip
    return continual.apply_bwt_floor(check, t.min_backward_transfer, t.forgetting_budget)


def test_the_section_shows_the_matrix_average_bwt_and_the_class_budget():
    check = _class_check()
    data = report_data.build([check], name="split")
    (shown,) = data.continual
    assert shown.versions == ["0001", "0002", "candidate"]
    assert shown.holdouts == ["0001", "0002", "candidate"]
    assert shown.scenario == "class" and shown.status == "pass"
    assert (shown.budget, shown.floor) == (0.5, -0.3)
    html = section(render_html(data))
    assert "class-incremental budget: forgetting up to 50 pp per earlier holdout" in html
    assert "backward transfer at least -30 pp" in html
    rows = rows_of(html)
    assert list(rows) == ["0001", "0002", "candidate"]
    assert [text_of(c) for c in rows["0001"]] == ["100.0%", "not seen", "not seen", "100.0%",
                                                  "none"]  # fmt: skip
    cand = rows["candidate"]
    assert [text_of(c) for c in cand] == ["70.0%", "90.0%", "98.0%", "86.0%", "-20.00 pp"]
    assert value_of(cand[4]) == pytest.approx(((0.7 - 1.0) + (0.9 - 1.0)) / 2, abs=1e-12)
    assert "holdout of 0002" in html and "<script" not in render_html(data)


def test_a_bwt_below_the_floor_is_marked_and_the_rule_says_which_floor():
    check = _class_check(Thresholds(min_backward_transfer=-10.0))
    assert not check.passed
    data = report_data.build([check], name="split")
    html = section(render_html(data))
    assert "backward transfer at least -10 pp" in html and "FAIL" in html
    bwt = rows_of(html)["candidate"][-1]
    assert 'class="num bwt fail"' in bwt and text_of(bwt) == "-20.00 pp"


def test_a_domain_lineage_shows_its_margin_and_the_holdouts_forgotten():
    right = np.ones(200, bool)
    cand = np.arange(200) >= 20
    matrix = {"versions": ["0001", "0002", "candidate"], "holdouts": ["h1"],
              "introduced_by": ["0001"], "accuracy": [[1.0], [1.0], [0.9]]}  # fmt: skip
    check = compare.forgetting_check([_pair("h1", "0001", 1.0, right, cand)],
                                     thresholds=Thresholds(), matrix=matrix)  # fmt: skip
    (shown,) = report_data.build([check]).continual
    assert shown.scenario == "domain" and shown.regressed == ["0001"] and shown.status == "fail"
    assert shown.backward_transfer == pytest.approx([None, 0.0, -0.1])
    html = section(render_html(report_data.build([check])))
    assert "domain rule: forgetting up to 1 pp per earlier holdout" in html
    assert "forgotten beyond the budget: the holdout of 0001" in html


def test_absent_with_a_reason_when_there_is_nothing_continual_to_show():
    def reason(checks):
        data = report_data.build(checks)
        assert not data.continual
        (absent,) = [a for a in data.absent if a.section == "continual"]
        assert "continual" not in [s for s in re.findall(r'<section id="([^"]+)"',
                                                         render_html(data))]  # fmt: skip
        return absent.reason

    assert reason([]) == "no continual-learning matrix: no regression.forgetting check ran"
    first = compare.no_champion_checks("digits", "registry", model="mlp")
    assert "no champion yet" in reason(first)
    empty = compare.forgetting_check([], thresholds=Thresholds())
    assert "holds no accuracy matrix" in reason([empty])
    right = np.ones(50, bool)
    single = compare.forgetting_check([_pair("h1", "0001", 1.0, right, right)],
                                      thresholds=Thresholds(),
                                      matrix={"versions": ["candidate"], "holdouts": ["h1"],
                                              "introduced_by": ["0001"],
                                              "accuracy": [[1.0]]})  # fmt: skip
    assert "one version and one holdout" in reason([single])


def test_a_malformed_matrix_leaves_the_section_out_with_a_note():
    check = _class_check()
    stored = check.to_json()
    stored["details"]["matrix"]["accuracy"] = [[1.0], [0.9, 0.8]]
    (rebuilt,) = report_data.checks_from_json([stored])
    data = report_data.build([rebuilt])
    assert not data.continual
    assert any(n.startswith("continual learning: left out") and "versions x holdouts" in n
               for n in data.skipped), data.skipped  # fmt: skip
    (absent,) = [a for a in data.absent if a.section == "continual"]
    assert absent.reason.endswith("its accuracy matrix is malformed (see the notes)")
    assert "Not on this page" in render_html(data)


# ----------------------------------------------------------------------------- a real lineage
def _gate(folder, lineage, data, classes, candidate):
    from mlchecks.plugin.runner import run_suites
    from mlchecks.run.gate import Gate

    table = {"name": lineage, "registry": str(folder / "registry"), "data": str(data),
             "classes": list(classes), "scenario": "class"}  # fmt: skip
    settings = settings_from_table(table, {}, root=str(folder))
    with Gate.for_settings(settings, candidate=candidate,
                           categories=("setup", "accuracy", "regression")) as gate:  # fmt: skip
        return gate.run(run_suites)


@pytest.mark.slow
def test_a_class_incremental_lineage_on_digits_renders_its_matrix(digits, tmp_path):
    """Three tasks of two digits, replay of 20 stored samples per earlier digit: the page of each
    gate holds the check's matrix, average accuracy and backward transfer as
    ``matrix_figures`` gives them, and they equal this test's own accuracy of each version on
    each task's holdout."""
    from mlchecks.model import training, zoo

    tasks = []
    for digits_of_task in TASKS:
        tr, te = np.isin(digits.y_train, digits_of_task), np.isin(digits.y_test, digits_of_task)
        tasks.append({"x_train": digits.x_train[tr], "y_train": digits.y_train[tr],
                      "x_test": digits.x_test[te], "y_test": digits.y_test[te]})  # fmt: skip
    rng = np.random.default_rng(0)
    stored = [np.concatenate([rng.choice(np.flatnonzero(t["y_train"] == d), MEMORY,
                                         replace=False) for d in ds])
              for t, ds in zip(tasks, TASKS, strict=True)]  # fmt: skip
    training.set_seed(0)
    model = zoo.mlp(digits.x_train.shape[1:], 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    acc: list[list[float]] = []  # acc[i][j]: version i+1 on task j's holdout
    for k, task in enumerate(tasks):
        xs = np.concatenate([task["x_train"], *(tasks[i]["x_train"][stored[i]] for i in range(k))])
        ys = np.concatenate([task["y_train"], *(tasks[i]["y_train"][stored[i]] for i in range(k))])
        training.set_seed(k)
        model.fit(xs, ys, epochs=EPOCHS, batch_size=32, verbose=0)
        path = tmp_path / f"replay-v{k + 1}.keras"
        model.save(path)
        acc.append([float((training.predict(model, t["x_test"]).argmax(1) == t["y_test"]).mean())
                    for t in tasks])  # fmt: skip
        np.savez(tmp_path / f"task{k + 1}.npz", **task)
        decision = _gate(tmp_path, "replay", tmp_path / f"task{k + 1}.npz", TASKS[k], path)
        data = report_data.from_decision(decision)
        page = render_html(data)
        assert "<script" not in page
        if k == 0:  # the first version: nothing to compare with
            assert decision.accepted, [c.message for c in decision.failed]
            assert not data.continual
            (absent,) = [a for a in data.absent if a.section == "continual"]
            assert "no champion yet" in absent.reason
            continue
        forgetting = next(c for c in decision.checks if c.id == "regression.forgetting")
        assert isinstance(forgetting.details, ForgettingDetails)
        m = forgetting.details.matrix
        figures = continual.matrix_figures({"versions": list(m.versions),
                                            "holdouts": list(m.holdouts),
                                            "introduced_by": list(m.introduced_by),
                                            "accuracy": [list(r) for r in m.accuracy]})  # fmt: skip
        html = section(page)
        rows = rows_of(html)
        earlier = [f"{i + 1:04d}" for i in range(k)]
        assert list(rows) == [*earlier, "candidate"] == figures["versions"]
        assert re.findall(r'data-holdout="([^"]+)"', html) == [*earlier, "candidate"]
        # this test's own matrix: version i on the holdouts of versions 1..i, the candidate on all
        ours = [[acc[i][j] if j <= i else None for j in range(k + 1)] for i in range(k)]
        ours.append(acc[k][: k + 1])
        for i, version in enumerate(figures["versions"]):
            cells = rows[version]
            assert len(cells) == k + 3
            for j in range(k + 1):
                shown, theirs, mine = value_of(cells[j]), figures["accuracy"][i][j], ours[i][j]
                if mine is None:
                    assert shown is None and theirs is None and text_of(cells[j]) == "not seen"
                    continue
                assert shown == pytest.approx(theirs, abs=1e-12) == pytest.approx(mine, abs=1e-12)
                assert text_of(cells[j]) == f"{mine * 100:.1f}%"
            average = figures["average_accuracy"][i]
            seen = [v for v in ours[i] if v is not None]
            assert value_of(cells[k + 1]) == pytest.approx(average, abs=1e-12)
            assert average == pytest.approx(float(np.mean(seen)), abs=1e-12)
            assert text_of(cells[k + 1]) == f"{average * 100:.1f}%"
            bwt = figures["backward_transfer"][i]
            if i == 0:
                assert bwt is None and text_of(cells[k + 2]) == "none"
                continue
            mine_bwt = float(np.mean([ours[i][j] - ours[j][j] for j in range(i)]))
            assert value_of(cells[k + 2]) == pytest.approx(bwt, abs=1e-12)
            assert bwt == pytest.approx(mine_bwt, abs=1e-12)
            assert text_of(cells[k + 2]) == f"{bwt * 100:+.2f} pp"
        assert "class-incremental budget: forgetting up to 50 pp" in html
        assert "backward transfer at least -30 pp" in html
        assert ('class="status pass"' in html) == forgetting.passed
        assert decision.accepted, (k + 1, [c.message for c in decision.failed])
