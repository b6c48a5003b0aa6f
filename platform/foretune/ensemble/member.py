"""``Member``: one forecaster of an ensemble and its weight.

member = Member(model, "mlp", window=16, weight=0.5, spec=spec, n_features=3)   # a trained network
member = Member.of_statistical("AutoETS", weight=0.2)     # fit on each history it forecasts from
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from foretune.models.statistical import StatisticalModel
from foretune.train import TrainSpec

#: Trial id of a statistical member: this prefix and the statsforecast model's name.
STATISTICAL_PREFIX = "statistical:"


@dataclass
class Member:
    """One forecaster of the ensemble and its weight: a trained network, or a statistical model
    that is fit on each history it forecasts from (``window`` 0, no spec)."""

    model: nn.Module | StatisticalModel
    architecture: str
    window: int
    weight: float
    spec: TrainSpec | None = None
    n_features: int | None = None
    info: dict[str, Any] = field(default_factory=dict)  # trial id, scores, refit flag, ...

    @property
    def stream(self) -> str:
        """What its seeded draws are keyed by besides the seed and the series (``draws.row_seeds``):
        its trial id, the same wherever the member is used (alone, or in any ensemble)."""
        return str(self.info.get("trial_id") or f"{self.architecture}/{self.window}")

    @property
    def statistical(self) -> bool:
        """Whether this member is a statistical model (``models.statistical``)."""
        return isinstance(self.model, StatisticalModel)

    @classmethod
    def of_statistical(cls, name: str, weight: float = 0.0) -> Member:
        """The statsforecast model ``name`` as a member (its trial id: ``statistical:<name>``)."""
        info = {"trial_id": f"{STATISTICAL_PREFIX}{name}", "statistical": name}
        return cls(StatisticalModel(name), name, 0, weight, info=info)
