"""The end-to-end job: sweep -> ensemble -> summary, shared by the CLI and ``jobs/*.py``."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from foretune.config import ExperimentConfig

SUMMARY_COLUMNS = [
    "trial_id", "architecture", "window", "status", "val_loss", "val_mase", "val_smape",
    "train_seconds",
]  # fmt: skip


def default_run_dir(config: ExperimentConfig) -> Path:
    """``config.out`` or ``runs/<name>-<timestamp>`` under the current directory."""
    if config.out:
        return Path(config.out).resolve()
    return (Path("runs") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}").resolve()


def sweep(config: ExperimentConfig, run_dir: Path, num_cpus: int | None = None):
    """Run the search (connecting to / starting Ray) and print the leaderboard."""
    from foretune.runtime import ensure_ray
    from foretune.search import run_sweep

    ensure_ray(num_cpus=num_cpus)
    print(f"foretune: sweeping {config.search.trials} trial(s) over {config.models}; "
          f"run directory {run_dir}", flush=True)
    result = run_sweep(config, run_dir)
    print_leaderboard(result.leaderboard)
    return result


def ensemble(run_dir: Path, config: ExperimentConfig | None = None) -> Path:
    """Build the ensemble artifact of a finished sweep and print where it is."""
    from foretune.ensemble import Ensemble, build_ensemble

    path = build_ensemble(run_dir, config)
    weights = Ensemble.load(path).weights
    print("ensemble members (weight): " + ", ".join(f"{k} {v:.3f}" for k, v in weights.items()))
    print(f"ensemble artifact: {path}", flush=True)
    return path


def run(config: ExperimentConfig, run_dir: Path | None = None) -> Path:
    """Sweep, then build the ensemble; return the artifact directory."""
    run_dir = run_dir or default_run_dir(config)
    sweep(config, run_dir)
    return ensemble(run_dir, config)


def print_leaderboard(board: pd.DataFrame, rows: int = 20) -> None:
    view = board[[c for c in SUMMARY_COLUMNS if c in board]].head(rows)
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.float_format", "{:.4f}".format):
        print("\nleaderboard (best first):")
        print(view.to_string(index=False))
    counts = board["status"].value_counts().to_dict()
    print("trials by status: " + ", ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
