"""The backtest's last step: per-origin frames stacked and aggregated into a ``BacktestResult``.

    result = collect(forecasts, scores, history, horizon=4, windows=3, notes=[])
    print(format_summary(result.summary))    # one row per model

``collect`` takes, per model kept (in order), the frames of ``forecast_frames`` and ``scores``
at every origin; the summary follows the M competitions (the mean over series of each series'
mean over windows), with a ``CLIMATOLOGY`` reference row when there are direction probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from foretune.metrics import climatology, direction_accuracy, log_loss

__all__ = ["CLIMATOLOGY", "SUMMARY_PRINT", "BacktestResult", "collect", "format_summary"]

_LEAD_METRICS = ("mase", "smape", "crps_scaled", "crps", "mae", "rmse", "quantile_loss")
_TAIL_METRICS = ("direction_accuracy", "log_loss")
#: The summary row of the climatological direction forecast (see ``_climatology``).
CLIMATOLOGY = "climatology"
SUMMARY_PRINT = (
    "mase",
    "smape",
    "crps_scaled",
    "crps",
    "coverage_90",
    "width_90",
    "direction_accuracy",
    "log_loss",
)
"""Columns ``format_summary`` prints (those present)."""


@dataclass
class BacktestResult:
    """Everything a backtest produced; ``save`` writes it as Parquet (and the summary as CSV).

    - ``forecasts``: one row per (model, window, series, step): ``model, window, unique_id,
      cutoff, step, ds, y``, the forecaster's columns (``mean``, ``std``/``std_mc``, quantiles
      ``q05 ..`` named by ``metrics.quantile_name``, ``p_*``; ``sample_*`` draws are scored but
      not kept),
      ``direction`` / ``direction_pred`` (when labelled) and ``scaled_error``
      (``|y - mean|`` over the series' MASE scale at that origin).
    - ``metrics``: one row per (model, window, series).
    - ``per_series``: one row per (model, series), metrics averaged over windows.
    - ``summary``: one row per model, per-series metrics averaged over series; with direction
      probabilities, a last ``climatology`` row (direction accuracy and log-loss only) of the
      steps' class frequencies on the same points, the reference they must beat.
    - ``coverage``: ``model, level, nominal, empirical`` for every interval level.
    - ``steps``: ``model, step, mase, mae`` (mean over series and windows) per horizon step.
    - ``history``: the validated data (``unique_id, ds, y`` and covariates).
    """

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    per_series: pd.DataFrame
    summary: pd.DataFrame
    coverage: pd.DataFrame
    steps: pd.DataFrame
    history: pd.DataFrame
    horizon: int
    windows: int
    notes: list[str] = field(default_factory=list)

    FILES = {
        "metrics": "backtest.parquet",
        "per_series": "backtest_series.parquet",
        "summary": "backtest_summary.parquet",
        "steps": "backtest_steps.parquet",
        "coverage": "backtest_coverage.parquet",
        "forecasts": "forecasts.parquet",
    }

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write every table under ``out_dir`` (plus ``backtest_summary.csv``); return the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for attr, name in self.FILES.items():
            paths[attr] = out / name
            getattr(self, attr).to_parquet(paths[attr], index=False)
        paths["summary_csv"] = out / "backtest_summary.csv"
        self.summary.to_csv(paths["summary_csv"], index=False)
        return paths


def format_summary(summary: pd.DataFrame, columns: tuple[str, ...] = SUMMARY_PRINT) -> str:
    """The summary as a fixed-width text table (the columns of ``columns`` that exist)."""
    cols = ["model", *[c for c in columns if c in summary.columns]]
    view = summary[cols]
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        return view.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-")


def collect(
    forecasts: Mapping[str, list[pd.DataFrame]],
    scores: Mapping[str, list[pd.DataFrame]],
    history: pd.DataFrame,
    horizon: int,
    windows: int,
    notes: list[str],
) -> BacktestResult:
    """Stack the per-origin frames of the models kept (in order) and aggregate them."""
    kept = list(forecasts)
    all_forecasts = pd.concat([f for n in kept for f in forecasts[n]], ignore_index=True)
    metrics = pd.concat([s for n in kept for s in scores[n]], ignore_index=True)
    metric_cols = _metric_columns(metrics)
    metrics = metrics[["model", "window", "unique_id", "cutoff", "n", *metric_cols, "crps_from"]]
    per_series = _per_series(metrics, metric_cols)
    summary = _summary(metrics, per_series, metric_cols, kept)
    coverage = _coverage(summary, metric_cols, kept)
    reference = _climatology(all_forecasts)
    if reference is not None:
        summary = pd.concat([summary, reference], ignore_index=True)
    return BacktestResult(
        forecasts=all_forecasts,
        metrics=metrics,
        per_series=per_series,
        summary=summary,
        coverage=coverage,
        steps=_steps(all_forecasts, kept),
        history=history,
        horizon=horizon,
        windows=windows,
        notes=notes,
    )


def _climatology(forecasts: pd.DataFrame) -> pd.DataFrame | None:
    """The summary row of the climatological direction forecast (``CLIMATOLOGY``), or None
    without direction probabilities: at each step, the class frequencies of the scored points
    themselves, the same for every series. An oracle reference (it knows the frequencies it is
    scored on) that direction probabilities must beat; aggregated like a model's scores."""
    with_probs = forecasts.dropna(subset=["p_up"]) if "p_up" in forecasts.columns else forecasts.iloc[:0]
    if "direction" not in forecasts.columns or with_probs.empty:
        return None
    rows = with_probs[with_probs["model"] == with_probs["model"].iloc[0]]  # every model: same points
    labels = rows["direction"].to_numpy(np.float64)
    probs = np.empty((len(rows), 3))
    for at in rows.groupby("step").indices.values():
        probs[at] = climatology(labels[at])
    scores = {"direction_accuracy": [], "log_loss": []}
    for at in rows.groupby("unique_id", sort=False).indices.values():  # per series, then mean
        scores["direction_accuracy"].append(direction_accuracy(labels[at], probs[at]))
        scores["log_loss"].append(log_loss(labels[at], probs[at]))
    row = {"model": CLIMATOLOGY, **{k: float(np.nanmean(v)) for k, v in scores.items()}}
    row["n_series"] = len(scores["log_loss"])
    row["n_windows"] = int(rows["window"].nunique())
    row["n_points"] = int(np.isfinite(labels).sum())
    return pd.DataFrame([row])


def _metric_columns(frame: pd.DataFrame) -> list[str]:
    skip = {"model", "window", "unique_id", "cutoff", "n", "windows", "crps_from", "held_out"}
    cols = [c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])]
    lead = [c for c in _LEAD_METRICS if c in cols]
    tail = [c for c in _TAIL_METRICS if c in cols]
    intervals = sorted(
        (c for c in cols if c.startswith(("coverage_", "width_"))),
        key=lambda c: (float(c.split("_", 1)[1]), c.startswith("width_")),
    )
    rest = [c for c in cols if c not in lead + tail + intervals]
    return lead + intervals + tail + rest


