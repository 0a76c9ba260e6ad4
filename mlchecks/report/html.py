"""Render :class:`~mlchecks.report.data.ReportData` as one self-contained HTML page.

The page needs nothing but itself: inline CSS, charts as inline SVG drawn from numbers computed
here, flip images as ``data:`` URIs, no script at all. A Content-Security-Policy meta tag
forbids scripts and every network fetch, so even a string that slipped past escaping could not
run or phone home. Every string from a model, config or data goes through Jinja2 autoescaping:
charts are drawn by template macros from geometry computed here, never assembled as markup in
Python.

Layout on disk (``write_report``)::

    reports/index.html              every run, newest first (rebuilt after each run)
    reports/<run-id>/index.html     the run's page
    reports/<run-id>/summary.json   the run's line on the index page (written last)

Every file is written to a temporary file and renamed into place, and the index is rebuilt
under a file lock, so a killed or concurrent run never leaves a truncated page behind.

Fault points (``MLCHECKS_FAULT``, see :mod:`mlchecks._util.faults`), each half-way through writing
the file: ``report:mid-page``, ``report:mid-summary``, ``report:mid-index``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlchecks._util.io import atomic_write

if TYPE_CHECKING:
    import jinja2

    from mlchecks.report.data import ReportData

__all__ = ["index_entries", "render_html", "render_index", "write_index", "write_report"]

INDEX_LIMIT = 1000  # runs listed on reports/index.html
COLORS = ("#2563eb", "#f59e0b", "#16a34a", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626")
RECALL_DROP_MARK = 0.03  # a candidate bar this far below the champion's is drawn red


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
        autoescape=True,  # every {{ }} is escaped, in text and in attributes, SVG included
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _fmt_num
    env.filters["pct"] = _fmt_pct
    env.filters["short"] = _short
    env.globals.update(
        bar_chart=bar_chart,
        line_chart=line_chart,
        heatmap=heatmap,
        interval_chart=interval_chart,
        split_series=split_series,
        matrix_cells=matrix_cells,
        matrix_series=matrix_series,
        colors=COLORS,
    )
    return env


def render_html(data: ReportData) -> str:
    """The run's page as one HTML string."""
    template = _environment().get_template("report.html.jinja2")
    return template.render(r=data, css=_css())


def render_index(entries: Sequence[dict[str, Any]], total: int | None = None) -> str:
    """The history page: one row per run (``summary.json`` contents), newest first."""
    template = _environment().get_template("index.html.jinja2")
    return template.render(runs=list(entries), total=len(entries) if total is None else total,
                           css=_css())  # fmt: skip


@functools.lru_cache(maxsize=1)
def _css() -> str:
    return Path(__file__).with_name("templates").joinpath("report.css").read_text("utf-8")


def write_report(data: ReportData, folder: Path) -> Path:
    """Write the run's page and summary under ``folder/<run-id>/`` and rebuild the index.

    Returns:
        The path of the run's ``index.html``.
    """
    folder = Path(folder)
    run_dir = folder / data.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    page = run_dir / "index.html"
    _atomic_write(page, render_html(data), fault="report:mid-page")
    # The summary is the marker of a complete run: the index lists only runs that have one.
    _atomic_write(run_dir / "summary.json", json.dumps(data.summary(), indent=1) + "\n",
                  fault="report:mid-summary")  # fmt: skip
    write_index(folder)
    return page


def index_entries(folder: Path) -> list[dict[str, Any]]:
    """The summaries of the runs under ``folder``, newest first; unreadable ones are skipped."""
    entries = []
    for summary in Path(folder).glob("*/summary.json"):
        try:
            entry = json.loads(summary.read_text("utf-8"))
        except (OSError, ValueError):
            continue  # a foreign or damaged file must not break the history page
        if not isinstance(entry, dict):
            continue
        entry["run_id"] = summary.parent.name  # the folder is the truth, not the file's claim
        entry.setdefault("created", "")
        entries.append(entry)
    entries.sort(key=lambda e: (str(e.get("created", "")), e["run_id"]), reverse=True)
    return entries


def write_index(folder: Path) -> Path:
    """Rebuild ``folder/index.html`` from the run summaries, atomically and under a lock."""
    from filelock import FileLock

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".index.lock"), timeout=60):
        entries = index_entries(folder)
        path = folder / "index.html"
        _atomic_write(path, render_index(entries[:INDEX_LIMIT], total=len(entries)),
                      fault="report:mid-index")  # fmt: skip
    return path


def _atomic_write(path: Path, text: str, fault: str | None = None) -> None:
    atomic_write(path, text, durable=True, fault=fault, shared=True)


