"""Ensemble vs best single member vs seasonal naive, on real data, on windows nobody saw.

Run from the repository root (a few minutes on 2 CPU cores)::

    PYTHONPATH=platform python benchmarks/ensemble_accuracy.py
    PYTHONPATH=platform python benchmarks/ensemble_accuracy.py --datasets us_macro --trials 4

Protocol, per data set:

1. The last ``holdout`` observations of every series are cut off. A small real sweep (Ray Tune +
   Optuna, local Ray) and ``make_ensemble`` run on the rest; so the sweep's own train /
   validation / test splits (selection on validation, calibration on test) all lie before
   the hold-out.
2. Evaluation: rolling origins over the hold-out. At each origin every model forecasts every
   series from its history up to the origin (``Ensemble.predict``, exactly as a user calls it),
   and is scored on the next ``horizon`` actuals with ``evaluate.metrics.evaluate_forecasts``;
   metrics are averaged over series (M4 style), then over origins.
3. Models: the ensemble with and without conformal calibration, the best single trial of the
   sweep (lowest validation loss) as a one-member ensemble with and without calibration (same
   calibration windows), and ``evaluate.baselines.seasonal_naive`` and ``naive``.

Columns: ``MASE`` of the mean; ``CRPS/s``: CRPS of 100 unweighted mixture draws divided by the
series' MASE scale (seasonal naive: a point forecast, whose CRPS is its absolute error);
``QL``: mean pinball loss over the quantile columns divided by the scale; ``cov50``/``cov90``:
coverage of the central 50%/90% intervals (q25-q75, q05-q95); ``w90/s``: the 90% width divided
by the scale. The MASE scale is the in-sample mean absolute seasonal difference of the history.

Data sets: ``us_macro`` (the built-in 8 quarterly US macro series, horizon 4, log-ratio),
``monthly`` (statsmodels' El Nino sea-surface temperature, Mauna Loa CO2 resampled to monthly
means, and euro-area electrical-equipment orders: three monthly seasonal series, horizon 6,
log-ratio) and ``sunspots`` (yearly sunspot numbers, which touch 0, with the diff transform).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import foretune  # noqa: F401
except ImportError:  # run without PYTHONPATH=platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from foretune import metrics as M
from foretune.config import ExperimentConfig
from foretune.data import builtin_dataset_path
from foretune.data.calendar import series_seasons
from foretune.evaluate.baselines import naive, seasonal_naive


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame
    horizon: int
    holdout: int
    windows: list[int]
    transform: str = "log_ratio"


def us_macro() -> Dataset:
    return Dataset("us_macro", pd.read_parquet(builtin_dataset_path()), 4, 12, [8, 12])


def monthly() -> Dataset:
    import statsmodels.api as sm
    from statsmodels.datasets import elec_equip

    elnino = sm.datasets.elnino.load_pandas().data
    months = [c for c in elnino.columns if c != "YEAR"]
    long = elnino.melt(id_vars="YEAR", value_vars=months, var_name="month", value_name="y")
    long["ds"] = pd.to_datetime(
        long["YEAR"].astype(int).astype(str) + "-" + long["month"].str.title(), format="%Y-%b"
    )
    nino = long.sort_values("ds").assign(unique_id="elnino_sst")[["unique_id", "ds", "y"]]
    co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    co2 = co2.loc["1958-04-01":]  # the first month holds a single weekly reading
    co2 = pd.DataFrame({"unique_id": "co2", "ds": co2.index, "y": co2.to_numpy()})
    elec = elec_equip.load().data.iloc[:, 0]
    elec = pd.DataFrame({"unique_id": "elec_equip", "ds": elec.index, "y": elec.to_numpy()})
    frame = pd.concat([nino, co2, elec], ignore_index=True)
    return Dataset("monthly", frame, 6, 24, [12, 24])


def sunspots() -> Dataset:
    import statsmodels.api as sm

    data = sm.datasets.sunspots.load_pandas().data
    frame = pd.DataFrame({"unique_id": "sunspots", "ds": data["YEAR"].astype(int), "y": data["SUNACTIVITY"]})
    return Dataset("sunspots", frame, 4, 20, [12, 24], transform="diff")


DATASETS = {"us_macro": us_macro, "monthly": monthly, "sunspots": sunspots}


def config_for(ds: Dataset, path: Path, args) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "name": f"bench-{ds.name}",
            "seed": args.seed,
            "models": args.models.split(","),
            "data": {"path": str(path), "horizon": ds.horizon, "transform": ds.transform},
            "train": {"max_epochs": args.max_epochs, "patience": 4},
            "search": {
                "trials": args.trials,
                "windows": ds.windows,
                "max_concurrent": 2,
                "scheduler": args.scheduler,
                "grace_period": 4,
            },
            "ensemble": {
                "top_k": args.top_k,
                "samples": args.samples,
                "quantiles": [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
            },
        }
    )


def split(frame: pd.DataFrame, holdout: int) -> pd.DataFrame:
    """Every series without its last ``holdout`` observations."""
    frame = frame.sort_values(["unique_id", "ds"])
    position = frame.groupby("unique_id").cumcount(ascending=False)
    return frame[position >= holdout].reset_index(drop=True)


def score(forecast: pd.DataFrame, actual: pd.DataFrame, history: pd.DataFrame, point: str):
    """Scale-free metrics of one origin's forecasts, averaged over series."""
    frame = forecast.merge(actual[["unique_id", "ds", "y"]], on=["unique_id", "ds"])
    seasons = series_seasons(history)
    per_series, aggregate = M.evaluate_forecasts(frame, history, point=point, season=seasons)
    scale = {
        uid: M.mase_scale(h["y"].to_numpy(np.float64), seasons[uid])
        for uid, h in history.groupby("unique_id")
    }
    s = per_series["unique_id"].map(scale).to_numpy(np.float64)
    row = {"MASE": aggregate["mase"], "CRPS/s": float(np.nanmean(per_series["crps"] / s))}
    if "quantile_loss" in per_series:
        row["QL"] = float(np.nanmean(per_series["quantile_loss"] / s))
        row["cov50"] = aggregate.get("coverage_50", np.nan)
        row["cov90"] = aggregate.get("coverage_90", np.nan)
        row["w90/s"] = float(np.nanmean(per_series["width_90"] / s))
    return row


