"""``cnn_lstm``: 1-D convolutions over time (local patterns) feeding a stacked LSTM."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .layers import Encoder, SequenceConv, StackedRecurrent, VariationalDropout
from .registry import register
from .space import Categorical, Int, Layers

SPACE = {
    "channels": Int(16, 128, log=True),
    "kernel_size": Int(2, 7),
    "conv_layers": Int(1, 3),
    "causal": Categorical((False, True)),
    "hidden_sizes": Layers(width=Int(16, 128, log=True), depth=Int(1, 2)),
}


@register("cnn_lstm", space=SPACE)
class CNNLSTMEncoder(Encoder):
    """``conv_layers`` x (Conv1d -> ReLU -> variational dropout), then LSTM; D = last LSTM size.

    The convolutions keep the length T: ``causal=True`` pads on the left only (step t sees
    t-k+1..t), otherwise the padding is split ("same"). Both are leak-free, since the features
    come from the LSTM's state after the last step of the window. Conv weights: He init.
    """

    def __init__(
        self,
        input_size: int,
        window: int,
        dropout: float,
        *,
        channels: int = 64,
        kernel_size: int = 3,
        conv_layers: int = 2,
        causal: bool = False,
        hidden_sizes: Sequence[int] = (64, 32),
    ) -> None:
        super().__init__()
        if conv_layers < 1 or channels < 1:
            raise ValueError(f"conv_layers and channels must be >= 1, got {conv_layers}, {channels}")
        blocks: list[nn.Module] = []
        features = input_size
        for _ in range(conv_layers):
            blocks += [
                SequenceConv(features, channels, kernel_size, causal=causal),
                nn.ReLU(),
                VariationalDropout(dropout),
            ]
            features = channels
        self.conv = nn.Sequential(*blocks)
        self.rnn = StackedRecurrent("lstm", channels, hidden_sizes, dropout=dropout)
        self.out_features = self.rnn.out_features

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(self.stem(x))

    def stem(self, x: Tensor) -> Tensor:
        """The first convolution and its ReLU (its dropout is the trunk's first step)."""
        return self.conv[1](self.conv[0](x))

    def trunk(self, h: Tensor) -> Tensor:
        return self.rnn(self.conv[2:](h))[1]
