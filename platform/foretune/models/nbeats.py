"""``nbeats``: doubly residual MLP blocks over the flattened window (N-BEATS' generic stack).

Each block reads what the blocks before it left unexplained: an MLP over its input gives hidden
features ``h_b``, a linear *backcast* of ``h_b`` is subtracted from the block's input, and
``h_b`` joins the features. The shared head's linear map over the concatenated ``h_1..h_B`` is
the sum of one linear forecast per block, as in N-BEATS (Oreshkin et al., 2020). ``pooling``
gives N-HiTS' multi-rate input (Challu et al., 2023): block ``b`` reads its input max-pooled by
``pooling ** (B - 1 - b)`` (the first blocks see the coarsest view), so they model slow
patterns; 1 (the default) reads every block at full resolution.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .init import init_linear
from .layers import Encoder
from .registry import register
from .space import Categorical, Int

SPACE = {
    "blocks": Int(2, 4),
    "width": Int(128, 512, log=True),
    "layers": Int(2, 3),
    "pooling": Categorical((1, 2)),
}


class _Block(nn.Module):
    """``layers`` dense ReLU layers (dropout between them) and the linear backcast."""

    def __init__(
        self, in_features: int, pooled: int, width: int, layers: int, dropout: float, last: bool
    ) -> None:
        super().__init__()
        dense: list[nn.Module] = []
        features = pooled
        for index in range(layers):
            if index:
                dense.append(nn.Dropout(dropout))
            linear = nn.Linear(features, width)
            init_linear(linear, "relu")
            dense += [linear, nn.ReLU()]
            features = width
        self.dense = nn.Sequential(*dense)
        self.backcast = None if last else nn.Linear(width, in_features)  # no block reads the last one's
        if self.backcast is not None:
            init_linear(self.backcast)


@register("nbeats", space=SPACE)
class NBeatsEncoder(Encoder):
    """Residual MLP blocks (see the module docstring); ``out_features = blocks * width``."""

    def __init__(
        self,
        input_size: int,
        window: int,
        dropout: float,
        *,
        blocks: int = 3,
        width: int = 256,
        layers: int = 2,
        pooling: int = 1,
    ) -> None:
        super().__init__()
        if blocks < 1 or width < 1 or layers < 1 or pooling < 1:
            raise ValueError(
                f"blocks, width, layers and pooling must be >= 1, got {blocks}, {width}, {layers}, {pooling}"
            )
        self.in_features = input_size * window
        self.kernels = [pooling ** (blocks - 1 - b) for b in range(blocks)]
        self.blocks = nn.ModuleList(
            _Block(self.in_features, -(-self.in_features // k), width, layers, dropout, b == blocks - 1)
            for b, k in enumerate(self.kernels)
        )
        self.out_features = blocks * width

    def _pooled(self, flat: Tensor, kernel: int) -> Tensor:
        if kernel == 1:
            return flat
        return F.max_pool1d(flat[:, None], kernel, kernel, ceil_mode=True)[:, 0]

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(self.stem(x))

    def stem(self, x: Tensor) -> Tensor:
        """The flattened window and the first block's first layer (no dropout before them)."""
        flat = x.flatten(1)
        assert flat.shape[1] == self.in_features, (
            f"nbeats was built for window*features = {self.in_features}, got input {tuple(x.shape)}"
        )
        first = self.blocks[0].dense
        return torch.cat([flat, first[1](first[0](self._pooled(flat, self.kernels[0])))], dim=1)

    def trunk(self, h: Tensor) -> Tensor:
        residual, hidden = h[:, : self.in_features], h[:, self.in_features :]
        features = []
        for index, (block, kernel) in enumerate(zip(self.blocks, self.kernels, strict=True)):
            if index:
                hidden = block.dense(self._pooled(residual, kernel))
            else:
                hidden = block.dense[2:](hidden)
            if block.backcast is not None:
                residual = residual - block.backcast(hidden)
            features.append(hidden)
        return torch.cat(features, dim=1)