def evaluate(models: dict, ds: Dataset, samples: int) -> pd.DataFrame:
    frame = ds.frame.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    position = frame.groupby("unique_id").cumcount(ascending=False)  # 0 = last observation
    rows = {name: [] for name in [*models, "seasonal naive", "naive"]}
    origins = range(ds.holdout, ds.horizon - 1, -1)  # observations left after the origin
    for left in origins:
        history = frame[position >= left]
        actual = frame[(position < left) & (position >= left - ds.horizon)]
        for name, model in models.items():
            forecast = model.predict(history, samples=samples, seed=0, sample_columns=100)
            rows[name].append(score(forecast, actual, history, "mean"))
        for name, baseline, column in (
            ("seasonal naive", seasonal_naive, "SeasonalNaive"),
            ("naive", naive, "Naive"),
        ):
            point = baseline(history, ds.horizon)
            point["sample_0"] = point[column]  # a point forecast's CRPS is its absolute error
            rows[name].append(score(point, actual, history, column))
    table = pd.DataFrame({name: pd.DataFrame(r).mean() for name, r in rows.items()}).T
    table.index.name = f"{ds.name} ({len(origins)} origins x {ds.horizon} steps)"
    return table


def run_dataset(ds: Dataset, args, root: Path) -> tuple[pd.DataFrame, dict]:
    from foretune.ensemble.build import make_ensemble
    from foretune.search import run_sweep

    data_path = root / f"{ds.name}.parquet"
    split(ds.frame, ds.holdout).to_parquet(data_path, index=False)
    config = config_for(ds, data_path, args)
    run_dir = root / ds.name
    started = time.perf_counter()
    result = run_sweep(config, run_dir)
    sweep_s = time.perf_counter() - started
    started = time.perf_counter()
    ensemble = make_ensemble(run_dir, config)
    build_s = time.perf_counter() - started
    ok = result.leaderboard[result.leaderboard["status"] == "ok"]
    best = ok.iloc[0]
    single = make_ensemble(run_dir, config, trial_ids=[best["trial_id"]])
    models = {
        "ensemble + CQR": ensemble,
        "ensemble raw": ensemble.without_calibration(),
        f"best single ({best['architecture']}) + CQR": single,
        f"best single ({best['architecture']}) raw": single.without_calibration(),
    }
    started = time.perf_counter()
    table = evaluate(models, ds, args.samples)
    info = {
        "sweep_s": round(sweep_s, 1),
        "build_s": round(build_s, 1),
        "evaluate_s": round(time.perf_counter() - started, 1),
        "trials_ok": int(len(ok)),
        "members": {
            f"{m.architecture}:{m.info.get('trial_id')}": round(m.weight, 3) for m in ensemble.members
        },
        "candidates": [
            f"{c['architecture']}:{c['trial_id']}" for c in ensemble.report["selection"]["candidates"]
        ],
        "calibration_90": {
            k: round(v, 3) if isinstance(v, float) else v
            for k, v in ensemble.report["calibration"].get("90", {}).items()
            if k in ("before", "after", "after_crossfit", "n")
        },
        "direction": {
            k: {m: round(v, 3) for m, v in d.items()}
            for k, d in ensemble.report["direction"].items()
            if k in ("head", "samples", "blend")
        },
    }
    return table, info


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="us_macro,monthly")
    parser.add_argument("--models", default="mlp,lstm,gru,tcn")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=12)
    parser.add_argument(
        "--scheduler",
        default="none",
        choices=["none", "asha"],
        help="none: every trial finishes with a checkpoint (a fuller candidate "
        "pool); asha stops weak trials early, and those leave no checkpoint",
    )
    parser.add_argument("--top-k", type=int, default=4)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="directory for the run directories (default: a temp dir)")
    parser.add_argument("--json", help="also write the tables and run info to this JSON file")
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)

    from foretune.runtime import ensure_ray

    ensure_ray(num_cpus=2)
    root = Path(args.out or tempfile.mkdtemp(prefix="foretune-bench-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.datasets.split(","):
        table, info = run_dataset(DATASETS[name](), args, root)
        results[name] = {"table": table.round(4).to_dict(orient="index"), "info": info}
        with pd.option_context(
            "display.width", 160, "display.max_columns", 20, "display.float_format", "{:.3f}".format
        ):
            print(f"\n{table}\n")
        print(json.dumps(info, indent=None))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
