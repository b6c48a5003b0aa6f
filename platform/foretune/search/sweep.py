"""Run the sweep: Ray Tune + OptunaSearch (+ ASHA), then write the leaderboard.

The searcher (what to try: ``OptunaSearch`` with a seeded TPE or random sampler) and the scheduler
(when to stop: ASHA on the per-epoch validation loss) are independent plug-ins chosen in config.
Everything lands under the run directory: ``sweep/`` (Tune's experiment, trial checkpoints),
``leaderboard.parquet``, ``curves.parquet``, ``transform.json`` and ``config.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from foretune.config import ConfigError, ExperimentConfig
from foretune.data import PreparedData, RatioTransform, SeriesFrame, prepare, read_frame, validate
from foretune.runtime import ensure_ray

from .leaderboard import curves_frame, leaderboard_frame
from .progress import ProgressCallback
from .resources import check_resources
from .space import define_space, validate_space
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


def run_sweep(
    config: ExperimentConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    num_cpus: int | None = None,
) -> SweepResult:
    """Search over the config's architectures and hyperparameters; write the leaderboard.

    Everything a user can get wrong (config, search space, data) is checked before Ray starts.
    With ``resume`` the interrupted experiment in ``run_dir`` continues through Tune's restore,
    with the Optuna searcher's history intact: finished trials are kept, not rerun.
    """
    run_dir = Path(run_dir).resolve()
    validate_space(config)
    series = load_series(config)
    datasets = prepare_all(config, series)
    experiment = run_dir / "sweep"
    if resume and not tune.Tuner.can_restore(str(experiment)):
        raise ConfigError(f"nothing to resume in {run_dir}: no Tune experiment under {experiment}")
    ensure_ray(num_cpus=num_cpus)
    check_resources(config)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        _write_run_files(run_dir, config, series, datasets)
    trainable = tune.with_resources(
        tune.with_parameters(
            run_trial, experiment=config.to_dict(), datasets=datasets, storage=str(experiment)
        ),
        _trial_resources(config),
    )
    if resume:
        tuner = tune.Tuner.restore(
            str(experiment), trainable=trainable, resume_unfinished=True, resume_errored=True
        )
    else:
        tuner = _new_tuner(config, run_dir, trainable)
    results = tuner.fit()
    board = leaderboard_frame(results, config)
    atomic_parquet(board, run_dir / "leaderboard.parquet")
    atomic_parquet(curves_frame(results), run_dir / "curves.parquet")
    size = directory_size(run_dir)
    print(f"run directory {run_dir} holds {size / 1e6:.1f} MB", flush=True)
    return SweepResult(run_dir, board)


def _new_tuner(config: ExperimentConfig, run_dir: Path, trainable) -> tune.Tuner:
    search = config.search
    multi = search.objective == "multi"
    searcher = ConcurrencyLimiter(
        OptunaSearch(
            space=define_space(config),
            metric=[METRIC, "time_total_s"] if multi else METRIC,
            mode=[MODE, MODE] if multi else MODE,
            sampler=_sampler(config),
        ),
        max_concurrent=search.max_concurrent,
    )
    scheduler = (
        ASHAScheduler(
            metric=METRIC,
            mode=MODE,
            time_attr="training_iteration",
            max_t=config.train.max_epochs + 1,
            grace_period=search.grace_period,
            reduction_factor=search.reduction_factor,
        )
        if search.scheduler == "asha"
        else FIFOScheduler()
    )
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
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


def _sampler(config: ExperimentConfig) -> optuna.samplers.BaseSampler:
    search = config.search
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=config.seed)
    if search.sampler == "grid":
        # Enumerates every combination of a discrete define-by-run space (pin or list the
        # continuous parameters in search.space to use it).
        return optuna.samplers.BruteForceSampler(seed=config.seed)
    return optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=min(4, search.trials))


def _write_run_files(run_dir: Path, config: ExperimentConfig, series, datasets) -> None:
    first = next(iter(datasets.values()))
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    (run_dir / "transform.json").write_text(json.dumps(first.transform.to_dict()))
    data_info = {"covariates": list(series.covariates), "freqs": series.freqs}
    (run_dir / "data.json").write_text(json.dumps(data_info, default=str))


def atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write Parquet to a temporary sibling and rename it, so a crash never leaves half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _trial_resources(config: ExperimentConfig) -> dict[str, float]:
    train = config.train
    if train.num_workers >= 1:
        # The trial only drives a TorchTrainer; its workers hold the real resources.
        return {"cpu": 0.001}
    return {"cpu": config.search.cpus_per_trial, "gpu": train.gpus_per_trial}
