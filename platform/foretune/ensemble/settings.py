"""``EnsembleSettings``: what ``ensemble.json`` records besides the members, typed.

    settings = EnsembleSettings.from_config(config, selection=..., calibration=...)  # a build's
    settings = EnsembleSettings.from_dict(json.loads(text))   # an artifact's ensemble.json
    settings.to_dict()                                          # the same keys, for writing it

Serving settings (``horizon``, ``samples``, ``quantiles``, ``levels``, ``seed``,
``direction_source``) drive ``Ensemble.predict``, and so do the run's data settings that reading a
history needs (``fill``, ``freq``, ``season``; ``val_windows`` and ``test_windows`` say how the
held-out windows were cut); the recipe (``weighting``, ``metric``, ``refit``) and the build's
reports (``selection``, ``calibration``, ``test_scores``, ``direction``) are recorded for people.
A key an artifact lacks takes the config's default (``config.EnsembleConfig``, ``DataConfig``,
``ExperimentConfig.seed``); ``val_windows`` and ``test_windows``, which the config resolves from the
data, take one window. A key this version does not know is kept in ``extra`` and written back
unchanged.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from foretune.config import DataConfig, EnsembleConfig, ExperimentConfig, default
from foretune.data.validate import FILLS
from foretune.errors import ArtifactError

#: Quantile columns every forecast has, whatever the configured quantiles.
BASE_QUANTILES = (0.05, 0.5, 0.95)
#: Where a forecast's direction probabilities come from (``ensemble.direction_source``).
DIRECTION_SOURCES: tuple[str, ...] = typing.get_args(
    EnsembleConfig.model_fields["direction_source"].annotation
)
#: The build's reports, in ``Ensemble.report``.
REPORTS = ("selection", "test_scores", "calibration", "direction")
#: Written next to the settings by ``Ensemble.save`` (one entry per member), not a setting.
MEMBERS_KEY = "members"
#: Recorded only when known (``None`` means absent from ``ensemble.json``).
_OPTIONAL = ("weighting", "metric", "refit", *REPORTS)
#: The held-out windows per series of an artifact that does not record them.
_WINDOWS = 1


@dataclass
class EnsembleSettings:
    """How an ensemble serves forecasts, and what its build recorded; see the module docstring."""

    horizon: int
    #: MC-dropout draws per member when predict gets none
    samples: int = default(EnsembleConfig, "samples")
    #: quantile columns besides ``BASE_QUANTILES``
    quantiles: list[float] = field(default_factory=lambda: default(EnsembleConfig, "quantiles"))
    #: calibrated central interval levels
    levels: list[float] = field(default_factory=lambda: default(EnsembleConfig, "levels"))
    #: predict's seed when it gets none
    seed: int = default(ExperimentConfig, "seed")
    #: ``p_down/p_flat/p_up`` from the heads, the paths or a blend
    direction_source: str = default(EnsembleConfig, "direction_source")
    #: the run's ``data.fill``: how gaps in a history are filled at predict time
    fill: str = default(DataConfig, "fill")
    #: the run's ``data.freq``: None infers each series' frequency
    freq: str | int | None = default(DataConfig, "freq")
    #: the run's ``data.season``: MASE season of a series new at predict time
    season: int | None = default(DataConfig, "season")
    val_windows: int = _WINDOWS  # the run's data.val_windows (windows of horizon steps per series)
    test_windows: int = _WINDOWS  # the run's data.test_windows (the calibration windows)
    weighting: str | None = None
    metric: str | None = None
    refit: bool | None = None
    selection: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    test_scores: dict[str, Any] | None = None
    direction: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: ExperimentConfig, **reports: dict[str, Any]) -> EnsembleSettings:
        """The settings of an ensemble built under ``config``, with the build's ``reports``
        (``selection``, ``calibration``, ``test_scores``, ``direction``)."""
        ensemble, data = config.ensemble, config.data
        return cls(
            horizon=data.horizon,
            samples=ensemble.samples,
            quantiles=ensemble.quantiles,
            levels=list(ensemble.levels),
            seed=config.seed,
            weighting=ensemble.weighting,
            metric=ensemble.metric,
            refit=ensemble.refit,
            direction_source=ensemble.direction_source,
            fill=data.fill,
            freq=data.freq,
            season=data.season,
            val_windows=data.val_windows,
            test_windows=data.test_windows,
            **reports,
        )

    @property
    def interval_levels(self) -> list[float]:
        """The central interval levels, ascending."""
        return sorted(float(v) for v in self.levels)

    @property
    def quantile_levels(self) -> list[float]:
        """The quantile columns of a forecast, ascending: ``quantiles`` and ``BASE_QUANTILES``."""
        return sorted(set(float(q) for q in self.quantiles) | set(BASE_QUANTILES))

    @property
    def reports(self) -> dict[str, Any]:
        """The build's reports that this artifact has."""
        return {name: getattr(self, name) for name in REPORTS if getattr(self, name) is not None}

    def to_dict(self) -> dict[str, Any]:
        """The ``ensemble.json`` keys (without ``members``)."""
        out = {**self.extra}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or (f.name in _OPTIONAL and value is None):
                continue
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> EnsembleSettings:
        """Settings from ``ensemble.json``'s keys (``members`` is skipped); ``ArtifactError`` if
        they cannot be served."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        if "horizon" not in state:
            raise ArtifactError("the ensemble settings have no horizon")
        known = {k: v for k, v in state.items() if k in names}
        extra = {k: v for k, v in state.items() if k not in names and k != MEMBERS_KEY}
        settings = cls(**known, extra=extra)
        if settings.direction_source not in DIRECTION_SOURCES:
            raise ArtifactError(
                f"unknown direction_source {settings.direction_source!r} in the ensemble settings "
                f"(known: {list(DIRECTION_SOURCES)})"
            )
        if settings.fill not in FILLS:
            raise ArtifactError(
                f"unknown fill {settings.fill!r} in the ensemble settings (known: {list(FILLS)})"
            )
        return settings
