"""Speed measurement and machine calibration: throughput, latency, memory, normalised figures.

A raw samples/s figure recorded on one CI runner means little on the next one. Each figure here
is therefore measured together with a *calibration* taken in the same run on the same device:
the float32 matrix-multiply rate (GFLOP/s) of the machine. The *normalised* figure is

    model FLOPs/s ÷ calibration FLOPs/s  (the fraction of the machine's matmul peak the model uses)

with the model's FLOPs counted from its layers (:func:`count_flops`). The speed gate compares the
normalised training figure with the champion's (:func:`speed_check`), with a tolerance.

Timing is done by a *runner* ``(target, rounds, setup, teardown) -> [seconds per round]``:
:func:`time_rounds` (``time.perf_counter``) for scripts, ``benchmark.pedantic`` in the pytest
suite (see ``suites/test_speed.py``). The first call of every measurement is a warm-up that is
timed on its own (tracing/compilation plus one epoch or call) and never mixed into the rounds.
The calibration product runs untimed around the rounds (``setup``/``teardown``: around each
training round, once before and after the predict rounds), so each figure is divided by the
machine's speed at the time it was measured.

No pytest here; Keras and the backend are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:

    pass


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """A plain-text table: ``columns`` are (key, header, format spec)."""
    cells = [[h for _, h, _ in columns]]
    for row in rows:
        cells.append(
            [
                format(row[k], spec) if isinstance(row.get(k), int | float) else str(row.get(k, ""))
                for k, _, spec in columns
            ]
        )
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [
        "  ".join(
            c.rjust(w) if j else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
