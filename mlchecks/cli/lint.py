"""``mlchecks lint MODEL --data DATA [--json FILE]``: the training-setup lint alone.

Exit 0 no finding, 1 findings, 2 bad input (an unwritable ``--json`` included: checked before
any work).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlchecks.checks.setup import run
from mlchecks.cli import _output
from mlchecks.errors import GateExit
from mlchecks.result import CheckResult

if TYPE_CHECKING:
    import argparse


# ----------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``mlchecks lint``."""
    parser.add_argument(
        "model",
        help="a .keras file, or a model builder (zoo name such as 'mlp', or 'pkg.mod:function')",
    )
    parser.add_argument("--data", default=None, metavar="DATASET",
                        help="the training data (default: configured)")  # fmt: skip
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="config file (default: nearest one)")  # fmt: skip
    parser.add_argument("--json", dest="json_file", default=None, metavar="FILE",
                        help="write the results here (- for stdout)")  # fmt: skip


def main(args: argparse.Namespace) -> GateExit:
    """``mlchecks lint MODEL --data DATA``: 0 no finding, 1 findings, 2 bad input.

    A ``.keras`` file is read without importing Keras and linted against the data's labels as
    given (one-hot or ids); a builder is built (not trained) and, as mlchecks trains builders
    on class ids, linted against ids.
    """
    from mlchecks.config import ModelSpec, load_settings
    from mlchecks.data import load_dataset

    _output.check_writable("--json", args.json_file)
    settings = load_settings(Path.cwd(), {}, config_file=Path(args.config) if args.config else None)
    data = args.data or settings.data
    dataset = load_dataset(data, root=Path.cwd() if args.data else Path(settings.root),
                           max_bytes=settings.max_data_bytes)  # fmt: skip
    target = Path(args.model)
    source: Any
    if target.suffix == ".keras" or target.exists():
        source, label_format, name = target, None, target.stem
    else:
        from mlchecks.model.training import build

        spec = ModelSpec(name=args.model.replace(":", "_").replace(".", "_")[:100] or "model",
                         builder=args.model)  # fmt: skip
        source, label_format, name = build(spec, dataset), "ids", args.model
    results = run(source, dataset, name=name, label_format=label_format)
    failed = [r for r in results if not r.passed]
    print(f"mlchecks lint: {name} on {dataset.describe()}: {len(failed)} finding(s)")
    for r in failed:
        print(f"  {r.severity.upper():7} {r.id}: {r.message}")
    if args.json_file:
        _write_json(args.json_file, results)
    return GateExit.REJECTED if failed else GateExit.ACCEPTED


def _write_json(value: str, results: list[CheckResult]) -> None:
    payload = {"findings": sum(not r.passed for r in results),
               "checks": [r.to_json() for r in results]}  # fmt: skip
    _output.write_text("--json", value, json.dumps(payload, indent=2) + "\n")
