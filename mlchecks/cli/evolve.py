"""``mlchecks evolve``: the continual-learning demo (:mod:`mlchecks.run.evolve`), gated at every
step by the one Gate on the shipped suites."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from mlchecks.cli import _output
from mlchecks.config.options import bounded
from mlchecks.run.evolve import (
    DEFAULT_MEMORY,
    DEFAULT_NAME,
    DEFAULT_STEPS,
    FORGETTING,
    SCENARIOS,
    Attempt,
    EvolveResult,
    evolve,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, metavar="DATASET",
                        help="dataset (default: configured, digits)")  # fmt: skip
    parser.add_argument("--scenario", choices=SCENARIOS, default="domain",
                        help="domain (default): the loop judged by max_forgetting; class: "
                        "class-incremental tasks judged by the forgetting budget")  # fmt: skip
    parser.add_argument("--steps", type=_steps, default=None, metavar="N",
                        help="increments (default 3; 5 with --scenario class: tasks of two "
                        "classes)")  # fmt: skip
    parser.add_argument("--registry", default=None, metavar="DIR",
                        help="registry folder to keep (default: a temporary one)")  # fmt: skip
    parser.add_argument("--name", default=DEFAULT_NAME, metavar="LINEAGE",
                        help="lineage name (default evolve)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, metavar="N",
                        help="seed (default: configured)")  # fmt: skip
    parser.add_argument("--epochs", type=_positive_int, default=20, metavar="N",
                        help="epochs of the first training (default 20)")  # fmt: skip
    parser.add_argument("--finetune-epochs", type=_positive_int, default=5, metavar="N",
                        help="epochs of each fine-tuning (default 5)")  # fmt: skip
    parser.add_argument("--replay", type=_share, default=1.0, metavar="FRACTION",
                        help="share of earlier training data the rehearsal step replays "
                        "(default 1: all of it)")  # fmt: skip
    parser.add_argument("--memory", type=_memory, default=DEFAULT_MEMORY, metavar="N",
                        help="--scenario class: training samples stored per earlier class for "
                        f"rehearsal (default {DEFAULT_MEMORY})")  # fmt: skip
    parser.add_argument("--json", dest="json_file", default=None, metavar="FILE",
                        help="write the steps here (- for stdout)")  # fmt: skip
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="config file (default: nearest one)")  # fmt: skip


_steps = bounded(int, 2, 50, "2 to 50 steps")
_positive_int = bounded(int, 1, 10_000, "an integer from 1 to 10000")
_share = bounded(float, 0.0, 1.0, "a share in (0, 1]", low_open=True)
_memory = bounded(int, 1, 1_000_000, "an integer from 1 to 1000000")


EPILOG = """exit codes: 0 the demo ran to the end (rejections included: showing them is what
  it is for; its last line says what was rejected and why), 2 bad input (one 'mlchecks:
  error:' line), 3 internal error
"""


def _expected(attempt: Attempt) -> bool:
    """What continual learning expects of a candidate: naive fine-tuning is rejected for
    forgetting, every other candidate (the first training, rehearsal) is promoted."""
    if attempt.kind == "naive":
        return FORGETTING in attempt.failed
    return attempt.accepted


def outcome(result: EvolveResult) -> str:
    """The demo's last line: it finished, what was rejected and why, and whether that is what
    continual learning expects."""
    rejected = [a for a in result.attempts if not a.accepted]
    promoted = sum(1 for a in result.attempts if a.version)
    line = (
        f"mlchecks evolve: the demo finished: {len(result.attempts)} candidates, "
        f"{len(rejected)} rejected, {promoted} promoted"
    )
    if rejected:
        line += (
            " (rejected: "
            + "; ".join(
                f"step {a.step} {a.kind} ({', '.join(a.failed) or 'no check ran'})"
                for a in rejected
            )
            + ")"
        )
    surprises = [a for a in result.attempts if not _expected(a)]
    if not surprises:
        return line + "; as continual learning expects, naive fine-tuning forgot and rehearsal kept"
    said = "; ".join(
        f"step {a.step} {a.kind} was {'rejected' if not a.accepted else 'promoted'}"
        for a in surprises
    )
    return f"{line}; unlike the usual outcome: {said} (see the lines above and the report)"


def exit_code(result: EvolveResult) -> int:
    """0: the demo ran to the end. Its rejections are its results, not a failed command."""
    del result
    return 0


def run(args: argparse.Namespace) -> int:
    """``mlchecks evolve``: run the demo, end with :func:`outcome`; exit 0 when it ran to the
    end (see :data:`EPILOG`), 2 on bad input."""
    from mlchecks.config import load_settings
    from mlchecks.data import load_dataset
    from mlchecks.plugin.runner import run_suites

    _output.check_writable("--json", args.json_file)

    overrides = {"data": args.data, "name": args.name, "seed": args.seed}
    settings = load_settings(
        Path.cwd(), overrides, config_file=Path(args.config) if args.config else None
    )
    dataset = load_dataset(settings.data, root=Path(settings.root),
                           max_bytes=settings.max_data_bytes,
                           classes=settings.classes)  # fmt: skip
    steps = args.steps or DEFAULT_STEPS[args.scenario]
    from mlchecks.model.training import quiet_retracing

    quiet_retracing()
    temporary = args.registry is None
    workdir = Path(tempfile.mkdtemp(prefix="mlchecks-evolve-"))
    try:
        from mlchecks.registry import is_remote

        registry: Path | str = workdir / "registry"
        if not temporary:
            registry = args.registry if is_remote(args.registry) else Path(args.registry).resolve()
        settings = settings.replace(registry=str(registry))
        where = "temporary; --registry DIR keeps it" if temporary else "kept"
        print(f"mlchecks evolve: {dataset.describe()}, {steps} increments ({args.scenario}); "
              f"registry {registry} ({where}), lineage {settings.name!r}")  # fmt: skip
        result = evolve(settings, dataset, steps, epochs=args.epochs,
                        finetune_epochs=args.finetune_epochs, replay=args.replay,
                        workdir=workdir, runner=run_suites, scenario=args.scenario,
                        memory=args.memory)  # fmt: skip
        if args.json_file:
            text = json.dumps(result.to_json(), indent=1) + "\n"
            _output.write_text("--json", args.json_file, text)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(outcome(result))
    return exit_code(result)
