"""The Tune function trainable: one trial = decode its parameters, then train.

With ``train.num_workers == 0`` the loop runs inline in the trial's process (the cheap path: a
no-op ``TorchTrainer.fit`` costs seconds of worker-group start-up, more than a small model's whole
training). With ``num_workers >= 1`` the trial launches a Ray Train ``TorchTrainer`` (Train V2)
whose workers run the same loop and report to Tune through ``TuneReportCallback``. Streamed data
(``WindowStream``) is iterated by the inline trial itself, or handed to the ``TorchTrainer`` as
its ``train``/``val`` datasets, which Ray Train splits into one shard per worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ray import tune

from foretune.config import ExperimentConfig
from foretune.data import PreparedData
from foretune.data.store import WindowStream
from foretune.storage import ray_storage, resolve
from foretune.train import fit
from foretune.train.checkpoint import StateThrottle, read_state, staged_checkpoint

from .space import decode


def run_trial(
    params: dict[str, Any], experiment: dict[str, Any], datasets: dict, storage: str | None = None
) -> None:
    """Train the trial described by ``params`` on the prepared data for its window.

    ``storage`` is the experiment directory on shared storage, where Ray Train writes checkpoints.
    """
    config = ExperimentConfig.from_dict(experiment)
    spec = decode(params, config)
    data: PreparedData | WindowStream = datasets[spec.window]
    if config.train.num_workers == 0:
        _fit_inline(spec, data)
        return
    _fit_with_ray_train(config, spec, data, storage)


def _fit_inline(spec, data: PreparedData) -> None:
    """Train in this Tune trial; reports carry the resumable training state (``StateThrottle``).

    A trial restarted by Tune (its worker died, or the sweep was resumed) continues from its last
    finished epoch with the same result instead of starting over. The final report's checkpoint
    also holds the best weights (``model.pt``, ``spec.json``) that the ensemble reads.
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
        state = throttle.take(pending.pop("state", None))
        with staged_checkpoint(state, payload) as directory:
            checkpoint = tune.Checkpoint.from_directory(directory) if directory else None
            tune.report(metrics, checkpoint=checkpoint)

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
