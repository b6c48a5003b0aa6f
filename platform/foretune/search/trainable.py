"""The Tune function trainable: one trial = decode its parameters, then train.

With ``train.num_workers == 0`` the loop runs inline in the trial's process (the cheap path: a
no-op ``TorchTrainer.fit`` costs seconds of worker-group start-up, more than a small model's whole
training). With ``num_workers >= 1`` the trial launches a Ray Train ``TorchTrainer`` (Train V2)
whose workers run the same loop and report to Tune through ``TuneReportCallback``. Streamed data
(``WindowStream``) is iterated by the inline trial itself, or handed to the ``TorchTrainer`` as
its ``train``/``val`` datasets, which Ray Train splits into one shard per worker.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from foretune.config import ExperimentConfig
from foretune.data import PreparedData
from foretune.data.store import WindowStream
from foretune.storage import ray_storage, resolve
from foretune.train import fit
from foretune.train.checkpoint import StateThrottle, best_weights, read_state, staged_checkpoint

from .scheduler import rung_epochs
from .space import decode


class SharedData:
    """The sweep's datasets (window length -> data), put in Ray's object store once.

    Every trial fetches the same object (numpy arrays map zero-copy from shared memory), instead
    of a copy pickled into each trial; ``fetch`` also times the fetch for the trial's report.
    """

    def __init__(self, datasets: dict) -> None:
        self.ref = ray.put(datasets)

    def fetch(self) -> tuple[dict, float]:
        began = time.perf_counter()
        return ray.get(self.ref), time.perf_counter() - began


def run_trial(
    params: dict[str, Any], experiment: dict[str, Any], datasets: SharedData, storage: str | None = None
) -> None:
    """Train the trial described by ``params`` on the prepared data for its window.

    ``storage`` is the experiment directory on shared storage, where Ray Train writes checkpoints.
    """
    clock = TrialClock()
    config = ExperimentConfig.from_dict(experiment)
    spec = decode(params, config)
    shared, clock.data_seconds = datasets.fetch()
    data: PreparedData | WindowStream = shared[spec.window]
    if config.train.num_workers == 0:
        _fit_inline(spec, data, clock, rung_epochs(config))
        return
    _fit_with_ray_train(config, spec, data, storage)


class TrialClock:
    """Where an inline trial's time goes, added to each of its reports as ``t_*`` metrics.

    ``t_started_at`` and ``t_reported_at`` are wall-clock stamps (the trial's first line, and the
    moment it hands in this report); the rest are seconds up to this report: ``t_data_s``
    fetching the data, ``t_train_s`` the epochs' training and validation passes, ``t_report_s``
    the earlier reports and their checkpoints, ``t_score_s`` scoring the best weights;
    ``t_threads`` is torch's thread count and ``t_pid`` the process (one per slot when
    ``search.reuse_actors``). ``benchmarks/sweep_overhead.py`` turns the last
    report's into the sweep's breakdown (a trial ASHA stops has no final report).
    """

    def __init__(self) -> None:
        self.started_at = time.time()
        self.data_seconds = self.train_seconds = self.report_seconds = 0.0

    def stamp(self, metrics: dict[str, Any]) -> dict[str, Any]:
        self.train_seconds += metrics.get("epoch_seconds", 0.0)
        return {
            **metrics,
            "t_started_at": self.started_at,
            "t_data_s": self.data_seconds,
            "t_train_s": self.train_seconds,
            "t_report_s": self.report_seconds,
            "t_score_s": metrics.get("score_seconds", 0.0),
            "t_threads": torch.get_num_threads(),
            "t_pid": os.getpid(),
            "t_reported_at": time.time(),
        }


def _fit_inline(spec, data: PreparedData, clock: TrialClock, rungs: frozenset[int]) -> None:
    """Train in this Tune trial; reports carry the resumable training state (``StateThrottle``).

    A trial restarted by Tune (its worker died, or the sweep was resumed) continues from its last
    finished epoch with the same result instead of starting over. The final report's checkpoint
    also holds the best weights (``model.pt``, ``spec.json``) that the ensemble reads, and so do
    the reports after each of ``rungs`` epochs (where ASHA may stop the trial: it then stays an
    ensemble candidate); other reports carry a checkpoint only every ``STATE_EVERY_S``.
    """
    resume_from = None
    previous = tune.get_checkpoint()
    if previous is not None:
        with previous.as_directory() as directory:
            resume_from = read_state(directory)
    pending: dict[str, Any] = {}

    def save_state(state: dict[str, Any]) -> None:
        pending["state"] = state

    throttle = StateThrottle()

    def report(metrics: dict[str, Any], payload: dict[str, Any] | None) -> None:
        began = time.perf_counter()
        metrics = clock.stamp(metrics)
        at_rung = "status" not in metrics and metrics["epoch"] + 1 in rungs
        state = throttle.take(pending.pop("state", None), force=at_rung)
        if at_rung and state is not None:
            payload = best_weights(state)
        with staged_checkpoint(state, payload) as directory:
            checkpoint = tune.Checkpoint.from_directory(directory) if directory else None
            tune.report(metrics, checkpoint=checkpoint)
        clock.report_seconds += time.perf_counter() - began

    fit(spec, data, report, resume_from=resume_from, save_state=save_state)


def _fit_with_ray_train(
    config: ExperimentConfig, spec, data: PreparedData | WindowStream, storage: str | None
) -> None:
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    from foretune.train.distributed import train_worker

    train = config.train
    resources = {"CPU": train.cpus_per_worker}
    if train.use_gpu:
        resources["GPU"] = 1.0
    context = tune.get_context()
    # get_trial_dir() is the trial's node-local staging directory; Ray Train's workers must write
    # checkpoints to the shared experiment directory so the ensemble finds them from any node.
    trial_dir = Path(context.get_trial_dir())
    where = ray_storage(resolve(storage) / trial_dir.name if storage else trial_dir)
    datasets = None
    if isinstance(data, WindowStream):  # Ray Train shards the streamed datasets over workers
        datasets, data = {"train": data.train, "val": data.val}, data.without_data()
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"spec": spec.to_dict(), "data": data},
        datasets=datasets,
        scaling_config=ScalingConfig(
            num_workers=train.num_workers, use_gpu=train.use_gpu, resources_per_worker=resources
        ),
        run_config=RunConfig(
            name=f"train-{context.get_trial_id()}",
            **where,
            callbacks=[TuneReportCallback()],
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )
    trainer.fit()
