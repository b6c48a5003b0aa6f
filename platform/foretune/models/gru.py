"""``gru``: stacked GRU layers with per-layer sizes and variational dropout between them."""

from __future__ import annotations

from collections.abc import Sequence

from .layers import RecurrentEncoder, StackedRecurrent
from .registry import register
from .space import Categorical, Int, Layers

SPACE = {
    "hidden_sizes": Layers(width=Int(16, 128, log=True), depth=Int(1, 3)),
    "layer_norm": Categorical((False, True)),
}


@register("gru", space=SPACE)
class GRUEncoder(RecurrentEncoder):
    """Final hidden state of a :class:`StackedRecurrent` GRU (e.g. sizes ``[64, 32]`` -> D = 32)."""

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
        self.rnn = StackedRecurrent("gru", input_size, hidden_sizes, dropout=dropout, layer_norm=layer_norm)
        self.out_features = self.rnn.out_features
