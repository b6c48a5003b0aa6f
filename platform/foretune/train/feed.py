"""Feeding windows to the training loop: one ``Feed`` interface for data in memory and streamed data.

A ``Feed`` is one rank's view of a run's data on its device: ``batches(epoch)`` yields the
epoch's optimiser updates (each a few micro-batches with their sample counts), ``validation()``
the rank's validation batches, ``score(model)`` the best model's final scores in original units.
``prepare_feed(data, spec, device, rank, world_size)`` picks the implementation, so the epoch and
the validation pass have one code path: ``MemoryFeed`` for a ``PreparedData`` (or bare arrays),
``StreamFeed`` for a ``WindowStream`` (data larger than memory, ``data.store``). Usage::

    feed = prepare_feed(data, spec, torch.device("cpu"))
    for update in feed.batches(epoch): ...  # update.total, update.batches: [(rows, n), ...]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from torch import nn

from foretune.data import PreparedData, WindowSet
from foretune.data.paths import PATH_COLUMNS

from .predict import score_stream, score_windows
from .stream import StreamFeeder

if TYPE_CHECKING:
    from foretune.data.store import WindowStream

    from .spec import TrainSpec

Rows = tuple[torch.Tensor, ...]  # (x, y_reg, y_dir, path) of one batch, on the device
Arrays = tuple[np.ndarray, ...]  # (x, y_reg, y_dir, path) of one split

#: Rows per validation batch (no gradients: large batches cost little memory).
EVAL_BATCH = 4096
#: Streamed training: local shuffle buffer of max(SHUFFLE_BATCHES batches, SHUFFLE_WINDOWS).
SHUFFLE_BATCHES, SHUFFLE_WINDOWS = 16, 10_000


@dataclass
class Update:
    """One optimiser update: this rank's micro-batches ``(rows, n)`` and the update's size.

    ``total`` counts the update's samples over all ranks; ``n`` the micro-batch's own samples
    (0: a stand-in row that only lets a rank without samples join DDP's gradient all-reduce).
    """

    total: int
    batches: list[tuple[Rows, int]]


class Feed(Protocol):
    """One rank's view of a run's data (see the module docstring)."""

    device: torch.device
    rank: int
    world_size: int
    windows: int  # this rank's training windows per epoch
    updates_per_epoch: int  # optimiser updates per epoch (sizes per-update schedules)
    generator: torch.Generator  # the shuffle RNG that a resumable training state saves

    def batches(self, epoch: int) -> Iterator[Update]: ...

    def validation(self) -> Iterator[Rows]: ...

    def score(self, model: nn.Module) -> dict[str, float]: ...


def prepare_feed(
    data: PreparedData | WindowStream,
    spec: TrainSpec,
    device: torch.device,
    rank: int = 0,
    world_size: int = 1,
) -> Feed:
    """The feed of ``data`` (``PreparedData`` or ``WindowStream``) for one rank; the one place
    that tells the two kinds apart."""
    if isinstance(data, PreparedData):
        arrays = _arrays(data.train), _arrays(data.val)
        return MemoryFeed(spec, *arrays, device, rank, world_size, scoring=data)
    return StreamFeed(data, spec, device, rank, world_size)


class MemoryFeed:
    """Windows held in memory: a seeded permutation per epoch, cut into global batches.

    With ``spec.steps_per_epoch`` an epoch is that many updates instead: epoch ``e`` takes the
    next updates of one endless order (seeded permutations of all windows, one after another,
    the ``p``-th seeded by ``seed`` and ``p``), so passes continue across epochs and an epoch's
    windows depend only on the seed and ``e`` (a resumed run draws what it would have drawn).

    Distributed: every rank draws the same permutation and takes its own contiguous slice of
    every global batch of ``batch_size * world_size`` windows, so N ranks × batch b follow the
    trajectory of one process with batch N·b. Every rank holds the whole training split (it is
    in each worker's memory already); the validation split is sharded ``rank::world_size``.
    ``scoring``: the ``PreparedData`` that ``score`` scores (None: ``score`` gives ``{}``).
    """

    def __init__(
        self,
        spec: TrainSpec,
        train: Arrays,
        val: Arrays,
        device: torch.device,
        rank: int = 0,
        world_size: int = 1,
        scoring: PreparedData | None = None,
    ) -> None:
        _require(len(train[0]), len(val[0]), 1)  # a rank without samples still joins the all-reduces
        train, val = _with_paths(train), _with_paths(val)
        self.device, self.rank, self.world_size = device, rank, world_size
        self.batch_size, self.accumulate_steps = spec.batch_size, spec.accumulate_steps
        self.train = Feeder(train, device, spec.stream_threshold_mb)
        self.val = Feeder(tuple(a[rank::world_size] for a in val), device, spec.stream_threshold_mb)
        self.windows = -(-self.train.n // world_size)
        self.generator = torch.Generator().manual_seed(spec.seed)
        self.scoring = scoring
        self.seed, self.steps = spec.seed, spec.steps_per_epoch
        per_update = self.batch_size * self.accumulate_steps
        self.updates_per_epoch = self.steps or -(-self.windows // per_update)

    def batches(self, epoch: int) -> Iterator[Update]:
        world, rank = self.world_size, self.rank
        size = self.batch_size * world
        per_update = size * self.accumulate_steps
        if self.steps is None:  # one pass: the generator's state carries the order across epochs
            order = torch.randperm(self.train.n, generator=self.generator)
        else:
            order = self._endless_order(epoch * self.steps * per_update, self.steps * per_update)
        n = len(order)
        batch = self.train.shuffled(order)
        for start in range(0, n, per_update):
            end = min(start + per_update, n)
            micro = []
            for group in range(start, end, size):
                lo, hi = group, min(group + size, end)
                if world > 1:  # this rank's contiguous slice of the global batch
                    share = -(-(hi - lo) // world)
                    lo, hi = group + rank * share, min(group + (rank + 1) * share, hi)
                micro.append((batch(lo, hi), hi - lo) if hi > lo else (batch(start, start + 1), 0))
            yield Update(end - start, micro)

    def _endless_order(self, start: int, count: int) -> torch.Tensor:
        """Positions ``start .. start + count`` of the endless order (see the class docstring)."""
        n, parts = self.train.n, []
        first, last = start // n, (start + count - 1) // n
        for p in range(first, last + 1):
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + p))
            lo = start - p * n if p == first else 0
            hi = start + count - p * n if p == last else n
            parts.append(perm[lo:hi])
        return torch.cat(parts)

    def validation(self) -> Iterator[Rows]:
        return self.val.chunks(EVAL_BATCH)

    def score(self, model: nn.Module) -> dict[str, float]:
        # every rank scores the whole split (already in memory): no collective needed
        return {} if self.scoring is None else score_windows(model, self.scoring, self.scoring.val)


class StreamFeed:
    """Streamed windows (``WindowStream``): one pass per epoch through a seeded shuffle buffer.

    ``accumulate_steps`` consecutive batches make one update; with ``spec.steps_per_epoch`` an
    epoch ends after that many updates (the next epoch starts a new pass). Distributed: each rank reads an
    equal shard (Ray Train's ``streaming_split(equal=True)``), so every rank's update has as many
    samples and the update's total is ``world_size`` times this rank's.
    """

    def __init__(
        self, stream: WindowStream, spec: TrainSpec, device: torch.device, rank: int = 0, world_size: int = 1
    ) -> None:
        _require(stream.n_train, stream.n_val, world_size)  # equal shards: each rank needs a window
        self.device, self.rank, self.world_size = device, rank, world_size
        self.batch_size, self.accumulate_steps = spec.batch_size, spec.accumulate_steps
        self.stream = stream
        shuffle = max(SHUFFLE_BATCHES * spec.batch_size, SHUFFLE_WINDOWS)
        self.windows = stream.n_train // world_size
        per_pass = -(-self.windows // (spec.batch_size * spec.accumulate_steps))
        self.steps = spec.steps_per_epoch
        self.updates_per_epoch = min(self.steps or per_pass, per_pass)
        self.train = StreamFeeder(stream.train, self.windows, device, spec.seed, shuffle, rank)
        self.val = StreamFeeder(stream.val, stream.n_val // world_size, device, spec.seed, 0, rank)
        # unused (the order is seeded by seed, epoch and rank): kept so every state has one layout
        self.generator = torch.Generator().manual_seed(spec.seed)

    def batches(self, epoch: int) -> Iterator[Update]:
        group: list[Rows] = []
        updates = 0
        for rows in self.train.epoch(epoch, self.batch_size):
            group.append(rows)
            if len(group) == self.accumulate_steps:
                yield self._update(group)
                group, updates = [], updates + 1
                if updates == self.updates_per_epoch:
                    return
        if group:
            yield self._update(group)

    def _update(self, group: list[Rows]) -> Update:
        counts = [len(rows[0]) for rows in group]
        return Update(sum(counts) * self.world_size, list(zip(group, counts, strict=True)))

    def validation(self) -> Iterator[Rows]:
        return self.val.chunks(EVAL_BATCH)

    def score(self, model: nn.Module) -> dict[str, float]:
        return score_stream(model, self.stream, self.device, self.world_size)


# -- arrays on the device ----------------------------------------------------------------------
def split_bytes(arrays: Arrays) -> int:
    """Bytes of a split's arrays (``x``, ``y_reg``, ``y_dir``, ``path``)."""
    return int(sum(a.nbytes for a in arrays))


class Feeder:
    """Batches ``(x, y_reg, y_dir, path)`` of one in-memory split by index, resident or streamed.

    A split up to ``threshold_mb`` is moved to the device once and every batch is an index into
    it: no per-batch host work or copy, no ``DataLoader`` whose Python overhead would dominate
    these small models' epochs. Windows overlap, so their bytes are ``window`` times the series'
    and can reach gigabytes, which must not be parked on a GPU (trials share GPUs in fractions,
    each DDP rank holds the whole training split): a larger split stays in host memory and each
    batch is gathered on the fly, pinned and copied asynchronously (``stream`` is True). On CPU
    both read the same memory (``torch.as_tensor`` shares the buffer): the choice only matters
    on a GPU.
    """

    def __init__(self, arrays: Arrays, device: torch.device, threshold_mb: float) -> None:
        self.device = device
        self.n = len(arrays[0])
        self.stream = split_bytes(arrays) > threshold_mb * 2**20
        if self.stream:
            self._arrays = tuple(np.ascontiguousarray(a) for a in arrays)
            self._pin = device.type == "cuda"  # PyTorch's caching host allocator: cheap after warm-up
        else:
            self._tensors = tuple(torch.as_tensor(a, device=device) for a in arrays)

    def shuffled(self, order: torch.Tensor) -> Callable[[int, int], Rows]:
        """``batch(lo, hi)``: rows ``order[lo:hi]`` of every array, on the device."""
        if not self.stream:
            # gathered once per epoch (one copy, bounded by the threshold): every batch is a view
            order = order.to(self.device)
            data = tuple(t[order] for t in self._tensors)
            return lambda lo, hi: tuple(t[lo:hi] for t in data)
        rows = order.numpy()
        return lambda lo, hi: self._gather(rows[lo:hi])

    def _gather(self, rows: np.ndarray) -> Rows:
        out = []
        for a in self._arrays:
            t = torch.from_numpy(a[rows])
            if self._pin:
                t = t.pin_memory()
            out.append(t.to(self.device, non_blocking=self._pin))
        return tuple(out)

    def chunks(self, size: int) -> Iterator[Rows]:
        """Consecutive batches of at most ``size`` rows (for evaluation)."""
        for start in range(0, self.n, size):
            if self.stream:
                yield self._gather(np.arange(start, min(start + size, self.n)))
            else:
                yield tuple(t[start : start + size] for t in self._tensors)


def _arrays(ws: WindowSet) -> Arrays:
    return _with_paths((ws.x, ws.y_reg, ws.y_dir) if ws.path is None else (ws.x, ws.y_reg, ws.y_dir, ws.path))


def _with_paths(arrays: Arrays) -> Arrays:
    """``(x, y_reg, y_dir, path)``; arrays without level paths get zero rows (the ``mase`` loss
    then ignores those windows)."""
    if len(arrays) == 4:
        return arrays
    x, y_reg, y_dir = arrays
    return x, y_reg, y_dir, np.zeros((len(x), y_reg.shape[1] + len(PATH_COLUMNS)), np.float32)


def _require(n_train: int, n_val: int, need: int) -> None:
    if n_train < need or n_val < need:
        raise ValueError(
            f"fit needs at least {need} training and {need} validation window(s) (has {n_train} and {n_val})"
        )
