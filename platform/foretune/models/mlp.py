"""``mlp``: a feed-forward network over the flattened window ``[B, T*F]``."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .init import init_linear
from .layers import ACTIVATIONS, Encoder, check_sizes
from .registry import register
from .space import Categorical, Int, Layers

SPACE = {
    "hidden_sizes": Layers(width=Int(32, 512, log=True), depth=Int(1, 3)),
    "activation": Categorical(("relu", "gelu", "tanh")),
}


@register("mlp", space=SPACE)
class MLPEncoder(Encoder):
    """Dense layers ``Linear -> activation -> Dropout`` over the flattened window.

    He init before ReLU/GELU, Xavier before tanh. Needs the window length it was built for.
    """

    def __init__(
        self,
        input_size: int,
        window: int,
        dropout: float,
        *,
        hidden_sizes: Sequence[int] = (256, 128),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.in_features = input_size * window
        layers: list[nn.Module] = []
        features = self.in_features
        for index, hidden in enumerate(check_sizes("hidden_sizes", hidden_sizes)):
            if index:
                layers.append(nn.Dropout(dropout))
            linear = nn.Linear(features, hidden)
            init_linear(linear, "tanh" if activation == "tanh" else "relu")
            layers += [linear, ACTIVATIONS[activation]()]
            features = hidden
        self.net = nn.Sequential(*layers)
        self.out_features = features

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(self.stem(x))

    def stem(self, x: Tensor) -> Tensor:
        """The first dense layer and its activation (no dropout before them)."""
        flat = x.flatten(1)
        assert flat.shape[1] == self.in_features, (
            f"mlp was built for window*features = {self.in_features}, got input {tuple(x.shape)}"
        )
        return self.net[1](self.net[0](flat))

    def trunk(self, h: Tensor) -> Tensor:
        return self.net[2:](h)
