"""What the gate writes about a decision (issue 15, items 7, 12, 15 and 20): terminal lines that
name their model when several are gated, the decision JSON's schema version and counts, the
check message in JUnit properties, and the Markdown summary of ``--summary FILE`` and
``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

from mlchecks.cli import _output
from mlchecks.cli.gate import _print_decision
from mlchecks.result import CheckResult, RegressionDetails
from mlchecks.run.gate import GateDecision
from mlchecks.run.promote import LineageOutcome

MLP_OK = CheckResult("accuracy.min", "accuracy", True, 0.97, 0.94, "accuracy 0.97 >= 0.94",
                     model="mlp")  # fmt: skip
MLP_WARN = CheckResult(
    "regression.per_class", "regression", True, 0.9, 0.88, "no class regressed", model="mlp",
    details=RegressionDetails(champion="0001", warning="holdout of 45 samples is too small"),
)  # fmt: skip
CNN_WARN = CheckResult(
    "regression.per_class", "regression", True, 0.9, 0.88, "no class regressed", model="cnn",
    details=RegressionDetails(champion="0002", warning="holdout of 45 samples is too small"),
)  # fmt: skip
CNN_FAIL = CheckResult("accuracy.class_recall", "accuracy", False, 0.2, 0.5,
                       "class 5 recall 0.200 < min_class_recall 0.500", model="cnn")  # fmt: skip
NOT_JUDGED = CheckResult.not_judged("speed.training", "speed", "not judged: no champion yet",
                                    model="cnn")  # fmt: skip


def _two_models(accepted: bool = False) -> GateDecision:
    lineages = (
        LineageOutcome("mlp", "mlp", "0001", "0001", note="mlp: not promoted"),
        LineageOutcome("cnn", "cnn", "0002", "0002", note="cnn: not promoted"),
    )
    return GateDecision(accepted=accepted, name="mlp", checks=(MLP_OK, MLP_WARN, CNN_WARN,
                        CNN_FAIL, NOT_JUDGED), lineages=lineages)  # fmt: skip


def test_warn_and_fail_lines_name_their_model_when_several_are_gated():
    out = io.StringIO()
    _print_decision(_two_models(), 1.0, out)
    text = out.getvalue()
    assert "  WARN  mlp: regression.per_class: holdout of 45 samples is too small" in text
    assert "  WARN  cnn: regression.per_class: holdout of 45 samples is too small" in text
    assert "  FAIL  cnn: accuracy.class_recall: class 5 recall 0.200" in text
    # a lineage's note without its name gets it (two lineages, both "accepted; not promoted")
    same = LineageOutcome("mlp", "mlp", None, None, note="accepted; not promoted (--no-promote)")
    other = LineageOutcome("cnn", "cnn", None, None, note="accepted; not promoted (--no-promote)")
    out = io.StringIO()
    _print_decision(GateDecision(True, "mlp", (MLP_OK,), lineages=(same, other)), 1.0, out)
    assert "  mlp: accepted; not promoted" in out.getvalue()
    assert "  cnn: accepted; not promoted" in out.getvalue()
    # one model: the lines stay as they were (the model is the run's only one)
    one = GateDecision(accepted=True, name="mlp", checks=(MLP_OK, MLP_WARN))
    out = io.StringIO()
    _print_decision(one, 1.0, out)
    assert "  WARN  regression.per_class: holdout of 45 samples" in out.getvalue()


def test_decision_json_has_a_schema_version_and_counts():
    payload = _two_models().to_json()
    assert payload["schema_version"] == 1 and next(iter(payload)) == "schema_version"
    assert payload["counts"] == {"passed": 3, "failed": 1, "warnings": 0, "not_judged": 1}
    assert json.loads(json.dumps(payload))["schema_version"] == 1


def test_markdown_summary_has_verdict_table_and_reasons():
    text = _output.markdown_summary(_two_models())
    lines = text.splitlines()
    assert lines[0].startswith("## mlchecks gate: REJECTED")
    assert "| status | model | check | value | threshold | message |" in lines
    # failing checks first, then warnings, then the rest
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert rows[0].startswith("| FAIL | cnn | `accuracy.class_recall` | 0.2 | 0.5 |")
    assert rows[1].startswith("| WARN | mlp | `regression.per_class` |")
    assert any(row.startswith("| NOT JUDGED | cnn | `speed.training` |") for row in rows)
    assert "**Why rejected:**" in text and "- `accuracy.class_recall` (cnn): class 5 recall" in text
    assert "5 checks: 3 passed, 1 failed, 0 warnings, 1 not judged" in text
    # a pipe in a message does not break the table
    odd = CheckResult("data.custom", "data", False, 1.0, 0.0, "a | b", model="m")
    assert "a \\| b" in _output.markdown_summary(GateDecision(False, "m", (odd,)))


def test_summary_file_and_github_step_summary(tmp_path, monkeypatch):
    step = tmp_path / "step.md"
    step.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    target = tmp_path / "out" / "summary.md"
    _output.write_summary(str(target), _two_models())
    assert target.read_text().startswith("## mlchecks gate: REJECTED")
    text = step.read_text()
    assert text.startswith("# earlier step\n") and "## mlchecks gate: REJECTED" in text
    # without --summary, $GITHUB_STEP_SUMMARY alone still gets it (appended again)
    _output.write_summary(None, _two_models(accepted=True))
    assert step.read_text().count("## mlchecks gate:") == 2
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    _output.write_summary(None, _two_models())  # nothing asked for: nothing written


def test_summary_to_an_unwritable_path_exits_2_before_any_work(tmp_path, capsys, monkeypatch):
    from mlchecks.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("")
    code = main(["gate", "nothing.keras", "--registry", "reg", "--summary", "a-file/s.md"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("mlchecks: error: --summary a-file/s.md"), err
    assert not (tmp_path / "reg").exists()
    code = main(["gate", "nothing.keras", "--json", "-", "--summary", "-"])
    err = capsys.readouterr().err
    assert code == 2 and "both want stdout" in err and err.count("\n") == 1, err


INNER = """
from mlchecks.result import CheckResult

def test_judged(mlchecks_record_check):
    mlchecks_record_check(CheckResult("accuracy.demo", "accuracy", True, 0.97, 0.9,
                                      "accuracy 0.97 >= 0.9", model="m"))
"""


def test_junit_properties_carry_the_check_message(pytester):
    pytester.makepyfile(test_inner=INNER)
    junit = pytester.path / "junit.xml"
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--mlchecks-report", "none")
    pytester.runpytest(f"--junitxml={junit}", *quiet).assert_outcomes(passed=1)
    case = next(ET.parse(junit).iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["accuracy.demo.message"] == "accuracy 0.97 >= 0.9"
    assert props["accuracy.demo.status"] == "passed"
