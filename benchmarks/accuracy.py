"""Forecast accuracy of a small foretune sweep + ensemble against the classical baselines.

Run from the repository root (a few minutes on 2 CPU cores)::

    python benchmarks/accuracy.py                     # all data sets
    python benchmarks/accuracy.py --datasets co2      # one of them

For each real data set: write it as Parquet under the output directory, run a small Tune/Optuna
sweep on a local Ray (2 CPUs), build the MC-dropout ensemble, then backtest the ensemble, its
members and the baselines (naive, seasonal naive, AutoETS, AutoTheta) with the same rolling-origin
windows (``foretune.commands.evaluate.evaluate_command``), and print one markdown table per data
set. The run sees every series without its last ``windows x horizon`` points, and the backtest
scores exactly those, so no stage of the run has seen the points it is scored on.

Data sets (all public, shipped with installed packages; nothing is downloaded):

- ``us_macro``: the built-in 8 quarterly US macro series (statsmodels ``macrodata``), 1959-2009;
  horizon 4, log-ratio transform.
- ``co2``: Mauna Loa CO2 (statsmodels ``co2``), weekly 1958-2001 with gaps, resampled to monthly
  means (5 empty months linearly interpolated); horizon 12.
- ``elnino``: monthly Pacific sea-surface temperature 1950-2010 (statsmodels ``elnino``, one row
  per year, one column per month), reshaped to one monthly series; horizon 12, diff transform
  (a level of about 20-29 degrees has no natural ratio scale).

Columns: MASE and sMAPE (M4 definitions, mean over series), CRPS in data units and scaled CRPS
(CRPS / the in-sample seasonal-naive MAE, so it equals MASE for a point forecast; the mean over
series is comparable across series), and the 90% interval's coverage and mean width (point
baselines have no interval: "-"). "best member" is the member with the lowest backtest MASE:
an oracle choice made on the test windows themselves, so it flatters the members; the ensemble's
own member weights were fixed on validation windows before the backtest. "ensemble, uncalibrated"
is the raw MC-dropout mixture before the conformal interval calibration (when the artifact has
one): the same point forecasts and draws, so the same MASE and CRPS (the CRPS is of the mixture's
draws; calibration moves only the interval bounds), but different coverage and width.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

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
    "crps": "CRPS",
    "crps_scaled": "scaled CRPS",
    "coverage_90": "coverage 90%",
    "width_90": "width 90%",
}
BASELINES = ("naive", "seasonal_naive", "AutoETS", "AutoTheta")


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


DATASETS = {
    # name: (loader, experiment settings)
    "us_macro": (us_macro, {"horizon": 4, "transform": "log_ratio", "windows": [8, 16]}),
    "co2": (co2, {"horizon": 12, "transform": "log_ratio", "windows": [24, 36]}),
    "elnino": (elnino, {"horizon": 12, "transform": "diff", "windows": [24, 36]}),
}


# ---------------------------------------------------------------------------------- benchmark
def experiment(name: str, data_path: Path, settings: dict, args: argparse.Namespace):
    from foretune.config import ExperimentConfig

    return ExperimentConfig.from_dict(
        {
            "name": f"accuracy-{name}",
            "seed": args.seed,
            "models": args.models.split(","),
            "data": {
                "path": str(data_path),
                "horizon": settings["horizon"],
                "transform": settings["transform"],
            },
            "train": {"max_epochs": args.epochs, "patience": 5},
            "search": {
                "trials": args.trials,
                "max_concurrent": 2,
                "windows": settings["windows"],
                "grace_period": 5,
                "time_budget_s": args.sweep_budget,
            },
            "ensemble": {
                "top_k": 3,
                "samples": 50,
                "quantiles": [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
            },
        }
    )


def held_out_split(frame: pd.DataFrame, points: int) -> pd.DataFrame:
    """Every series without its last ``points`` observations: what the run may see."""
    position = frame.groupby("unique_id", sort=False).cumcount(ascending=False)
    return frame[position >= points].reset_index(drop=True)


def table(summary: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """The markdown table (ensemble, best member, baselines) and the rows it shows."""
    s = summary.set_index("model")
    rows = {"ensemble": s.loc["ensemble"]}
    if "ensemble_uncalibrated" in s.index:
        rows["ensemble, uncalibrated"] = s.loc["ensemble_uncalibrated"]
    members = s[s.index.str.startswith("member")]
    if not members.empty:
        best = members["mase"].astype(float).idxmin()
        rows[f"best member, oracle ({best})"] = s.loc[best]
    for name in BASELINES:
        if name in s.index:
            rows[name] = s.loc[name]
    shown = pd.DataFrame(rows).T
    lines = [
        "| model | " + " | ".join(COLUMNS.values()) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    best = {c: _best(shown, c) for c in COLUMNS}
    for label, row in shown.iterrows():
        cells = []
        for col in COLUMNS:
            value = row.get(col, np.nan)
            text = _fmt(value)
            cells.append(f"**{text}**" if text != "-" and label in best[col] else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines), shown


def _best(shown: pd.DataFrame, col: str) -> set[str]:
    if col not in shown.columns or col.startswith("width"):
        return set()
    values = pd.to_numeric(shown[col], errors="coerce")
    if values.notna().sum() == 0:
        return set()
    key = (values - 0.9).abs() if col.startswith("coverage") else values
    return set(key.index[np.isclose(key, key.min())])


def _fmt(value) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-"
    if not np.isfinite(v):
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3f}" if abs(v) < 10 else f"{v:.2f}"


def run_dataset(name: str, out: Path, args: argparse.Namespace) -> str:
    from foretune.commands.evaluate import evaluate_command
    from foretune.ensemble import build_ensemble
    from foretune.search import run_sweep

    loader, settings = DATASETS[name]
    frame = loader()
    run_dir = out / name
    run_dir.mkdir(parents=True, exist_ok=True)
    data_path = run_dir / "data.parquet"  # everything, for the backtest
    frame.to_parquet(data_path, index=False)
    seen_path = run_dir / "seen.parquet"  # without the scored tail: the run never sees it
    held_out_split(frame, args.windows * settings["horizon"]).to_parquet(seen_path, index=False)
    config = experiment(name, seen_path, settings, args)
    sizes = frame.groupby("unique_id").size()
    print(
        f"\n=== {name}: {len(sizes)} series, {sizes.min()}-{sizes.max()} points, "
        f"horizon {settings['horizon']} ===",
        flush=True,
    )
    start = time.perf_counter()
    run_sweep(config, run_dir)
    sweep_s = time.perf_counter() - start
    start = time.perf_counter()
    artifact = build_ensemble(run_dir, config)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    evaluate_command(artifact, data_path, windows=args.windows, out=run_dir / "evaluation")
    eval_s = time.perf_counter() - start
    summary = pd.read_parquet(run_dir / "evaluation" / "backtest_summary.parquet")
    markdown, _ = table(summary)
    board = pd.read_parquet(run_dir / "leaderboard.parquet")
    archs = ", ".join(f"{a}x{n}" for a, n in board["architecture"].value_counts().items())
    header = (
        f"### {name} ({len(sizes)} series x {sizes.max()} points; horizon "
        f"{settings['horizon']}, {args.windows} rolling-origin windows = last "
        f"{args.windows * settings['horizon']} points per series, all held out)\n\n"
        f"Sweep: {len(board)} trials ({archs}), {int((board['status'] == 'ok').sum())} ok; "
        f"sweep {sweep_s:.0f} s, ensemble {build_s:.0f} s, backtest + report {eval_s:.0f} s. "
        f"Report: {run_dir / 'evaluation' / 'report.html'}\n\n"
    )
    return header + markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated")
    parser.add_argument("--models", default="mlp,gru,tcn", help="architectures to search")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--sweep-budget", type=float, default=70.0, help="seconds per sweep")
    parser.add_argument("--windows", type=int, default=3, help="backtest windows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="output directory (default runs/accuracy-<time>)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; choose from {list(DATASETS)}")
    out = Path(args.out or f"runs/accuracy-{time.strftime('%Y%m%d-%H%M%S')}").resolve()

    from foretune.runtime import ensure_ray

    ensure_ray(num_cpus=2)
    start = time.perf_counter()
    sections = [run_dataset(name, out, args) for name in names]
    total = time.perf_counter() - start
    text = (
        f"## foretune accuracy benchmark (seed {args.seed}, {args.trials} trials of "
        f"{args.models}, <= {args.epochs} epochs; {total:.0f} s in all)\n\n" + "\n\n".join(sections) + "\n"
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.md").write_text(text)
    print("\n" + text)
    print(f"written to {out / 'accuracy.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
