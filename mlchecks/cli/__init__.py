"""The ``mlchecks`` command: ``gate`` (and later ``lint``, ``evolve``, ``registry``).

Exit codes (:class:`mlchecks.errors.GateExit`): 0 accepted, 1 rejected, 2 bad input (one
``mlchecks: error:`` line on stderr, no traceback), 3 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from mlchecks._util import collector
from mlchecks.errors import ConfigError, GateExit, MlchecksError


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors exit 2 with the documented ``mlchecks: error:`` line."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise ConfigError(f"{message} (see `{self.prog} --help`)")


EPILOG = """examples:
  mlchecks gate                                  train and judge the configured models
  mlchecks gate candidate.keras --data data.npz  judge a saved model against the champion
  mlchecks gate candidate.keras --no-promote --json -   judge only; decision JSON on stdout
  mlchecks lint model.keras --data data.npz      training-setup lint, no training
  mlchecks registry list                         lineages, versions and champions

exit codes: 0 accepted, 1 rejected (a check failed; the registry is unchanged),
  2 bad input (one 'mlchecks: error:' line says what and how to fix it), 3 internal error
"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlchecks",
        description="A test-first quality gate for Keras models.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from mlchecks._version import __version__

    parser.add_argument("--version", action="version", version=f"mlchecks {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    from mlchecks.cli import gate

    gate.add_arguments(
        sub.add_parser(
            "gate",
            help="judge a candidate model (or the configured ones)",
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    from mlchecks.cli import lint

    lint.add_arguments(sub.add_parser("lint", help="training-setup lint of a model and its data"))
    from mlchecks.cli import evolve
    from mlchecks.cli import registry as registry_commands

    evolve.add_arguments(
        sub.add_parser(
            "evolve",
            help="continual-learning demo, gate at every step",
            epilog=evolve.EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    registry_commands.add_arguments(
        sub.add_parser("registry", help="list, show, promote or roll back registry versions")
    )
    from mlchecks.cli import init

    init.add_arguments(sub.add_parser("init", help="starter [tool.mlchecks] and tests/ file"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mlchecks`` console script.

    ``argv=None`` (the program itself, its arguments from ``sys.argv``): the process ends with
    the command, so the backend's objects are frozen out of the garbage collector once Keras is
    imported, and everything at the end (:mod:`mlchecks._util.collector`: ~1 s of full
    collections during a gate and 1.3-2 s at exit, measured). atexit handlers, ``finally``
    blocks and weakref finalizers (temporary folders) still run. A list (a caller in its own
    long-lived process) leaves the collector alone.
    """
    _quiet_backend()
    program = argv is None
    if program:
        collector.freeze_after_import("keras")
    try:
        return _command(argv)
    finally:
        if program:
            collector.freeze()


def _command(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "gate":
            from mlchecks.cli import gate

            return int(gate.run(args))
        if args.command == "lint":
            from mlchecks.cli import lint

            return int(lint.main(args))
        if args.command == "evolve":
            from mlchecks.cli import evolve

            return int(evolve.run(args))
        if args.command == "registry":
            from mlchecks.cli import registry as registry_commands

            return int(registry_commands.run(args))
        if args.command == "init":
            from mlchecks.cli import init

            return int(init.run(args))
        raise ConfigError(f"unknown command {args.command!r}")  # pragma: no cover
    except MlchecksError as exc:
        print(f"mlchecks: error: {_one_line(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except BrokenPipeError:
        # `mlchecks registry show --json | head`: the reader left; exit quietly, as cat does
        _silence_stdout()
        return 0
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


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _quiet_backend() -> None:
    """TensorFlow's log level (where the user set none) and its import-time native lines
    filtered by it (:mod:`mlchecks._util.quiet`)."""
    from mlchecks._util import quiet

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    quiet.install()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
