"""Feeding windows to the model: resident tensors for small splits, streamed batches for large ones.

A trial's windows are usually small (thousands of ``[T, F]`` windows, a few MB), so they are
moved to the device once and every batch is an index into them: no per-batch host work, no
host-to-device copy, no ``DataLoader`` whose Python overhead would dominate the epoch of these
small models. Windows overlap, so their bytes are ``window`` times the series' bytes: a long
multi-series data set can reach gigabytes, which must not be parked on a GPU (trials share GPUs
in fractions, and each DDP rank holds the whole training split). When a split's bytes exceed
``stream_threshold_mb`` it stays in host memory as NumPy arrays and each batch is gathered by
index on the fly, pinned (PyTorch's caching host allocator, so pinning is cheap after the first
batches) and copied asynchronously to the GPU. On CPU both paths read the same memory
(``torch.as_tensor`` shares the NumPy buffer), so the choice only matters on GPU.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def split_bytes(arrays: tuple[np.ndarray, ...]) -> int:
    """Bytes of a split's arrays (``x``, ``y_reg``, ``y_dir``)."""
    return int(sum(a.nbytes for a in arrays))


class Feeder:
    """Batches ``(x, y_reg, y_dir)`` of one split by index, resident or streamed."""

    def __init__(self, arrays: tuple[np.ndarray, ...], device: torch.device, threshold_mb: float) -> None:
        self.device = device
        self.n = len(arrays[0])
        self.stream = split_bytes(arrays) > threshold_mb * 2**20
        if self.stream:
            self._arrays = tuple(np.ascontiguousarray(a) for a in arrays)
            self._pin = device.type == "cuda"
        else:
            self._tensors = tuple(torch.as_tensor(a, device=device) for a in arrays)

    def shuffled(self, order: torch.Tensor) -> Callable[[int, int], tuple[torch.Tensor, ...]]:
        """``batch(lo, hi)``: rows ``order[lo:hi]`` of every array, on the device.

        Resident splits are gathered in ``order`` once per epoch (one copy of the split, bounded
        by the threshold) so that every batch is a contiguous view: no per-batch gather.
        """
        if not self.stream:
            order = order.to(self.device)
            data = tuple(t[order] for t in self._tensors)
            return lambda lo, hi: tuple(t[lo:hi] for t in data)
        rows = order.numpy()
        return lambda lo, hi: self._gather(rows[lo:hi])

    def _gather(self, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
        out = []
        for a in self._arrays:
            t = torch.from_numpy(a[rows])
            if self._pin:
                t = t.pin_memory()
            out.append(t.to(self.device, non_blocking=self._pin))
        return tuple(out)

    def chunks(self, size: int):
        """Consecutive batches of at most ``size`` rows (for evaluation)."""
        for start in range(0, self.n, size):
            if self.stream:
                yield self._gather(np.arange(start, min(start + size, self.n)))
            else:
                yield tuple(t[start : start + size] for t in self._tensors)