def _per_series(metrics: pd.DataFrame, metric_cols: list[str]) -> pd.DataFrame:
    g = metrics.groupby(["model", "unique_id"], sort=False)
    out = g[metric_cols].mean()
    out.insert(0, "n", g["n"].sum())
    out.insert(0, "windows", g["window"].nunique())
    return out.reset_index()


def _summary(
    metrics: pd.DataFrame, per_series: pd.DataFrame, metric_cols: list[str], order: list[str]
) -> pd.DataFrame:
    # the M competitions' aggregation: the mean over series of each series' mean over windows
    g = per_series.groupby("model", sort=False)
    out = g[metric_cols].mean()
    out["crps_from"] = metrics.groupby("model", sort=False)["crps_from"].first()
    out["n_series"] = g["unique_id"].nunique()
    out["n_windows"] = metrics.groupby("model", sort=False)["window"].nunique()
    out["n_points"] = g["n"].sum()
    if "mase" in per_series.columns:
        out["mase_n_undefined"] = g["mase"].apply(lambda s: int(s.isna().sum()))
    return out.loc[order].reset_index()


def _coverage(summary: pd.DataFrame, metric_cols: list[str], order: list[str]) -> pd.DataFrame:
    rows = []
    for col in metric_cols:
        if not col.startswith("coverage_"):
            continue
        level = float(col.split("_", 1)[1])
        for model, value in zip(summary["model"], summary[col], strict=True):
            if np.isfinite(value):
                rows.append({"model": model, "level": level, "nominal": level / 100.0, "empirical": value})
    columns = ["model", "level", "nominal", "empirical"]
    return (
        pd.DataFrame(rows, columns=columns)
        .sort_values(["model", "level"], key=lambda s: s.map(order.index) if s.name == "model" else s)
        .reset_index(drop=True)
    )


def _steps(forecasts: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    f = forecasts.assign(abs_error=(forecasts["y"] - forecasts["mean"]).abs())
    g = f.groupby(["model", "step"], sort=False)
    out = pd.DataFrame({"mase": g["scaled_error"].mean(), "mae": g["abs_error"].mean()})
    out = out.reset_index()
    out["_order"] = out["model"].map(order.index)
    return out.sort_values(["_order", "step"]).drop(columns="_order").reset_index(drop=True)