# --- formatting ------------------------------------------------------------------------------


def _fmt_num(value: Any, digits: int = 4) -> str:
    """A number for a table cell: ints with separators, floats to ``digits`` decimals."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    number = float(value)
    size = abs(number)
    if size >= 1000:
        return f"{number:,.0f}"
    if size >= 100:
        return f"{number:,.1f}"
    if 0 < size < 10 ** -(digits - 1):
        return f"{number:.2g}"
    return f"{number:.{digits}f}".rstrip("0").rstrip(".")


def _fmt_pct(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"


def _short(text: Any, limit: int = 14) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- chart geometry (numbers only; the template draws and escapes) ---------------------------


@dataclasses.dataclass(frozen=True)
class Chart:
    width: float
    height: float
    items: list[dict[str, Any]]
    ticks: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    legend: list[dict[str, Any]]


def matrix_cells(matrix: Sequence[Sequence[float | None]]) -> list[list[tuple[Any, str]]]:
    """Forgetting-matrix cells with a style: red by how far below its column's best a cell is.

    A column is one holdout; its best entry is what some version once knew, so a lower entry
    further down is forgetting (1 pp of it is the default margin).
    """
    cols = max((len(r) for r in matrix), default=0)
    best: list[float | None] = []
    for j in range(cols):
        values = [float(v) for r in matrix if j < len(r) and (v := r[j]) is not None]
        best.append(max(values) if values else None)
    out = []
    for row in matrix:
        cells = []
        for j, v in enumerate(row):
            top = best[j]
            if v is None or top is None:
                cells.append((v, "background:#f3f4f6"))
                continue
            drop = top - v
            alpha = min(0.85, drop / 0.05 * 0.85) if drop > 0.001 else 0.0
            style = f"background:rgba(220,38,38,{alpha:.3f})" if alpha else "background:#f0fdf4"
            cells.append((v, style + (";color:#fff" if alpha > 0.5 else "")))
        out.append(cells)
    return out


def matrix_series(history: Any) -> dict[str, list[float | None]]:
    """One line per holdout across the versions: a line that falls is forgetting."""
    return {
        holdout: [row[j] if j < len(row) else None for row in history.matrix]
        for j, holdout in enumerate(history.holdouts)
    }


def split_series(series: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Training history -> (loss curves, other metrics): they do not share a y scale."""
    losses = {k: v for k, v in series.items() if "loss" in k}
    return losses, {k: v for k, v in series.items() if k not in losses}


def _y_ticks(lo: float, hi: float, top: float, bottom: float, n: int = 4) -> list[dict[str, Any]]:
    ticks = []
    for i in range(n + 1):
        value = lo + (hi - lo) * i / n
        y = bottom - (bottom - top) * i / n
        ticks.append({"y": round(y, 1), "text": _fmt_num(value, 3)})
    return ticks


def bar_chart(
    names: Sequence[str],
    candidate: Sequence[float | None],
    champion: Sequence[float | None] | None = None,
) -> Chart:
    """Grouped bars of per-class fractions (recall), candidate beside champion."""
    k = max(len(names), 1)
    group = max(26.0, min(64.0, 720.0 / k))
    left, top, plot_h, bottom_pad = 40.0, 10.0, 170.0, 40.0
    bottom = top + plot_h
    series = [("candidate", candidate)] + ([("champion", champion)] if champion else [])
    bar = group * (0.7 / len(series))
    items, labels = [], []
    for i, name in enumerate(names):
        x0 = left + i * group + group * 0.15
        for j, (kind, values) in enumerate(series):
            value = values[i] if i < len(values) else None
            h = 0.0 if value is None else max(0.0, min(1.0, value)) * plot_h
            worse = (
                kind == "candidate" and champion is not None and value is not None
                and champion[i] is not None and champion[i] - value > RECALL_DROP_MARK  # type: ignore[operator]
            )  # fmt: skip
            h = max(h, 3.0) if worse else h  # a recall that fell to 0 still shows, in red
            items.append({
                "x": round(x0 + j * bar, 1), "y": round(bottom - h, 1), "w": round(bar - 1, 1),
                "h": round(h, 1), "kind": kind, "worse": worse, "value": value, "name": name,
            })  # fmt: skip
        labels.append({"x": round(left + i * group + group / 2, 1), "y": bottom + 14, "text": name})
    legend = [{"text": kind, "kind": kind} for kind, _ in series]
    return Chart(left + k * group + 10, bottom + bottom_pad, items,
                 _y_ticks(0.0, 1.0, top, bottom), labels, legend)  # fmt: skip


