"""Run the sweep: Ray Tune + OptunaSearch (+ ASHA), then write the leaderboard.

The searcher (what to try: ``OptunaSearch`` with a seeded TPE or random sampler) and the scheduler
(when to stop: ASHA on the per-epoch validation loss) are independent plug-ins chosen in config.
Everything lands under the run directory: ``sweep/`` (Tune's experiment, trial checkpoints),
``leaderboard.parquet``, ``curves.parquet``, ``transform.json`` and ``config.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from foretune.config import ExperimentConfig
from foretune.data import PreparedData, RatioTransform, SeriesFrame, prepare, read_frame, validate

from .leaderboard import curves_frame, leaderboard_frame
from .progress import ProgressCallback
from .space import define_space
from .trainable import run_trial

METRIC, MODE = "val_loss", "min"


@dataclass
class SweepResult:
    """Where the sweep wrote its outputs, and the leaderboard itself."""

    run_dir: Path
    leaderboard: pd.DataFrame


def load_series(config: ExperimentConfig) -> SeriesFrame:
    """Read and validate the experiment's data (built-in data when no path is set)."""
    data = config.data
    longest = max(config.search.windows)
    return validate(
        read_frame(data.path),
        transform=data.transform,
        min_length=longest + data.horizon + 1,
        covariates=data.covariates,
    )


def prepare_all(config: ExperimentConfig, series: SeriesFrame) -> dict[int, PreparedData]:
    """Prepared windows for every window length the search may pick (one fitted transform)."""
    data = config.data
    out = {}
    for window in sorted(set(config.search.windows)):
        transform = RatioTransform(data.transform, data.eps, data.flat_band)
        out[window] = prepare(
            series,
            window=window,
            horizon=data.horizon,
            transform=transform,
            val_fraction=data.val_fraction,
            test_fraction=data.test_fraction,
        )
    return out


def run_sweep(config: ExperimentConfig, run_dir: str | Path) -> SweepResult:
    """Search over the config's architectures and hyperparameters; write the leaderboard."""
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    series = load_series(config)
    datasets = prepare_all(config, series)
    first = next(iter(datasets.values()))
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    (run_dir / "transform.json").write_text(json.dumps(first.transform.to_dict()))
    data_info = {"covariates": list(series.covariates), "freqs": series.freqs}
    (run_dir / "data.json").write_text(json.dumps(data_info, default=str))

    search = config.search
    sampler = (
        optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=min(4, search.trials))
        if search.sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=config.seed)
    )
    searcher = ConcurrencyLimiter(
        OptunaSearch(space=define_space(config), metric=METRIC, mode=MODE, sampler=sampler),
        max_concurrent=search.max_concurrent,
    )
    scheduler = (
        ASHAScheduler(
            time_attr="training_iteration",
            max_t=config.train.max_epochs + 1,
            grace_period=search.grace_period,
            reduction_factor=search.reduction_factor,
        )
        if search.scheduler == "asha"
        else FIFOScheduler()
    )
    trainable = tune.with_parameters(run_trial, experiment=config.to_dict(), datasets=datasets)
    tuner = tune.Tuner(
        tune.with_resources(trainable, _trial_resources(config)),
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode=MODE,
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=search.trials,
            time_budget_s=search.time_budget_s,
        ),
        run_config=tune.RunConfig(
            name="sweep",
            storage_path=str(run_dir),
            failure_config=tune.FailureConfig(max_failures=search.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[ProgressCallback(search.trials)],
            verbose=0,
        ),
    )
    results = tuner.fit()
    board = leaderboard_frame(results)
    board.to_parquet(run_dir / "leaderboard.parquet", index=False)
    curves_frame(results).to_parquet(run_dir / "curves.parquet", index=False)
    return SweepResult(run_dir, board)


def _trial_resources(config: ExperimentConfig) -> dict[str, float]:
    train = config.train
    if train.num_workers >= 1:
        # The trial only drives a TorchTrainer; its workers hold the real resources.
        return {"cpu": 0.001}
    return {"cpu": config.search.cpus_per_trial, "gpu": train.gpus_per_trial}
