"""Ray Train entry point: run ``fit`` on every worker of a ``TorchTrainer`` (Train V2 API).

Only this module of ``train`` knows Ray Train. The worker group uses DDP through
``ray.train.torch.prepare_model`` (gloo on CPU, NCCL on GPU, chosen by Ray from ``use_gpu``); each
rank reports every epoch with ``ray.train.report``; rank 0 attaches the resumable training state
(at most every ``STATE_EVERY_S``) and the best weights at the end, so a restarted worker group
resumes from its last persisted epoch.
Every rank reports the same metrics: ``fit`` all-reduces the train and validation losses, and
shards each global batch of ``batch_size * world_size`` windows across ranks, so a run on N
workers with ``batch_size`` b follows the trajectory of one process with batch N·b.
With streamed data (a ``WindowStream`` without datasets in the config), each worker reads its
shard of the trainer's ``train`` and ``val`` datasets (Ray Train splits them equally).
``train_worker`` returns the list of reported metrics (rank 0's is ``Result.return_value``).
"""

from __future__ import annotations

from typing import Any

import ray.train
import ray.train.torch
from ray.train import Checkpoint

from foretune.data.store import WindowStream

from .checkpoint import StateThrottle, read_state, staged_checkpoint
from .loop import fit
from .spec import TrainSpec


def train_worker(config: dict[str, Any]) -> list[dict[str, Any]]:
    """``train_loop_per_worker`` for ``TorchTrainer``: ``config`` holds ``spec`` and ``data``."""
    context = ray.train.get_context()
    spec = TrainSpec(**config["spec"])
    data = config["data"]
    if isinstance(data, WindowStream):  # streamed: this worker's equal shards of the datasets
        data = data.with_shards(ray.train.get_dataset_shard("train"), ray.train.get_dataset_shard("val"))
    device = ray.train.torch.get_device()
    history: list[dict[str, Any]] = []
    rank = context.get_world_rank()
    resume_from = None
    previous = ray.train.get_checkpoint()
    if previous is not None:  # a restarted worker group continues from its last epoch
        with previous.as_directory() as directory:
            resume_from = read_state(directory)
    pending: dict[str, Any] = {}

    def save_state(state: dict[str, Any]) -> None:
        pending["state"] = state  # every rank calls this (a collective); rank 0's is persisted

    throttle = StateThrottle()

    def report(metrics: dict[str, Any], payload: dict[str, Any] | None) -> None:
        history.append(dict(metrics))
        state = throttle.take(pending.pop("state", None))
        if rank != 0:
            state = payload = None
        with staged_checkpoint(state, payload) as directory:
            checkpoint = Checkpoint.from_directory(directory) if directory else None
            ray.train.report(metrics, checkpoint=checkpoint)

    world = context.get_world_size()
    # Without the direction loss the direction head gets no gradient: DDP must be told.
    ddp = {"find_unused_parameters": spec.direction_weight == 0}

    def wrap(model):
        return ray.train.torch.prepare_model(model, parallel_strategy_kwargs=ddp)

    fit(
        spec,
        data,
        report,
        device=device,
        rank=rank,
        world_size=world,
        wrap=wrap if world > 1 else None,
        resume_from=resume_from,
        save_state=save_state,
    )
    return history
