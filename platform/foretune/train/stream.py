"""Feeding streamed windows (``foretune.data.store.WindowStream``) to the training loop.

The in-memory ``Feeder`` indexes arrays it holds; a ``StreamFeeder`` iterates a Ray dataset (an
inline trial) or a Ray Train worker's shard of it, one pass per epoch, through Ray Data's
``iter_torch_batches``: blocks are read and cut into windows by Ray Data tasks while the previous
batches train, so at most a few blocks are in this process at a time.

Order: Ray Data yields windows block by block (a block holds whole series), so batches are drawn
through a local shuffle buffer of ``shuffle_windows`` windows, seeded per epoch and rank. That is
the usual streaming compromise: windows mix across the series of neighbouring blocks, not across
the whole data set.

Distributed: Ray Train splits each dataset into equal shards (``streaming_split(equal=True)``), so
every rank sees the same number of batches of the same sizes; each rank's loss sum is scaled by
its own sample count, which equals the global mean after DDP's average over ranks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from foretune.evaluate import metrics as M

_COLUMNS = ("x", "y_reg", "y_dir")


class StreamFeeder:
    """Batches ``(x, y_reg, y_dir)`` of one streamed split, on the device."""

    def __init__(
        self,
        source: Any,
        n: int,
        device: torch.device,
        seed: int,
        shuffle_windows: int,
        rank: int = 0,
    ) -> None:
        self.source, self.n, self.device = source, n, device
        self.seed, self.shuffle_windows, self.rank = seed, shuffle_windows, rank

    def epoch(self, epoch: int, batch_size: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """One pass in a shuffled order (seeded by seed, epoch and rank)."""
        batches = self.source.iter_torch_batches(
            batch_size=batch_size,
            local_shuffle_buffer_size=max(self.shuffle_windows, batch_size),
            local_shuffle_seed=self.seed + 7919 * epoch + 104729 * self.rank,
            device=str(self.device),
        )
        for batch in batches:
            yield tuple(batch[c] for c in _COLUMNS)

    def chunks(self, size: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """Consecutive batches in storage order (evaluation)."""
        for batch in self.source.iter_torch_batches(batch_size=size, device=str(self.device)):
            yield tuple(batch[c] for c in _COLUMNS)


def score_stream(
    model: torch.nn.Module,
    stream: Any,
    device: torch.device,
    world_size: int = 1,
    batch: int = 4096,
) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE of the point forecasts on the streamed validation windows.

    The same definitions as ``loop.score_windows`` (original units, NaN points skipped), summed
    batch by batch and, on several ranks, over every rank's shard.
    """
    from foretune.data import RatioTransform

    inverse = RatioTransform(stream.transform_kind, stream.eps)
    sums = np.zeros(8)  # abs, sq, smape, mase sums; then their point counts
    model.eval()
    with torch.no_grad():
        for rows in stream.val.iter_batches(batch_size=batch, batch_format="numpy"):
            reg, _ = model(torch.as_tensor(rows["x"], device=device))
            z = reg.float().cpu().numpy().astype(np.float64)
            r = z * rows["sigma"][:, None] + rows["mu"][:, None]
            levels = inverse.integrate(rows["last"], r)
            future = rows["future"]
            err = np.abs(future - levels)
            scale = rows["mase_scale"][:, None]
            points = (err, err**2, M.smape_points(future, levels), err / scale)
            for i, values in enumerate(points):
                keep = ~np.isnan(values)
                sums[i] += values[keep].sum()
                sums[4 + i] += keep.sum()
    if world_size > 1:
        import torch.distributed as dist

        both = torch.as_tensor(sums, dtype=torch.float64, device=device)
        dist.all_reduce(both)
        sums = both.cpu().numpy()
    means = [s / c if c else float("nan") for s, c in zip(sums[:4], sums[4:], strict=True)]
    return {"mae": means[0], "rmse": float(np.sqrt(means[1])), "smape": means[2], "mase": means[3]}
