"""Rolling-origin backtest of forecasters against actuals, and the ``foretune evaluate`` command.

``backtest(forecasters, data, horizon, windows)`` is a pure function of its inputs: it cuts each
series at ``K = windows`` origins, asks every forecaster for ``horizon`` steps from each, and
scores the forecasts with ``metrics.evaluate_forecasts``. ``evaluate_command`` (what the CLI's
``evaluate`` calls) and ``run_report`` (what ``pipeline.run`` calls) load a saved ensemble,
backtest it with its members and the baselines, and write tables and the HTML report.

Choices:
- Origins: non-overlapping windows covering each series' last ``K * horizon`` observations.
  Window ``w = 1..K`` (oldest first) forecasts observations ``n - (K-w+1)H .. n - (K-w)H - 1``
  of a series of length ``n`` from everything before them, so every observation is forecast
  once and each window's scores are independent of the others' actuals. Origins are per series
  (counted from each series' own end), so series ending on different dates are fine;
  ``cutoff`` is the last history time stamp of each (series, window).
- Length: every series needs ``K * horizon`` plus the history the most demanding forecaster
  needs (``min_history``, e.g. an ensemble's longest window + 1, seasonal naive one season; at
  least 2); otherwise ``DataError`` names the series and the length needed.
- Scores: per (model, window, series) from ``evaluate_forecasts`` with the history before the
  origin as MASE's in-sample data (seasonal scale, season from the frequency). Per series:
  the mean over windows. Summary per model: the mean of the per-series values over series (NaN
  skipped), as the M competitions average per-series sMAPE and MASE.
- CRPS: from ``sample_*`` columns when the forecaster returns them, else Gaussian from
  ``mean``/``std``, else ``2 x`` the mean pinball loss over the quantile columns (the quantile
  approximation of the CRPS integral, coarse with few levels), else -- a point forecast, whose
  predictive distribution is a point mass -- the MAE. ``crps_from`` in the summary says which.
  ``crps`` is in data units, so its mean over series weighs large-valued series most;
  ``crps_scaled`` divides each series' CRPS by its MASE scale (the in-sample seasonal-naive MAE
  at that origin), which makes it comparable across series and equal to MASE for a point
  forecast. Interval widths are in data units too (compare them between models, not series).
  A calibrated ``Ensemble``'s draws are those of its raw mixture (conformal calibration moves
  only the interval bounds), so its sample CRPS equals ``ensemble_uncalibrated``'s; the
  calibration shows in ``coverage_*``, ``width_*`` and ``quantile_loss``.
- Direction: with a ``direction`` labeller (``forecasters.transform_direction`` of the
  ensemble's transform: the flat band the models were trained on), actual labels compare
  ``y[t+h]`` with the last observed ``y[t]``. Probabilistic forecasters (``p_down, p_flat,
  p_up``) get ``direction_accuracy`` (argmax) and ``log_loss``; point forecasters get
  ``direction_accuracy`` of their mean path labelled the same way (naive always says "flat").
- Forecasters named in ``optional`` (the statsforecast models) that raise are dropped from the
  whole backtest with a printed note; any other forecaster's error propagates.

``evaluate_command`` is the one place in ``foretune.evaluate`` that imports
``foretune.ensemble`` (lazily, inside the function): it is the CLI's orchestration, and keeps
the rest of this package free of it, as the design's one-way flow asks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foretune.data import DataError, SeriesFrame, read_frame, season_length, split_lengths, validate

from .forecasters import (
    DirectionFn,
    as_forecaster,
    baseline_forecasters,
    ensemble_forecasters,
    required_history,
    transform_direction,
)
from .metrics import (
    coverage,
    direction_accuracy,
    evaluate_forecasts,
    interval_width,
    mase_scale,
)

__all__ = [
    "BacktestResult",
    "backtest",
    "evaluate_command",
    "format_summary",
    "run_report",
    "write_backtest_report",
]

Log = Callable[[str], None] | None

_DIRECTION_COLS = ("p_down", "p_flat", "p_up")
_VALUE_COL = re.compile(r"^(mean|std|q\d+(\.\d+)?|(lo|hi)_\d+(\.\d+)?|sample_\d+|p_down|p_flat|p_up)$")
_LOWER_COL = re.compile(r"^lo_(\d+(?:\.\d+)?)$")
_QUANTILE_COL = re.compile(r"^q\d+(\.\d+)?$")
_SAMPLE_COL = re.compile(r"^sample_\d+$")
_LEAD_METRICS = ("mase", "smape", "crps_scaled", "crps", "mae", "rmse", "quantile_loss")
_TAIL_METRICS = ("direction_accuracy", "log_loss")
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
      cutoff, step, ds, y``, the forecaster's columns (``mean``, ``std``, ``q..``, ``lo_<L>``,
      ``hi_<L>``, ``p_*``; ``sample_*`` draws are scored but not kept),
      ``direction`` / ``direction_pred`` (when labelled) and ``scaled_error``
      (``|y - mean|`` over the series' MASE scale at that origin).
    - ``metrics``: one row per (model, window, series).
    - ``per_series``: one row per (model, series), metrics averaged over windows.
    - ``summary``: one row per model, per-series metrics averaged over series.
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


# ------------------------------------------------------------------------------------- backtest
def _series(data: pd.DataFrame | str | Path | None) -> SeriesFrame:
    # "none": the backtest itself needs no particular domain; a forecaster checks its own.
    return validate(read_frame(data), transform="none", min_length=3)


def _check_lengths(
    series: SeriesFrame,
    forecasters: Mapping[str, Any],
    seasons: Mapping[str, int],
    horizon: int,
    windows: int,
    optional: Collection[str],
) -> None:
    sizes = series.frame.groupby("unique_id", sort=False).size()
    short = []
    for uid, n in sizes.items():
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


def _align(name: str, raw: pd.DataFrame, actuals: pd.DataFrame, window: int, horizon: int) -> pd.DataFrame:
    """Join a forecaster's output onto the window's actuals; raise if rows are missing."""
    if not isinstance(raw, pd.DataFrame):
        raise TypeError(f"forecaster {name!r} returned {type(raw).__name__}, not a DataFrame")
    missing = {"unique_id", "ds", "mean"} - set(raw.columns)
    if missing:
        raise ValueError(
            f"forecaster {name!r} returned a frame without columns {sorted(missing)} "
            f"(got {[str(c) for c in raw.columns]})"
        )
    values = [c for c in raw.columns if _VALUE_COL.match(str(c))]
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
    out = np.full(len(fc), np.nan)
    for uid, idx in fc.groupby("unique_id", sort=False).indices.items():
        order = idx[np.argsort(fc["step"].to_numpy()[idx])]
        out[order] = direction(uid, hist_y[uid], fc["mean"].to_numpy(np.float64)[order])
    return out


def _crps_from(columns: Collection[str]) -> str:
    if any(_SAMPLE_COL.match(str(c)) for c in columns):
        return "samples"
    if "std" in columns:
        return "gaussian"
    if any(_QUANTILE_COL.match(str(c)) for c in columns):
        return "quantiles"
    return "point"


def _score(
    fc: pd.DataFrame,
    history: pd.DataFrame,
    season: Mapping[str, int],
    has_direction: bool,
    inverse_scale: Mapping[str, float],
) -> pd.DataFrame:
    """Per-series metrics of one model's forecasts at one window."""
    value_cols = [c for c in fc.columns if _VALUE_COL.match(str(c))]
    probabilistic = all(c in fc.columns for c in _DIRECTION_COLS)
    cols = ["unique_id", "ds", "y", *value_cols]
    if has_direction and probabilistic:
        cols.append("direction")
    per_series, _ = evaluate_forecasts(fc[cols], history[["unique_id", "ds", "y"]], season=season)
    method = _crps_from(value_cols)
    if method == "quantiles":
        per_series["crps"] = 2.0 * per_series["quantile_loss"]
    elif method == "point":
        per_series["crps"] = per_series["mae"]
    per_series["crps_scaled"] = per_series["crps"] * per_series["unique_id"].map(inverse_scale)
    # explicit interval bounds lo_<L>/hi_<L> for levels the q-columns do not give (e.g. 95%)
    for col in value_cols:
        match = _LOWER_COL.match(str(col))
        level = match and match.group(1)
        if not level or f"hi_{level}" not in fc.columns or f"coverage_{level}" in per_series:
            continue
        by_series = fc.groupby("unique_id", sort=False)
        cov = {u: coverage(g["y"], g[col], g[f"hi_{level}"]) for u, g in by_series}
        wid = {u: interval_width(g[col], g[f"hi_{level}"]) for u, g in by_series}
        per_series[f"coverage_{level}"] = per_series["unique_id"].map(cov)
        per_series[f"width_{level}"] = per_series["unique_id"].map(wid)
    if has_direction and not probabilistic:
        acc = {}
        for uid, g in fc.groupby("unique_id", sort=False):
            pred = g["direction_pred"].to_numpy(np.float64)
            onehot = np.full((len(g), 3), np.nan)
            ok = ~np.isnan(pred)
            onehot[ok] = np.eye(3)[pred[ok].astype(int)]
            acc[uid] = direction_accuracy(g["direction"].to_numpy(np.float64), onehot)
        per_series["direction_accuracy"] = per_series["unique_id"].map(acc)
    return per_series


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

    ``data`` is a long (or wide) frame or Parquet path, as ``read_frame`` takes. ``season``
    overrides the MASE season (default: from each series' frequency). See the module docstring
    for the windows, scores, CRPS and direction rules.
    """
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon}")
    if int(windows) != windows or windows < 1:
        raise ValueError(f"windows must be a positive integer, got {windows}")
    horizon, windows = int(horizon), int(windows)
    if not forecasters:
        raise ValueError("no forecasters to backtest")
    models = {str(name): as_forecaster(f) for name, f in forecasters.items()}
    series = _series(data)
    seasons = {uid: season if season is not None else season_length(f) for uid, f in series.freqs.items()}
    _check_lengths(series, models, seasons, horizon, windows, optional)

    frame = series.frame
    groups = frame.groupby("unique_id", sort=False)
    pos = groups.cumcount().to_numpy()
    size = groups["y"].transform("size").to_numpy()
    forecasts: dict[str, list[pd.DataFrame]] = {name: [] for name in models}
    scores: dict[str, list[pd.DataFrame]] = {name: [] for name in models}
    notes: list[str] = []
    dropped: set[str] = set()
    for w in range(1, windows + 1):
        cut = size - (windows - w + 1) * horizon
        history = frame[pos < cut].reset_index(drop=True)
        inside = (pos >= cut) & (pos < cut + horizon)
        actuals = frame.loc[inside, ["unique_id", "ds", "y"]].reset_index(drop=True)
        actuals.insert(2, "step", (pos - cut + 1)[inside])
        cutoffs = history.groupby("unique_id", sort=False)["ds"].last()
        actuals.insert(1, "cutoff", actuals["unique_id"].map(cutoffs))
        hist_y = {uid: g["y"].to_numpy(np.float64) for uid, g in history.groupby("unique_id", sort=False)}
        inverse_scale = {uid: 1.0 / mase_scale(y, seasons[uid]) for uid, y in hist_y.items()}
        if direction is not None:
            labels = np.full(len(actuals), np.nan)
            for uid, idx in actuals.groupby("unique_id", sort=False).indices.items():
                labels[idx] = direction(uid, hist_y[uid], actuals["y"].to_numpy()[idx])
            actuals["direction"] = labels
        for name, model in models.items():
            if name in dropped:
                continue
            try:
                raw = model.predict(history.copy(), horizon=horizon)
            except Exception as err:
                if name not in optional:
                    raise
                dropped.add(name)
                note = f"{name} left out: it failed at window {w} ({type(err).__name__}: {err})"
                notes.append(note)
                if log:
                    log(f"note: {note}")
                continue
            fc = _align(name, raw, actuals, w, horizon)
            extra = {}
            if direction is not None:
                extra["direction_pred"] = _direction_pred(fc, direction, hist_y)
            scale = fc["unique_id"].map(inverse_scale)
            extra["scaled_error"] = (fc["y"] - fc["mean"]).abs() * scale
            fc = pd.concat(
                [
                    pd.DataFrame({"model": name, "window": w}, index=fc.index),
                    fc,
                    pd.DataFrame(extra, index=fc.index),
                ],
                axis=1,
            )
            per_series = _score(fc, history, seasons, direction is not None, inverse_scale)
            forecasts[name].append(fc[[c for c in fc.columns if not _SAMPLE_COL.match(str(c))]])
            per_series.insert(0, "cutoff", per_series["unique_id"].map(cutoffs))
            per_series.insert(0, "window", w)
            per_series.insert(0, "model", name)
            per_series["crps_from"] = _crps_from(fc.columns)
            scores[name].append(per_series)

    kept = [name for name in models if name not in dropped]
    all_forecasts = pd.concat([f for n in kept for f in forecasts[n]], ignore_index=True)
    metrics = pd.concat([s for n in kept for s in scores[n]], ignore_index=True)
    metric_cols = _metric_columns(metrics)
    metrics = metrics[["model", "window", "unique_id", "cutoff", "n", *metric_cols, "crps_from"]]
    return BacktestResult(
        forecasts=all_forecasts,
        metrics=metrics,
        per_series=_per_series(metrics, metric_cols),
        summary=_summary(metrics, metric_cols, kept),
        coverage=_coverage(metrics, metric_cols, kept),
        steps=_steps(all_forecasts, kept),
        history=frame,
        horizon=horizon,
        windows=windows,
        notes=notes,
    )


def _per_series(metrics: pd.DataFrame, metric_cols: list[str]) -> pd.DataFrame:
    g = metrics.groupby(["model", "unique_id"], sort=False)
    out = g[metric_cols].mean()
    out.insert(0, "n", g["n"].sum())
    out.insert(0, "windows", g["window"].nunique())
    return out.reset_index()


def _summary(metrics: pd.DataFrame, metric_cols: list[str], order: list[str]) -> pd.DataFrame:
    per_series = _per_series(metrics, metric_cols)
    g = per_series.groupby("model", sort=False)
    out = g[metric_cols].mean()
    out["crps_from"] = metrics.groupby("model", sort=False)["crps_from"].first()
    out["n_series"] = g["unique_id"].nunique()
    out["n_windows"] = metrics.groupby("model", sort=False)["window"].nunique()
    out["n_points"] = g["n"].sum()
    if "mase" in per_series.columns:
        out["mase_n_undefined"] = g["mase"].apply(lambda s: int(s.isna().sum()))
    return out.loc[order].reset_index()


def _coverage(metrics: pd.DataFrame, metric_cols: list[str], order: list[str]) -> pd.DataFrame:
    summary = _summary(metrics, metric_cols, order)
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


# ------------------------------------------------------------------------------------- printing
def format_summary(summary: pd.DataFrame, columns: tuple[str, ...] = SUMMARY_PRINT) -> str:
    """The summary as a fixed-width text table (the columns of ``columns`` that exist)."""
    cols = ["model", *[c for c in columns if c in summary.columns]]
    view = summary[cols]
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        return view.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-")


# --------------------------------------------------------------------------------------- report
def _read_optional(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.is_file() else None


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
    leaderboard and training curves are added when ``run_dir`` holds ``leaderboard.parquet`` /
    ``curves.parquet``.
    """
    from .report import write_report

    models = list(result.summary["model"])
    main = main_model if main_model in models else models[0]
    fc = result.forecasts[result.forecasts["model"] == main].drop(columns="model")
    fc = fc.dropna(axis=1, how="all")
    table = result.summary.drop(columns=[c for c in ("mase_n_undefined",) if c in result.summary])
    run = Path(run_dir) if run_dir is not None else None
    return write_report(
        out_dir,
        leaderboard=_read_optional(run / "leaderboard.parquet") if run else None,
        curves=_read_optional(run / "curves.parquet") if run else None,
        history=result.history[["unique_id", "ds", "y"]],
        forecasts=fc,
        backtest=table,
        coverage=result.coverage if not result.coverage.empty else None,
        backtest_steps=result.steps,
        title=f"{title}: {main}, {result.windows} window(s) x horizon {result.horizon}",
    )


# -------------------------------------------------------------------------------------- command
def _held_out(model_dir: Path, history: pd.DataFrame, horizon: int) -> dict[str, int]:
    """Observations at each series' end the models never trained or validated on (test part).

    Read from the artifact's ``config.json``; assumes ``history`` is the data trained on (a
    series the transform has not seen counts as wholly held out). Empty when unknown.
    """
    path = model_dir / "config.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text()).get("data", {})
    try:
        val, test = float(data["val_fraction"]), float(data["test_fraction"])
        train_horizon = int(data["horizon"])
    except (KeyError, TypeError, ValueError):
        return {}
    sizes = history.groupby("unique_id", sort=False).size()
    return {str(uid): split_lengths(int(n) - 1, train_horizon, val, test)[2] for uid, n in sizes.items()}


def evaluate_command(
    model: str | Path,
    data: str | Path | pd.DataFrame | None,
    horizon: int | None = None,
    windows: int = 3,
    out: str | Path | None = None,
    *,
    samples: int | None = None,
    seed: int | None = None,
    members: bool = True,
    statistical: bool = True,
    log: Log = print,
) -> Path:
    """Backtest a saved ensemble, its members and the baselines; write tables and the report.

    ``model`` is the ensemble directory (``RUN/ensemble``); ``horizon`` defaults to the
    ensemble's; ``out`` defaults to ``<model>/../evaluation``. Writes ``backtest.parquet``
    (per model, series and window), ``backtest_series.parquet``, ``backtest_summary.parquet``
    and ``.csv``, ``backtest_steps.parquet``, ``backtest_coverage.parquet``,
    ``forecasts.parquet`` and ``report.html``; prints the summary and returns the report's path.
    Baselines: naive, seasonal naive and (with statsforecast, ``statistical=True``) AutoETS and
    AutoTheta, the last two dropped with a note if they fail.
    """
    from foretune.ensemble import Ensemble  # the CLI's orchestration; see the module docstring

    say = log or (lambda _msg: None)
    model_dir = Path(model).resolve()
    ensemble = Ensemble.load(model_dir)
    horizon = ensemble.horizon if horizon is None else int(horizon)
    if not 1 <= horizon <= ensemble.horizon:
        raise ValueError(
            f"horizon={horizon} is not available: this ensemble forecasts 1..{ensemble.horizon} steps"
        )
    out_dir = Path(out).resolve() if out is not None else model_dir.parent / "evaluation"
    forecasters: dict[str, Any] = dict(
        ensemble_forecasters(ensemble, members=members, samples=samples, seed=seed)
    )
    stats_models = ("AutoETS", "AutoTheta") if statistical else ()
    forecasters.update(baseline_forecasters(statistical_models=stats_models, log=log))
    result = backtest(
        forecasters,
        data,
        horizon,
        windows,
        direction=transform_direction(ensemble.transform),
        optional=stats_models,
        log=log,
    )
    held = _held_out(model_dir, result.history, horizon)
    if held:
        seen = set(ensemble.transform.stats)
        n_eval = windows * horizon
        overlap = sorted(u for u, h in held.items() if u in seen and n_eval > h)
        result.metrics["held_out"] = [
            not (uid in seen and (windows - w + 1) * horizon > held.get(uid, n_eval))
            for uid, w in zip(result.metrics["unique_id"], result.metrics["window"], strict=True)
        ]
        if overlap:
            note = (
                f"{len(overlap)} series (e.g. {overlap[0]!r}) have only {held[overlap[0]]} "
                f"held-out test points but the backtest covers the last {n_eval}: the earlier "
                "windows reach into data the models were trained or validated on, so their "
                "scores are optimistic (backtest.parquet's held_out column marks them; this "
                "assumes --data is the training data)"
            )
            result.notes.append(note)
            say(f"note: {note}")
    paths = result.save(out_dir)
    report = write_backtest_report(result, out_dir, run_dir=model_dir.parent)
    n_series = result.history["unique_id"].nunique()
    say(
        f"\nbacktest: {n_series} series, {windows} rolling-origin window(s) x horizon {horizon} "
        f"(the last {windows * horizon} observations of each series); mean over series:"
    )
    say(format_summary(result.summary))
    say(f"tables: {paths['summary'].parent}")
    say(f"report: {report}")
    return report


def run_report(run_dir: str | Path, artifact: str | Path, windows: int = 2, log: Log = print) -> Path:
    """Backtest a finished run on its own data and write ``run_dir/report/report.html``.

    The data is ``config.json``'s ``data.path`` (None: the built-in data). ``windows`` is
    reduced when the series are too short for it; if not even one window fits, the report has
    the leaderboard and training curves only, and says why.
    """
    from foretune.data import builtin_dataset_path

    run_dir = Path(run_dir).resolve()
    config = json.loads((run_dir / "config.json").read_text())
    data = config.get("data", {}).get("path") or builtin_dataset_path()
    out_dir = run_dir / "report"
    error: DataError | None = None
    for k in range(max(int(windows), 1), 0, -1):
        try:
            return evaluate_command(artifact, data, windows=k, out=out_dir, log=log)
        except DataError as err:  # too short for k windows: try fewer
            error = err
    if log:
        log(f"note: report without a backtest: {error}")
    from .report import write_report

    path = write_report(
        out_dir,
        leaderboard=_read_optional(run_dir / "leaderboard.parquet"),
        curves=_read_optional(run_dir / "curves.parquet"),
        title="foretune run report (no backtest: series too short)",
    )
    if log:
        log(f"report: {path}")
    return path
