"""The order in which ``pytest -n 2 --dist loadfile`` hands test files to its workers.

xdist's ``loadfile`` hands whole files out in collection order, which pytest-randomly shuffles
on every run: a heavy file drawn last leaves one worker running it alone at the end, and the
two MLflow test files drawn onto two workers start two MLflow servers. This scheduler keeps
``loadfile``'s unit (a file's tests stay on one worker, so its module fixtures are built once)
and changes two things:

- the registry tests (``tests/registry/``) are one unit: one worker, one MLflow server;
- whenever a worker needs work it gets the unit expected to take longest (longest processing
  time first), from the seconds each file took on this machine's last run (pytest's cache,
  ``mlchecks/file-seconds``), else from ``tests/file_seconds.json`` (measured when it was
  last updated: ``python tests/xdist_order.py``), else the number of tests as a proxy; ties
  keep the collection order (the root ``conftest.py`` puts modules with slow tests first).

The order changes only when files run and on which worker, never which tests run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECONDS_FILE = HERE / "file_seconds.json"
CACHE_KEY = "mlchecks/file-seconds"
GROUPS = ("tests/registry/",)
#: Seconds assumed per test of a file that has no measured figure.
PER_TEST_S = 0.5


def unit_of(nodeid: str) -> str:
    """The work unit of a test id: its file, or its group (:data:`GROUPS`)."""
    path = nodeid.split("::", 1)[0]
    for group in GROUPS:
        if path.startswith(group):
            return group.rstrip("/")
    return path


def unit_seconds(unit: str, tests: int, seconds: Mapping[str, float]) -> float:
    """The expected seconds of a unit: the sum of its files' figures (a group's files
    included), else :data:`PER_TEST_S` per test."""
    if unit in seconds:
        return float(seconds[unit])
    inside = [s for f, s in seconds.items() if f.startswith(unit + "/")]
    return float(sum(inside)) if inside else PER_TEST_S * tests


def heaviest(units: Mapping[str, int], seconds: Mapping[str, float]) -> str:
    """The unit to hand out next: the longest expected (``units``: unit -> number of tests;
    ties keep the given order)."""
    order = {unit: i for i, unit in enumerate(units)}
    return max(units, key=lambda u: (unit_seconds(u, units[u], seconds), -order[u]))


def load_seconds(cache: object | None) -> dict[str, float]:
    """Per-file seconds: this machine's last run (pytest's cache), else the committed file."""
    if cache is not None:
        cached = cache.get(CACHE_KEY, None)  # type: ignore[attr-defined]
        if isinstance(cached, dict) and cached:
            return {str(k): float(v) for k, v in cached.items()}
    try:
        stored = json.loads(SECONDS_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in stored.items()} if isinstance(stored, dict) else {}


def whole_files(config) -> bool:
    """Whether a run ran every test of the files it ran (no ``-k``, ``-m``, ``--deselect``,
    ``--lf`` or test ids): only then are its seconds per file worth keeping."""
    option = config.option
    return not (
        getattr(option, "keyword", "")
        or getattr(option, "markexpr", "")
        or getattr(option, "deselect", None)
        or getattr(option, "lf", False)
        or any("::" in str(arg) for arg in config.args)
    )


def make_scheduler(config, log):
    """A ``loadfile`` scheduler with :func:`unit_of` units handed out by :func:`heaviest`."""
    from xdist.scheduler import LoadFileScheduling

    seconds = load_seconds(getattr(config, "cache", None))

    class HeaviestFirstFileScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def _assign_work_unit(self, node) -> None:
            units = {unit: len(ids) for unit, ids in self.workqueue.items()}
            self.workqueue.move_to_end(heaviest(units, seconds), last=False)
            super()._assign_work_unit(node)

    return HeaviestFirstFileScheduling(config, log)


def main(argv: list[str]) -> int:
    """Rewrite :data:`SECONDS_FILE` from this checkout's pytest cache (after a whole run)."""
    cache = HERE.parent / ".pytest_cache" / "v" / CACHE_KEY
    try:
        seconds = json.loads(cache.read_text())
    except (OSError, ValueError):
        print(f"no per-file seconds in {cache}: run the README's test command first")
        return 1
    rounded = {k: round(float(v), 1) for k, v in sorted(seconds.items())}
    SECONDS_FILE.write_text(json.dumps(rounded, indent=1) + "\n")
    print(f"{SECONDS_FILE}: {len(rounded)} files, {sum(rounded.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
