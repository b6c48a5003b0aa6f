"""Running a trained model on windows: point forecasts, and their scores in original units.

``predict_windows(model, ws)`` gives the standardised change forecasts ``[N, H]`` of a window
set; ``to_levels`` turns them into levels; ``score_windows`` scores a window set in memory and
``score_stream`` the streamed validation windows of a ``WindowStream`` (summed batch by batch
and, on several ranks, over every rank's shard). The arithmetic of scoring is
``foretune.metrics.windows``'; this module only feeds it predictions. Usage::

    scores = score_windows(model, data, data.val)  # {"mae", "rmse", "smape", "mase"}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from foretune.data import PreparedData, RatioTransform, WindowSet
from foretune.data.transform import KINDS, RowTransform
from foretune.metrics import ScoreSums, score_levels

BATCH = 4096


def predict_windows(model: nn.Module, ws: WindowSet, batch: int = BATCH) -> np.ndarray:
    """Point forecasts (standardised changes, eval mode) ``[N, H]`` for a window set."""
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        out = [_predict(model, ws.x[i : i + batch], device) for i in range(0, len(ws), batch)]
    return np.concatenate(out) if out else np.zeros((0, ws.y_reg.shape[1]), np.float32)


def to_levels(data: PreparedData, ws: WindowSet, z: np.ndarray) -> np.ndarray:
    """Invert standardised change paths ``z [N, H]`` of windows ``ws`` to levels, each row with
    its series' own statistics, all rows at once (``RowTransform``)."""
    rows = RowTransform(data.transform, np.asarray(data.series_ids, dtype=object)[np.asarray(ws.series)])
    return rows.levels(np.asarray(ws.last, dtype=np.float64), rows.changes(z))


def score_windows(model: nn.Module, data: PreparedData, ws: WindowSet) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE of the model's point forecasts in original units."""
    if len(ws) == 0:
        return {}
    levels = to_levels(data, ws, predict_windows(model, ws))
    return score_levels(ws.future, levels, data.mase_scale[ws.series])


def score_stream(
    model: nn.Module, stream: Any, device: torch.device, world_size: int = 1, batch: int = BATCH
) -> dict[str, float]:
    """``score_windows``' metrics over the streamed validation windows of ``stream``.

    With ``world_size > 1`` every rank scores its shard and the sums are all-reduced.
    """
    inverse = RatioTransform(stream.transform_kind, stream.eps)
    sums = ScoreSums()
    model.eval()
    with torch.no_grad():
        for rows in stream.val.iter_batches(batch_size=batch, batch_format="numpy"):
            z = _predict(model, rows["x"], device).astype(np.float64)
            kinds = np.asarray(KINDS)[np.asarray(rows["kind"], dtype=np.int64)]  # each window's series kind
            changes = z * rows["sigma"][:, None] + rows["mu"][:, None]  # each window carries its stats
            levels = inverse.integrate(rows["last"], changes, kind=kinds)
            sums.add(rows["future"], levels, rows["mase_scale"])
    if world_size > 1:
        import torch.distributed as dist

        both = torch.as_tensor(sums.sums, dtype=torch.float64, device=device)
        dist.all_reduce(both)
        sums.sums = both.cpu().numpy()
    return sums.means()


def _predict(model: nn.Module, x: np.ndarray, device: torch.device) -> np.ndarray:
    """The regression head's output for inputs ``x`` as float32 NumPy (call under ``no_grad``)."""
    reg, _ = model(torch.as_tensor(x, device=device))
    return reg.float().cpu().numpy()
