"""Rolling-origin backtest of forecasters against actuals, in three stages.

    result = backtest({"drift": my_forecaster, **baseline_forecasters()}, data, horizon=4, windows=3)
    result.save("out/")                      # backtest*.parquet, forecasts.parquet, summary CSV
    print(format_summary(result.summary))    # one row per model
    write_backtest_report(result, "out/", run_dir="RUN")

``rolling_origins`` cuts the data into origins (history + actuals per window), every
forecaster predicts from each origin, and each forecast is scored with
``metrics.evaluate_forecasts``; ``backtest`` runs the three stages and aggregates the scores.
Forecasters are anything ``forecasters.as_forecaster`` accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foretune.console import progress
from foretune.data import SeriesFrame, read_frame, season_lengths, validate
from foretune.errors import ConfigError, DataError
from foretune.metrics import (
    climatology,
    direction_accuracy,
    direction_hits,
    evaluate_forecasts,
    log_loss,
    quantile_level,
    series_mase_scales,
)
from foretune.rundir import RunDir
from foretune.timings import stage

from .forecasters import DirectionFn, Forecaster, as_forecaster, required_history
from .report import run_tables, write_report

__all__ = [
    "BacktestResult",
    "Origin",
    "backtest",
    "format_summary",
    "rolling_origins",
    "write_backtest_report",
]

Log = Callable[[str], None] | None

_DIRECTION_COLS = ("p_down", "p_flat", "p_up")
_OTHER_VALUE_COL = re.compile(r"^(mean|std|std_mc|sample_\d+|p_down|p_flat|p_up)$")
_SAMPLE_COL = re.compile(r"^sample_\d+$")
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


# -------------------------------------------------------------------------------------- backtest
def backtest(
    forecasters: Mapping[str, Any],
    data: pd.DataFrame | str | Path | None,
    horizon: int,
    windows: int = 3,
    *,
    season: int | None = None,
    direction: DirectionFn | None = None,
    optional: Collection[str] = (),
    log: Log = print,
) -> BacktestResult:
    """Rolling-origin backtest of ``forecasters`` (name -> forecaster) on ``data``.

    ``data`` is a long (or wide) frame or Parquet path, as ``read_frame`` takes.

    - Windows: ``windows`` non-overlapping windows of ``horizon`` steps cover each series' last
      ``windows * horizon`` observations (see ``rolling_origins``); each is forecast from
      everything before it, so every observation is forecast once.
    - Length: every series needs ``windows * horizon`` observations plus the history the most
      demanding forecaster needs before its first origin (its ``min_history``, at least 2);
      otherwise ``DataError`` names the series and the length needed.
    - Scores: per (model, window, series) by ``metrics.evaluate_forecasts``, MASE scaled by the
      history before the origin with a seasonal difference (``season``, default each series'
      ``season_length`` of its frequency). ``per_series`` averages over windows, ``summary``
      averages the per-series values over series (NaN skipped), as the M competitions do.
    - CRPS: from ``sample_*`` columns, else Gaussian from ``mean``/``std``, else twice the mean
      pinball loss over the quantile columns, else (a point forecast) the MAE; the summary's
      ``crps_from`` says which. ``crps`` and interval widths are in data units (compare models,
      not series); ``crps_scaled`` divides by the MASE scale, so it equals MASE for a point
      forecast and is comparable across series.
    - Direction: with a ``direction`` labeller (``forecasters.transform_direction``), actual
      labels compare ``y[t+h]`` with the last observed ``y[t]``; forecasters with ``p_down,
      p_flat, p_up`` get ``direction_accuracy`` (argmax) and ``log_loss``, point forecasters the
      ``direction_accuracy`` of their mean path labelled the same way.
    - Failures: a forecaster named in ``optional`` that raises is left out of the whole
      backtest with a note (in ``notes`` and through ``log``); any other error propagates.
    """
    horizon, windows = _positive("horizon", horizon), _positive("windows", windows)
    if not forecasters:
        raise ConfigError("no forecasters to backtest")
    models = {str(name): as_forecaster(f) for name, f in forecasters.items()}
    series = _series(data)
    seasons = season_lengths(series.freqs, season)
    _check_lengths(series, models, seasons, horizon, windows, optional)
    # per model, in the caller's order; a dropped optional model leaves these dicts entirely
    forecasts: dict[str, list[pd.DataFrame]] = {name: [] for name in models}
    scores: dict[str, list[pd.DataFrame]] = {name: [] for name in models}
    notes: list[str] = []
    origins = rolling_origins(series.frame, horizon, windows, seasons, direction)
    for origin in progress(origins, desc="backtest", unit="origin", total=windows):
        for name in list(forecasts):
            try:
                with stage(name):
                    raw = models[name].predict(origin.history.copy(), horizon=horizon)
            except Exception as err:
                if name not in optional:
                    raise
                del forecasts[name], scores[name]
                notes.append(_note_dropped(name, origin, err, log))
                continue
            with stage("scoring"):
                fc = _forecast_frame(name, raw, origin, direction)
                forecasts[name].append(fc[[c for c in fc.columns if not _SAMPLE_COL.match(str(c))]])
                scores[name].append(_score(name, fc, origin, seasons, direction is not None))
    with stage("aggregate"):
        return _collect(forecasts, scores, series.frame, horizon, windows, notes)


def _positive(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value}")
    return int(value)


def _series(data: pd.DataFrame | str | Path | None) -> SeriesFrame:
    # "none": the backtest itself needs no particular domain; a forecaster checks its own.
    return validate(read_frame(data), transform="none", min_length=3)


def _check_lengths(
    series: SeriesFrame,
    forecasters: Mapping[str, Forecaster],
    seasons: Mapping[str, int],
    horizon: int,
    windows: int,
    optional: Collection[str],
) -> None:
    sizes = series.frame.groupby("unique_id", sort=False).size()
    short = []
    for uid, n in sizes.items():
        # optional models decide for themselves what is too short (and are dropped if so)
        needs = {name: required_history(f, seasons[uid]) for name, f in forecasters.items()}
        needs = {k: v for k, v in needs.items() if k not in optional}
        who, need = max(needs.items(), key=lambda kv: kv[1], default=("", 2))
        need = max(need, 2)
        if n < windows * horizon + need:
            short.append((uid, int(n), need, who))
    if short:
        uid, n, need, who = short[0]
        more = f" ({len(short) - 1} more series too short)" if len(short) > 1 else ""
        why = f" (for {who})" if who else ""
        raise DataError(
            f"series {uid!r} has {n} observations, too few for a backtest with {windows} "
            f"window(s) of horizon {horizon}: it needs at least {windows} x {horizon} + {need} = "
            f"{windows * horizon + need} ({need} observations of history before the first "
            f"origin{why}){more}. Use fewer windows or a shorter horizon, or drop the series"
        )


def _note_dropped(name: str, origin: Origin, err: Exception, log: Log) -> str:
    note = f"{name} left out: it failed at window {origin.window} ({type(err).__name__}: {err})"
    if log:
        log(f"note: {note}")
    return note


# --------------------------------------------------------------------------------------- origins
@dataclass(frozen=True)
class Origin:
    """One rolling-origin cut of every series: what a forecaster sees and what it is scored on.

    ``history`` holds all columns up to each series' cutoff; ``actuals`` is ``unique_id,
    cutoff, ds, step, y`` (and ``direction`` labels when a labeller is given) for the next
    ``horizon`` steps; ``inverse_scale`` is one over each series' MASE scale on ``history``.
    """

    window: int
    horizon: int
    history: pd.DataFrame
    actuals: pd.DataFrame
    cutoffs: pd.Series
    history_y: dict[str, np.ndarray]
    inverse_scale: dict[str, float]


def rolling_origins(
    frame: pd.DataFrame,
    horizon: int,
    windows: int,
    seasons: Mapping[str, int],
    direction: DirectionFn | None = None,
) -> Iterator[Origin]:
    """The ``windows`` origins of a validated long ``frame``, oldest first.

    Window ``w = 1..K`` of a series of length ``n`` forecasts its observations
    ``n - (K-w+1)H .. n - (K-w)H - 1`` from everything before them. Origins count from each
    series' own end, so series ending on different dates are fine; ``cutoff`` is each series'
    last history time stamp. ``seasons`` (``unique_id -> season``) sets the MASE scale.
    """
    groups = frame.groupby("unique_id", sort=False)
    pos = groups.cumcount().to_numpy()
    size = groups["y"].transform("size").to_numpy()
    for w in range(1, windows + 1):
        cut = size - (windows - w + 1) * horizon
        history = frame[pos < cut].reset_index(drop=True)
        inside = (pos >= cut) & (pos < cut + horizon)
        actuals = frame.loc[inside, ["unique_id", "ds", "y"]].reset_index(drop=True)
        actuals.insert(2, "step", (pos - cut + 1)[inside])
        cutoffs = history.groupby("unique_id", sort=False)["ds"].last()
        actuals.insert(1, "cutoff", actuals["unique_id"].map(cutoffs))
        y = history["y"].to_numpy(np.float64)
        hist_y = {uid: y[idx] for uid, idx in history.groupby("unique_id", sort=False).indices.items()}
        if direction is not None:
            actuals["direction"] = _labels(direction, actuals, "y", hist_y)
        yield Origin(
            window=w,
            horizon=horizon,
            history=history,
            actuals=actuals,
            cutoffs=cutoffs,
            history_y=hist_y,
            inverse_scale={uid: 1.0 / scale for uid, scale in series_mase_scales(history, seasons).items()},
        )


# -------------------------------------------------------------------------------------- forecast
def _forecast_frame(
    name: str, raw: pd.DataFrame, origin: Origin, direction: DirectionFn | None
) -> pd.DataFrame:
    """A forecaster's output on the origin's actuals: ``model, window``, the actuals, its value
    columns, ``direction_pred`` (with a labeller) and ``scaled_error``."""
    fc = _align(name, raw, origin.actuals, origin.window, origin.horizon)
    extra = {}
    if direction is not None:
        extra["direction_pred"] = _direction_pred(fc, direction, origin.history_y)
    scale = fc["unique_id"].map(origin.inverse_scale)
    extra["scaled_error"] = (fc["y"] - fc["mean"]).abs() * scale
    return pd.concat(
        [
            pd.DataFrame({"model": name, "window": origin.window}, index=fc.index),
            fc,
            pd.DataFrame(extra, index=fc.index),
        ],
        axis=1,
    )


def _align(name: str, raw: pd.DataFrame, actuals: pd.DataFrame, window: int, horizon: int) -> pd.DataFrame:
    """Join a forecaster's output onto the window's actuals; raise if rows are missing."""
    # output breaking the forecaster contract is a bug in that forecaster: it keeps a traceback
    if not isinstance(raw, pd.DataFrame):
        raise TypeError(f"forecaster {name!r} returned {type(raw).__name__}, not a DataFrame")
    missing = {"unique_id", "ds", "mean"} - set(raw.columns)
    if missing:
        raise ValueError(
            f"forecaster {name!r} returned a frame without columns {sorted(missing)} "
            f"(got {[str(c) for c in raw.columns]})"
        )
    values = [c for c in raw.columns if _is_value(c)]
    fc = pd.concat(
        [
            pd.DataFrame({"unique_id": raw["unique_id"].astype(str), "ds": raw["ds"]}),
            raw[values].apply(pd.to_numeric, errors="coerce").astype("float64"),
        ],
        axis=1,
    )
    if pd.api.types.is_datetime64_any_dtype(actuals["ds"]):
        fc["ds"] = pd.to_datetime(fc["ds"]).astype(actuals["ds"].dtype)
    if fc.duplicated(["unique_id", "ds"]).any():
        row = fc[fc.duplicated(["unique_id", "ds"])].iloc[0]
        raise ValueError(
            f"forecaster {name!r} returned several rows for series {row['unique_id']!r} at "
            f"{row['ds']} (window {window})"
        )
    merged = actuals.merge(fc, on=["unique_id", "ds"], how="left", indicator=True)
    lost = merged[merged["_merge"] == "left_only"]
    if not lost.empty:
        uid, ds = lost["unique_id"].iloc[0], lost["ds"].iloc[0]
        got = fc.loc[fc["unique_id"] == uid, "ds"].tolist()
        raise ValueError(
            f"forecaster {name!r} gave no forecast for series {uid!r} at {ds} (window {window}); "
            f"it must continue each series' dates for horizon={horizon} steps, got {got[:6]}"
        )
    return merged.drop(columns="_merge")


def _direction_pred(fc: pd.DataFrame, direction: DirectionFn, hist_y: Mapping[str, np.ndarray]) -> np.ndarray:
    """Predicted labels: argmax of ``p_*`` if given, else the labels of the mean path."""
    if all(c in fc.columns for c in _DIRECTION_COLS):
        p = fc[list(_DIRECTION_COLS)].to_numpy(np.float64)
        out = np.argmax(p, axis=1).astype(np.float64)
        out[np.isnan(p).any(axis=1)] = np.nan
        return out
    return _labels(direction, fc, "mean", hist_y)


def _labels(
    direction: DirectionFn, frame: pd.DataFrame, column: str, hist_y: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Direction labels of each series' path ``column`` (rows ordered by ``step``), per row of
    ``frame``; all series at once through ``direction.panel`` when every path is as long."""
    values = frame[column].to_numpy(np.float64)
    steps = frame["step"].to_numpy()
    out = np.full(len(frame), np.nan)
    codes, ids = pd.factorize(frame["unique_id"])
    sizes = np.bincount(codes[codes >= 0])
    panel = getattr(direction, "panel", None)
    if panel is not None and len(sizes) and (codes >= 0).all() and (sizes == sizes[0]).all():
        order = np.lexsort((steps, codes)).reshape(len(ids), sizes[0])  # one row per series
        out[order] = panel(list(ids), hist_y, values[order])
        return out
    for uid, idx in frame.groupby("unique_id", sort=False).indices.items():
        order = idx[np.argsort(steps[idx])]
        out[order] = direction(uid, hist_y[uid], values[order])
    return out


