"""Dropout masks drawn per row from the row's own seed, so many rows can share a forward pass.

    if per_row_maskable(model):
        with seeded_rows(model, seeds, samples):   # batch row s * len(seeds) + j: sample s of row j
            out = model(batch)

While the context is open, every ``nn.Dropout`` of ``model`` (``VariationalDropout`` included)
draws row ``j``'s masks, ``[samples, *per-row shape]``, from a ``torch.Generator`` seeded with
``seeds[j]`` and advanced through the dropout calls in forward order: a row's masks depend on its
seed, ``samples`` and the network, never on the other rows of the batch or its position. The
masks are ``Bernoulli(1 - p) / (1 - p)`` as ``nn.Dropout`` and ``VariationalDropout`` draw them
(the latter one per sequence and feature, shared by every time step). The caller's torch RNG is
not used. Modules whose randomness cannot be drawn this way (attention dropout, the other dropout
kinds, a recurrent module's inner dropout) make ``per_row_maskable`` false.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial

import torch
from torch import Tensor, nn

from .layers import _STOCHASTIC, VariationalDropout

#: The dropout modules whose masks ``seeded_rows`` draws per row (exactly these types: a subclass
#: may draw another shape of mask).
PER_ROW = (nn.Dropout, VariationalDropout)


def per_row_maskable(model: nn.Module) -> bool:
    """Whether every source of MC-dropout randomness in ``model`` is a ``PER_ROW`` module."""
    for module in model.modules():
        if isinstance(module, _STOCHASTIC) and type(module) not in PER_ROW:
            return False
        if isinstance(module, nn.RNNBase) and module.dropout > 0 and module.num_layers > 1:
            return False
    return True


class RowGenerators:
    """One ``torch.Generator`` per row, each seeded with its row's seed, for ``samples`` samples."""

    def __init__(self, seeds: Sequence[int], samples: int) -> None:
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.samples = samples

    def mask(self, shape: Sequence[int], keep: float, like: Tensor) -> Tensor:
        """Scaled keep masks ``[samples * rows, *shape]`` (row ``s * rows + j``: sample ``s`` of
        row ``j``), each row's ``[samples, *shape]`` drawn from its own generator."""
        rows = [like.new_empty(self.samples, *shape).bernoulli_(keep, generator=g) for g in self.generators]
        return torch.stack(rows, dim=1).reshape(-1, *shape).div_(keep)


def _row_dropout(module: nn.Dropout, generators: RowGenerators, x: Tensor) -> Tensor:
    """``module``'s dropout on ``x`` with masks from ``generators`` (what ``module.forward``
    computes, the masks aside)."""
    if not module.training or module.p == 0.0:
        return x
    if module.p >= 1.0:
        return torch.zeros_like(x) if isinstance(module, VariationalDropout) else x * 0
    rows = len(generators.generators) * generators.samples
    if x.shape[0] != rows:
        raise ValueError(f"seeded dropout expects {rows} rows (samples x seeds), got {tuple(x.shape)}")
    shape = (1, x.shape[-1]) if isinstance(module, VariationalDropout) else tuple(x.shape[1:])
    return x * generators.mask(shape, 1.0 - module.p, x)


@contextmanager
def seeded_rows(model: nn.Module, seeds: Sequence[int], samples: int) -> Iterator[RowGenerators]:
    """Within the block, ``model``'s ``PER_ROW`` dropouts draw each row's masks from its seed (see
    the module docstring); the batch must hold ``samples * len(seeds)`` rows, sample-major."""
    generators = RowGenerators(seeds, samples)
    patched = [m for m in model.modules() if type(m) in PER_ROW]
    for module in patched:
        module.forward = partial(_row_dropout, module, generators)
    try:
        yield generators
    finally:
        for module in patched:
            module.__dict__.pop("forward", None)
