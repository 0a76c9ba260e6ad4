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
        reliability_chart=reliability_chart,
        histogram_chart=histogram_chart,
        split_series=split_series,
        curve_charts=curve_charts,
        matrix_cells=matrix_cells,
        matrix_series=matrix_series,
        colors=COLORS,
    )
    return env


@dataclasses.dataclass(frozen=True)
class Section:
    """One optional section of the run's page: its anchor, its ReportData field (the section
    shows when that list is not empty), its table-of-contents title, its template under
    ``templates/sections/``. A new section is one entry here plus its field and builder in
    :mod:`mlchecks.report.data` (``continual``, the accuracy matrix of a lineage, is one)."""

    id: str
    field: str
    title: str

    @property
    def template(self) -> str:
        return f"sections/{self.field}.html.jinja2"


SECTIONS = (
    Section("accuracy", "accuracy", "accuracy"),
    Section("class-recall", "class_recall", "per-class recall"),
    Section("confusion", "confusion", "confusion"),
    Section("calibration", "calibration", "calibration"),
    Section("flips", "flips", "negative flips"),
    Section("curves", "curves", "training"),
    Section("speed", "speed", "speed"),
    Section("data", "data", "data"),
    Section("drift", "drift", "drift"),
    Section("history", "history", "history"),
    Section("continual", "continual", "continual learning"),
)


def render_html(data: ReportData) -> str:
    """The run's page as one HTML string."""
    template = _environment().get_template("report.html.jinja2")
    shown = [s for s in SECTIONS if getattr(data, s.field)]
    return template.render(r=data, css=_css(), sections=shown)


def render_index(entries: Sequence[dict[str, Any]], total: int | None = None) -> str:
    """The history page: one row per run (``summary.json`` contents), newest first; a lineage
    filter (radio buttons and CSS: the page runs no script) and each lineage's accuracy trend."""
    template = _environment().get_template("index.html.jinja2")
    runs = [_index_row(e) for e in entries]
    lineages = sorted({name for run in runs for name in run["lineages"]})
    for run in runs:
        run["lineage_classes"] = " ".join(f"lin-{lineages.index(n)}" for n in run["lineages"])
    trends = [(i, name, trend_chart(name, [r for r in runs if name in r["lineages"]]))
              for i, name in enumerate(lineages)]  # fmt: skip
    return template.render(runs=runs, total=len(entries) if total is None else total,
                           lineages=lineages, trends=[t for t in trends if t[2].items],
                           css=_css())  # fmt: skip


def _index_row(entry: dict[str, Any]) -> dict[str, Any]:
    """A run summary as the history page shows it; summaries of older versions included."""
    run = dict(entry)
    verdict = str(run.get("verdict", "?"))
    if verdict == "first version":  # written so before the verdict came first
        verdict, run["first_version"] = "accepted", True
    run["verdict"] = verdict
    run["first_version"] = bool(run.get("first_version"))
    lineages = run.get("lineages")
    if not isinstance(lineages, list) or not lineages:
        lineages = [run.get("name", "")]
    run["lineages"] = [str(n) for n in lineages]
    accuracy = run.get("accuracy")
    accuracy = accuracy if isinstance(accuracy, dict) else {}
    run["accuracy"] = {str(k): v for k, v in accuracy.items() if _finite(v) is not None}
    failed = run.get("failed_ids")
    run["failed_ids"] = [str(f) for f in failed] if isinstance(failed, list) else []
    count = run.get("failed")
    more = count - len(run["failed_ids"]) if isinstance(count, int) else 0
    run["more_failed"] = more if run["failed_ids"] and more > 0 else 0  # the summary keeps 8
    models = run.get("models")
    run["models"] = [str(m) for m in models] if isinstance(models, list) else []
    return run


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

CHAR_W = 6.4  # px per character of the charts' 11px system font, a little generous


@dataclasses.dataclass(frozen=True)
class Chart:
    """An SVG chart's geometry. ``frame`` is the plot area (left, right, top, bottom);
    ``titles`` the axis titles (x, y, text, and ``rotate`` for the y axis)."""

    width: float
    height: float
    items: list[dict[str, Any]]
    ticks: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    legend: list[dict[str, Any]]
    titles: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    frame: dict[str, float] = dataclasses.field(default_factory=dict)


