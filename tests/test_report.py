"""HTML reports: content, escaping, budget, the history page, gate and plugin integration."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from report_samples import CONFUSED_WITH, FORGOTTEN, XSS, rejected_report

from mlchecks.config import ModelSpec, Settings
from mlchecks.report import data as report_data
from mlchecks.report import write_report
from mlchecks.report.html import index_entries, render_html, write_index
from mlchecks.result import CheckResult, DataDetails, ExpectationRow
from mlchecks.run.gate import GateDecision, write_json
from mlchecks.stats.evaluation import Evaluation

BUDGET_BYTES = 2 * 1024 * 1024
BUDGET_SECONDS = 1.0


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def section_ids(page: str) -> list[str]:
    return [a["id"] for t, a in parse(page).tags if t == "section" and a.get("id")]


@pytest.fixture(scope="module")
def mlp_probs(trained_mlp, digits):
    from mlchecks.model.training import predict

    return predict(trained_mlp.model, digits.x_test)


@pytest.fixture(scope="module")
def rejected(digits, mlp_probs, trained_mlp):
    return rejected_report(digits, mlp_probs, record=trained_mlp.record)


# --- content ---------------------------------------------------------------------------------


def test_rejected_digits_report_shows_why(rejected):
    data, champion, candidate = rejected
    page = render_html(data)
    assert data.verdict == "rejected"
    # Failing checks first, in the banner and at the top of the table.
    assert [c.status for c in data.checks][:2] == ["fail", "fail"]
    assert {c.id for c in data.failed} == {"accuracy.min", "regression.per_class"}
    tags = parse(page)
    rows = [a for t, a in tags.tags if t == "tr" and "check-row" in (a.get("class") or "")]
    assert [r["data-check"] for r in rows][:2] == ["accuracy.min", "regression.per_class"]
    assert len(rows) == len(data.checks) == 5
    assert section_ids(page) == [
        "notes", "checks", "accuracy", "class-recall", "confusion", "calibration", "flips",
        "curves", "speed", "history", "continual",
    ]  # fmt: skip
    # Per-class recall, candidate against champion, from the regression check's rows.
    (recall,) = data.class_recall
    assert recall.candidate[FORGOTTEN] == 0.0
    assert recall.champion == pytest.approx(champion.class_recall.tolist())
    # The confusion matrix is the candidate's: every 3 the champion knew is now a 5.
    (confusion,) = data.confusion
    assert confusion.matrix == candidate.confusion.tolist()
    # Negative flips: the 3s, shown with true, champion and candidate labels and an image.
    (flips,) = data.flips
    n_flips = int((champion.correct & ~candidate.correct).sum())
    assert flips.total == n_flips > 0
    assert len(flips.flips) == min(n_flips, report_data.MAX_FLIPS)
    assert {(f.true, f.champion, f.candidate) for f in flips.flips} == {
        (str(FORGOTTEN), str(FORGOTTEN), str(CONFUSED_WITH))
    }
    images = [a["src"] for t, a in tags.tags if t == "img"]
    assert len(images) == len(flips.flips)
    assert all(src.startswith("data:image/png;base64,") for src in images)
    # Training curves from the model's training record, one point per epoch.
    (curves,) = data.curves
    assert len(curves.series["loss"]) == curves_epochs(data)
    (history,) = data.history
    assert history.matrix_versions == ["0001", "candidate"]
    assert history.holdouts == ["holdout of 0001", "holdout of candidate"]
    assert history.matrix[1] == [0.968, candidate.accuracy]
    assert history.forgetting[0]["holdout"] == "h0001"
    assert 'aria-label="accuracy on each holdout, per version"' in page


def curves_epochs(data) -> int:
    return len(next(iter(data.curves[0].series.values())))


def test_page_is_self_contained(rejected):
    page = render_html(rejected[0])
    tags = parse(page)
    assert not [t for t, _ in tags.tags if t in ("script", "link", "iframe", "object", "embed")]
    for tag, attrs in tags.tags:
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not value.startswith(("http:", "https:", "//")), (tag, attrs)
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:"), attrs
    assert "@import" not in page and "url(" not in page
    csp = next(a for t, a in tags.tags if t == "meta" and a.get("http-equiv"))
    assert "default-src 'none'" in csp["content"]


def test_png_images_decode_to_the_sample(digits):
    import base64
    import zlib

    uri = report_data.png_data_uri(digits.x_test[0], digits.value_range)
    raw = base64.b64decode(uri.split(",", 1)[1])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    assert (height, width) == digits.x_test.shape[1:3]
    idat = raw[raw.index(b"IDAT") + 4 : raw.index(b"IEND") - 8]
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, width + 1)
    expected = np.round(digits.x_test[0, :, :, 0] * 255)
    assert np.abs(rows[:, 1:].astype(float) - expected).max() <= 1
    assert report_data.png_data_uri(np.zeros(7)) is None  # not an image: no picture


def test_budget_digits_report(digits, mlp_probs, trained_mlp, benchmark, tmp_path):
    """A digits report (build + render + write) stays under 2 MB and 1 s."""
    runs = iter(range(100))

    def build_render_write() -> Path:
        data, _, _ = rejected_report(digits, mlp_probs, record=trained_mlp.record)
        data = dataclasses.replace(data, run_id=f"run-{next(runs)}")
        return write_report(data, tmp_path)

    page = benchmark.pedantic(build_render_write, rounds=3, iterations=1, warmup_rounds=0)
    size = page.stat().st_size
    benchmark.extra_info["bytes"] = size
    print(f"digits report: {size / 1024:.0f} KiB")
    assert size < BUDGET_BYTES
    if benchmark.stats is not None:  # --benchmark-disable runs it once, untimed
        assert benchmark.stats.stats.min < BUDGET_SECONDS  # best of 3: the work, not the noise


def test_sections_appear_only_with_their_data():
    ok = CheckResult("accuracy.min", "accuracy", True, 0.97, 0.9, "fine", model="m")
    data = report_data.build([ok], name="n")
    assert data.verdict == "accepted" and not data.first_version  # a pytest run stores nothing
    assert data.circumstances == ["no champion to compare with: absolute checks only"]
    page = render_html(data)
    assert section_ids(page) == ["checks", "accuracy"]
    assert "no champion to compare with" in page
    # every section left out says why
    assert {a.section for a in data.absent} == {
        "class-recall", "calibration", "flips", "curves", "speed", "data", "drift", "history",
        "continual",
    }  # fmt: skip
    assert "no training curves for m: this run holds no training record of it" in page

    compared = CheckResult("regression.accuracy", "regression", True, 0.97, 0.96, "no drop",
                           model="m", details={"champion": "0003"})  # fmt: skip
    assert report_data.build([ok, compared]).verdict == "accepted"
    decision = GateDecision(accepted=True, name="n", checks=(ok,), champion_before="0002")
    assert report_data.build([ok], decision=decision).verdict == "accepted"

    rare = ExpectationRow(
        expectation="expect_column_values_to_be_between(present_share)",
        split="train",
        success=False,
        unexpected_count=1,
        examples=[7],
    )
    warn = CheckResult("data.balance", "data", False, 0.02, 0.05, "class 7 is rare",
                       severity="warning", details=DataDetails(expectations=[rare]))  # fmt: skip
    data = report_data.build([ok, warn])
    assert data.verdict == "accepted"  # a warning never blocks
    assert [c.status for c in data.checks] == ["warning", "pass"]
    assert section_ids(render_html(data)) == ["checks", "accuracy", "data"]
    assert (data.data[0].split, data.data[0].unexpected_count, data.data[0].examples) == (
        "train", 1, ["7"],
    )  # fmt: skip

    nothing = report_data.build([])
    assert nothing.verdict == "rejected" and "no check ran" in nothing.notes[0]
    assert "no check ran" in render_html(nothing)


def test_malformed_details_leave_a_section_out_not_the_page():
    bad = [
        CheckResult("regression.per_class", "regression", False, 0.5, 0.9, "drop", model="m",
                    details={"classes": [{"class": "three"}]}),
        CheckResult("regression.flip_rate", "regression", True, 0.1, None, "flips", model="m",
                    severity="info", details={"negative": ["x", "y"]}),
        CheckResult("accuracy.class_recall", "accuracy", True, 0.9, None, "ok", model="m",
                    severity="info", details={"confusion": [[1, 2, 3]]}),
        CheckResult("regression.forgetting", "regression", True, 0.9, 0.8, "ok", model="m",
                    details={"matrix": {"versions": ["1"], "holdouts": ["a", "b"],
                                        "accuracy": [[0.9]]}}),
    ]  # fmt: skip
    data = report_data.build(bad, name="n")
    assert len(data.skipped) == 5, data.skipped  # the matrix: version history, continual
    assert not (data.class_recall or data.flips or data.confusion or data.history
                or data.continual)  # fmt: skip
    assert any(a.reason.endswith("accuracy matrix is malformed (see the notes)")
               for a in data.absent if a.section == "continual")  # fmt: skip
    page = render_html(data)
    assert page.count('class="check-row') == 4 and "left out" in page


def test_flips_on_this_split_and_on_another_holdout(digits):
    y = digits.y_test
    probs = np.eye(10, dtype=np.float32)[y]
    probs[:3] = np.eye(10, dtype=np.float32)[(y[:3] + 1) % 10]  # the candidate misses 0..2
    ev = Evaluation(y, probs, 10)
    on_split = CheckResult("regression.flip_rate", "regression", True, 3 / 450, None, "3 flips",
                           model="m", details={"negative": [0, 1, 2], "n": 450})  # fmt: skip
    data = report_data.build([on_split], dataset=digits, evaluations={"m": ev})
    assert data.flips[0].total == 3 and data.flips[0].rate == pytest.approx(3 / 450)
    assert [(f.true, f.candidate) for f in data.flips[0].flips] == [
        (str(y[i]), str((y[i] + 1) % 10)) for i in range(3)
    ]
    assert all(f.image for f in data.flips[0].flips)
    # Indices the candidate gets right here cannot be flips on this split: another holdout.
    elsewhere = dataclasses.replace(on_split, details={"negative": [5, 6], "n": 450})
    data = report_data.build([elsewhere], dataset=digits, evaluations={"m": ev})
    assert [(f.index, f.true, f.image) for f in data.flips[0].flips] == [
        (5, "?", None), (6, "?", None),
    ]  # fmt: skip
    assert "not this run's test split" in data.skipped[0]


def test_regression_intervals_are_of_the_delta():
    details = {"lower": -0.02, "ci": [-0.0222, 0.004]}  # as mlchecks.checks.regression writes them
    regression = CheckResult("regression.accuracy", "regression", True, 0.9711, 0.975, "ok",
                             model="m", details=details)  # fmt: skip
    own = CheckResult("accuracy.min", "accuracy", True, 0.97, 0.9, "ok", model="m",
                      details={"lower": 0.95, "upper": 0.98})  # fmt: skip
    rows = {r.id: r for r in report_data.build([regression, own]).checks}
    assert (rows["regression.accuracy"].interval_of, rows["regression.accuracy"].lower) == (
        "Δ", -0.0222,
    )  # fmt: skip
    assert (rows["accuracy.min"].interval_of, rows["accuracy.min"].upper) == ("", 0.98)
    assert "Δ[-0.0222, 0.004]" in render_html(report_data.build([regression]))


def test_numpy_and_non_finite_details_render():
    check = CheckResult("speed.training", "speed", True, float("nan"), None, "x", model="m",
                        details={"normalised": np.float32(0.25), "samples_per_s": np.int64(900),
                                 "arr": np.arange(3), "inf": float("inf")})  # fmt: skip
    data = report_data.build([check])
    (row,) = data.speed
    assert (row.fraction_of_peak, row.samples_per_s, row.value) == (0.25, 900.0, None)
    json.dumps(data.to_json(), allow_nan=False)  # JSON-able, NaN-free
    assert "25.00%" in render_html(data)


# --- escaping --------------------------------------------------------------------------------


def test_strings_from_models_config_and_data_are_escaped(digits, mlp_probs):
    hostile = dataclasses.replace(
        digits,
        class_names=(XSS, '"><img src=x onerror=alert(2)>', *digits.class_names[2:]),
    )
    data, _, _ = rejected_report(hostile, mlp_probs, model=XSS, name=XSS)
    extra = CheckResult("data.range", "data", False, 2.0, 1.0, f"value {XSS} out of range",
                        model=XSS, details={"examples": [XSS], "split": XSS})  # fmt: skip
    data = dataclasses.replace(
        data, notes=[XSS], checks=[*data.checks, *report_data._check_rows([extra])],
        data=[report_data.DataRow("data.range", "fail", XSS, 1, [XSS], XSS)],
    )  # fmt: skip
    page = render_html(data)
    lower = page.lower()
    assert "<script" not in lower and "<img src=x" not in lower
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    tags = parse(page)
    assert not [t for t, _ in tags.tags if t == "script"]
    assert not [(t, k) for t, a in tags.tags for k in a if k.startswith("on")]  # no handlers
    assert all((a.get("src") or "").startswith("data:") for t, a in tags.tags if t == "img")
    text = "".join(parse(page).text)
    assert XSS in text  # shown as text: the model name, class names, messages
    assert text.count(XSS) >= 8


def test_index_escapes_and_trusts_the_folder_not_the_file(tmp_path):
    run = tmp_path / "20260101-000000-gate-x-abc123"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({
        "run_id": "../../evil", "name": XSS, "verdict": XSS, "created": "2026-01-01T00:00:00",
        "models": [XSS], "failed_ids": [XSS],
    }))  # fmt: skip
    page = write_index(tmp_path).read_text()
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    hrefs = [a["href"] for t, a in parse(page).tags if t == "a"]
    assert set(hrefs) == {"20260101-000000-gate-x-abc123/index.html"}


# --- history page ----------------------------------------------------------------------------


def _sample(run_id: str, created: str, accepted: bool) -> report_data.ReportData:
    check = CheckResult("accuracy.min", "accuracy", accepted, 0.9, 0.95, "m", model="mlp")
    when = report_data._dt.datetime.fromisoformat(created)
    return report_data.build([check], name="lin", run_id=run_id, created=when)


def test_index_lists_runs_newest_first_and_skips_damaged_ones(tmp_path):
    write_report(_sample("b-run", "2026-01-02T00:00:00+00:00", False), tmp_path)
    write_report(_sample("a-run", "2026-01-03T00:00:00+00:00", True), tmp_path)
    write_report(_sample("c-run", "2026-01-01T00:00:00+00:00", True), tmp_path)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "summary.json").write_text("{not json")
    (tmp_path / "partial").mkdir()  # a run killed before its summary: not listed
    (tmp_path / "partial" / "index.html").write_text("<html")
    assert [e["run_id"] for e in index_entries(tmp_path)] == ["a-run", "b-run", "c-run"]
    page = (tmp_path / "index.html").read_text()
    runs = [a["data-run"] for t, a in parse(page).tags if t == "tr" and a.get("data-run")]
    assert runs == ["a-run", "b-run", "c-run"]
    assert "3 runs" in page
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob("*/.*.tmp"))
    assert (tmp_path / "index.html").stat().st_mode & 0o044  # readable beyond the owner


def test_a_killed_index_write_never_leaves_a_broken_page(tmp_path):
    for i in range(30):
        write_report(_sample(f"r{i:02d}", f"2026-01-01T00:00:{i:02d}+00:00", i % 2 == 0), tmp_path)
    # One interpreter (imports paid once) forks writers that rewrite the index in a loop and
    # SIGKILLs each at a random moment; after every kill the page must be whole.
    script = textwrap.dedent(f"""
        import os, random, signal, time
        from pathlib import Path
        from mlchecks.report.html import write_index
        folder = Path({str(tmp_path)!r})
        random.seed(0)
        for kill in range(5):
            pid = os.fork()
            if pid == 0:
                while True:
                    write_index(folder)
            time.sleep(random.uniform(0.05, 0.4))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            page = (folder / "index.html").read_text()
            whole = page.rstrip().endswith("</html>") and page.count('class="run-row') == 30
            print("whole" if whole else "BROKEN", flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["whole"] * 5


# --- gate and plugin integration -------------------------------------------------------------


def test_gate_puts_the_report_path_into_the_decision(tmp_path, monkeypatch, digits):
    from mlchecks.cli import gate as cli
    from mlchecks.run.session import Session

    monkeypatch.chdir(tmp_path)
    settings = Settings(models=(ModelSpec("mlp"),), reports="out/reports", root=str(tmp_path))
    session = Session(settings, dataset=digits)
    check = CheckResult("accuracy.min", "accuracy", False, 0.5, 0.9, "too low", model="mlp")
    session.record(check)
    decision = GateDecision(accepted=False, name="default", checks=(check,))
    decision = cli._write_report(session, decision)
    assert decision.report is not None and decision.report.startswith("out/reports/")
    assert decision.report.endswith("/index.html") and "-gate-default-" in decision.report
    page = (tmp_path / decision.report).read_text()
    assert 'data-verdict="rejected"' in page and "digits (1347 train" in page
    write_json(decision, tmp_path / "d.json")
    assert json.loads((tmp_path / "d.json").read_text())["report"] == decision.report
    assert (tmp_path / "out" / "reports" / "index.html").is_file()

    off = Session(settings.replace(reports="none"), dataset=digits)
    fresh = GateDecision(accepted=False, name="x", checks=(check,))
    assert cli._write_report(off, fresh).report is None


def test_building_a_report_imports_no_keras(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        from pathlib import Path
        from mlchecks.data import load_dataset
        from mlchecks.stats.evaluation import Evaluation
        from mlchecks.checks.accuracy import accuracy_min
        from mlchecks.config import Thresholds
        from mlchecks.report import build, write_report
        ds = load_dataset("synthetic:500")
        ev = Evaluation(ds.y_test, np.eye(10, dtype=np.float32)[ds.y_test], 10)
        check = accuracy_min(ev, model="m", data="synthetic", backend="tensorflow",
                             thresholds=Thresholds())
        write_report(build([check], dataset=ds, evaluations={{"m": ev}}), Path({str(tmp_path)!r}))
        heavy = [m for m in ("keras", "tensorflow", "great_expectations") if m in sys.modules]
        print("heavy:", heavy)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "heavy: []" in proc.stdout
    assert len(list(tmp_path.glob("*/index.html"))) == 1


# Inner runs need no Hypothesis: its plugin would import all of it again in every run
# (pytester restores sys.modules after each), seconds each on a busy machine.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

CHECKS_TEST = """
from mlchecks.result import CheckResult

def test_passes(mlchecks_record_check):
    mlchecks_record_check(
        CheckResult("accuracy.demo", "accuracy", True, 0.97, 0.9, "demo ok", model="m"))

def test_fails(mlchecks_record_check):
    mlchecks_record_check(
        CheckResult("accuracy.floor", "accuracy", False, 0.5, 0.9, "too low", model="m"))

def test_plain():
    assert True
"""


def test_junit_properties_and_a_session_report(pytester):
    pytester.makepyfile(test_checks=CHECKS_TEST)
    result = pytester.runpytest("--junitxml=junit.xml", *QUIET)
    result.assert_outcomes(passed=2, failed=1)
    assert "incompatible with junit_family" not in result.stdout.str()  # default family
    cases = {c.get("name"): c for c in ET.parse(pytester.path / "junit.xml").iter("testcase")}
    props = {
        name: {p.get("name"): p.get("value") for p in case.iter("property")}
        for name, case in cases.items()
    }
    assert props["test_passes"] == {
        "accuracy.demo.value": "0.97", "accuracy.demo.threshold": "0.9",
        "accuracy.demo.passed": "True", "accuracy.demo.status": "passed",
        "accuracy.demo.message": "demo ok",
    }  # fmt: skip
    assert props["test_fails"]["accuracy.floor.value"] == "0.5"
    assert props["test_fails"]["accuracy.floor.passed"] == "False"
    assert props["test_fails"]["accuracy.floor.status"] == "failed"
    assert props["test_plain"] == {}
    # The session's report, written by the controller into reports/ (the default).
    (page,) = (pytester.path / "reports").glob("*/index.html")
    text = page.read_text()
    assert 'data-verdict="rejected"' in text
    assert text.index('data-check="accuracy.floor"') < text.index('data-check="accuracy.demo"')
    result.stdout.fnmatch_lines([f"mlchecks: report {page}"])
    assert (pytester.path / "reports" / "index.html").is_file()


def test_no_report_without_checks_or_when_turned_off(pytester):
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    pytester.runpytest(*QUIET).assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()
    pytester.makepyfile(test_checks=CHECKS_TEST)
    result = pytester.runpytest(*QUIET, "--mlchecks-report", "none")
    result.assert_outcomes(passed=3, failed=1)
    assert not (pytester.path / "reports").exists()
    assert "mlchecks: report" not in result.stdout.str()


def test_pytest_html_extras_summary_and_link(pytester):
    pytest.importorskip("pytest_html", reason="pytest-html is not installed")
    pytester.makepyfile(test_checks=CHECKS_TEST)
    result = pytester.runpytest(*QUIET, "--html=html/out.html", "--mlchecks-report", "mine")
    result.assert_outcomes(passed=2, failed=1)
    (page,) = (pytester.path / "mine").glob("*/index.html")
    html_report = (pytester.path / "html" / "out.html").read_text()
    assert "mlchecks-extra" in html_report and "accuracy.floor" in html_report
    link = f"../mine/{page.parent.name}/index.html"
    assert link in html_report  # relative to the pytest-html page, so the pair can be moved


def test_xdist_workers_hand_their_checks_to_the_controller(pytester):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    pytester.makepyfile(test_checks=CHECKS_TEST)
    result = pytester.runpytest("-n", "1", *QUIET)  # in-process controller, a worker process
    result.assert_outcomes(passed=2, failed=1)
    pages = list((pytester.path / "reports").glob("*/index.html"))
    assert len(pages) == 1  # the controller's; workers write none
    text = pages[0].read_text()
    assert 'data-check="accuracy.demo"' in text and 'data-check="accuracy.floor"' in text


# --- verdict, charts and drift (issue 15, items 16-19) ----------------------------------------


def test_a_first_version_is_a_gate_that_stored_one():
    from mlchecks.report.html import _index_row
    from mlchecks.run.promote import LineageOutcome

    ok = CheckResult("accuracy.min", "accuracy", True, 0.97, 0.9, "fine", model="mlp")

    def gate(outcome: LineageOutcome) -> report_data.ReportData:
        decision = GateDecision(accepted=True, name="digits", checks=(ok,), version=outcome.version,
                                champion_before=None, champion_after=outcome.champion_after,
                                lineages=(outcome,))  # fmt: skip
        return report_data.build([ok], name="digits", decision=decision)

    stored = gate(LineageOutcome("digits", "mlp", None, "0001", "0001"))
    assert (stored.verdict, stored.first_version) == ("accepted", True)
    assert stored.circumstances[0] == "first version of lineage digits"
    judged = gate(LineageOutcome("digits", "mlp", None, None, None,
                                 "accepted; not promoted (--no-promote)"))  # fmt: skip
    assert (judged.verdict, judged.first_version) == ("accepted", False)
    assert "not promoted: judged only" in judged.circumstances
    session = report_data.build([ok], name="digits", source="pytest")
    assert (session.verdict, session.first_version) == ("accepted", False)
    assert session.summary()["first_version"] is False
    # a summary written before the verdict came first still reads right
    old = _index_row({"run_id": "r", "verdict": "first version", "name": "digits"})
    assert (old["verdict"], old["first_version"], old["lineages"]) == ("accepted", True, ["digits"])
    many = _index_row({"run_id": "r", "failed": 11, "failed_ids": [f"c{i}" for i in range(8)]})
    assert many["more_failed"] == 3  # the summary names 8; the page says how many more


def test_axes_have_round_ticks_and_fractions_stay_within_one():
    from mlchecks.report.html import line_chart, nice_scale

    assert nice_scale(0.85, 0.99, 5, (0.0, 1.0))[3] == [0.85, 0.9, 0.95, 1.0]
    assert nice_scale(0.02, 2.1, 5)[3] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    chart = line_chart({"accuracy": [0.7, 0.9, 0.998, 1.0]}, y_title="accuracy")
    ticks = [float(t["text"]) for t in chart.ticks]
    assert ticks == [0.7, 0.8, 0.9, 1.0]  # not 1.025 (the padding above 1 before)
    assert [t["text"] for t in chart.titles] == ["epoch", "accuracy"]
    epochs = line_chart({"loss": [1 / (i + 1) for i in range(20)]}, y_title="loss")
    assert [x["text"] for x in epochs.labels] == ["1", "5", "10", "15", "20"]
    assert [t["text"] for t in epochs.ticks] == ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    # the last x label is centred on its point, with room for it inside the chart
    wide = line_chart({"h": [0.9, 0.8]}, ["0001", "candidate"])
    last = wide.labels[-1]
    assert last["x"] + len("candidate") * 6.4 / 2 <= wide.width


def test_drift_histograms_come_from_the_stored_sketches(digits):
    from mlchecks.data import profile as pf

    brighter = digits.replace(x_test=np.clip(digits.x_test + 0.3, 0, 1),
                              x_train=np.clip(digits.x_train + 0.3, 0, 1))  # fmt: skip
    check = pf.drift(pf.profile(digits), pf.profile(brighter))
    stored = report_data.checks_from_json([json.loads(json.dumps(check.to_json()))])
    data = report_data.build(stored, dataset=digits)
    plots = {(p.split, p.what): p for p in data.drift}
    assert len(plots) == 10  # 2 splits x (4 statistics + labels)
    mean = plots["test", "per-sample mean"]
    assert mean.drifted and len(mean.edges) == len(mean.reference) + 1 == pf.HISTOGRAM_BINS + 1
    assert sum(mean.reference) == pytest.approx(1, abs=1e-3)
    assert sum(mean.current) == pytest.approx(1, abs=1e-3)
    centres = (np.asarray(mean.edges[:-1]) + np.asarray(mean.edges[1:])) / 2
    assert centres @ mean.current - centres @ mean.reference == pytest.approx(0.3, abs=0.05)
    labels = plots["test", "label distribution"]
    assert labels.edges is None and labels.bins == list(digits.class_names)
    assert labels.reference == labels.current  # brighter pixels, the same labels
    assert next(iter(plots))[1] != "label distribution"  # drifted distributions first
    page = render_html(data)
    assert page.count('class="hist-reference"') == page.count('class="hist-current"') > 100
