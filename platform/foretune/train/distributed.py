"""Ray Train entry point: run ``fit`` on every worker of a ``TorchTrainer`` (Train V2 API).

Only this module of ``train`` knows Ray Train. The worker group uses DDP through
``ray.train.torch.prepare_model`` (gloo on CPU, NCCL on GPU, chosen by Ray from ``use_gpu``); each
rank reports every epoch with ``ray.train.report`` and rank 0 attaches the final checkpoint.
"""

from __future__ import annotations

import tempfile
from typing import Any

import ray.train
import ray.train.torch
from ray.train import Checkpoint

from .checkpoint import write_checkpoint
from .loop import TrainSpec, fit


def train_worker(config: dict[str, Any]) -> None:
    """``train_loop_per_worker`` for ``TorchTrainer``: ``config`` holds ``spec`` and ``data``."""
    context = ray.train.get_context()
    spec = TrainSpec(**config["spec"])
    data = config["data"]
    device = ray.train.torch.get_device()

    def report(metrics: dict[str, Any], payload: dict[str, Any] | None) -> None:
        if payload is None:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory() as tmp:
            write_checkpoint(tmp, payload)
            ray.train.report(metrics, checkpoint=Checkpoint.from_directory(tmp))

    world = context.get_world_size()
    fit(
        spec,
        data,
        report,
        device=device,
        rank=context.get_world_rank(),
        world_size=world,
        wrap=ray.train.torch.prepare_model if world > 1 else None,
    )
