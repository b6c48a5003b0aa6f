"""The report's sections: each turns its input frame into HTML, with its figures and notes.

    fig = Figures(out / FILES_DIR)
    html = forecast_section(forecasts, history, fig)    # likewise leaderboard_section(board, fig), ...

Inputs are the frames ``report.write_report`` checks; each section draws its figures with
``plots`` and writes them through ``fig``.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from . import plots
from .report_html import Figures, fmt, note, table
from .report_series import last_fold, pick_series, series_scores
from .report_tables import best_cells, by_architecture, failed_mask, numeric, residual_frame, sort_leaderboard

__all__ = [
    "ACF_LAGS",
    "MAX_CURVES",
    "STEP_METRICS",
    "attribution_section",
    "backtest_section",
    "coverage_section",
    "curves_section",
    "forecast_section",
    "leaderboard_section",
    "residual_section",
]

STEP_METRICS = ("mase", "smape", "mae")
"""Metrics the error-by-step figure draws, the first present wins."""

ACF_LAGS = 20
MAX_CURVES = 20


def leaderboard_section(lb: pd.DataFrame, fig: Figures) -> str:
    """The sorted leaderboard: a one-line summary, the figure and table by architecture (when
    there is an ``architecture`` column), then every trial (failed ones marked)."""
    board = sort_leaderboard(lb)
    failed = failed_mask(board)
    parts = [f"<p>{html.escape(_leaderboard_summary(board, failed))}</p>"]
    if "architecture" in board.columns and {"val_loss", "train_seconds"} & set(board.columns):
        parts.append(
            fig(
                "leaderboard",
                plots.leaderboard_figure(board, failed.to_numpy()),
                "Validation loss (left) and training time (right) by architecture; "
                "boxes over trials, one dot per trial.",
            )
        )
        parts.append("<h3>By architecture</h3>" + table(by_architecture(board, failed)))
    else:
        parts.append(
            note("No plot: the leaderboard needs an architecture column and val_loss or train_seconds.")
        )
    marks: dict[str, dict[int, str]] = {}
    if "status" in board.columns:
        marks["status"] = {i: "bad" for i in np.flatnonzero(failed.to_numpy())}
    if "val_loss" in board.columns and not failed.iloc[0] and pd.notna(board["val_loss"].iloc[0]):
        marks["trial_id"] = {0: "best"}
    parts.append("<h3>All trials</h3>" + table(board, marks))
    return "\n".join(parts)


def _leaderboard_summary(board: pd.DataFrame, failed: pd.Series) -> str:
    """``N trials, F failed.`` and, with a validation loss, the best trial."""
    summary = f"{len(board)} trials, {int(failed.sum())} failed."
    if "val_loss" in board.columns and numeric(board["val_loss"]).notna().any():
        top = board.iloc[0]
        arch = f" ({top['architecture']})" if "architecture" in board.columns else ""
        summary += f" Best: trial {fmt(top['trial_id'])}{arch}, val_loss {fmt(top['val_loss'])}."
    return summary


def curves_section(curves: pd.DataFrame, fig: Figures) -> str:
    """The training curves of the ``MAX_CURVES`` best trials."""
    ranking, key = plots.rank_trials(curves)
    shown = min(len(ranking), MAX_CURVES)
    kind = "validation" if key == "val_loss" else "training"
    return fig(
        "curves",
        plots.curves_figure(curves, MAX_CURVES),
        f"Training curves of the {shown} best of {len(ranking)} trials (lowest {kind} loss): "
        "validation solid, training dashed, one color per trial.",
    )


def forecast_section(forecasts: pd.DataFrame, history: pd.DataFrame | None, fig: Figures) -> str:
    """The fan chart of the best, median and worst series (each one's last fold of a backtest
    with several), with notes on what is missing."""
    scores, metric = series_scores(forecasts, history)
    ids = pd.unique(forecasts["unique_id"])
    picks = pick_series(scores, ids, metric)
    parts = []
    if metric is None:
        parts.append(note(f"No actuals (y) in the forecasts: showing the first {len(picks)} series."))
    else:
        parts.append(
            note(
                f"{len(ids)} series scored by {metric.upper()} of the forecast mean; "
                "showing the best, median and worst."
            )
        )
    if history is None:
        parts.append(note("No history given: the chart shows the forecast window only."))
    pairs = plots.interval_pairs(list(forecasts.columns))
    if not pairs:
        parts.append(note("No symmetric quantile columns (e.g. q05/q95): no intervals drawn."))
    labels = ", ".join(f"{uid} {label}".strip() for uid, label in picks)
    levels = ", ".join(f"{c * 100:g}%" for c, _, _ in pairs) or "none"
    parts.append(
        fig(
            "forecasts",
            plots.fan_chart(
                last_fold(forecasts), history, [u for u, _ in picks], [label for _, label in picks]
            ),
            f"Forecast mean with shaded intervals ({levels}) after the recent history; series: {labels}.",
        )
    )
    return "\n".join(parts)


def residual_section(forecasts: pd.DataFrame, fig: Figures) -> str:
    """Residual statistics, residuals by step and their ACF, pooled over series (and folds when
    they overlap) with the band +-1.96 / sqrt(n residuals)."""
    res = residual_frame(forecasts)
    r = res["residual"].to_numpy(np.float64)
    ok = np.isfinite(r)
    n = int(ok.sum())
    cuts = np.flatnonzero(np.diff(res["segment"].to_numpy())) + 1  # res is ordered by segment
    segments = np.split(r, cuts) if len(r) else []
    values = plots.pooled_acf(segments, ACF_LAGS)
    defined = np.flatnonzero(np.isfinite(values[1:]))
    max_lag = int(defined[-1]) + 1 if defined.size else 0
    stats = pd.DataFrame(
        {
            "residuals": [n],
            "mean (bias)": [float(r[ok].mean())],
            "std": [float(r[ok].std(ddof=1)) if n > 1 else np.nan],
            "lag-1 ACF": [values[1] if len(values) > 1 else np.nan],
            "band": [1.96 / np.sqrt(n) if n else np.nan],
        }
    )
    return "\n".join(
        [
            table(stats),
            fig(
                "residuals",
                plots.residuals_figure(res),
                "Residuals (actual - forecast mean) by forecast step.",
            ),
            fig(
                "residual_acf",
                plots.acf_figure(values, n),
                f"Residual autocorrelation at lags 1-{max_lag} (of up to {ACF_LAGS}: a lag needs "
                f"stretches longer than it), pooled over {len(segments)} stretch(es) "
                "(series, or series x fold when folds overlap); the band is +-1.96/sqrt(n).",
            ),
        ]
    )


def backtest_section(
    backtest: pd.DataFrame, steps: pd.DataFrame | None = None, fig: Figures | None = None
) -> str:
    """The backtest table with each column's best marked, and the error-by-step figure when
    ``steps`` and ``fig`` are given."""
    frame = backtest
    if not isinstance(frame.index, pd.RangeIndex):  # models as the index: show as a column
        name = str(frame.index.name or "model")
        while name in frame.columns:
            name += "_"
        frame = frame.rename_axis(name).reset_index()
    best = best_cells(frame)
    marks = {col: dict.fromkeys(rows, "best") for col, rows in best.items()}
    parts = [
        table(frame, marks),
        note(
            "Best per column in bold green: lowest error/width/loss, highest accuracy, "
            "coverage_L closest to L%."
        ),
    ]
    if steps is not None and fig is not None:
        parts.append(_steps_section(steps, fig))
    return "\n".join(parts)


def _steps_section(steps: pd.DataFrame, fig: Figures) -> str:
    metric = next(m for m in STEP_METRICS if m in steps.columns)
    models = pd.unique(steps["model"].astype(str))
    return fig(
        "backtest_steps",
        plots.metric_by_step_figure(steps, metric),
        f"{metric.upper()} by forecast step for {len(models)} model(s), averaged over series "
        "and backtest windows: how fast each model's error grows with the horizon.",
    )


def coverage_section(coverage: pd.DataFrame, fig: Figures) -> str:
    """The reliability diagram (coverage in percent drawn as fractions) and the coverage table."""
    cov = coverage.copy()
    value_cols = [c for c in ("nominal", "empirical", "empirical_before", "empirical_after") if c in cov]
    for c in value_cols:
        cov[c] = numeric(cov[c])
    parts = []
    if cov["nominal"].max() > 1.0:  # given in percent: drawn as fractions
        cov[value_cols] = cov[value_cols] / 100.0
        parts.append(note("Coverage was given in percent; drawn as fractions."))
    after = "empirical_after" in cov.columns
    backtest = "empirical" in cov.columns and "empirical_before" not in cov.columns
    what = " in the backtest" if backtest else ""
    what += " before and after calibration" if after else ""
    parts.append(
        fig(
            "reliability",
            plots.reliability_diagram(cov),
            f"Nominal vs empirical interval coverage{what}; points on the diagonal are perfectly calibrated.",
        )
    )
    parts.append(table(coverage))
    return "\n".join(parts)


def attribution_section(attributions: pd.DataFrame, fig: Figures) -> str:
    """The attribution heat map (lag x feature) and the total per feature."""
    a = attributions
    n_series = a["unique_id"].nunique() if "unique_id" in a.columns else 1
    n_steps = a["step"].nunique() if "step" in a.columns else 1
    return "\n".join(
        [
            fig(
                "attribution_heatmap",
                plots.attribution_heatmap(a),
                f"Mean |attribution| by lag and feature over {n_series} series and "
                f"{n_steps} forecast step(s).",
            ),
            fig(
                "attribution_bars",
                plots.attribution_bars(a),
                "Total attribution per feature (mean |attribution| summed over lags).",
            ),
        ]
    )
