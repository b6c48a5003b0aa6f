"""One rank's epoch machinery: optimiser, schedule, mixed precision, the training and validation passes.

``Trainer(spec, model, trained, feed)`` builds the optimiser (Adam/AdamW), the schedule
(``train.schedule``) and, for fp16 on CUDA, a ``GradScaler``; ``train_epoch()`` runs one pass over
the feed's updates and returns the mean training loss over all ranks' samples, ``val_loss()`` the
mean validation loss, ``end_epoch(val_loss)`` steps a per-epoch schedule. ``fit`` drives it and
``foretune bench`` times ``train_epoch``, the very epoch ``fit`` runs. Usage::

    trainer = Trainer(spec, model, model, MemoryFeed(spec, train_arrays, val_arrays, device))
    train_loss, val_loss = trainer.train_epoch(), trainer.val_loss()
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .feed import Feed, Rows
from .grads import FlatGrads, clip_gradients, sync_on_last
from .losses import loss_sum
from .schedule import build_scheduler
from .spec import TrainSpec

ADAM_BETAS = (0.9, 0.999)  # PyTorch's defaults
ADAM_EPS = 1e-8


class Trainer:
    """One rank's training machinery around ``feed`` (see the module docstring).

    ``model`` is the bare module (evaluation, state); ``trained`` the module that trains (the
    same, or its DDP wrapper). The device, rank and world size are the feed's.
    """

    def __init__(self, spec: TrainSpec, model: nn.Module, trained: nn.Module, feed: Feed) -> None:
        self.spec, self.model, self.feed = spec, model, feed
        self.device, self.rank, self.world = feed.device, feed.rank, feed.world_size
        self.horizon = spec.horizon
        self._ddp = trained if hasattr(trained, "no_sync") else None
        # compile is opt-in: these small models compile for tens of seconds and then run no faster
        self.trained = torch.compile(trained) if spec.compile else trained
        self.epochs_done = 0
        self.params = [p for p in trained.parameters() if p.requires_grad]
        # DDP manages its own gradient buckets: the flat buffer is for a single process
        self.grads = FlatGrads.make(self.params) if self.world == 1 else None
        self.optimizer = build_optimizer(spec, self.params)
        self.steps_per_epoch = feed.updates_per_epoch
        self.scheduler, self.per_update = build_scheduler(spec, self.optimizer, self.steps_per_epoch)
        # autocast is CUDA-only: on CPU the loop runs fp32 whatever ``precision`` says
        amp = self.device.type == "cuda" and spec.precision != "fp32"
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(spec.precision) if amp else None
        self.scaler = torch.amp.GradScaler("cuda") if amp and spec.precision == "fp16" else None

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def train_epoch(self) -> float:
        """One pass over the training split; the mean loss over all ranks' samples."""
        self.trained.train()
        self.epochs_done += 1
        sums: list[torch.Tensor] = []  # losses stay tensors until the epoch ends: no sync per batch
        local = 0
        for update in self.feed.batches(self.epochs_done - 1):
            # loss sums scaled by world / (update's samples on all ranks): after DDP averages the
            # ranks' gradients, the update is the exact mean over its samples, however it is split
            weight = self.world / (update.total * self.horizon)
            for i, (rows, n) in enumerate(update.batches):
                with sync_on_last(self._ddp, last=i == len(update.batches) - 1):
                    loss = self._backward(rows, weight if n else 0.0)
                if n:
                    sums.append(loss)
                    local += n
            self._update()
        total = torch.stack(sums).double().sum() if sums else torch.zeros((), device=self.device)
        return _mean_across(total, local * self.horizon, self.world)

    def val_loss(self) -> float:
        """Mean regression loss (``train.loss``) over the whole validation split (all ranks'
        shards): what early stopping, the schedule and the sweep's selection compare. The
        direction term only trains its head."""
        self.model.eval()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        count = 0
        with torch.no_grad():
            for x, *targets in self.feed.validation():
                out = self._forward(self.model, x)
                total += loss_sum(out, *targets, self.spec.loss).double()
                count += len(x) * self.horizon
        return _mean_across(total, count, self.world)

    def end_epoch(self, val_loss: float) -> None:
        """Per-epoch schedule step (reduce-on-plateau)."""
        if self.scheduler is not None and not self.per_update:
            self.scheduler.step(val_loss)

    def _forward(self, module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.amp_dtype is None:
            return module(x)
        with torch.autocast(device_type="cuda", dtype=self.amp_dtype):
            return module(x)

    def _backward(self, rows: Rows, weight: float) -> torch.Tensor:
        x, *targets = rows
        loss = loss_sum(self._forward(self.trained, x), *targets, self.spec.loss, self.spec.direction_weight)
        scaled = loss * weight
        (self.scaler.scale(scaled) if self.scaler else scaled).backward()
        return loss.detach()

    def _update(self) -> None:
        spec, optimizer = self.spec, self.optimizer
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        intact = self.grads is not None and self.grads.intact()
        clip_gradients(self.params, self.grads if intact else None, spec.clip_value, spec.clip_norm)
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()
        if self.grads is not None:
            self.grads.zero(reattach=not intact)
        else:
            optimizer.zero_grad(set_to_none=True)
        if self.per_update:  # per update, not per micro-batch: warmup stays smooth when accumulating
            self.scheduler.step()


def build_optimizer(spec: TrainSpec, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """Adam/AdamW, fused (one kernel for all parameters) where this PyTorch supports it."""
    cls = torch.optim.AdamW if spec.optimizer == "adamw" else torch.optim.Adam
    kwargs = dict(lr=spec.learning_rate, betas=ADAM_BETAS, eps=ADAM_EPS, weight_decay=spec.weight_decay)
    try:  # the fused kernel computes the for-each update at a fraction of the step's cost
        return cls(params, fused=True, **kwargs)
    except (RuntimeError, ValueError):  # device or dtype without a fused kernel
        return cls(params, **kwargs)


def _mean_across(total: torch.Tensor, count: int, world_size: int) -> float:
    """``sum / count`` over all ranks (one all-reduce of both when distributed)."""
    if world_size > 1:
        import torch.distributed as dist

        both = torch.stack(
            [total.double(), torch.tensor(float(count), dtype=torch.float64, device=total.device)]
        )
        dist.all_reduce(both)
        total, count = both[0], float(both[1])
    return float(total) / count if count else math.nan
