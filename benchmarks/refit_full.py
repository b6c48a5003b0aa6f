"""Measure ``evaluate.refit_full``: serve the members refit on all the data, or the scored ones?

Run from the repository root (several minutes per data set on 2 CPU cores)::

    python benchmarks/refit_full.py                      # us_macro, co2, m1_yearly
    python benchmarks/refit_full.py --datasets co2

For each real data set, ``foretune run`` (the packaged quickstart defaults, so
``evaluate.windows: 2`` and ``evaluate.refit_full: true``) sees every series without its last
``horizon`` observations: the outer tail, which no stage of the run sees. One run yields both
ensembles: the one its report scores (trained without the run's own held-out tail) and the same
members and weights retrained on all the run's data (what ``refit_full`` serves). Both
forecast the outer tail from the same history (``foretune evaluate``, one window), beside the
naive and seasonal-naive baselines. Printed: MASE, sMAPE, scaled CRPS and 90% coverage per
ensemble, and the refit stage's share of the run's wall clock.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

import pandas as pd

try:
    import foretune  # noqa: F401
except ImportError:  # run without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from accuracy import DATASETS, held_out_split  # noqa: E402

COLUMNS = {"mase": "MASE", "smape": "sMAPE", "crps_scaled": "scaled CRPS", "coverage_90": "coverage 90%"}


def measure(name: str, out: Path, seed: int) -> pd.DataFrame:
    from foretune.commands import run as commands
    from foretune.commands.evaluate import evaluate_command, run_report
    from foretune.config import ExperimentConfig
    from foretune.ensemble import Ensemble, refit_on_all_data

    dataset = DATASETS[name]
    horizon, frame = dataset.horizon, dataset.loader()
    root = out / name
    root.mkdir(parents=True, exist_ok=True)
    full, seen = root / "data.parquet", root / "seen.parquet"
    frame.to_parquet(full, index=False)
    held_out_split(frame, horizon).to_parquet(seen, index=False)
    config = ExperimentConfig.from_yaml(
        None, {"data.path": str(seen), "data.horizon": horizon, "seed": seed, "out": str(root / "run")}
    )
    run_dir = root / "run"
    stamps = [time.perf_counter()]
    with contextlib.redirect_stdout(io.StringIO()):
        commands.sweep(config, run_dir)
        artifact = commands.ensemble(run_dir, config)
        stamps.append(time.perf_counter())
        run_report(run_dir, artifact)
        stamps.append(time.perf_counter())
        served = refit_on_all_data(run_dir, Ensemble.load(artifact), config).save(root / "served")
        stamps.append(time.perf_counter())
    sweep_s, report_s, refit_s = (b - a for a, b in zip(stamps, stamps[1:], strict=False))
    rows = []
    for label, model in (("scored", artifact), ("refit_full", served)):
        evaluate_command(
            model, full, windows=1, out=root / f"outer-{label}", members=False, statistical=False, log=None
        )
        summary = pd.read_parquet(root / f"outer-{label}" / "backtest_summary.parquet").set_index("model")
        shown = {"ensemble": f"ensemble ({label})"}
        if label == "scored":
            shown["seasonal_naive"] = "seasonal naive"
        for model_name, text in shown.items():
            scores = summary.loc[model_name, list(COLUMNS)].astype(float)
            rows.append({"data set": name, "model": text, **scores})
    total = sweep_s + report_s + refit_s
    rows.append({"data set": name, "model": f"refit stage: {refit_s / total:.0%} of the run ({total:.0f} s)"})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="us_macro,co2,m1_yearly")
    parser.add_argument("--out", default="benchmarks/out/refit_full")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from foretune.runtime import ensure_ray

    ensure_ray(num_cpus=2)
    tables = [measure(name, Path(args.out), args.seed) for name in args.datasets.split(",")]
    result = pd.concat(tables, ignore_index=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(markdown(result.rename(columns=COLUMNS)))


def markdown(frame: pd.DataFrame) -> str:
    """A markdown table (numbers to 3 decimals, blanks for missing)."""

    def cell(v) -> str:
        return "" if pd.isna(v) else f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
