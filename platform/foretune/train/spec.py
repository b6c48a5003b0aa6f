"""What one training run is: ``TrainSpec`` (model and loop settings), ``FitResult``, ``build_model``.

``TrainSpec`` is a plain dataclass so that it travels as a dict (``to_dict``) in Tune trial
configs, Ray Train loop configs and checkpoints (``checkpoint.write_checkpoint`` stores it as
JSON). ``build_model(spec, n_features)`` gives the spec's model freshly initialised from its seed;
``fit`` returns a ``FitResult``. Usage::

    spec = TrainSpec("mlp", {"hidden_sizes": [64]}, window=24, horizon=6, max_epochs=10)
    model = build_model(spec, n_features=1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from foretune import models


@dataclass
class TrainSpec:
    """What one trial trains: the architecture, its hyperparameters and the loop's settings.

    Defaults equal ``config.TrainConfig``'s; their meaning and checks are documented there.
    """

    architecture: str
    hyperparameters: dict[str, Any]
    window: int
    horizon: int
    learning_rate: float = 1e-3
    batch_size: int = 64
    max_epochs: int = 30
    patience: int = 5
    optimizer: str = "adam"
    weight_decay: float = 0.0
    clip_norm: float | None = 1.0
    direction_weight: float = 0.2
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    clip_value: float | None = None
    schedule: str = "none"
    warmup_epochs: float = 0.0
    min_lr_ratio: float = 0.0
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    accumulate_steps: int = 1
    precision: str = "fp32"
    compile: bool = False
    stream_threshold_mb: float = 512.0
    loss: str = "mse"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FitResult:
    """Outcome of ``fit``: final metrics and the best model (on CPU)."""

    metrics: dict[str, Any]
    model: nn.Module | None
    status: str


def build_model(spec: TrainSpec, n_features: int) -> nn.Module:
    """The spec's model, freshly initialised from the spec's seed."""
    torch.manual_seed(spec.seed)
    return models.build(
        spec.architecture,
        input_size=n_features,
        horizon=spec.horizon,
        window=spec.window,
        **spec.hyperparameters,
    )
