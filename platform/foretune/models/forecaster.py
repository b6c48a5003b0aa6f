"""``Forecaster = [window levels] + encoder + MultiTaskHead``, and ``build`` which makes one.

``build(..., input_levels=True)`` puts ``WindowLevels`` before the encoder: the network then also
reads each window's level path, which a network reading only per-step changes would have to
integrate itself to see a trend or a seasonal shape.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .heads import MultiTaskHead
from .layers import Encoder
from .registry import DEFAULT_DROPOUT, get


class WindowLevels(nn.Module):
    """Adds the window's level path as feature 1 of ``x [B, T, F]`` (feature 0 the standardised
    change into each step, the last feature the padding mask).

    The level at step ``t`` relative to the origin is minus the sum of the changes after ``t``
    (0 at the origin); it is divided by its mean absolute value over the window's real steps, so
    every window reads as a shape of scale 1 whatever its series' volatility. Padding stays 0.
    """

    #: Smallest divisor, in standardised changes: a window that moves less than one typical step
    #: keeps its path as it is. The path is then linear in ``x`` near zero, so integrated
    #: gradients from the zero baseline converge (a pure shape would jump at the baseline).
    MIN_SCALE = 1.0

    def forward(self, x: Tensor) -> Tensor:
        change, mask = x[..., 0], x[..., -1]
        after = torch.flip(torch.cumsum(torch.flip(change, [1]), 1), [1]) - change
        level = -after * mask
        scale = level.abs().sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp(min=1.0)
        level = level / scale.clamp(min=self.MIN_SCALE)
        return torch.cat([x[..., :1], level[..., None], x[..., 1:]], dim=-1)


class Forecaster(nn.Module):
    """Any registered encoder followed by the shared :class:`MultiTaskHead`.

    ``forward(x [B, T, F])`` returns ``(regression [B, H], direction_logits [B, H, 3])``.
    ``config`` (set by :func:`build`) holds every argument needed to rebuild the same network:
    ``build(**model.config)``; store it with the weights. ``forward(x) == rest(stem(x))``: the
    deterministic start (the input features and the encoder's stem) and the rest, which MC
    dropout repeats per sample.
    """

    def __init__(
        self,
        encoder: Encoder,
        head: MultiTaskHead,
        config: dict[str, Any] | None = None,
        levels: WindowLevels | None = None,
    ) -> None:
        super().__init__()
        self.levels = levels
        self.encoder = encoder
        self.head = head
        self.config: dict[str, Any] = dict(config or {})

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.rest(self.stem(x))

    def stem(self, x: Tensor) -> Tensor:
        """The input features (with the level path when built with it) through the encoder's stem."""
        assert x.dim() == 3, f"expected x of shape [batch, time, features], got {tuple(x.shape)}"
        return self.encoder.stem(x if self.levels is None else self.levels(x))

    def rest(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """The encoder's trunk and the head."""
        return self.head(self.encoder.trunk(h))


def build(
    name: str,
    input_size: int,
    horizon: int,
    window: int,
    dropout: float = DEFAULT_DROPOUT,
    input_levels: bool = False,
    **hyperparameters: Any,
) -> Forecaster:
    """Build architecture ``name`` for inputs ``[B, window, input_size]`` and ``horizon`` outputs;
    ``input_levels`` adds ``WindowLevels`` (the encoder then reads ``input_size + 1`` features).

    Unknown ``name`` -> ``ValueError`` listing the available ones; a hyperparameter the
    architecture does not take -> ``TypeError`` naming it. Omitted hyperparameters take the
    encoder's defaults (see ``default_hyperparameters``).
    """
    spec = get(name)
    unknown = sorted(set(hyperparameters) - set(spec.hyperparameter_names))
    if unknown:
        raise TypeError(
            f"unknown hyperparameter(s) for {name!r}: {', '.join(unknown)}; "
            f"accepted: {', '.join(spec.hyperparameter_names)}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    values = {**spec.defaults(), **hyperparameters, "dropout": dropout}
    encoder = spec.encoder(
        input_size + int(input_levels),
        window,
        dropout,
        **{k: v for k, v in values.items() if k != "dropout"},
    )
    head = MultiTaskHead(encoder.out_features, horizon, dropout)
    config = {
        "name": name,
        "input_size": input_size,
        "horizon": horizon,
        "window": window,
        "input_levels": input_levels,
        **values,
    }
    return Forecaster(encoder, head, config, WindowLevels() if input_levels else None)