def line_chart(
    series: dict[str, Sequence[float | None]],
    x_labels: Sequence[str] | None = None,
    width: float = 440.0,
    height: float = 210.0,
) -> Chart:
    """Lines over a shared x axis (epochs or versions); y range fitted to the data."""
    left, right, top, bottom = 48.0, 12.0, 10.0, height - 30.0
    values = [v for vs in series.values() for v in vs if v is not None]
    n = max((len(vs) for vs in series.values()), default=0)
    if not values or n == 0:
        return Chart(width, height, [], [], [], [])
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    span_x = max(n - 1, 1)

    def px(i: int) -> float:
        return left + (width - left - right) * (i / span_x if n > 1 else 0.5)

    def py(v: float) -> float:
        return bottom - (bottom - top) * (v - lo) / (hi - lo)

    items = []
    for j, (name, vs) in enumerate(series.items()):
        pts = [(px(i), py(v)) for i, v in enumerate(vs) if v is not None]
        dots = [{"x": round(x, 1), "y": round(y, 1)} for x, y in pts] if len(pts) <= 12 else []
        items.append({
            "name": name, "color": COLORS[j % len(COLORS)], "dashed": name.startswith("val_"),
            "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in pts),
            "dots": dots,
            "last": vs[-1] if vs else None,
        })  # fmt: skip
    labels = []
    step = max(1, math.ceil(n / 10))
    for i in range(0, n, step):
        text = x_labels[i] if x_labels is not None and i < len(x_labels) else str(i + 1)
        labels.append({"x": round(px(i), 1), "y": bottom + 16, "text": text})
    legend = [{"text": it["name"], "color": it["color"], "dashed": it["dashed"]} for it in items]
    return Chart(width, height, items, _y_ticks(lo, hi, top, bottom), labels, legend)


def heatmap(names: Sequence[str], matrix: Sequence[Sequence[int]]) -> Chart:
    """Confusion matrix cells shaded by row share: diagonal blue, mistakes red."""
    k = len(matrix)
    cell = max(12.0, min(40.0, 440.0 / max(k, 1)))
    left, top = 70.0, 24.0
    items = []
    show_text = k <= 20
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            share = count / total
            alpha = 0.0 if count == 0 else 0.12 + 0.88 * share
            items.append({
                "x": round(left + j * cell, 1), "y": round(top + i * cell, 1), "s": round(cell, 1),
                "count": count, "share": share, "diag": i == j, "alpha": round(alpha, 3),
                "text": str(count) if show_text and count else "", "dark": alpha > 0.55,
                "true": names[i] if i < len(names) else str(i),
                "pred": names[j] if j < len(names) else str(j),
            })  # fmt: skip
    labels = [{"x": left - 6, "y": round(top + (i + 0.5) * cell + 4, 1), "text": n, "axis": "row"}
              for i, n in enumerate(names)]  # fmt: skip
    labels += [{"x": round(left + (j + 0.5) * cell, 1), "y": top - 8, "text": n, "axis": "col"}
               for j, n in enumerate(names)]  # fmt: skip
    return Chart(left + k * cell + 10, top + k * cell + 10, items, [], labels,
                 [{"cell": cell, "left": left, "top": top, "k": k}])  # fmt: skip


def interval_chart(rows: Sequence[Any]) -> Chart:
    """Accuracy per model: point, confidence interval and threshold on one zoomed axis."""
    lows = [v for r in rows for v in (r.lower, r.accuracy, r.threshold) if v is not None]
    lo = max(0.0, math.floor((min(lows, default=0.0) - 0.02) * 20) / 20)
    hi = 1.0
    left, right, width = 150.0, 20.0, 640.0
    row_h = 30.0

    def px(v: float) -> float:
        return left + (width - left - right) * (v - lo) / (hi - lo)

    items = []
    for i, r in enumerate(rows):
        y = 20 + i * row_h
        items.append({
            "y": y, "model": r.model, "x": round(px(r.accuracy), 1), "accuracy": r.accuracy,
            "x0": round(px(r.lower), 1) if r.lower is not None else None,
            "x1": round(px(r.upper), 1) if r.upper is not None else None,
            "t": round(px(r.threshold), 1) if r.threshold is not None else None,
            "passed": r.passed,
        })  # fmt: skip
    bottom = 20 + len(rows) * row_h
    ticks = []
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        ticks.append({"x": round(px(v), 1), "text": _fmt_num(v, 3), "y": bottom})
    return Chart(width, bottom + 20, items, ticks, [], [])
