"""The one output head shared by every architecture."""

from __future__ import annotations

from torch import Tensor, nn

from .init import init_linear

#: Direction classes, in logit order.
DIRECTION_CLASSES = ("down", "flat", "up")


class MultiTaskHead(nn.Module):
    """Maps encoder features ``[B, D]`` to ``(regression [B, H], direction_logits [B, H, 3])``.

    Dropout on the features (on in MC mode), then two linear maps (Xavier init, zero bias):
    one value per horizon step, and three logits per step in the order 0 down, 1 flat, 2 up.
    In training the direction map reads the features without passing its gradient back into
    them: the direction task learns from the representation the forecast needs and cannot trade
    the level forecast's accuracy for its own. In eval mode gradients flow through both maps
    (integrated gradients explain the direction logits too).
    """

    def __init__(self, in_features: int, horizon: int, dropout: float) -> None:
        super().__init__()
        if in_features < 1 or horizon < 1:
            raise ValueError(f"in_features and horizon must be >= 1, got {in_features}, {horizon}")
        self.horizon = horizon
        self.dropout = nn.Dropout(dropout)
        self.regression = nn.Linear(in_features, horizon)
        self.direction = nn.Linear(in_features, horizon * len(DIRECTION_CLASSES))
        init_linear(self.regression)
        init_linear(self.direction)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        features = self.dropout(features)
        shared = features.detach() if self.training else features  # explanations still reach the input
        logits = self.direction(shared).unflatten(-1, (self.horizon, len(DIRECTION_CLASSES)))
        return self.regression(features), logits