def nice_scale(
    lo: float, hi: float, target: int = 5, clamp: tuple[float, float] | None = None
) -> tuple[float, float, float, list[float]]:
    """An axis from ``lo`` to ``hi`` with round ticks: ``(lo, hi, step, tick values)``.

    The step is 1, 2 or 5 times a power of ten, giving about ``target`` intervals; the ends
    are multiples of the step that enclose the data, kept inside ``clamp`` (e.g. ``(0, 1)``
    for a fraction).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi - lo < 1e-12:
        pad = abs(hi) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step
    if clamp is not None:
        start, stop = max(clamp[0], start), min(clamp[1], stop)
    count = round((stop - start) / step)
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    start, stop = round(start, digits + 2), round(stop, digits + 2)
    values = [round(start + i * step, digits + 2) for i in range(count + 1)]
    return start, stop, step, values


def _tick_text(value: float, step: float) -> str:
    digits = max(0, -math.floor(math.log10(step) + 1e-9))
    text = f"{value:.{digits}f}"
    return "0" if text.strip("-0.") == "" else text


def _text_width(text: str) -> float:
    return len(text) * CHAR_W


def matrix_cells(
    matrix: Sequence[Sequence[float | None]], full: float = 0.05
) -> list[list[tuple[Any, str]]]:
    """Forgetting-matrix cells with a style: red by how far below its column's best a cell is.

    A column is one holdout; its best entry is what some version once knew, so a lower entry
    further down is forgetting (1 pp of it is the default margin). The red is full at a drop of
    ``full`` (5 pp; the class-incremental section passes its forgetting budget).
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
            alpha = min(0.85, drop / (full or 0.05) * 0.85) if drop > 0.001 else 0.0
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


def curve_charts(model: str, series: dict[str, Any]) -> list[tuple[Chart, str]]:
    """A training record's charts with their labels: losses, then the other metrics."""
    losses, others = split_series(series)
    out = []
    if losses:
        out.append((line_chart(losses, y_title="loss"), f"{model}: loss per epoch"))
    if others:
        what = "accuracy" if any("acc" in k for k in others) else "metric"
        out.append(
            (
                line_chart(others, y_title=what),
                f"{model}: {'accuracy' if what == 'accuracy' else 'metrics'} per epoch",
            )
        )
    return out


def _fraction_clamp(values: Sequence[float]) -> tuple[float, float] | None:
    """``(0, 1)`` when every value is a fraction (accuracy, recall): ticks never pass 1."""
    return (0.0, 1.0) if values and all(0.0 <= v <= 1.0 for v in values) else None


def _y_axis(lo: float, hi: float, top: float, bottom: float, left: float, right: float,
            clamp: tuple[float, float] | None) -> tuple[Any, list[dict[str, Any]]]:  # fmt: skip
    start, stop, step, values = nice_scale(lo, hi, 5, clamp)

    def py(v: float) -> float:
        return bottom - (bottom - top) * (v - start) / ((stop - start) or 1.0)

    ticks = [{"y": round(py(v), 1), "x": left - 4, "x1": left, "x2": right,
              "text": _tick_text(v, step)} for v in values]  # fmt: skip
    return py, ticks


def _titles(
    frame: dict[str, float], x_title: str, y_title: str, height: float
) -> list[dict[str, Any]]:
    out = []
    if x_title:
        out.append({"x": round((frame["left"] + frame["right"]) / 2, 1), "y": height - 6,
                    "text": x_title, "rotate": False})  # fmt: skip
    if y_title:
        out.append({"x": 12, "y": round((frame["top"] + frame["bottom"]) / 2, 1),
                    "text": y_title, "rotate": True})  # fmt: skip
    return out


