"""``lstm``, ``gru`` and ``bilstm``: one stacked recurrent encoder, three cells/directions.

Each is a :class:`StackedRecurrentEncoder` subclass that only names its cell (``"lstm"`` or
``"gru"``) and whether it reads the window in both directions; layers have per-layer sizes,
variational dropout between them and optional LayerNorm (see :class:`~.layers.StackedRecurrent`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from .layers import RecurrentEncoder, StackedRecurrent
from .registry import register
from .space import Categorical, Int, Layers

#: Search space of the one-directional ``lstm`` and ``gru``.
SPACE = {
    "hidden_sizes": Layers(width=Int(16, 128, log=True), depth=Int(1, 3)),
    "layer_norm": Categorical((False, True)),
}

#: Search space of ``bilstm`` (sizes are per direction, so narrower).
BIDIRECTIONAL_SPACE = {
    "hidden_sizes": Layers(width=Int(16, 96, log=True), depth=Int(1, 3)),
    "layer_norm": Categorical((False, True)),
}


class StackedRecurrentEncoder(RecurrentEncoder):
    """Final state of a :class:`StackedRecurrent` of ``cell`` layers (sizes ``[64, 32]`` -> D = 32).

    Subclasses set ``cell`` and, for a bidirectional stack, ``bidirectional = True``.
    """

    cell: ClassVar[Literal["lstm", "gru"]]
    bidirectional: ClassVar[bool] = False

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
            self.cell,
            input_size,
            hidden_sizes,
            dropout=dropout,
            layer_norm=layer_norm,
            bidirectional=self.bidirectional,
        )
        self.out_features = self.rnn.out_features


@register("lstm", space=SPACE)
class LSTMEncoder(StackedRecurrentEncoder):
    """Final hidden state of a stacked LSTM (sizes ``[64, 32]`` -> D = 32)."""

    cell = "lstm"


@register("gru", space=SPACE)
class GRUEncoder(StackedRecurrentEncoder):
    """Final hidden state of a stacked GRU (sizes ``[64, 32]`` -> D = 32)."""

    cell = "gru"


@register("bilstm", space=BIDIRECTIONAL_SPACE)
class BiLSTMEncoder(StackedRecurrentEncoder):
    """Forward state after step T-1 ++ backward state after step 0 (sizes are per direction).

    Layer l > 0 reads both directions of layer l-1, so its input size is ``2 * hidden_sizes[l-1]``;
    D = ``2 * hidden_sizes[-1]``.
    """

    cell = "lstm"
    bidirectional = True
