"""``bilstm``: stacked bidirectional LSTM; features are both directions' final states."""

from __future__ import annotations

from collections.abc import Sequence

from .layers import RecurrentEncoder, StackedRecurrent
from .registry import register
from .space import Categorical, Int, Layers

SPACE = {
    "hidden_sizes": Layers(width=Int(16, 96, log=True), depth=Int(1, 3)),
    "layer_norm": Categorical((False, True)),
}


@register("bilstm", space=SPACE)
class BiLSTMEncoder(RecurrentEncoder):
    """Forward state after step T-1 ++ backward state after step 0 (sizes are per direction).

    Layer l > 0 reads both directions of layer l-1, so its input size is ``2 * hidden_sizes[l-1]``;
    D = ``2 * hidden_sizes[-1]``.
    """

    def __init__(
        self,
        input_size: int,
        window: int,
        dropout: float,
        *,
        hidden_sizes: Sequence[int] = (64, 32),
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        self.rnn = StackedRecurrent(
            "lstm",
            input_size,
            hidden_sizes,
            dropout=dropout,
            layer_norm=layer_norm,
            bidirectional=True,
        )
        self.out_features = self.rnn.out_features