def bar_chart(
    names: Sequence[str],
    candidate: Sequence[float | None],
    champion: Sequence[float | None] | None = None,
) -> Chart:
    """Grouped bars of per-class fractions (recall), candidate beside champion."""
    k = max(len(names), 1)
    group = max(26.0, min(64.0, 720.0 / k))
    left, top, plot_h = 56.0, 10.0, 170.0
    bottom = top + plot_h
    width = left + k * group + 10
    height = bottom + 44
    py, ticks = _y_axis(0.0, 1.0, top, bottom, left, width - 10, (0.0, 1.0))
    series = [("candidate", candidate)] + ([("champion", champion)] if champion else [])
    bar = group * (0.7 / len(series))
    items, labels = [], []
    for i, name in enumerate(names):
        x0 = left + i * group + group * 0.15
        for j, (kind, values) in enumerate(series):
            value = values[i] if i < len(values) else None
            h = 0.0 if value is None else bottom - py(max(0.0, min(1.0, value)))
            worse = (
                kind == "candidate" and champion is not None and value is not None
                and champion[i] is not None and champion[i] - value > RECALL_DROP_MARK  # type: ignore[operator]
            )  # fmt: skip
            h = max(h, 3.0) if worse else h  # a recall that fell to 0 still shows, in red
            items.append({
                "x": round(x0 + j * bar, 1), "y": round(bottom - h, 1), "w": round(bar - 1, 1),
                "h": round(h, 1), "kind": kind, "worse": worse, "value": value, "name": name,
            })  # fmt: skip
        limit = max(2, int(group / CHAR_W))
        labels.append({"x": round(left + i * group + group / 2, 1), "y": bottom + 14,
                       "text": _short(name, limit), "full": name})  # fmt: skip
    legend = [{"text": kind, "kind": kind} for kind, _ in series]
    frame = {"left": left, "right": width - 10, "top": top, "bottom": bottom}
    return Chart(width, height, items, ticks, labels, legend,
                 _titles(frame, "class", "recall", height), frame)  # fmt: skip


def line_chart(
    series: dict[str, Sequence[float | None]],
    x_labels: Sequence[str] | None = None,
    width: float = 440.0,
    height: float = 230.0,
    x_title: str = "epoch",
    y_title: str = "",
    bad: Sequence[bool] | None = None,
) -> Chart:
    """Lines over a shared x axis (epochs, versions, runs); round y ticks fitted to the data,
    kept within [0, 1] when every value is a fraction. ``bad`` marks points (rejected runs)."""
    values = [v for vs in series.values() for v in vs if v is not None]
    n = max((len(vs) for vs in series.values()), default=0)
    if not values or n == 0:
        return Chart(width, height, [], [], [], [])
    texts = [_short(x_labels[i] if x_labels is not None and i < len(x_labels) else str(i + 1), 12)
             for i in range(n)]  # fmt: skip
    if x_labels is None and n > 10:  # epochs: round numbers, the first and the last
        _, _, every, marks = nice_scale(1, n, 5)
        every = max(every, 1)
        shown = sorted({0, n - 1, *(int(v) - 1 for v in marks if 1 <= v <= n and v == int(v))})
        shown = [i for i in shown if i in (0, n - 1) or min(n - 1 - i, i) > every / 2]
    else:
        shown = list(range(0, n, max(1, math.ceil(n / 10))))
    # room for the first and last x label, centred on their points
    left = max(56.0, _text_width(texts[0]) / 2 + 4)
    right = max(14.0, _text_width(texts[shown[-1]]) / 2 + 4) if n > 1 else 14.0
    top, bottom = 10.0, height - 44.0
    py, ticks = _y_axis(min(values), max(values), top, bottom, left, width - right,
                        _fraction_clamp(values))  # fmt: skip
    span_x = max(n - 1, 1)

    def px(i: int) -> float:
        return left + (width - left - right) * (i / span_x if n > 1 else 0.5)

    items = []
    for j, (name, vs) in enumerate(series.items()):
        pts = [(i, px(i), py(v)) for i, v in enumerate(vs) if v is not None]
        marked = bad is not None or len(pts) <= 12
        dots = [{"x": round(x, 1), "y": round(y, 1),
                 "bad": bool(bad[i]) if bad is not None and i < len(bad) else False}
                for i, x, y in pts] if marked else []  # fmt: skip
        items.append({
            "name": name, "color": COLORS[j % len(COLORS)], "dashed": name.startswith("val_"),
            "points": " ".join(f"{x:.1f},{y:.1f}" for _, x, y in pts),
            "dots": dots,
            "last": vs[-1] if vs else None,
        })  # fmt: skip
    labels = [{"x": round(px(i), 1), "y": bottom + 16, "text": texts[i],
               "full": x_labels[i] if x_labels is not None and i < len(x_labels) else texts[i]}
              for i in shown]  # fmt: skip
    legend = [{"text": it["name"], "color": it["color"], "dashed": it["dashed"]} for it in items]
    frame = {"left": left, "right": width - right, "top": top, "bottom": bottom}
    return Chart(width, height, items, ticks, labels, legend,
                 _titles(frame, x_title, y_title, height), frame)  # fmt: skip


