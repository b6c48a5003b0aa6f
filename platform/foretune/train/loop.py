"""The one training loop: the same code inline, inside a Tune trial, or on each Ray Train worker.

``fit(spec, data, report)`` trains one model on ``data`` (a ``PreparedData``) and calls
``report(metrics, checkpoint)`` after every epoch; ``checkpoint`` is ``None`` except in the final
report, which carries the best weights (``checkpoint_files``). The caller decides what reporting
means (``tune.report``, ``ray.train.report``, a list append), so this module knows no Ray.

Choices:
- Data feeding: the windows of a trial are small (thousands of ``[T, F]`` windows), so they live as
  tensors on the device for the whole trial and batches are index slices of a seeded permutation;
  a per-batch Python ``DataLoader`` would dominate the epoch time of these small models.
- Loss: mean squared error on the standardised changes plus ``direction_weight`` times the
  cross-entropy of the direction logits (multi-task head).
- Optimiser Adam/AdamW with the seed's defaults, global-norm clipping, early stopping on the
  validation loss with the best weights restored at the end.
- Distributed: when ``world_size > 1`` the model is wrapped in DDP by the caller
  (``ray.train.torch.prepare_model``); each rank takes every ``world_size``-th training window
  and the validation loss is averaged across ranks with an all-reduce.
- A non-finite loss stops the trial with ``status="diverged"``; no checkpoint is written then.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from foretune import models
from foretune.data import PreparedData, WindowSet
from foretune.evaluate import metrics as M

Report = Callable[[dict[str, Any], dict[str, Any] | None], None]


@dataclass
class TrainSpec:
    """What one trial trains: the architecture, its hyperparameters and the loop's settings."""

    architecture: str
    hyperparameters: dict[str, Any]
    window: int
    horizon: int
    learning_rate: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 30
    patience: int = 5
    optimizer: str = "adam"
    weight_decay: float = 0.0
    clip_norm: float | None = 1.0
    direction_weight: float = 0.2
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    """Outcome of ``fit``: final metrics and the best model (on CPU)."""

    metrics: dict[str, Any]
    model: nn.Module | None
    status: str


def build_model(spec: TrainSpec, n_features: int) -> nn.Module:
    """The spec's model, freshly initialised from the spec's seed."""
    torch.manual_seed(spec.seed)
    return models.build(
        spec.architecture,
        input_size=n_features,
        horizon=spec.horizon,
        window=spec.window,
        **spec.hyperparameters,
    )


def fit(
    spec: TrainSpec,
    data: PreparedData,
    report: Report,
    *,
    device: torch.device | str = "cpu",
    rank: int = 0,
    world_size: int = 1,
    wrap: Callable[[nn.Module], nn.Module] | None = None,
) -> FitResult:
    """Train ``spec`` on ``data``; report each epoch; return the best model and its metrics."""
    device = torch.device(device)
    torch.manual_seed(spec.seed)
    model = build_model(spec, data.n_features).to(device)
    trained = wrap(model) if wrap else model
    train = _to_device(data.train, device, rank, world_size)
    val = _to_device(data.val, device, 0, 1)
    optimizer = _optimizer(spec, trained)
    generator = torch.Generator().manual_seed(spec.seed + rank)
    best_loss, best_state, best_epoch, bad_epochs = math.inf, None, -1, 0
    status, reason = "ok", ""
    started = time.perf_counter()
    epoch = 0
    for epoch in range(spec.max_epochs):
        train_loss = _train_epoch(spec, trained, optimizer, train, generator)
        val_loss = _loss_on(model, val, spec.direction_weight, world_size)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            status, reason = "diverged", f"non-finite loss at epoch {epoch}"
            break
        if val_loss < best_loss - 1e-7:
            best_loss, best_epoch, bad_epochs = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
        report(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "best_val_loss": best_loss,
            },
            None,
        )
        if bad_epochs >= spec.patience:
            break
    seconds = time.perf_counter() - started
    final: dict[str, Any] = {
        "epoch": epoch,
        "status": status,
        "reason": reason,
        "best_epoch": best_epoch,
        "val_loss": best_loss,
        "best_val_loss": best_loss,
        "train_seconds": seconds,
        "n_params": sum(p.numel() for p in model.parameters()),
    }
    if best_state is None:
        report(final, None)
        return FitResult(final, None, status)
    model.load_state_dict(best_state)
    final.update({f"val_{k}": v for k, v in score_windows(model, data, data.val).items()})
    model = model.cpu()
    checkpoint = {"state_dict": model.state_dict(), "spec": spec.to_dict(),
                  "n_features": data.n_features} if rank == 0 else None
    report(final, checkpoint)
    return FitResult(final, model, status)


