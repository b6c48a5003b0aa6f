"""``attention_lstm``: LSTM whose outputs are pooled by additive (Bahdanau) attention."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .init import init_linear
from .layers import RecurrentEncoder, StackedRecurrent
from .registry import register
from .space import Categorical, Int, Layers

SPACE = {
    "hidden_sizes": Layers(width=Int(16, 128, log=True), depth=Int(1, 3)),
    "attention_size": Int(8, 128, log=True),
    "layer_norm": Categorical((False, True)),
}


class AdditiveAttention(nn.Module):
    """``e_t = v . tanh(W_h h_t + W_q q + b)``, ``a = softmax_t(e)``, ``context = sum_t a_t h_t``.

    The query q is the LSTM's final state (Bahdanau et al., 2015). Xavier init (tanh path).
    """

    def __init__(self, features: int, attention_size: int) -> None:
        super().__init__()
        self.keys = nn.Linear(features, attention_size, bias=False)
        self.query = nn.Linear(features, attention_size)
        self.score = nn.Linear(attention_size, 1, bias=False)
        for linear in (self.keys, self.query, self.score):
            init_linear(linear, "tanh")

    def forward(self, outputs: Tensor, query: Tensor) -> tuple[Tensor, Tensor]:
        energy = self.score(torch.tanh(self.keys(outputs) + self.query(query).unsqueeze(1))).squeeze(-1)
        weights = torch.softmax(energy, dim=1)
        return torch.bmm(weights.unsqueeze(1), outputs).squeeze(1), weights


@register("attention_lstm", space=SPACE)
class AttentionLSTMEncoder(RecurrentEncoder):
    """Features = attention context ++ final LSTM state, so D = ``2 * hidden_sizes[-1]``.

    After each forward pass ``last_attention`` holds the (detached) weights ``[B, T]``, which sum
    to 1 over time.
    """

    def __init__(
        self,
        input_size: int,
        window: int,
        dropout: float,
        *,
        hidden_sizes: Sequence[int] = (64, 32),
        attention_size: int = 64,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        self.rnn = StackedRecurrent("lstm", input_size, hidden_sizes, dropout=dropout, layer_norm=layer_norm)
        self.attention = AdditiveAttention(self.rnn.out_features, attention_size)
        self.out_features = 2 * self.rnn.out_features
        self.last_attention: Tensor | None = None

    def finish(self, outputs: Tensor, last: Tensor) -> Tensor:
        context, weights = self.attention(outputs, last)
        self.last_attention = weights.detach()
        return torch.cat([context, last], dim=-1)