# --------------------------------------------------------------------------------------- scoring
def _is_value(column: object) -> bool:
    """A forecast's value column: ``mean``, ``std``, ``std_mc``, a quantile, a draw or a ``p_*``."""
    return bool(_OTHER_VALUE_COL.match(str(column))) or quantile_level(str(column)) is not None


def _crps_from(columns: Collection[str]) -> str:
    if any(_SAMPLE_COL.match(str(c)) for c in columns):
        return "samples"
    if "std" in columns:
        return "gaussian"
    if any(quantile_level(c) is not None for c in columns):
        return "quantiles"
    return "point"


def _score(
    name: str, fc: pd.DataFrame, origin: Origin, seasons: Mapping[str, int], has_direction: bool
) -> pd.DataFrame:
    """Per-series metrics of one model's forecasts at one origin: ``model, window, cutoff``, the
    ``evaluate_forecasts`` columns, ``crps``/``crps_scaled``, extra intervals, ``crps_from``."""
    value_cols = [c for c in fc.columns if _is_value(c)]
    probabilistic = all(c in fc.columns for c in _DIRECTION_COLS)
    cols = ["unique_id", "ds", "y", *value_cols]
    if has_direction and probabilistic:
        cols.append("direction")
    history = origin.history[["unique_id", "ds", "y"]]
    per_series, _ = evaluate_forecasts(fc[cols], history, season=seasons)
    method = _crps_from(value_cols)
    # the quantile approximation of the CRPS integral (coarse with few levels); a point
    # forecast's predictive distribution is a point mass, whose CRPS is the absolute error
    if method == "quantiles":
        per_series["crps"] = 2.0 * per_series["quantile_loss"]
    elif method == "point":
        per_series["crps"] = per_series["mae"]
    per_series["crps_scaled"] = per_series["crps"] * per_series["unique_id"].map(origin.inverse_scale)
    if has_direction and not probabilistic:  # the predicted labels as one-hot probabilities
        pred = fc["direction_pred"].to_numpy(np.float64)
        onehot = np.full((len(fc), 3), np.nan)
        ok = ~np.isnan(pred)
        onehot[ok] = np.eye(3)[pred[ok].astype(int)]
        hits = pd.Series(direction_hits(fc["direction"].to_numpy(np.float64), onehot))
        acc = hits.groupby(fc["unique_id"].to_numpy(), sort=False).mean()  # NaN skipped, as _mean
        per_series["direction_accuracy"] = per_series["unique_id"].map(acc)
    per_series.insert(0, "cutoff", per_series["unique_id"].map(origin.cutoffs))
    per_series.insert(0, "window", origin.window)
    per_series.insert(0, "model", name)
    per_series["crps_from"] = _crps_from(fc.columns)
    return per_series


