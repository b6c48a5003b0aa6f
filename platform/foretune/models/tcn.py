"""``tcn``: temporal convolutional network (Bai et al., 2018), one dilated causal conv per layer.

Layer l has dilation ``2**l``, so the receptive field is ``(k-1) * (2**L - 1) + 1``
(:func:`~.layers.receptive_field`). The depth L comes from, in order: ``receptive_field``
(smallest L reaching it; the search asks for it as a fraction of the window), ``num_layers``,
the length of a ``channels`` list, or, for an integer ``channels``, enough layers to cover the
window. ``channels`` is one width for every layer or a list with one entry per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from .init import init_linear
from .layers import (
    Encoder,
    SequenceConv,
    VariationalDropout,
    check_sizes,
    layers_for_receptive_field,
    receptive_field,
)
from .registry import register
from .space import Categorical, Int, WindowFraction

__all__ = ["TCNEncoder", "TemporalBlock", "receptive_field"]

SPACE = {
    "channels": Int(16, 128, log=True),
    "kernel_size": Int(2, 7),
    "receptive_field": WindowFraction(0.5, 1.0),
    "norm": Categorical(("weight", "layer")),
}


class TemporalBlock(nn.Module):
    """``relu(dropout(relu(norm(causal_conv(x)))) + residual(x))`` on ``[B, T, C]``.

    ``norm="weight"``: weight normalisation of the conv; ``"layer"``: LayerNorm over channels
    (per time step, so causality holds). The residual is the identity, or a 1x1 projection
    (Xavier, linear path) when the channel count changes. The conv uses He init (ReLU path).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        dropout: float,
        norm: str,
    ) -> None:
        super().__init__()
        self.conv = SequenceConv(
            in_channels,
            out_channels,
            kernel_size,
            dilation=dilation,
            causal=True,
            weight_norm=norm == "weight",
        )
        self.norm = nn.LayerNorm(out_channels) if norm == "layer" else nn.Identity()
        self.dropout = VariationalDropout(dropout)
        self.residual: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.residual = nn.Linear(in_channels, out_channels)
            init_linear(self.residual)

    def forward(self, x: Tensor) -> Tensor:
        out = self.dropout(nn.functional.relu(self.norm(self.conv(x))))
        return nn.functional.relu(out + self.residual(x))


@register("tcn", space=SPACE)
class TCNEncoder(Encoder):
    """Stack of :class:`TemporalBlock` with dilations 1, 2, 4, ...; features = last time step."""

    def __init__(
        self,
        input_size: int,
        window: int,
        dropout: float,
        *,
        channels: int | Sequence[int] = (64, 64, 32),
        kernel_size: int = 3,
        num_layers: int | None = None,
        receptive_field: int | None = None,
        norm: Literal["weight", "layer"] = "weight",
    ) -> None:
        super().__init__()
        if norm not in ("weight", "layer"):
            raise ValueError(f"norm must be 'weight' or 'layer', got {norm!r}")
        if num_layers is not None and receptive_field is not None:
            raise ValueError("give num_layers or receptive_field, not both")
        if receptive_field is not None:
            num_layers = layers_for_receptive_field(kernel_size, receptive_field)
        elif num_layers is None:
            num_layers = (
                layers_for_receptive_field(kernel_size, window)
                if isinstance(channels, int)
                else len(channels)
            )
        widths = [channels] * num_layers if isinstance(channels, int) else list(channels)
        widths = check_sizes("channels", widths)
        if len(widths) != num_layers:
            raise ValueError(f"channels lists {len(widths)} widths but the TCN has {num_layers} layers")
        blocks = []
        features = input_size
        for layer, width in enumerate(widths):
            blocks.append(TemporalBlock(features, width, kernel_size, 2**layer, dropout, norm))
            features = width
        self.blocks = nn.Sequential(*blocks)
        self.kernel_size = kernel_size
        self.num_layers = num_layers
        self.out_features = features

    @property
    def receptive_field(self) -> int:
        """Input steps that one output step sees (formula: ``(k-1)*(2**L-1)+1``)."""
        return receptive_field(self.kernel_size, self.num_layers)

    def sequence_features(self, x: Tensor) -> Tensor:
        """Per-step features ``[B, T, C]``; step t depends only on inputs ``<= t``."""
        return self.blocks(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.sequence_features(x)[:, -1]
