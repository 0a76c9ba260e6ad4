"""``mlchecks gate [CANDIDATE]``: the one :class:`~mlchecks.run.gate.Gate`, run on the shipped
suites, with its verdict, report and ``--json`` decision. Decides nothing itself."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TextIO

from mlchecks._util.progress import Progress
from mlchecks.cli import _output
from mlchecks.config import options
from mlchecks.errors import ConfigError, GateExit, MlchecksError
from mlchecks.run.gate import Gate, GateDecision
from mlchecks.run.session import Session


def add_arguments(gate: argparse.ArgumentParser) -> None:
    gate.add_argument("candidate", nargs="?", default=None, help="a saved .keras model file")
    options.add_options(gate.add_argument)
    gate.add_argument("--json", dest="json_file", default=None, metavar="FILE",
                      help="write the decision JSON here (- for stdout)")  # fmt: skip
    gate.add_argument("--summary", dest="summary_file", default=None, metavar="FILE",
                      help="write a Markdown summary of the decision here (- for stdout); "
                      "also appended to $GITHUB_STEP_SUMMARY when that is set")  # fmt: skip
    gate.add_argument("--no-promote", action="store_true", help="judge only; never promote")
    gate.add_argument("--config", default=None, metavar="FILE",
                      help="config file (default: nearest one)")  # fmt: skip
    gate.add_argument(
        "--trust-candidate",
        action="store_true",
        help="DANGEROUS: load the candidate with Keras safe mode off, so code in the file "
        "(Lambda layers) runs on this machine; only for files whose author you trust",
    )
    gate.add_argument(
        "-v", "--verbose", action="store_true", help="show the pytest run of the suites"
    )
    gate.add_argument(
        "-q", "--quiet", action="store_true",
        help="no progress lines (loading, training, check categories); the verdict, "
        "warnings and errors still print",
    )  # fmt: skip


def run(args: argparse.Namespace) -> GateExit:
    """Validate inputs, run the one Gate on the shipped suites, print, report, write JSON."""
    from mlchecks.config import load_settings
    from mlchecks.plugin.runner import run_suites, verbose_runner

    start = time.perf_counter()
    _output.check_writable("--json", args.json_file)
    _output.check_writable("--summary", args.summary_file)
    if args.json_file == args.summary_file == _output.STDOUT:
        msg = "--json - and --summary - both want stdout; give one of them a file path"
        raise ConfigError(msg)
    overrides = options.overrides(vars(args))
    settings = load_settings(
        Path.cwd(), overrides, config_file=Path(args.config) if args.config else None
    )
    promote = not args.no_promote
    # With --json - the decision owns stdout: progress goes to stderr.
    out = sys.stderr if args.json_file == _output.STDOUT else sys.stdout
    progress = _progress(args, out)
    with Gate.for_settings(settings, candidate=args.candidate, trusted=args.trust_candidate,
                           promote=promote) as gate:  # fmt: skip
        session = gate.session
        session.progress = progress

        def announce() -> None:
            models = ", ".join(s.name for s in session.settings.models)
            progress.clear()
            print(f"mlchecks gate: {session.dataset.describe()}; models: {models}", file=out)
            if promote and not gate.blocked:
                progress.phase("importing Great Expectations and Hypothesis")
                _import_suite_dependencies(session)

        try:
            gate.check_inputs()
            announce()
            with gate.locked():
                for line in gate.prepare():
                    progress.clear()
                    print(f"  {line}", file=out)
                gate.judge(verbose_runner if args.verbose else run_suites)
                progress.phase("deciding" + (" and promoting" if promote else ""))
                decision = gate.conclude()
            progress.phase("writing the report")
            decision = _write_report(session, decision)
        finally:
            progress.clear()
        _print_decision(decision, time.perf_counter() - start, out)
        if decision.report:
            print(f"mlchecks gate: report {decision.report}", file=out)
    if args.json_file:
        text = json.dumps(decision.to_json(), indent=2, allow_nan=False) + "\n"
        _output.write_text("--json", args.json_file, text)
    _output.write_summary(args.summary_file, decision)
    return decision.exit_code


def _progress(args: argparse.Namespace, out: TextIO) -> Progress:
    """Where the phases of the run are shown (``-q``: nowhere).

    On a terminal, one live line on stderr, rewritten in place and cleared before any other
    output. Off a terminal (CI logs, pipes), plain lines among the gate's other lines on its
    output stream (stdout; stderr with ``--json -``, which keeps stdout for the decision): a
    bad input then stays one ``mlchecks: error:`` line on stderr. With ``-v`` pytest's own lines
    share the terminal, so the phases are plain lines there too.
    """
    try:
        terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if terminal and not args.verbose:
        return Progress(sys.stderr, enabled=not args.quiet, tty=True)
    return Progress(out, enabled=not args.quiet, tty=False)


def _import_suite_dependencies(session: Session) -> None:
    """Import Hypothesis and (unless the data checks are memoised) Great Expectations, seconds,
    before taking the lineage lock, so concurrent gates queue only for the work that needs the
    champion, not for imports."""
    from mlchecks.run import data

    try:
        import mlchecks.strategies  # noqa: F401  (imports Hypothesis)

        if not data.prefetching(session) and not data.memoised(session):
            from mlchecks.data.expectations import _gx

            _gx()
    except (ImportError, MlchecksError):
        pass  # the suites report a missing dependency as they did before


def _print_decision(decision: GateDecision, elapsed: float, out: object = None) -> None:
    """Failed checks, warnings of passed ones (e.g. an underpowered holdout), the verdict."""
    out = out or sys.stdout
    # Several models gated (the configured mlp and cnn): each line names its model.
    several = len({c.model for c in decision.checks if c.model}) > 1
    for check in decision.checks:
        name = f"{check.model}: {check.id}" if several and check.model else check.id
        if not check.passed:
            label = "FAIL" if check.severity == "error" else check.severity.upper()
            print(f"  {label:5} {name}: {check.message}", file=out)  # type: ignore[arg-type]
        elif check.details.warning:
            print(f"  WARN  {name}: {check.details.warning}", file=out)  # type: ignore[arg-type]
    for lineage in decision.lineages:
        note = lineage.note
        if len(decision.lineages) > 1 and not note.startswith(lineage.model):
            note = f"{lineage.model}: {note}"
        print(f"  {note}", file=out)  # type: ignore[arg-type]
    verdict = "ACCEPTED" if decision.accepted else "REJECTED"
    not_judged = sum(1 for c in decision.checks if c.status == "not_judged")
    more = f", {not_judged} not judged" if not_judged else ""
    print(
        f"mlchecks gate: {verdict} ({len(decision.checks)} checks, {len(decision.failed)} failed"
        f"{more}; {elapsed:.1f}s)",
        file=out,  # type: ignore[arg-type]
    )


def _write_report(session: Session, decision: GateDecision) -> GateDecision:
    """Write the run's HTML report (``--report DIR``, default ``reports/``; ``none``: off).

    Returns the decision with the page's path in ``report``. A page that cannot be written is a
    warning on stderr, never a changed verdict or exit code.
    """
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
    try:  # relative to where the gate was started, when it is below it
        shown = page.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = page.resolve()
    return dataclasses.replace(decision, report=shown.as_posix())
