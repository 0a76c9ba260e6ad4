"""The ``mlchecks`` command: ``gate`` (and later ``lint``, ``evolve``, ``registry``).

Exit codes (:class:`mlchecks.errors.GateExit`): 0 accepted, 1 rejected, 2 bad input (one
``mlchecks: error:`` line on stderr, no traceback), 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlchecks.config import options
from mlchecks.errors import ConfigError, GateExit, MlchecksError


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors exit 2 with the documented ``mlchecks: error:`` line."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise ConfigError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlchecks", description="A test-first quality gate for Keras models.")
    from mlchecks._version import __version__

    parser.add_argument("--version", action="version", version=f"mlchecks {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    gate = sub.add_parser("gate", help="judge a candidate model (or the configured ones)")
    gate.add_argument("candidate", nargs="?", default=None, help="a saved .keras model file")
    options.add_options(gate.add_argument)
    gate.add_argument("--json", dest="json_file", default=None, help="write the decision here")
    gate.add_argument("--no-promote", action="store_true", help="judge only; never promote")
    gate.add_argument("--config", default=None, help="config file (default: nearest one)")
    gate.add_argument(
        "--trust-candidate",
        action="store_true",
        help="DANGEROUS: load the candidate with Keras safe mode off, so code in the file "
        "(Lambda layers) runs on this machine; only for files whose author you trust",
    )
    gate.add_argument(
        "-v", "--verbose", action="store_true", help="show the pytest run of the suites"
    )
    from mlchecks.cli import lint

    lint.add_arguments(sub.add_parser("lint", help="training-setup lint of a model and its data"))
    from mlchecks.cli import registry as registry_commands
    from mlchecks.run import evolve

    evolve.add_arguments(
        sub.add_parser("evolve", help="continual-learning demo, gate at every step")
    )
    registry_commands.add_arguments(
        sub.add_parser("registry", help="list, show, promote or roll back registry versions")
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mlchecks`` console script."""
    _quiet_backend()
    try:
        args = build_parser().parse_args(argv)
        if args.command == "gate":
            return int(run_gate(args))
        if args.command == "lint":
            from mlchecks.cli import lint

            return int(lint.main(args))
        if args.command == "evolve":
            from mlchecks.run import evolve

            return int(evolve.run(args))
        if args.command == "registry":
            from mlchecks.cli import registry as registry_commands

            return int(registry_commands.run(args))
        raise ConfigError(f"unknown command {args.command!r}")  # pragma: no cover
    except MlchecksError as exc:
        print(f"mlchecks: error: {_one_line(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("mlchecks: error: interrupted", file=sys.stderr)
        return int(GateExit.INTERNAL_ERROR)
    except Exception as exc:
        trace = traceback.format_exc()
        print(
            f"mlchecks: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(this is a bug in mlchecks; set MLCHECKS_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        if os.environ.get("MLCHECKS_DEBUG"):
            print(trace, file=sys.stderr)
        return int(GateExit.INTERNAL_ERROR)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def run_gate(args: argparse.Namespace) -> GateExit:
    """Validate inputs, run the suites through pytest on one Session, decide, write JSON."""
    from mlchecks.config import ModelSpec, load_settings
    from mlchecks.run import gate
    from mlchecks.run.gate import GateDecision, decide, write_json
    from mlchecks.run.session import Session

    start = time.perf_counter()
    overrides = options.overrides(vars(args))
    settings = load_settings(
        Path.cwd(), overrides, config_file=Path(args.config) if args.config else None
    )
    if args.candidate:
        settings = settings.replace(
            models=(
                ModelSpec(
                    name=settings.name,
                    path=str(Path(args.candidate).resolve()),
                    trusted=args.trust_candidate,
                ),
            )
        )
    session = Session(settings)
    dataset = session.dataset  # DataError -> exit 2 before any work
    # The training-setup lint runs first (a saved model is loaded by it: a bad file is exit 2):
    # a broken set-up is rejected before any training, and the suites are not run.
    from mlchecks.run import lint

    setup_checks = lint.run_session(session)
    blocked = any(c.blocking for c in setup_checks)
    # Load every model before the suites run so that a bad file is exit 2, not a failing test.
    for spec in () if blocked else settings.models:
        session.model(spec)
    print(
        f"mlchecks gate: {dataset.describe()}; models: {', '.join(s.name for s in settings.models)}"
    )

    promote = not args.no_promote
    if promote and not blocked:
        _import_suite_dependencies()
    # Locked from reading the champion to promoting: a concurrent gate waits, then judges
    # against what this one promoted. The registry changes only in promote_all.
    with gate.lineage_locks(session, promote):
        notes = gate.prepare(session, hash_models=promote and not blocked)
        for line in notes:
            print(f"  {line}")
        if blocked:
            for check in setup_checks:
                session.record(check)
            outcome = _SuiteOutcome()
        else:  # suites/test_setup.py records the lint's results (memoised per session)
            outcome = run_suites(session, verbose=args.verbose)
        if outcome.internal_errors:
            joined = "; ".join(outcome.internal_errors)
            raise RuntimeError(f"a suite errored outside any check: {joined}")
        accepted = decide(session.checks)
        lineages = gate.promote_all(session, accepted, promote)
    first = lineages[0]
    decision = GateDecision(
        accepted=accepted, name=first.name, checks=tuple(session.checks), notes=tuple(notes),
        version=first.version, champion_before=first.champion_before,
        champion_after=first.champion_after, lineages=tuple(lineages),
    )  # fmt: skip
    decision = _write_report(session, decision)
    _print_decision(decision, time.perf_counter() - start)
    if decision.report:
        print(f"mlchecks gate: report {decision.report}")
    if args.json_file:
        write_json(decision, Path(args.json_file))
    return decision.exit_code


def _import_suite_dependencies() -> None:
    """Import Great Expectations and Hypothesis (seconds) before taking the lineage lock, so
    concurrent gates queue only for the work that needs the champion, not for imports."""
    try:
        import mlchecks.strategies  # noqa: F401  (imports Hypothesis)
        from mlchecks.data.expectations import _gx

        _gx()
    except (ImportError, MlchecksError):
        pass  # the suites report a missing dependency as they did before


def _print_decision(decision: Any, elapsed: float) -> None:
    """Failed checks, warnings of passed ones (e.g. an underpowered holdout), the verdict."""
    for check in decision.checks:
        if not check.passed:
            label = "FAIL" if check.severity == "error" else check.severity.upper()
            print(f"  {label:5} {check.id}: {check.message}")
        elif isinstance(check.details, dict) and check.details.get("warning"):
            print(f"  WARN  {check.id}: {check.details['warning']}")
    for lineage in decision.lineages:
        print(f"  {lineage.note}")
    verdict = "ACCEPTED" if decision.accepted else "REJECTED"
    print(
        f"mlchecks gate: {verdict} ({len(decision.checks)} checks, {len(decision.failed)} failed; "
        f"{elapsed:.1f}s)"
    )


def _write_report(session: Any, decision: Any) -> Any:
    """Write the run's HTML report (``--report DIR``, default ``reports/``; ``none``: off).

    Returns the decision with the page's path in ``report``. A page that cannot be written is a
    warning on stderr, never a changed verdict or exit code.
    """
    import dataclasses

    from mlchecks.report import write_session_report

    try:
        page = write_session_report(session, decision=decision, source="gate")
    except Exception as exc:
        print(
            f"mlchecks: warning: report not written ({type(exc).__name__}: {exc})", file=sys.stderr
        )
        if os.environ.get("MLCHECKS_DEBUG"):
            traceback.print_exc()
        return decision
    if page is None:
        return decision
    try:  # relative to where the gate was started, as DESIGN.md shows it, when it is below it
        shown = page.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = page.resolve()
    return dataclasses.replace(decision, report=shown.as_posix())


class _SuiteOutcome:
    def __init__(self) -> None:
        self.internal_errors: list[str] = []


class _GateContext:
    """Registered as a pytest plugin for the suite run: hands over the prepared session."""

    is_mlchecks_gate_context = True

    def __init__(self, session: Any, outcome: _SuiteOutcome) -> None:
        self.session = session
        self.outcome = outcome
        self._recorded = 0

    def pytest_runtest_logreport(self, report: Any) -> None:
        # A failed test that recorded no blocking check failed for another reason (a bug in a
        # suite or in mlchecks): that is an internal error, not a rejection.
        if report.failed:
            recorded_block = any(c.blocking for c in self.session.checks[self._recorded :])
            if not recorded_block:
                text = getattr(report, "longreprtext", "") or ""
                last = text.strip().splitlines()[-1] if text.strip() else "failed"
                self.outcome.internal_errors.append(f"{report.nodeid}: {last}")
        if report.when == "teardown":
            self._recorded = len(self.session.checks)


def suites_dir() -> Path:
    """The ready-made suites: inside the wheel, or ``suites/`` of a source checkout."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here / "_suites", here.parent / "suites"):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"the mlchecks suites are missing from {here}; reinstall mlchecks")


def run_suites(session: Any, verbose: bool = False) -> _SuiteOutcome:
    import pytest

    outcome = _SuiteOutcome()
    folder = suites_dir()
    args = [
        str(folder),
        f"--rootdir={folder}",
        "-c",
        os.devnull,  # ignore the user's pytest configuration: the gate defines the run
        "-p",
        "no:cacheprovider",
    ]
    args += ["-q"] if verbose else ["-p", "no:terminal"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "mlchecks.plugin"]
    code = pytest.main(args, plugins=[_GateContext(session, outcome)])
    if int(code) not in (0, 1):
        outcome.internal_errors.append(f"pytest exited with {code!r}")
    return outcome


def _quiet_backend() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