def trend_chart(lineage: str, runs: Sequence[dict[str, Any]], limit: int = 40) -> Chart:
    """Accuracy of each model across a lineage's runs, oldest first (history page)."""
    runs = [r for r in reversed(runs) if r["accuracy"]][-limit:]
    models = list(dict.fromkeys(m for r in runs for m in r["accuracy"]))
    series: dict[str, Sequence[float | None]] = {
        m: [_finite(r["accuracy"].get(m)) for r in runs] for m in models
    }
    labels = [str(r.get("version") or ("rejected" if r["verdict"] == "rejected" else
                                       "pytest" if r.get("source") == "pytest" else "not stored"))
              for r in runs]  # fmt: skip
    bad = [r["verdict"] == "rejected" for r in runs]
    return line_chart(series, labels, width=520.0, x_title="runs, oldest first",
                      y_title="accuracy", bad=bad)  # fmt: skip


def _finite(value: Any) -> float | None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if number and math.isfinite(value) else None


def heatmap(names: Sequence[str], matrix: Sequence[Sequence[int]]) -> Chart:
    """Confusion matrix cells shaded by row share: diagonal blue, mistakes red."""
    k = len(matrix)
    cell = max(12.0, min(40.0, 440.0 / max(k, 1)))
    short = [_short(n, 9) for n in names]
    left = 30.0 + max((_text_width(n) for n in short), default=0.0)
    top = 44.0
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
    labels = [{"x": left - 6, "y": round(top + (i + 0.5) * cell + 4, 1), "text": short[i],
               "full": n, "axis": "row"} for i, n in enumerate(names)]  # fmt: skip
    labels += [{"x": round(left + (j + 0.5) * cell, 1), "y": top - 8, "text": short[j],
                "full": n, "axis": "col"} for j, n in enumerate(names)]  # fmt: skip
    width = max(left + k * cell + 10, left + _text_width("predicted class") + 10)
    height = top + k * cell + 10
    titles = [
        {"x": round(left + k * cell / 2, 1), "y": 14, "text": "predicted class", "rotate": False},
        {"x": 12, "y": round(top + k * cell / 2, 1), "text": "true class", "rotate": True},
    ]
    return Chart(width, height, items, [], labels,
                 [{"cell": cell, "left": left, "top": top, "k": k}], titles)  # fmt: skip


def interval_chart(rows: Sequence[Any]) -> Chart:
    """Accuracy per model: point, confidence interval and threshold on one zoomed axis."""
    lows = [v for r in rows for v in (r.lower, r.accuracy, r.threshold) if v is not None]
    lo, hi, step, values = nice_scale(min(lows, default=0.0) - 0.01, 1.0, 5, (0.0, 1.0))
    left, right, width = 150.0, 20.0, 640.0
    row_h = 30.0

    def px(v: float) -> float:
        return left + (width - left - right) * (v - lo) / ((hi - lo) or 1.0)

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
    ticks = [{"x": round(px(v), 1), "text": _tick_text(v, step), "y": bottom} for v in values]
    height = bottom + 38
    frame = {"left": left, "right": width - right, "top": 6.0, "bottom": bottom}
    return Chart(width, height, items, ticks, [], [],
                 _titles(frame, "accuracy on the test split", "", height), frame)  # fmt: skip


