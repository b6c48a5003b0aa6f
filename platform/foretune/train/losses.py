"""The training losses: the regression loss (``train.loss``) plus the weighted direction loss.

Every loss is a sum over windows and horizon steps (the callers divide by their count):

- ``mase`` (the default): the mean absolute error of the forecast's *levels* over the series'
  MASE scale, exactly what the forecast is judged on. The predicted standardised changes are
  integrated from the origin's level with each window's level path (``data.paths``), so an
  error early in the horizon counts at every later step, as it does in the forecast;
- ``mse``, ``mae``, ``huber``: on the standardised per-step changes themselves.

``loss_sum(outputs, y_reg, y_dir, path, name, direction_weight)`` adds the direction
cross-entropy (0 down, 1 flat, 2 up) times ``direction_weight``. Losses run in fp32, also under
autocast.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: Integrated log changes are clipped here before ``exp``: a diverging prediction gives a large,
#: finite loss (e**20 times the origin) instead of inf.
MAX_LOG_CHANGE = 20.0


def path_levels(z: Tensor, path: Tensor) -> Tensor:
    """Predicted levels over the MASE scale ``[N, H]`` of standardised changes ``z [N, H]``
    (see ``data.paths`` for the columns of ``path [N, H + 5]``)."""
    horizon = z.shape[1]
    origin, sigma, mu, kind, inverse = (path[:, horizon + i, None] for i in range(5))
    changes = z * sigma + mu
    total = torch.cumsum(changes, dim=1)
    log_ratio = origin * torch.exp(total.clamp(max=MAX_LOG_CHANGE))
    diff = origin + total * inverse
    level = changes * inverse
    return torch.where(kind == 0, log_ratio, torch.where(kind == 1, diff, level))


def mase_loss(z: Tensor, y_reg: Tensor, path: Tensor) -> Tensor:
    """Sum of ``|predicted level - actual level| / scale`` over windows and steps."""
    horizon = z.shape[1]
    return (path_levels(z, path) - path[:, :horizon]).abs().sum()


#: ``train.loss`` -> the regression loss ``(prediction, y_reg, path) -> sum``.
REGRESSION_LOSSES = {
    "mase": mase_loss,
    "mse": lambda pred, y, path: nn.functional.mse_loss(pred, y, reduction="sum"),
    "mae": lambda pred, y, path: nn.functional.l1_loss(pred, y, reduction="sum"),
    "huber": lambda pred, y, path: nn.functional.huber_loss(pred, y, reduction="sum", delta=1.0),
}


def loss_sum(
    outputs: tuple[Tensor, Tensor],
    y_reg: Tensor,
    y_dir: Tensor,
    path: Tensor,
    name: str = "mase",
    direction_weight: float = 0.0,
) -> Tensor:
    """The multi-task loss of a batch, summed over windows and steps (see the module docstring)."""
    reg, logits = outputs
    loss = REGRESSION_LOSSES[name](reg.float(), y_reg, path)
    if direction_weight > 0:
        loss = loss + direction_weight * nn.functional.cross_entropy(
            logits.float().reshape(-1, 3), y_dir.reshape(-1), reduction="sum"
        )
    return loss
