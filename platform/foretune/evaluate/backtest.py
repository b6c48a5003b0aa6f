"""Rolling-origin backtest of forecasters against actuals, in three stages.

    result = backtest({"drift": my_forecaster, **baseline_forecasters()}, data, horizon=4, windows=3)
    result.save("out/")                      # backtest*.parquet, forecasts.parquet, summary CSV
    print(format_summary(result.summary))    # one row per model
    write_backtest_report(result, "out/", run_dir="RUN")

``rolling_origins`` (``origins``) cuts the data into origins (history + actuals per window),
every forecaster predicts from each origin (``forecast_frames`` joins its output onto the
actuals), and each forecast is scored (``scores``, with ``metrics.evaluate_forecasts``);
``backtest`` runs the three stages and ``summary.collect`` aggregates the scores. Forecasters
are anything ``forecasters.as_forecaster`` accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from foretune.console import progress
from foretune.data import SeriesFrame, read_frame, season_lengths, validate
from foretune.errors import ConfigError, DataError
from foretune.rundir import RunDir
from foretune.timings import stage

from .forecast_frames import forecast_frame, without_samples
from .forecasters import DirectionFn, Forecaster, as_forecaster, required_history
from .origins import Origin, rolling_origins
from .report import run_tables, write_report
from .scores import score
from .summary import CLIMATOLOGY, SUMMARY_PRINT, BacktestResult, collect, format_summary

__all__ = [
    "CLIMATOLOGY",
    "SUMMARY_PRINT",
    "BacktestResult",
    "Origin",
    "backtest",
    "format_summary",
    "rolling_origins",
    "write_backtest_report",
]

Log = Callable[[str], None] | None
#: Per model kept (in the caller's order), its frames of every origin.
_Frames = dict[str, list[pd.DataFrame]]


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
    origins = rolling_origins(series.frame, horizon, windows, seasons, direction)
    forecasts, scores, notes = _forecast_and_score(
        models, origins, windows, seasons, direction, optional, log
    )
    with stage("aggregate"):
        return collect(forecasts, scores, series.frame, horizon, windows, notes)


def _forecast_and_score(
    models: Mapping[str, Forecaster],
    origins: Iterable[Origin],
    windows: int,
    seasons: Mapping[str, int],
    direction: DirectionFn | None,
    optional: Collection[str],
    log: Log,
) -> tuple[_Frames, _Frames, list[str]]:
    """Every model's forecast frames and scores at every origin, and the notes of the models left
    out: a model named in ``optional`` that raises leaves both dicts entirely."""
    forecasts: _Frames = {name: [] for name in models}
    scores: _Frames = {name: [] for name in models}
    notes: list[str] = []
    for origin in progress(origins, desc="backtest", unit="origin", total=windows):
        for name in list(forecasts):
            try:
                with stage(name):
                    raw = models[name].predict(origin.history.copy(), horizon=origin.horizon)
            except Exception as err:
                if name not in optional:
                    raise
                del forecasts[name], scores[name]
                notes.append(_note_dropped(name, origin, err, log))
                continue
            with stage("scoring"):
                fc = forecast_frame(name, raw, origin, direction)
                forecasts[name].append(without_samples(fc))
                scores[name].append(score(name, fc, origin, seasons, direction is not None))
    return forecasts, scores, notes


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
