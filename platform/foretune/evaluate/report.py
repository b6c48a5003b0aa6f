"""One self-contained HTML report of a run: leaderboard, curves, forecasts, backtest, calibration.

    write_report("out/", leaderboard=board, curves=curves, history=history, forecasts=fc,
                 backtest=summary, coverage=coverage, backtest_steps=steps)

writes ``out/report.html`` and its figures as ``out/report_files/<name>.png``. Every input is
optional: a section appears only when its input is given and non-empty, and the page lists the
sections left out with the reason. Images are embedded as base64 data URIs, so the page alone is
complete (it can be mailed or attached to a CI run); no server, no JavaScript. ``run_tables``
reads a run directory's leaderboard and curves; the helpers (``sort_leaderboard``,
``series_scores``, ``pick_series``, ``residual_frame``, ``best_cells``) are public for reuse.

The page is put together here from ``report_sections`` (one function per section),
``report_tables`` and ``report_series`` (the frames shown, the series charted) and
``report_html`` (cells, tables, figures, the page).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from foretune.errors import DataError
from foretune.rundir import RunDir
from foretune.storage import read_parquet

from .report_html import FIGURE_NAMES, FILES_DIR, Figures, Section, page
from .report_sections import (
    STEP_METRICS,
    attribution_section,
    backtest_section,
    coverage_section,
    curves_section,
    forecast_section,
    leaderboard_section,
    residual_section,
)
from .report_series import pick_series, series_scores
from .report_tables import best_cells, numeric, residual_frame, sort_leaderboard

__all__ = [
    "FIGURE_NAMES",
    "FILES_DIR",
    "REQUIRED",
    "best_cells",
    "pick_series",
    "residual_frame",
    "run_tables",
    "series_scores",
    "sort_leaderboard",
    "write_report",
]

REQUIRED: dict[str, tuple[str, ...]] = {
    "leaderboard": ("trial_id",),
    "curves": ("trial_id", "epoch"),
    "history": ("unique_id", "ds", "y"),
    "forecasts": ("unique_id", "ds", "mean"),
    "backtest": (),
    "backtest_steps": ("model", "step"),
    "coverage": ("nominal",),
    "attributions": ("lag", "feature", "attribution"),
}
"""Columns each input must have (``curves`` also needs ``train_loss`` or ``val_loss``,
``coverage`` one of ``empirical_before`` or ``empirical``, ``backtest_steps`` a metric column)."""


def run_tables(run: RunDir) -> dict[str, pd.DataFrame | None]:
    """A run directory's ``leaderboard`` and training ``curves`` (None where absent), as
    ``write_report`` takes them."""
    return {
        "leaderboard": read_parquet(run.leaderboard) if run.leaderboard.is_file() else None,
        "curves": read_parquet(run.curves) if run.curves.is_file() else None,
    }


def _check(name: str, frame: Any) -> pd.DataFrame | None:
    if frame is None:
        return None
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED[name] if c not in frame.columns]
    if missing:
        raise DataError(
            f"{name} lacks columns {missing}; it needs {list(REQUIRED[name])}, "
            f"got {[str(c) for c in frame.columns]}"
        )
    if name == "curves" and not {"train_loss", "val_loss"} & set(frame.columns):
        raise DataError("curves needs a train_loss or val_loss column")
    if name == "coverage" and not {"empirical_before", "empirical"} & set(frame.columns):
        raise DataError("coverage needs an empirical_before or empirical column")
    if name == "backtest_steps" and not set(STEP_METRICS) & set(frame.columns):
        raise DataError(f"backtest_steps needs one of the columns {list(STEP_METRICS)}")
    return frame


def _why_missing(name: str, frame: pd.DataFrame | None) -> str | None:
    if frame is None:
        return f"no {name} given"
    if frame.empty:
        return f"{name} is empty"
    return None


def write_report(
    out_dir: str | Path,
    *,
    leaderboard: pd.DataFrame | None = None,
    curves: pd.DataFrame | None = None,
    history: pd.DataFrame | None = None,
    forecasts: pd.DataFrame | None = None,
    backtest: pd.DataFrame | None = None,
    coverage: pd.DataFrame | None = None,
    attributions: pd.DataFrame | None = None,
    title: str = "foretune report",
    backtest_steps: pd.DataFrame | None = None,
) -> Path:
    """Write ``out_dir/report.html`` (self-contained) and its PNGs; return the HTML's path.

    Sections, each shown only when its input is given: Leaderboard (``leaderboard``), Training
    curves (``curves``), Forecasts (``forecasts``, with ``history``), Residuals (``forecasts``
    with a ``y`` column), Backtest (``backtest``, with an error-by-step figure when
    ``backtest_steps`` is also given), Calibration (``coverage``), Attributions
    (``attributions``). Required columns are in ``REQUIRED``; a frame lacking one raises
    ``DataError`` before anything is written.

    - Forecasts are scored per series by MASE of ``mean`` (sMAPE without ``history``); the chart
      shows the best, median and worst series (the first three without actuals).
    - ``coverage`` has ``nominal`` and ``empirical_before`` (optionally ``empirical_after``:
      a calibration's effect) or ``empirical`` (a backtest's; with ``model``, one line per
      model); coverage given in percent (``nominal`` above 1) is drawn as fractions.
    - ``backtest_steps`` (``model, step`` and a metric) is drawn with the first of ``mase``,
      ``smape``, ``mae`` present; the backtest table marks each column's best (``best_cells``).
    """
    frames = _checked(
        {
            "leaderboard": leaderboard,
            "curves": curves,
            "history": history,
            "forecasts": forecasts,
            "backtest": backtest,
            "backtest_steps": backtest_steps,
            "coverage": coverage,
            "attributions": attributions,
        }
    )
    out = Path(out_dir)
    fig = Figures(_fresh_figure_dir(out / FILES_DIR))
    path = out / "report.html"
    path.write_text(page(title, _sections(frames, fig)), encoding="utf-8")
    return path


def _checked(inputs: dict[str, Any]) -> dict[str, pd.DataFrame | None]:
    """Every input checked (``_check``) before anything is written."""
    return {name: _check(name, frame) for name, frame in inputs.items()}


def _fresh_figure_dir(files: Path) -> Path:
    """``files``, created, without the PNGs an earlier report left there."""
    files.mkdir(parents=True, exist_ok=True)
    for name in FIGURE_NAMES:
        (files / f"{name}.png").unlink(missing_ok=True)
    return files


def _sections(frames: dict[str, pd.DataFrame | None], fig: Figures) -> list[Section]:
    """Every section in page order: its body, or why it is left out."""
    hist = _non_empty(frames["history"])
    steps = _non_empty(frames["backtest_steps"])
    fc = frames["forecasts"]
    has_actuals = fc is not None and "y" in fc.columns and numeric(fc["y"]).notna().any()
    specs: list[tuple[str, str, str, Callable[[pd.DataFrame], str]]] = [
        ("leaderboard", "Leaderboard", "leaderboard", lambda f: leaderboard_section(f, fig)),
        ("curves", "Training curves", "curves", lambda f: curves_section(f, fig)),
        ("forecasts", "Forecasts", "forecasts", lambda f: forecast_section(f, hist, fig)),
        ("residuals", "Residuals", "forecasts", lambda f: residual_section(f, fig)),
        ("backtest", "Backtest", "backtest", lambda f: backtest_section(f, steps, fig)),
        ("calibration", "Calibration", "coverage", lambda f: coverage_section(f, fig)),
        ("attributions", "Attributions", "attributions", lambda f: attribution_section(f, fig)),
    ]
    sections = []
    for key, heading, source, build in specs:
        frame = frames[source]
        why = _why_missing(source, frame)
        if why is None and key == "residuals" and not has_actuals:
            why = "forecasts have no actuals (y column), so there are no residuals"
        if why is None:
            sections.append(Section(key, heading, body=build(frame)))
        else:
            sections.append(Section(key, heading, missing=why))
    return sections


def _non_empty(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if frame is None or frame.empty else frame
