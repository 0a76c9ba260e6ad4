"""Command-line options shared by ``mlchecks gate`` and the pytest plugin (``--mlchecks-*``).

Declared once here; :func:`add_options` adds them to an argparse parser or a pytest option
group, with or without the ``mlchecks-`` prefix. Values are parsed at the boundary and end up
as overrides for :func:`mlchecks.config.load_settings`.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def bounded(
    cast: Callable[[str], Any], low: float, high: float, what: str, *, low_open: bool = False
) -> Callable[[str], Any]:
    """An argparse ``type=``: ``cast(text)`` within ``[low, high]`` (``(low, high]`` when
    ``low_open``), finite; anything else is an ``ArgumentTypeError`` saying what was expected.

    Example:
        >>> bounded(int, 1, 9, "a digit")("7")
        7
    """

    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        above = low < value if low_open else low <= value
        if not (math.isfinite(value) and above and value <= high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what
    return parse


_fraction = bounded(float, 0.0, 1.0, "a fraction in [0, 1]")
_points = bounded(float, 0.0, 100.0, "percentage points in 0..100")
_positive = bounded(float, 0.0, math.inf, "a number >= 0")
_seed = bounded(int, 0, 2**32 - 1, "an integer seed in [0, 2**32)")
_seeds = bounded(int, 1, 100, "a number of seeds from 1 to 100")
_bwt = bounded(float, -100.0, 0.0, "percentage points in -100..0")


# (name, type, help). The settings key is the name with "-" -> "_".
THRESHOLD_OPTIONS: list[tuple[str, Callable[[str], Any], str]] = [
    ("min-accuracy", _fraction, "minimum accuracy, judged on its Wilson lower bound"),
    ("min-class-recall", _fraction, "minimum recall of every class"),
    ("max-ece", _fraction, "maximum expected calibration error"),
    ("max-loss", _positive, "maximum mean test cross-entropy, in nats"),
    ("confidence", _fraction, "confidence level of intervals (default 0.95)"),
    ("max-accuracy-drop", _points, "regression margin on accuracy, in pp (default 0.5)"),
    ("max-class-recall-drop", _points, "regression margin on class recall, in pp (default 3)"),
    ("max-flip-rate", _fraction, "maximum negative flip rate against the champion"),
    ("max-forgetting", _points, "forgetting margin per earlier holdout, in pp (default 1)"),
    ("forgetting-budget", _points, "scenario class: pp an earlier holdout may lose (default 50)"),
    ("min-backward-transfer", _bwt, "scenario class: backward transfer floor, pp (default -30)"),
    (
        "speed-tolerance",
        _positive,
        "allowed training slowdown against the champion, same-run A/B: 0.25 = 25%% (default)",
    ),
    ("noise-scale", _fraction, "behaviour.noise amplitude as a fraction of the data range (0.05)"),
    ("max-noise-flip-rate", _fraction, "confident predictions noise may flip (default 0.02)"),
]

RUN_OPTIONS: list[tuple[str, Callable[[str], Any] | None, str]] = [
    ("data", None, "dataset: digits, mnist, fashion_mnist, cifar10, synthetic:N or FILE.npz"),
    ("seed", _seed, "training seed (default 0)"),
    ("seeds", _seeds, "train K seeds (seed, seed+1, ...); accuracy.seeds judges the worst"),
    ("name", None, "model lineage name in the registry"),
    ("registry", None, "registry folder (default .mlchecks/registry)"),
    ("report", None, "report folder (default reports/)"),
    ("cache-dir", None, "trained-model cache folder (default .mlchecks/cache)"),
    ("classes", None, "classes the data holds: a count (10), ids (4,5 or 4-5) or names (cat,dog)"),
]


#: What each option takes, in its unit, for ``--help`` (``--min-accuracy FRACTION``).
METAVARS = {
    "data": "DATASET", "seed": "N", "seeds": "K", "name": "LINEAGE", "registry": "DIR",
    "report": "DIR", "cache-dir": "DIR", "min-accuracy": "FRACTION",
    "min-class-recall": "FRACTION", "max-ece": "FRACTION", "max-loss": "NATS",
    "confidence": "FRACTION", "max-accuracy-drop": "PP", "max-class-recall-drop": "PP",
    "max-flip-rate": "FRACTION", "max-forgetting": "PP", "speed-tolerance": "FRACTION",
    "noise-scale": "FRACTION", "max-noise-flip-rate": "FRACTION", "forgetting-budget": "PP",
    "min-backward-transfer": "PP", "classes": "LIST",
}  # fmt: skip


def add_options(add: Callable[..., Any], prefix: str = "") -> None:
    """Add the shared options through ``add`` (``parser.add_argument`` or ``group.addoption``).

    Args:
        add: the function that declares one option.
        prefix: ``"mlchecks-"`` for pytest, ``""`` for the CLI. Defaults to ``""``.
    """
    for name, kind, text in RUN_OPTIONS + THRESHOLD_OPTIONS:
        dest = ("mlchecks_" if prefix else "") + name.replace("-", "_")
        kwargs: dict[str, Any] = {"dest": dest, "default": None, "help": text,
                                  "metavar": METAVARS.get(name)}  # fmt: skip
        if kind is not None:
            kwargs["type"] = kind
        add(f"--{prefix}{name}", **kwargs)
    dest = "mlchecks_regression_mode" if prefix else "regression_mode"
    add(
        f"--{prefix}regression-mode",
        dest=dest,
        default=None,
        choices=("significant", "strict"),
        help="significant (default): reject significant drops beyond the margin; "
        "strict: demand non-inferiority",
    )
    dest = "mlchecks_scenario" if prefix else "scenario"
    add(
        f"--{prefix}scenario",
        dest=dest,
        default=None,
        choices=("domain", "class"),
        help="domain (default): no forgetting beyond max-forgetting; class: a class-incremental "
        "lineage, judged by the forgetting budget",
    )


def overrides(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Option values (by dest) -> settings overrides (``report`` -> ``reports``)."""
    out: dict[str, Any] = {}
    names = [n for n, _, _ in RUN_OPTIONS + THRESHOLD_OPTIONS] + ["regression-mode", "scenario"]
    for name in names:
        key = name.replace("-", "_")
        value = values.get(("mlchecks_" if prefix else "") + key)
        if value is not None:
            out["reports" if key == "report" else key] = value
    return out