# ----------------------------------------------------------------------------------- aggregation
def _collect(
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


# ------------------------------------------------------------------------------- output, report
def format_summary(summary: pd.DataFrame, columns: tuple[str, ...] = SUMMARY_PRINT) -> str:
    """The summary as a fixed-width text table (the columns of ``columns`` that exist)."""
    cols = ["model", *[c for c in columns if c in summary.columns]]
    view = summary[cols]
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        return view.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-")


def write_backtest_report(
    result: BacktestResult,
    out_dir: str | Path,
    *,
    run_dir: str | Path | None = None,
    main_model: str = "ensemble",
    title: str = "foretune backtest",
) -> Path:
    """Write ``out_dir/report.html`` for a backtest; return its path.

    Fan charts, residuals and ACF show ``main_model`` (the first model if absent); the backtest
    table is the summary; the reliability diagram has every model with intervals; the sweep's
    leaderboard and training curves are added when ``run_dir`` (a run directory) holds them.
    """
    models = list(result.summary["model"])
    main = main_model if main_model in models else models[0]
    fc = result.forecasts[result.forecasts["model"] == main].drop(columns="model")
    fc = fc.dropna(axis=1, how="all")
    table = result.summary.drop(columns=[c for c in ("mase_n_undefined",) if c in result.summary])
    run = run_tables(RunDir(run_dir)) if run_dir is not None else {}
    return write_report(
        out_dir,
        **run,
        history=result.history[["unique_id", "ds", "y"]],
        forecasts=fc,
        backtest=table,
        coverage=result.coverage if not result.coverage.empty else None,
        backtest_steps=result.steps,
        title=f"{title}: {main}, {result.windows} window(s) x horizon {result.horizon}",
    )
