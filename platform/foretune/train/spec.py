"""What one training run is: ``TrainSpec`` (model and loop settings), ``FitResult``, ``build_model``.

``TrainSpec`` is a plain dataclass so that it travels as a dict (``to_dict``) in Tune trial
configs, Ray Train loop configs and checkpoints (``checkpoint.write_checkpoint`` stores it as
JSON); a setting a stored dict lacks takes its default, which is the config's.
``build_model(spec, n_features)`` gives the spec's model freshly initialised from its seed;
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
from foretune.config import ExperimentConfig, TrainConfig, default


def _default(name: str) -> Any:
    """``TrainConfig``'s default of the setting ``name``."""
    return default(TrainConfig, name)


#: What a stored spec without these settings was trained with: a spec written before they
#: existed read only the changes (no level path) with the squared-error loss, one pass per epoch.
STORED_BEFORE: dict[str, Any] = {"input_levels": False, "loss": "mse", "steps_per_epoch": None}


@dataclass
class TrainSpec:
    """What one trial trains: the architecture, its hyperparameters and the loop's settings.

    Each setting's default is ``config.TrainConfig``'s (``seed``: ``ExperimentConfig``'s), where
    its meaning and checks are documented; ``extra`` holds settings a caller adds.
    """

    architecture: str
    hyperparameters: dict[str, Any]
    window: int
    horizon: int
    learning_rate: float = _default("learning_rate")
    batch_size: int = _default("batch_size")
    max_epochs: int = _default("max_epochs")
    patience: int = _default("patience")
    optimizer: str = _default("optimizer")
    weight_decay: float = _default("weight_decay")
    clip_norm: float | None = _default("clip_norm")
    direction_weight: float = _default("direction_weight")
    seed: int = default(ExperimentConfig, "seed")
    extra: dict[str, Any] = field(default_factory=dict)
    clip_value: float | None = _default("clip_value")
    schedule: str = _default("schedule")
    warmup_epochs: float = _default("warmup_epochs")
    min_lr_ratio: float = _default("min_lr_ratio")
    plateau_factor: float = _default("plateau_factor")
    plateau_patience: int = _default("plateau_patience")
    accumulate_steps: int = _default("accumulate_steps")
    precision: str = _default("precision")
    compile: bool = _default("compile")
    stream_threshold_mb: float = _default("stream_threshold_mb")
    loss: str = _default("loss")
    steps_per_epoch: int | None = _default("steps_per_epoch")
    input_levels: bool = _default("input_levels")

    def to_dict(self) -> dict[str, Any]:
        """Every field, as checkpoints and trial configs store it (``from_dict`` reads it back)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> TrainSpec:
        """A stored spec; a setting it lacks takes ``STORED_BEFORE``'s value where the spec was
        written before that setting existed (so its network rebuilds as it was trained), else
        its default."""
        return cls(**{**STORED_BEFORE, **stored})


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
        input_levels=spec.input_levels,
        **spec.hyperparameters,
    )
