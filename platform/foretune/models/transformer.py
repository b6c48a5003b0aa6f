"""``transformer``: pre-norm Transformer encoder over the window, with sinusoidal positions.

``x [B, T, F] -> Linear(F, d_model) + PE -> dropout -> nn.TransformerEncoder (norm_first,
batch_first, GELU) -> final LayerNorm -> pool``. Pooling: ``"last"`` (default) takes the last
token, which attends to the whole window and, with ``causal=True``, is the only token that sees
all of it, matching the recurrent encoders' "state after the last step"; ``"mean"`` averages
all tokens. ``d_model`` must be divisible by ``nhead`` (every pair in the search space is).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .init import init_linear
from .layers import Encoder, sinusoidal_encoding
from .registry import register
from .space import Categorical, Int

__all__ = ["TransformerEncoder", "sinusoidal_encoding"]

SPACE = {
    "d_model": Categorical((32, 64, 128)),
    "nhead": Categorical((1, 2, 4, 8)),
    "num_layers": Int(1, 4),
    "dim_feedforward": Int(32, 512, log=True),
    "causal": Categorical((False, True)),
    "pool": Categorical(("last", "mean")),
}


@register("transformer", space=SPACE)
class TransformerEncoder(Encoder):
    """Self-attention encoder; D = ``d_model``.

    Init: input projection, attention output and second feed-forward layer Xavier (linear paths),
    first feed-forward layer He (GELU path); attention in-projections keep PyTorch's Xavier.
    """

    def __init__(
        self,
        input_size: int,
        window: int,
        dropout: float,
        *,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        dim_feedforward: int = 128,
        causal: bool = False,
        pool: Literal["last", "mean"] = "last",
    ) -> None:
        super().__init__()
        if d_model % nhead:
            raise ValueError(f"d_model ({d_model}) must be divisible by nhead ({nhead})")
        if pool not in ("last", "mean"):
            raise ValueError(f"pool must be 'last' or 'mean', got {pool!r}")
        self.causal = causal
        self.pool = pool
        self.input_projection = nn.Linear(input_size, d_model)
        init_linear(self.input_projection)
        self.register_buffer("positional", sinusoidal_encoding(window, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model,
            nhead,
            dim_feedforward,
            dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, num_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )
        for block in self.encoder.layers:
            init_linear(block.linear1, "gelu")
            init_linear(block.linear2)
            init_linear(block.self_attn.out_proj)
        self.out_features = d_model

    def _positions(self, length: int, like: Tensor) -> Tensor:
        if length <= self.positional.shape[0]:
            return self.positional[:length]
        return sinusoidal_encoding(length, self.positional.shape[1]).to(like)

    def forward(self, x: Tensor) -> Tensor:
        length = x.shape[1]
        h = self.input_projection(x)
        h = self.dropout(h + self._positions(length, h))
        mask = None
        if self.causal:
            mask = torch.nn.Transformer.generate_square_subsequent_mask(
                length, device=x.device, dtype=h.dtype
            )
        h = self.encoder(h, mask=mask, is_causal=self.causal)
        return h[:, -1] if self.pool == "last" else h.mean(dim=1)
