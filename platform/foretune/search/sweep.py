"""Run the sweep: Ray Tune + OptunaSearch (+ ASHA), then write the leaderboard.

The searcher (what to try: ``OptunaSearch`` with a seeded TPE or random sampler) and the scheduler
(when to stop: ASHA on the per-epoch validation loss) are independent plug-ins chosen in config.
Everything lands under the run directory: ``sweep/`` (Tune's experiment, trial checkpoints),
``leaderboard.parquet``, ``curves.parquet``, ``transform.json`` and ``config.json``. The run
directory is a local path or a URI (``s3://bucket/prefix``): Tune writes through the pyarrow file
system of ``foretune.storage``, whose S3 endpoint and credentials come from the environment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from ray import tune
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from foretune.config import ConfigError, ExperimentConfig
from foretune.data import RatioTransform, SeriesFrame
from foretune.data.experiment import (
    load_series,
    prepare_all,
    streamed_covariates,
    with_split_windows,
    with_windows,
)
from foretune.data.store import StoreSettings, build_store
from foretune.rundir import RunDir
from foretune.runtime import ensure_ray
from foretune.storage import Location, RemotePath, ray_storage, resolve, size, write_atomic, write_parquet

from .leaderboard import curves_frame, leaderboard_frame
from .progress import tune_reporting
from .resources import check_resources, trial_request
from .scheduler import METRIC, MODE, build_scheduler
from .space import define_space, search_windows, validate_space, warm_start_points
from .trainable import SharedData, run_trial


@dataclass
class SweepResult:
    """Where the sweep wrote its outputs, and the leaderboard itself."""

    run_dir: Location
    leaderboard: pd.DataFrame


def stream_store(config: ExperimentConfig, covariates: tuple[str, ...], run_dir: Path, reuse: bool = False):
    """The run's series store under ``run_dir/data`` (reused when ``reuse``: a resumed run)."""
    started = time.perf_counter()
    store = build_store(StoreSettings.from_config(config, covariates), RunDir(run_dir).store, reuse=reuse)
    print(
        f"foretune: streaming {len(store.series_ids)} series ({int(store.lengths.sum())} rows) "
        f"from {config.data.path} through Ray Data; series store ready in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return store


def _leave_room_for_data(config: ExperimentConfig) -> ExperimentConfig:
    """Cap concurrent trials so that Ray Data's tasks always find ``data.stream_cpus`` CPUs.

    Otherwise every CPU can be held by trials that wait for data no task can produce.
    """
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 0.0))
    request = max(trial_request(config)["CPU"], 1e-3)
    fits = max(1, int((cpus - config.data.stream_cpus) // request))
    if fits >= config.search.max_concurrent:
        return config
    print(
        f"foretune: running at most {fits} trial(s) at once (search.max_concurrent="
        f"{config.search.max_concurrent}) so that Ray Data keeps {config.data.stream_cpus:g} "
        "CPU(s) for streaming",
        flush=True,
    )
    capped = config.model_copy(deep=True)
    capped.search.max_concurrent = fits
    return capped


@dataclass(frozen=True)
class _SweepData:
    """What the trials train on (``{window: dataset}``) and what the run files record of it."""

    datasets: dict
    transform: RatioTransform
    covariates: Sequence[str]
    freqs: dict
    inputs: dict


def run_sweep(
    config: ExperimentConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    num_cpus: int | None = None,
    callbacks: Sequence[tune.Callback] = (),
) -> SweepResult:
    """Search over the config's architectures and hyperparameters; write the leaderboard.

    Everything a user can get wrong (config, search space, data) is checked before Ray starts.
    With ``resume`` the interrupted experiment in ``run_dir`` continues through Tune's restore,
    with the Optuna searcher's history intact: finished trials are kept, not rerun.
    ``callbacks`` are extra Tune callbacks for a new sweep (``benchmarks/sweep_overhead.py``
    times the trials with one).
    """
    run_dir = resolve(run_dir)
    covariates = streamed_covariates(config)  # None: the data fits in memory
    config, series = _with_windows(config, covariates, run_dir)
    validate_space(config)
    data = _in_memory_data(config, series) if series is not None else None
    run = RunDir(run_dir)
    where = ray_storage(run.sweep)
    if resume and not tune.Tuner.can_restore(where["storage_path"], where.get("storage_filesystem")):
        raise ConfigError(f"nothing to resume in {run_dir}: no Tune experiment under {run.sweep}")
    ensure_ray(num_cpus=num_cpus)
    check_resources(config, streaming=covariates is not None)
    run_dir.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = _streamed_data(config, covariates, run_dir, resume)
    if not resume:
        _write_run_files(run_dir, config, data)
    trainable = _trainable(config, data, run.sweep)
    if covariates is not None:
        config = _leave_room_for_data(config)
    if resume:
        tuner = _restored_tuner(where, trainable)
    else:
        tuner = _new_tuner(config, run_dir, trainable, callbacks)
    return _write_results(tuner.fit(), config, run_dir)


def _with_windows(
    config: ExperimentConfig, covariates: tuple[str, ...] | None, run_dir: Location
) -> tuple[ExperimentConfig, SeriesFrame | None]:
    """The config with its split and search windows set, and the series when they fit in memory
    (``covariates`` None); streamed data is checked against the run directory and the config."""
    if covariates is None:
        series = load_series(config)
        return with_windows(config, series), series
    _check_streaming(config, run_dir)
    config = with_split_windows(config, None)  # the store's lengths are known only once it is built
    if config.search.windows is None:
        config = config.model_copy(deep=True)
        config.search.windows = search_windows(config)
    return config, None


def _check_streaming(config: ExperimentConfig, run_dir: Location) -> None:
    """Refuse what streamed data cannot do: a remote run directory, a refit in memory."""
    if isinstance(run_dir, RemotePath):
        raise ConfigError(
            f"streamed data (data.streaming) keeps its series store in the run directory, which "
            f"cannot be {run_dir} yet: give --out a local path (a shared file system on a cluster)"
        )
    if config.ensemble.refit:
        raise ConfigError(
            "ensemble.refit retrains on the whole training split in memory, which "
            "streamed data does not fit; set ensemble.refit: false"
        )


def _in_memory_data(config: ExperimentConfig, series: SeriesFrame) -> _SweepData:
    """Prepared windows for every searched window length, from series held in memory."""
    datasets: dict = prepare_all(config, series)
    print(f"foretune: {datasets[min(datasets)].summary.line()}", flush=True)
    transform = datasets[min(datasets)].transform
    return _SweepData(datasets, transform, series.covariates, series.freqs, series.inputs)


def _streamed_data(
    config: ExperimentConfig, covariates: tuple[str, ...], run_dir: Path, resume: bool
) -> _SweepData:
    """Ray Data streams of every searched window length, from the run's series store."""
    store = stream_store(config, covariates, run_dir, reuse=resume)
    datasets = {w: store.stream(w) for w in sorted(set(config.search.windows))}
    print(f"foretune: {store.summary(min(datasets)).line()}", flush=True)
    return _SweepData(datasets, store.transform, store.covariates, store.freqs, {})


def _trainable(config: ExperimentConfig, data: _SweepData, experiment: Location):
    """``run_trial`` bound to the experiment and the shared data, with each trial's resources."""
    trainable = tune.with_parameters(
        run_trial, experiment=config.to_dict(), datasets=SharedData(data.datasets), storage=str(experiment)
    )
    return tune.with_resources(trainable, _trial_resources(config))


def _restored_tuner(where: dict[str, Any], trainable) -> tune.Tuner:
    """The interrupted experiment at ``where``, continuing its unfinished and errored trials."""
    return tune.Tuner.restore(
        where["storage_path"],
        trainable=trainable,
        resume_unfinished=True,
        resume_errored=True,
        storage_filesystem=where.get("storage_filesystem"),
    )


def _write_results(results: tune.ResultGrid, config: ExperimentConfig, run_dir: Location) -> SweepResult:
    """Write the leaderboard and the learning curves under ``run_dir``; say how big it is."""
    run = RunDir(run_dir)
    board = leaderboard_frame(results, config)
    write_parquet(board, run.leaderboard)
    write_parquet(curves_frame(results), run.curves)
    print(f"run directory {run_dir} holds {size(run_dir) / 1e6:.1f} MB", flush=True)
    return SweepResult(run_dir, board)


class ResumableOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that a resumed sweep cannot crash with a trial it does not know.

    Tune saves the searcher's state and the experiment's trials at different moments, so a
    sweep killed between the two resumes with a trial the restored searcher never suggested
    (whose results make ``OptunaSearch`` raise ``KeyError``). Such a trial still runs and reaches
    the leaderboard; only the Optuna study does not learn from it.
    """

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._ot_trials:
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._ot_trials:
            super().on_trial_complete(trial_id, result, error)


def _new_tuner(
    config: ExperimentConfig, run_dir: Location, trainable, callbacks: Sequence[tune.Callback]
) -> tune.Tuner:
    search = config.search
    multi = search.objective == "multi"
    searcher = ConcurrencyLimiter(
        ResumableOptunaSearch(
            space=define_space(config),
            metric=[METRIC, "time_total_s"] if multi else METRIC,
            mode=[MODE, MODE] if multi else MODE,
            sampler=_sampler(config),
            points_to_evaluate=warm_start_points(config) or None,
        ),
        max_concurrent=search.max_concurrent,
    )
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=build_scheduler(config),
            num_samples=search.trials,
            time_budget_s=search.time_budget_s,
            reuse_actors=search.reuse_actors,
        ),
        run_config=tune.RunConfig(
            name="sweep",
            **ray_storage(run_dir),
            failure_config=tune.FailureConfig(max_failures=search.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            **_reporting(search.trials, callbacks),
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


def _write_run_files(run_dir: Location, config: ExperimentConfig, data: _SweepData) -> None:
    run = RunDir(run_dir)
    write_atomic(run.config, json.dumps(config.to_dict(), indent=2))
    write_atomic(run.transform, json.dumps(data.transform.to_dict()))
    data_info = {"covariates": list(data.covariates), "freqs": data.freqs, "inputs": data.inputs}
    write_atomic(run.data_info, json.dumps(data_info, default=str))


def _trial_resources(config: ExperimentConfig) -> dict[str, float]:
    train = config.train
    if train.num_workers >= 1:
        # The trial only drives a TorchTrainer; its workers hold the real resources.
        return {"cpu": 0.001}
    return {"cpu": config.search.cpus_per_trial, "gpu": train.gpus_per_trial}


def _reporting(trials: int, callbacks: Sequence[tune.Callback]) -> dict:
    """Tune's progress settings at the current verbosity, plus the caller's callbacks."""
    reporting = tune_reporting(trials)
    reporting["callbacks"] = [*reporting["callbacks"], *callbacks]
    return reporting
