"""``foretune evaluate`` and a finished run's report: backtest a saved ensemble against baselines.

    report = evaluate_command(model="RUN/ensemble", data="history.parquet", horizon=None,
                              windows=3, out=None)          # tables + RUN/evaluation/report.html
    report = run_report(run_dir, artifact)                  # RUN/report/report.html

Both backtest the ensemble, its uncalibrated mixture, each member alone and the baselines with
``foretune.evaluate.backtest``, write its tables and the HTML report, print the summary and
return the report's path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from foretune.config import ExperimentConfig
from foretune.data import builtin_dataset_path, read_frame
from foretune.data.experiment import load_series, run_splits
from foretune.ensemble import Ensemble
from foretune.ensemble.forecasters import ensemble_forecasters
from foretune.errors import ArtifactError, ConfigError, DataError
from foretune.evaluate.backtest import BacktestResult, backtest, format_summary, write_backtest_report
from foretune.evaluate.forecasters import baseline_forecasters, transform_direction
from foretune.evaluate.report import run_tables, write_report
from foretune.rundir import RunDir
from foretune.storage import Location, check_output_dir, resolve, staged
from foretune.timings import stage

__all__ = ["evaluate_command", "run_report"]

Log = Callable[[str], None] | None


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
) -> Location:
    """Backtest a saved ensemble, its members and the baselines; write tables and the report.

    ``model`` is the ensemble directory (``RUN/ensemble``); ``horizon`` defaults to the
    ensemble's and may not exceed it (``ConfigError``); ``out`` defaults to
    ``<model>/../evaluation``. Writes ``backtest.parquet`` (per model, series and window),
    ``backtest_series.parquet``, ``backtest_summary.parquet`` and ``.csv``,
    ``backtest_steps.parquet``, ``backtest_coverage.parquet``, ``forecasts.parquet`` and
    ``report.html``; prints the summary and returns the report's path. Baselines: naive,
    seasonal naive and (with statsforecast, ``statistical=True``) AutoETS and AutoTheta, the last
    two dropped with a note if they fail; each of those is fit once per series and carried to
    the later origins, and one that is also a statistical member of the ensemble is that
    member's fitted model (``evaluate.forecasters.baseline_forecasters``). Series too short for
    ``windows`` raise ``DataError``.

    ``backtest.parquet`` gets a ``held_out`` column when the artifact's config says how the
    models' data was split: False for a window reaching into the part the models were trained
    or validated on (assuming ``data`` is the data they were trained on), with a printed note.
    """
    say = log or (lambda _msg: None)
    _check_out_dir(out, model, data)
    model_dir = resolve(model)
    ensemble = Ensemble.load(model_dir)
    horizon = _horizon(ensemble, horizon)
    out_dir = resolve(out) if out is not None else RunDir(model_dir.parent).evaluation
    if ensemble.input_spec.future:  # each origin's horizon reads its future covariates from the data
        data = read_frame(data)
    season = ((ensemble.config or {}).get("data") or {}).get("season")  # the run's data.season
    stats_models = ("AutoETS", "AutoTheta") if statistical else ()
    forecasters = _forecasters(ensemble, data, season, stats_models, members, samples, seed, log)
    with stage("backtest"):
        result = backtest(
            forecasters,
            data,
            horizon,
            windows,
            season=season,
            direction=transform_direction(ensemble.transform),
            optional=stats_models,
            log=log,
        )
    note = _mark_held_out(result, ensemble, horizon, windows)
    if note:
        result.notes.append(note)
        say(f"note: {note}")
    report = _write(result, out_dir, run_dir=model_dir.parent)
    _print_summary(result, horizon, windows, out_dir, report, say)
    return report


def _check_out_dir(out: str | Path | None, model: str | Path, data: Any) -> None:
    """Before any work: ``out`` is never the model's or the data's own directory (nor inside them)."""
    if out is not None:
        check_output_dir(out, inputs={"--model": model, "--data": data})


def _horizon(ensemble: Ensemble, horizon: int | None) -> int:
    """The backtest's horizon: the ensemble's by default; more than it raises ``ConfigError``."""
    horizon = ensemble.horizon if horizon is None else int(horizon)
    if not 1 <= horizon <= ensemble.horizon:
        raise ConfigError(
            f"horizon={horizon} is not available: this ensemble forecasts 1..{ensemble.horizon} steps"
        )
    return horizon


def _forecasters(
    ensemble: Ensemble,
    data: str | Path | pd.DataFrame | None,
    season: int | None,
    stats_models: tuple[str, ...],
    members: bool,
    samples: int | None,
    seed: int | None,
    log: Log,
) -> dict[str, Any]:
    """The ensemble, its uncalibrated mixture and members (``ensemble_forecasters``), then the
    baselines with the statistical ``stats_models``, by name."""
    forecasters: dict[str, Any] = dict(
        ensemble_forecasters(
            ensemble,
            members=members,
            samples=samples,
            seed=seed,
            futr_df=data if ensemble.input_spec.future else None,
        )
    )
    # a statistical baseline that is also a member with fitted states is that member's model:
    # the same forecasts, computed once per origin (the member's draws are read off them)
    fitted = {m.model.name: m.model for m in ensemble.members if m.statistical and m.model.states}
    forecasters.update(
        baseline_forecasters(season=season, statistical_models=stats_models, log=log, fitted=fitted)
    )
    return forecasters


def _write(result: BacktestResult, out_dir: Location, run_dir: Location) -> Location:
    """Write the backtest's tables and its HTML report under ``out_dir``; return the report's path."""
    with staged(out_dir) as local:  # a URI's files are written locally, then uploaded
        with stage("tables"):
            result.save(local)
        with stage("html"):
            name = write_backtest_report(result, local, run_dir=run_dir).name
    return out_dir / name


def _print_summary(
    result: BacktestResult,
    horizon: int,
    windows: int,
    out_dir: Location,
    report: Location,
    say: Callable[[str], None],
) -> None:
    """Say what was backtested, the summary table, the MASE note and where the files are."""
    n_series = result.history["unique_id"].nunique()
    say(
        f"\nbacktest: {n_series} series, {windows} rolling-origin window(s) x horizon {horizon} "
        f"(the last {windows * horizon} observations of each series); mean over series:"
    )
    say(format_summary(result.summary))
    undefined = _undefined_mase(result.summary)
    if undefined:
        say(undefined)
    say(f"tables: {out_dir}")
    say(f"report: {report}")


def run_report(run_dir: str | Path, artifact: str | Location, log: Log = print) -> Location:
    """Backtest a finished run on its own data and write ``run_dir/report/report.html``.

    The data is the run config's ``data.path`` (None: the built-in data). With
    ``evaluate.windows`` k > 0 the run held out the last k x horizon observations of every series
    long enough (``Splits.held_out``): the report scores exactly those, with k rolling origins,
    and leaves the other series out (a note says how many). With k = 0 nothing was held out: the
    report scores the last two windows (fewer when the series are too short), which the run saw,
    and says so. If not even one window fits, the report has the leaderboard and training curves
    only, and says why (the run itself finishes). A directory without the run's config raises
    ``ArtifactError``.
    """
    run = RunDir(resolve(run_dir))
    if not run.config.is_file():
        raise ArtifactError(f"{run.root} is not a foretune run directory: it has no {run.config.name}")
    config = run_config(json.loads(run.config.read_text()))
    say = log or (lambda _msg: None)
    error: DataError | None = None
    if config.evaluate.windows:
        scored, note = _held_out_series(config)
        if note:
            say(f"note: {note}")
        error = DataError(note)
        if not scored.empty:
            k = config.evaluate.windows
            try:
                return evaluate_command(artifact, scored, windows=k, out=run.report, log=log)
            except DataError as err:  # e.g. the held-out series are shorter than a model's lookback
                error = err
    else:
        data = config.data.path or builtin_dataset_path()
        say(
            "note: evaluate.windows is 0, so nothing was held out of this run: the report scores "
            "the last windows, which the run trained, validated or calibrated on"
        )
        for k in range(2, 0, -1):
            try:
                return evaluate_command(artifact, data, windows=k, out=run.report, log=log)
            except DataError as err:  # too short for k windows: try fewer
                error = err
    say(f"note: report without a backtest: {error}")
    with staged(run.report) as local:
        title = "foretune run report (no backtest: series too short)"
        path = run.report / write_report(local, **run_tables(run), title=title).name
    say(f"report: {path}")
    return path


def run_config(raw: dict[str, Any]) -> ExperimentConfig:
    """A saved run's experiment config; a config without an ``evaluate`` section held nothing out
    (``evaluate.windows`` 0)."""
    if "evaluate" not in raw:
        raw = {**raw, "evaluate": {"windows": 0}}
    return ExperimentConfig.from_dict(raw)


def _held_out_series(config: ExperimentConfig) -> tuple[pd.DataFrame, str | None]:
    """The run's series whose tail it held out (validated, in long format) and a note naming the
    series left out of the report because they were too short to hold anything out."""
    series = load_series(config)
    frame = series.frame
    lengths = frame.groupby("unique_id", sort=False).size()
    held = run_splits(config).held_out(lengths.to_numpy())
    keep = lengths.index[held > 0]
    left_out = len(lengths) - len(keep)
    steps = config.evaluate.windows * config.data.horizon
    note = None
    if left_out:
        note = (
            f"{left_out} of {len(lengths)} series (e.g. {lengths.index[held == 0][0]!r}) were too "
            f"short to hold out their last {steps} observations (evaluate.windows="
            f"{config.evaluate.windows} x data.horizon={config.data.horizon}) and still keep a "
            "training and a validation window: the run used them whole, so the report leaves them out"
        )
    return frame[frame["unique_id"].isin(keep)], note


def _mark_held_out(result: BacktestResult, ensemble: Ensemble, horizon: int, windows: int) -> str | None:
    """Add ``held_out`` to ``result.metrics``; a note when some windows are not held out.

    Nothing (and no column) when the artifact's config does not say how the data was split.
    """
    held = _held_out(ensemble.config, result.history)
    if not held:
        return None
    seen = set(ensemble.transform.stats)  # a series the models never saw is wholly held out
    n_eval = windows * horizon
    result.metrics["held_out"] = [
        not (uid in seen and (windows - w + 1) * horizon > held.get(uid, n_eval))
        for uid, w in zip(result.metrics["unique_id"], result.metrics["window"], strict=True)
    ]
    overlap = sorted(u for u, h in held.items() if u in seen and n_eval > h)
    if not overlap:
        return None
    return (
        f"{len(overlap)} series (e.g. {overlap[0]!r}) have only {held[overlap[0]]} "
        f"held-out test points but the backtest covers the last {n_eval}: the earlier "
        "windows reach into data the models were trained or validated on, so their "
        "scores are optimistic (backtest.parquet's held_out column marks them; this "
        "assumes --data is the training data)"
    )


def _held_out(config: dict[str, Any] | None, history: pd.DataFrame) -> dict[str, int]:
    """Observations at each series' end that no stage of the run saw, from the artifact's
    experiment config (``Splits.held_out`` of its ``evaluate.windows``); empty when it does not
    say how the data was split."""
    if "val_windows" not in (config or {}).get("data", {}):
        return {}
    splits = run_splits(run_config(config))
    lengths = history.groupby("unique_id", sort=False).size()
    held = splits.held_out(lengths.to_numpy())
    return {str(uid): int(h) for uid, h in zip(lengths.index, held, strict=True)}


def _undefined_mase(summary: pd.DataFrame) -> str | None:
    """A line naming how many series each model's mean MASE leaves out, and why (None: none)."""
    if "mase_n_undefined" not in summary:
        return None
    left = summary[summary["mase_n_undefined"] > 0]
    if left.empty:
        return None
    counts = ", ".join(f"{m} {int(n)}" for m, n in zip(left["model"], left["mase_n_undefined"], strict=True))
    return (
        f"note: MASE means leave out series whose history has no change at its season (a constant "
        f"or too short history: the scale is 0 or undefined): {counts}; the other metrics keep them"
    )
