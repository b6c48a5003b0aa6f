"""Out-of-sample accuracy of foretune's defaults against statsforecast and neuralforecast.

Run from the repository root (about 5-10 minutes per data set on 2 CPU cores)::

    python benchmarks/accuracy.py                          # all data sets
    python benchmarks/accuracy.py --datasets co2,solar     # some of them
    python benchmarks/accuracy.py --set train.loss=mse     # a non-default setting (lever studies)
    python benchmarks/accuracy.py --readme README.md       # also rewrite the README's tables

Protocol, per data set: the last ``windows x horizon`` points of every series are cut off before
anything runs. foretune runs ``foretune run``'s sweep and ensemble with the packaged quickstart
configuration (``configs/quickstart.yaml``), changing only the data path and the horizon (plus
any ``--set``), on what is left, and serves what ``foretune run`` serves (``served_ensemble``:
with the default ``evaluate.refit_full`` the chosen members retrained on all of what is left;
the run's own report is skipped). Then one rolling-origin backtest
(``foretune.evaluate.backtest``) forecasts each of the ``windows`` held-out windows from
everything before it, with every system side by side:

- ``foretune``: the served ensemble (conformally calibrated intervals), and the same ensemble
  without calibration (``foretune, uncalibrated``); its weights and calibration never saw the
  scored points;
- statsforecast's ``SeasonalNaive``, ``AutoETS`` and ``AutoTheta`` with their own prediction
  intervals (``level=[20, 40, 60, 80, 90]``, so 90% coverage is compared like for like and the
  CRPS comes from 10 quantiles), refit at every origin;
- neuralforecast's ``NHITS`` (the ``bench`` extra: ``pip install -e .[bench]``) trained with a
  multi-quantile loss (``MQLoss`` on the same levels; point forecast = its median), input size
  ``2 x max(horizon, season)``, ``--nhits-steps`` optimisation steps of 256 windows (otherwise
  neuralforecast's defaults, e.g. robust scaling), refit at every origin.

Every system is scored by the same code (``foretune.metrics.evaluate_forecasts`` inside
the backtest): MASE and sMAPE (M4 definitions, mean over series), scaled CRPS (CRPS over the
in-sample seasonal-naive MAE, so it equals MASE for a point forecast; from foretune's sample
paths, from the quantiles for the others) and the 90% interval's coverage and mean width (data
units). Wall-clock: foretune's sweep + ensemble build + its backtest forecasts; for the others
their fits and forecasts at all origins.

Data sets (all public, shipped inside installed packages; nothing is downloaded):

- ``us_macro``: 8 quarterly US macro series 1959-2009 (statsmodels ``macrodata``, public
  domain US government data; foretune's built-in quickstart data); horizon 4.
- ``co2``: Mauna Loa CO2 (statsmodels ``co2``, NOAA, public domain), weekly 1958-2001 with gaps,
  as monthly means (5 empty months linearly interpolated); horizon 12.
- ``elnino``: monthly Pacific sea-surface temperature 1950-2010 (statsmodels ``elnino``, NOAA,
  public domain), one series; horizon 12.
- ``m1_yearly``: the M1 competition's 181 yearly series (aeon's ``m1_yearly_dataset.tsf``, from
  the Monash forecasting archive, CC BY 4.0), 15-58 points; horizon 6 with one window, the M1
  protocol (its shortest series cannot spare two).
- ``covid_deaths``: cumulative daily COVID-19 deaths of 201 countries/regions over 84 days of
  2020 (aeon's ``Covid3Month``, from the Monash regression archive, built from the public Johns
  Hopkins CSSE data, CC BY 4.0); the file holds daily counts without dates, summed here and dated
  from 2020-01-22 (the CSSE start); horizon 7.
- ``solar``: half-hourly GB solar generation, 1-7 May 2021 (aeon's ``solar``, Sheffield Solar
  PV_Live, CC BY 4.0), one series of 289 points; horizon 24 (half a day).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    import foretune  # noqa: F401
except ImportError:  # run without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

COLUMNS = {
    "mase": "MASE",
    "smape": "sMAPE",
    "crps_scaled": "scaled CRPS",
    "coverage_90": "coverage 90%",
    "width_90": "width 90%",
    "direction_accuracy": "direction acc.",
    "log_loss": "direction log-loss",
    "seconds": "wall-clock s",
}
LEVELS = (20, 40, 60, 80, 90)
STATISTICAL = ("SeasonalNaive", "AutoETS", "AutoTheta")
FORETUNE = "foretune"
DEEP_ONLY = f"{FORETUNE}, deep only"
CLIMATOLOGY = "climatology"  # the backtest's direction reference row (evaluate.backtest.CLIMATOLOGY)
README_START, README_END = "<!-- accuracy-benchmark:start -->", "<!-- accuracy-benchmark:end -->"


# ----------------------------------------------------------------------------------- data sets
def us_macro() -> pd.DataFrame:
    from foretune.data import builtin_dataset_path

    return pd.read_parquet(builtin_dataset_path())


def co2() -> pd.DataFrame:
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate("linear")
    return pd.DataFrame({"unique_id": "co2", "ds": monthly.index, "y": monthly.to_numpy()})


def elnino() -> pd.DataFrame:
    import statsmodels.api as sm

    wide = sm.datasets.elnino.load_pandas().data
    months = [c for c in wide.columns if c != "YEAR"]
    long = wide.melt(id_vars="YEAR", value_vars=months, var_name="month", value_name="y")
    long["ds"] = pd.to_datetime(
        long["YEAR"].astype(int).astype(str) + "-" + long["month"].str.title(), format="%Y-%b"
    )
    long = long.sort_values("ds")
    return pd.DataFrame({"unique_id": "elnino_sst", "ds": long["ds"].to_numpy(), "y": long["y"]})


def _aeon_file(*parts: str) -> str:
    return str(resources.files("aeon").joinpath("datasets", "data", *parts))


def m1_yearly() -> pd.DataFrame:
    from aeon.datasets import load_from_tsf_file

    raw, _ = load_from_tsf_file(_aeon_file("m1_yearly_dataset", "m1_yearly_dataset.tsf"))
    rows = []
    for _, row in raw.iterrows():
        start = pd.Timestamp(row["start_timestamp"]).year
        rows += [(row["series_name"], start + i, float(v)) for i, v in enumerate(row["series_value"])]
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def covid_deaths() -> pd.DataFrame:
    frames = []
    for part in ("TRAIN", "TEST"):
        text = Path(_aeon_file("Covid3Month", f"Covid3Month_{part}.ts")).read_text()
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith(("@", "#"))]
        for i, line in enumerate(lines):
            daily = np.array(line.split(":")[0].split(","), dtype=np.float64)
            frames.append(
                pd.DataFrame(
                    {
                        "unique_id": f"{part.lower()}_{i:03d}",
                        "ds": pd.date_range("2020-01-22", periods=len(daily), freq="D"),
                        "y": np.cumsum(daily),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def solar() -> pd.DataFrame:
    raw = pd.read_csv(_aeon_file("solar", "solar.csv"))
    ds = pd.to_datetime(raw["datetime_gmt"]).dt.tz_localize(None)
    return pd.DataFrame({"unique_id": "gb_solar", "ds": ds, "y": raw["solar_gen"].astype(float)})


@dataclass(frozen=True)
class DataSet:
    loader: Callable[[], pd.DataFrame]
    horizon: int
    frequency: str
    windows: int | None = None  # None = --windows
    settings: dict[str, Any] = field(default_factory=dict)  # dataset-specific config keys


DATASETS = {
    "us_macro": DataSet(us_macro, 4, "quarterly"),
    "co2": DataSet(co2, 12, "monthly"),
    "elnino": DataSet(elnino, 12, "monthly"),
    "m1_yearly": DataSet(m1_yearly, 6, "yearly", windows=1),
    "covid_deaths": DataSet(covid_deaths, 7, "daily"),
    "solar": DataSet(solar, 24, "half-hourly"),
}


# --------------------------------------------------------------------------------- forecasters
def quantile_columns(raw: pd.DataFrame, model: str, point: str) -> pd.DataFrame:
    """``unique_id, ds, mean`` and quantile columns (foretune's names) from a Nixtla frame's
    ``<model>-lo/hi-<L>``."""
    from foretune.metrics import quantile_name

    out = raw[["unique_id", "ds"]].copy()
    out["mean"] = raw[point].to_numpy()
    for level in LEVELS:
        lo = (1.0 - level / 100.0) / 2.0
        out[quantile_name(lo)] = raw[f"{model}-lo-{level}"].to_numpy()
        out[quantile_name(1.0 - lo)] = raw[f"{model}-hi-{level}"].to_numpy()
    if f"{model}-median" in raw.columns:
        out["q50"] = raw[f"{model}-median"].to_numpy()
    # a multi-quantile network's outputs can cross (NHITS with MQLoss does early in training):
    # sort each row's quantiles (monotone rearrangement, which never worsens the pinball loss)
    names = sorted((c for c in out.columns if c.startswith("q")), key=lambda c: float("0." + c[1:]))
    out[names] = np.sort(out[names].to_numpy(np.float64), axis=1)
    return out.reset_index(drop=True)


def statistical_forecaster(model: str) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    from foretune.evaluate.baselines import statistical

    def forecast(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = statistical(history, horizon, models=(model,), level=LEVELS)
        return quantile_columns(raw, model, model)

    return forecast


def nhits_forecaster(steps: int, seed: int) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    def forecast(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        from neuralforecast import NeuralForecast
        from neuralforecast.losses.pytorch import MQLoss
        from neuralforecast.models import NHITS

        from foretune.data.calendar import infer_freq, season_length

        hist = history[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"])
        freq = infer_freq(hist.loc[hist["unique_id"] == hist["unique_id"].iloc[0], "ds"])
        model = NHITS(
            h=horizon,
            input_size=2 * max(horizon, season_length(freq)),
            loss=MQLoss(level=list(LEVELS)),
            max_steps=steps,
            windows_batch_size=256,  # of the default 1024: a quarter of the CPU time per step
            scaler_type="robust",
            start_padding_enabled=True,
            random_seed=seed,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            logger=False,
            accelerator="cpu",
        )
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nf = NeuralForecast(models=[model], freq=freq)
            nf.fit(df=hist)
            raw = nf.predict()
        if "unique_id" not in raw.columns:
            raw = raw.reset_index()
        return quantile_columns(raw, "NHITS", "NHITS-median")

    return forecast


class Timed:
    """A forecaster that adds the seconds of each ``predict`` to ``seconds``."""

    def __init__(self, forecaster: Any, seconds: float = 0.0) -> None:
        self.forecaster, self.seconds = forecaster, seconds
        self.min_history = getattr(forecaster, "min_history", 2)

    def predict(self, history: pd.DataFrame, horizon: int, **kw: Any) -> pd.DataFrame:
        start = time.perf_counter()
        try:
            return self.forecaster.predict(history, horizon=horizon, **kw)
        finally:
            self.seconds += time.perf_counter() - start


# ---------------------------------------------------------------------------------- benchmark
def held_out_split(frame: pd.DataFrame, points: int) -> pd.DataFrame:
    """Every series without its last ``points`` observations: what the run may see."""
    position = frame.groupby("unique_id", sort=False).cumcount(ascending=False)
    return frame[position >= points].reset_index(drop=True)


def experiment(name: str, data_path: Path, horizon: int, args: argparse.Namespace, extra: dict):
    """The quickstart configuration with this data set's path and horizon (and ``--set``)."""
    from foretune.config import experiment_config

    settings = {
        "name": f"accuracy-{name}",
        "seed": args.seed,
        "data.path": str(data_path),
        "data.horizon": horizon,
        **extra,
        **args.settings,
    }
    return experiment_config(None, settings)


def run_dataset(name: str, out: Path, args: argparse.Namespace) -> tuple[str, pd.DataFrame]:
    """Run every system on one data set; its markdown section and its table's rows."""
    from foretune.commands.run import served_ensemble
    from foretune.ensemble import Ensemble, make_ensemble
    from foretune.ensemble.forecasters import ModelForecaster
    from foretune.evaluate.backtest import backtest
    from foretune.evaluate.forecasters import FunctionForecaster, transform_direction
    from foretune.search import run_sweep

    spec = DATASETS[name]
    windows = spec.windows or args.windows
    frame = spec.loader()
    run_dir = out / name
    run_dir.mkdir(parents=True, exist_ok=True)
    seen_path = run_dir / "seen.parquet"  # without the scored tail: the run never sees it
    config = experiment(name, seen_path, spec.horizon, args, spec.settings)
    sizes = frame.groupby("unique_id").size()
    print(
        f"\n=== {name}: {len(sizes)} series, {sizes.min()}-{sizes.max()} points, "
        f"horizon {spec.horizon}, {windows} window(s) ===",
        flush=True,
    )
    artifact = run_dir / "ensemble"
    if args.reuse and artifact.exists():  # a finished run's sweep and ensemble, timed by its files
        train_s = artifact.stat().st_mtime - seen_path.stat().st_mtime
        print(f"reusing the ensemble of {run_dir} ({train_s:.0f} s to build)", flush=True)
    else:
        held_out_split(frame, windows * spec.horizon).to_parquet(seen_path, index=False)
        start = time.perf_counter()
        run_sweep(config, run_dir)
        evaluated = make_ensemble(run_dir, config)
        (served_ensemble(config, run_dir, evaluated) or evaluated).save(artifact)
        train_s = time.perf_counter() - start
    ensemble = Ensemble.load(artifact)
    common = {"samples": config.ensemble.samples, "seed": args.seed, "min_history": 2}
    systems: dict[str, Timed] = {
        FORETUNE: Timed(ModelForecaster.with_draws(ensemble, 100, **common), train_s)
    }
    if ensemble.calibration is not None:
        raw = ModelForecaster.with_draws(ensemble.without_calibration(), 100, **common)
        systems[f"{FORETUNE}, uncalibrated"] = Timed(raw, train_s)
    if config.ensemble.statistical:  # the same sweep's ensemble without statistical candidates
        deep_config = config.model_copy(deep=True)
        deep_config.ensemble.statistical = []
        deep = make_ensemble(run_dir, deep_config)
        deep = served_ensemble(deep_config, run_dir, deep) or deep
        systems[DEEP_ONLY] = Timed(ModelForecaster.with_draws(deep, 100, **common), train_s)
    for model in STATISTICAL:
        systems[model] = Timed(FunctionForecaster(statistical_forecaster(model)))
    if args.nhits_steps:
        systems["NHITS"] = Timed(FunctionForecaster(nhits_forecaster(args.nhits_steps, args.seed)))
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    direction = transform_direction(ensemble.transform)
    result = backtest(systems, frame, spec.horizon, windows, direction=direction)
    summary = result.summary.set_index("model")
    summary["seconds"] = pd.Series({k: v.seconds for k, v in systems.items()})
    if f"{FORETUNE}, uncalibrated" in summary.index:  # its forecasts were timed twice
        summary.loc[f"{FORETUNE}, uncalibrated", "seconds"] = np.nan
    board = pd.read_parquet(run_dir / "leaderboard.parquet")
    archs = ", ".join(f"{a} x{n}" for a, n in board["architecture"].value_counts().items())
    members = ", ".join(f"{k} {v:.2f}" for k, v in ensemble.weights.items())
    header = (
        f"### {name}: {spec.frequency}, {len(sizes)} series of {sizes.min()}-{sizes.max()} points; "
        f"horizon {spec.horizon}, the last {windows} window(s) = {windows * spec.horizon} points "
        f"per series held out\n\n"
        f"foretune: {len(board)} trials ({archs}), {int((board['status'] == 'ok').sum())} ok; "
        f"ensemble {members}.\n\n"
    )
    section = header + markdown(summary)
    (run_dir / "section.md").write_text(section)
    summary.reset_index().to_parquet(run_dir / "summary.parquet", index=False)
    return section, summary


def saved_dataset(name: str, out: Path) -> tuple[str, pd.DataFrame]:
    """A data set's section and table rows as an earlier run under ``out`` saved them."""
    run_dir = out / name
    if not (run_dir / "summary.parquet").is_file():
        raise SystemExit(f"{run_dir} holds no finished run of {name} (run it without --report-only)")
    return (run_dir / "section.md").read_text(), pd.read_parquet(run_dir / "summary.parquet").set_index(
        "model"
    )


def markdown(summary: pd.DataFrame) -> str:
    """One row per system, the best value of each column in bold (coverage: nearest 0.90)."""
    lines = ["| system | " + " | ".join(COLUMNS.values()) + " |", "|---|" + "---:|" * len(COLUMNS)]
    best = {c: _best(summary, c) for c in COLUMNS}
    for label, row in summary.iterrows():
        cells = []
        for col in COLUMNS:
            text = _fmt(row.get(col, np.nan))
            cells.append(f"**{text}**" if text != "-" and label in best[col] else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison(summaries: dict[str, pd.DataFrame]) -> str:
    """Per data set: foretune's MASE against the best statistical baseline, NHITS and its own
    deep-only ensemble; its 90% coverage and width against the statistical baseline whose
    coverage is nearest 0.90; its direction log-loss against climatology."""
    lines = [
        "| data set | foretune MASE | deep only MASE | best statistical (MASE) | vs best statistical "
        "| NHITS MASE | lowest MASE? | foretune 90% coverage | width vs statistical nearest 0.90 "
        "| direction log-loss (climatology) |",
        "|---|---:|---:|---|---:|---:|---|---:|---:|---:|",
    ]
    for name, s in summaries.items():
        mase = pd.to_numeric(s["mase"], errors="coerce")
        ours = mase.get(FORETUNE, np.nan)
        stats = mase.reindex(list(STATISTICAL)).dropna()
        best_stat = stats.idxmin() if len(stats) else None
        diff = (ours / stats.min() - 1.0) * 100.0 if len(stats) else np.nan
        others = mase.drop([i for i in mase.index if str(i).startswith(FORETUNE)]).dropna()
        wins = "yes" if len(others) and ours <= others.min() else "no"
        stat_text = f"{best_stat} ({_fmt(stats.min())})" if best_stat else "-"
        cov = _column(s, "coverage_90")
        width = _column(s, "width_90")
        stat_cov = cov.reindex(list(STATISTICAL)).dropna()
        nearest = (stat_cov - 0.9).abs().idxmin() if len(stat_cov) else None
        ratio = width.get(FORETUNE, np.nan) / width.get(nearest, np.nan) if nearest else np.nan
        loss = _column(s, "log_loss")
        lines.append(
            f"| {name} | {_fmt(ours)} | {_fmt(mase.get(DEEP_ONLY, np.nan))} | {stat_text} | {diff:+.1f}% "
            f"| {_fmt(mase.get('NHITS', np.nan))} | {wins} | {_fmt(cov.get(FORETUNE, np.nan))} "
            f"| {ratio:.2f}x {nearest or '-'} | {_fmt(loss.get(FORETUNE, np.nan))} "
            f"({_fmt(loss.get(CLIMATOLOGY, np.nan))}) |"
        )
    return "\n".join(lines)


def _column(summary: pd.DataFrame, col: str) -> pd.Series:
    if col not in summary.columns:
        return pd.Series(dtype=float)
    return pd.to_numeric(summary[col], errors="coerce")


def _best(summary: pd.DataFrame, col: str) -> set[str]:
    if col not in summary.columns or col.startswith(("width", "seconds")):
        return set()
    values = pd.to_numeric(summary[col], errors="coerce")
    if values.notna().sum() == 0:
        return set()
    key = (values - 0.9).abs() if col.startswith("coverage") else values
    return set(key.index[np.isclose(key, key.min())])


def _fmt(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-"
    if not np.isfinite(v):
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def write_readme(readme: Path, text: str, start: str = README_START, end: str = README_END) -> None:
    """Replace what lies between the README's markers ``start`` and ``end`` (by default this
    benchmark's) with ``text``."""
    content = readme.read_text()
    if start not in content or end not in content:
        raise SystemExit(f"{readme} has no {start} ... {end} block to replace")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    from foretune.config import parse_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated")
    parser.add_argument("--windows", type=int, default=2, help="held-out windows per series")
    parser.add_argument("--nhits-steps", type=int, default=200, help="NHITS optimisation steps; 0 = skip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config setting")
    parser.add_argument("--out", help="output directory (default runs/accuracy-<time>)")
    parser.add_argument("--readme", help="rewrite this README's benchmark block with the tables")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="score the sweep and ensemble already under --out/<data set> instead of running them again",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: print (and --readme) the tables of the data sets already run under --out "
        "(e.g. by several processes, one per data set)",
    )
    args = parser.parse_args(argv)
    args.settings = parse_settings(args.set)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; choose from {list(DATASETS)}")
    out = Path(args.out or f"runs/accuracy-{time.strftime('%Y%m%d-%H%M%S')}").resolve()

    if not args.report_only:
        from foretune.runtime import ensure_ray

        ensure_ray(num_cpus=2)
    sections, summaries = [], {}
    for name in names:
        if args.report_only:
            if not (out / name / "summary.parquet").is_file():
                sections.append(f"### {name}: not run (no finished run under {out.name})")
                continue
            section, summaries[name] = saved_dataset(name, out)
        else:
            section, summaries[name] = run_dataset(name, out, args)
            print("\n" + section, flush=True)
        sections.append(section)
    settings = ", ".join(args.set) or "none"
    text = (
        f"Generated by `python benchmarks/accuracy.py` (seed {args.seed}, quickstart defaults, "
        f"extra settings: {settings}; "
        + (f"NHITS {args.nhits_steps} steps; " if args.nhits_steps else "NHITS not run (--nhits-steps 0); ")
        + f"{os.cpu_count()} CPUs shared with other jobs, so compare wall-clock within a table).\n\n"
        + comparison(summaries)
        + "\n\n"
        + "\n\n".join(sections)
        + "\n"
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.md").write_text(text)
    print("\n" + text)
    print(f"written to {out / 'accuracy.md'}")
    if args.readme:
        write_readme(Path(args.readme), text)
        print(f"rewrote the benchmark block of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
