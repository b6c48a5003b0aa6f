"""Reading streamed windows (``foretune.data.store.WindowStream``) as batches of tensors.

A ``StreamFeeder`` iterates a Ray dataset (an inline trial) or a Ray Train worker's shard of it,
one pass per epoch, through Ray Data's ``iter_torch_batches``: blocks are read and cut into
windows by Ray Data tasks while the previous batches train, so at most a few blocks are in this
process at a time. ``train.feed.StreamFeed`` builds on it; usage::

    feeder = StreamFeeder(stream.train, stream.n_train, device, seed=0, shuffle_windows=10_000)
    for x, y_reg, y_dir, path in feeder.epoch(0, batch_size=256): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

_COLUMNS = ("x", "y_reg", "y_dir", "path")


class StreamFeeder:
    """Batches ``(x, y_reg, y_dir, path)`` of one streamed split, on the device."""

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
        # Ray Data yields windows block by block (a block holds whole series), so the order comes
        # from a local shuffle buffer: windows mix across neighbouring blocks' series, not globally
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
