"""The one Gate: every door gives the same checks and verdict, and the decision is a function of
the candidate, the champion, the data and the config (not of the moment it ran)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import run_cli, run_cli_here

from mlchecks.result import CATEGORIES

ROOT = Path(__file__).resolve().parents[2]
SUITES = sorted((ROOT / "suites").glob("test_*.py"))

#: Fields that measure time (or name the run) rather than judge the model: everything else in
#: the decision JSON must be identical across runs.
TIMED_CATEGORY = "speed"


def _verdicts(checks) -> dict[tuple[str, str | None], bool]:
    return {(c["id"], c.get("model")): bool(c["passed"]) for c in checks}


def _untimed(decision: dict) -> dict:
    out = dict(decision, report=None)
    out["checks"] = [
        {"id": c["id"], "passed": c["passed"], "status": c.get("status")}
        if c["category"] == TIMED_CATEGORY
        else c
        for c in decision["checks"]
    ]
    return out


def _project(folder: Path, cache: Path, registry: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        f'[tool.mlchecks]\ndata = "digits"\ncache_dir = "{cache}"\nregistry = "{registry}"\n'
        'reports = "none"\n'
    )


@pytest.mark.slow
def test_three_doors_one_verdict_and_a_deterministic_decision(
    trained_mlp, digits, tmp_path, pytester
):
    candidate = tmp_path / "candidate.keras"
    shutil.copy(trained_mlp.path, candidate)
    cache = tmp_path / "cache"

    # door 1: mlchecks gate (twice, judged only: the decision must not change between runs),
    # once as the program and once through main() in this process, where a test session's
    # state (seeds, Keras's global state, earlier gates) could leak into a verdict
    cli_dir = tmp_path / "cli"
    _project(cli_dir, cache, cli_dir / "reg")
    decisions = []
    for run, gate in (("a", run_cli), ("b", run_cli_here)):
        done = gate("gate", str(candidate), "--no-promote", "--json", f"{run}.json",
                    cwd=cli_dir)  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        decisions.append(json.loads((cli_dir / f"{run}.json").read_text()))
        # progress off a terminal (issue 15, item 8): one plain line per phase, on stdout
        lines = done.stdout.splitlines()
        for phase in ("loading data digits", "loading default from candidate.keras",
                      *(f"{c} checks" for c in CATEGORIES)):  # fmt: skip
            assert f"mlchecks: {phase}" in lines, (phase, done.stdout[-2000:])
        assert "\r" not in done.stdout and "mlchecks: data checks" not in done.stderr
    first, second = decisions
    assert _untimed(first) == _untimed(second)
    assert {c["category"] for c in first["checks"]} == set(CATEGORIES)

    # door 2: pytest --mlchecks-candidate ... --mlchecks-promote on the shipped suites
    _project(pytester.path, cache, pytester.path / "reg")
    pytester.makepyfile(**{s.stem: s.read_text() for s in SUITES})
    result = pytester.runpytest("-p", "no:cacheprovider", f"--mlchecks-candidate={candidate}",
                                "--mlchecks-promote")  # fmt: skip
    assert result.ret == 0, result.stdout.str()[-3000:]
    from mlchecks.registry import open_registry

    plugin_registry = open_registry(pytester.path / "reg")
    assert plugin_registry.state("default").champion == "0001"
    plugin_checks = plugin_registry.record("default", "0001").checks

    # door 3: an evolve step (the same Gate, every category, the shipped suites)
    from mlchecks.config import load_settings
    from mlchecks.model.training import load_model
    from mlchecks.plugin.runner import run_suites
    from mlchecks.run import evolve

    evolve_dir = tmp_path / "evolve"
    _project(evolve_dir, cache, evolve_dir / "reg")
    settings = load_settings(evolve_dir, {})
    session, outcome = evolve.judge(settings, digits, load_model(candidate), candidate,
                                    run_suites, categories=CATEGORIES)  # fmt: skip
    assert outcome.version == "0001"
    evolve_checks = [c.to_json() for c in session.checks]

    expected = _verdicts(first["checks"])
    assert first["decision"] == "accepted"
    assert _verdicts(plugin_checks) == expected
    assert _verdicts(evolve_checks) == expected
