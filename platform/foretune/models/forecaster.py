"""``Forecaster = encoder + MultiTaskHead``, and ``build`` which makes one from a name."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from .heads import MultiTaskHead
from .layers import Encoder
from .registry import DEFAULT_DROPOUT, get


class Forecaster(nn.Module):
    """Any registered encoder followed by the shared :class:`MultiTaskHead`.

    ``forward(x [B, T, F])`` returns ``(regression [B, H], direction_logits [B, H, 3])``.
    ``config`` (set by :func:`build`) holds every argument needed to rebuild the same network:
    ``build(**model.config)``; store it with the weights.
    """

    def __init__(
        self,
        encoder: Encoder,
        head: MultiTaskHead,
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.config: dict[str, Any] = dict(config or {})

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        assert x.dim() == 3, f"expected x of shape [batch, time, features], got {tuple(x.shape)}"
        return self.head(self.encoder(x))


def build(
    name: str,
    input_size: int,
    horizon: int,
    window: int,
    dropout: float = DEFAULT_DROPOUT,
    **hyperparameters: Any,
) -> Forecaster:
    """Build architecture ``name`` for inputs ``[B, window, input_size]`` and ``horizon`` outputs.

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
        input_size,
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
        **values,
    }
    return Forecaster(encoder, head, config)