def predict_windows(model: nn.Module, ws: WindowSet, batch: int = 4096) -> np.ndarray:
    """Point forecasts (standardised changes, eval mode) ``[N, H]`` for a window set."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, len(ws), batch):
            reg, _ = model(torch.as_tensor(ws.x[i : i + batch], device=device))
            out.append(reg.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, ws.y_reg.shape[1]), np.float32)


def score_windows(model: nn.Module, data: PreparedData, ws: WindowSet) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE of the model's point forecasts in original units."""
    if len(ws) == 0:
        return {}
    levels = to_levels(data, ws, predict_windows(model, ws))
    scale = data.mase_scale[ws.series][:, None]
    return {
        "mae": M.mae(ws.future, levels),
        "rmse": M.rmse(ws.future, levels),
        "smape": M.smape(ws.future, levels),
        "mase": float(np.nanmean(np.abs(ws.future - levels) / scale)),
    }


def to_levels(data: PreparedData, ws: WindowSet, z: np.ndarray) -> np.ndarray:
    """Invert standardised change paths ``z [N, H]`` of windows ``ws`` to levels."""
    out = np.empty_like(z, dtype=np.float64)
    for index in np.unique(ws.series):
        rows = ws.series == index
        uid = data.series_ids[index]
        r = data.transform.unstandardize(uid, z[rows])
        out[rows] = data.transform.integrate(ws.last[rows], r)
    return out


# -- internals ----------------------------------------------------------------------------------
def _to_device(ws: WindowSet, device, rank: int, world: int) -> tuple[torch.Tensor, ...]:
    sl = slice(rank, None, world)
    return (
        torch.as_tensor(ws.x[sl], device=device),
        torch.as_tensor(ws.y_reg[sl], device=device),
        torch.as_tensor(ws.y_dir[sl], device=device),
    )


def _optimizer(spec: TrainSpec, model: nn.Module) -> torch.optim.Optimizer:
    cls = torch.optim.AdamW if spec.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=spec.learning_rate, weight_decay=spec.weight_decay)


def _loss(model_out, y_reg, y_dir, direction_weight: float) -> torch.Tensor:
    reg, logits = model_out
    loss = nn.functional.mse_loss(reg, y_reg)
    if direction_weight > 0:
        loss = loss + direction_weight * nn.functional.cross_entropy(
            logits.reshape(-1, 3), y_dir.reshape(-1)
        )
    return loss


def _train_epoch(spec, model, optimizer, train, generator) -> float:
    x, y_reg, y_dir = train
    model.train()
    order = torch.randperm(len(x), generator=generator).to(x.device)
    total, count = 0.0, 0
    for start in range(0, len(x), spec.batch_size):
        idx = order[start : start + spec.batch_size]
        optimizer.zero_grad(set_to_none=True)
        loss = _loss(model(x[idx]), y_reg[idx], y_dir[idx], spec.direction_weight)
        loss.backward()
        if spec.clip_norm:
            nn.utils.clip_grad_norm_(model.parameters(), spec.clip_norm)
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        count += len(idx)
    return total / max(count, 1)


def _loss_on(model: nn.Module, data, direction_weight: float, world_size: int) -> float:
    x, y_reg, y_dir = data
    model.eval()
    with torch.no_grad():
        loss = float(_loss(model(x), y_reg, y_dir, direction_weight)) if len(x) else math.nan
    if world_size > 1:
        import torch.distributed as dist

        t = torch.tensor([loss], dtype=torch.float64, device=x.device)
        dist.all_reduce(t)
        loss = float(t.item()) / world_size
    return loss