def reliability_chart(bins: Sequence[dict[str, Any]], size: float = 240.0) -> Chart:
    """Reliability diagram: accuracy per confidence bin against the diagonal (calibrated)."""
    left, top = 56.0, 10.0
    right, bottom = left + size, top + size
    width, height = right + 16, bottom + 44

    def px(v: float) -> float:
        return left + size * v

    def py(v: float) -> float:
        return bottom - size * v

    items = []
    for b in bins:
        if not b["count"] or b["accuracy"] is None:
            continue
        x0, x1 = px(b["lo"]), px(b["hi"])
        items.append({
            "x": round(x0 + 0.5, 1), "w": round(max(x1 - x0 - 1, 1), 1),
            "y": round(py(b["accuracy"]), 1), "h": round(size * b["accuracy"], 1),
            "cy": round(py(b["confidence"]), 1), **b,
        })  # fmt: skip
    _, _, step, values = nice_scale(0.0, 1.0, 5)
    ticks = [{"y": round(py(v), 1), "x": round(px(v), 1), "text": _tick_text(v, step)}
             for v in values]  # fmt: skip
    frame = {"left": left, "right": right, "top": top, "bottom": bottom}
    return Chart(
        width,
        height,
        items,
        ticks,
        [],
        [],
        _titles(frame, "confidence (top-class probability)", "accuracy", height),
        frame,
    )


def _bin_name(plot: Any, i: int) -> str:
    if plot.edges is None:
        return str(plot.bins[i]) if i < len(plot.bins) else str(i)
    return f"{_fmt_num(plot.edges[i], 3)} to {_fmt_num(plot.edges[i + 1], 3)}"


def histogram_chart(plot: Any, width: float = 330.0, height: float = 210.0) -> Chart:
    """Reference and current shares per bin, overlaid (a drift comparison)."""
    left, right, top = 56.0, width - 16.0, 10.0
    bottom = height - 44.0
    k = max(len(plot.reference), 1)
    peak = max([*plot.reference, *plot.current, 0.0])
    py, ticks = _y_axis(0.0, peak or 1.0, top, bottom, left, right, (0.0, 1.0))
    slot = (right - left) / k
    items = []
    for i, (ref, cur) in enumerate(zip(plot.reference, plot.current, strict=False)):
        x = left + i * slot
        items.append({"x": round(x + 0.5, 1), "w": round(max(slot - 1, 1), 1),
                      "ry": round(py(ref), 1), "rh": round(bottom - py(ref), 1),
                      "cy": round(py(cur), 1), "ch": round(bottom - py(cur), 1),
                      "ref": ref, "cur": cur,
                      "bin": _bin_name(plot, i)})  # fmt: skip
    labels = []
    if plot.edges is not None:
        lo, hi = plot.edges[0], plot.edges[-1]
        _, _, step, values = nice_scale(lo, hi, 4)
        for v in values:
            if lo - 1e-12 <= v <= hi + 1e-12:
                x = left + (right - left) * (v - lo) / ((hi - lo) or 1.0)
                labels.append({"x": round(x, 1), "y": bottom + 16, "text": _tick_text(v, step),
                               "full": str(v)})  # fmt: skip
    else:
        every = max(1, math.ceil(k * CHAR_W * 3 / (right - left)))
        for i in range(0, k, every):
            name = plot.bins[i] if i < len(plot.bins) else str(i)
            labels.append({"x": round(left + (i + 0.5) * slot, 1), "y": bottom + 16,
                           "text": _short(name, max(2, int(slot * every / CHAR_W))),
                           "full": name})  # fmt: skip
    frame = {"left": left, "right": right, "top": top, "bottom": bottom}
    what = plot.what.removeprefix("per-sample ")
    x_title = "class" if plot.edges is None else f"{what} of each sample's values"
    return Chart(
        width,
        height,
        items,
        ticks,
        labels,
        [],
        _titles(frame, _short(x_title, 44), "share of samples", height),
        frame,
    )
