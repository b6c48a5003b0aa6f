"""The sweep's search space as an Optuna define-by-run function (truly conditional).

The architecture is chosen first, then that architecture's own parameters from the space declared
beside the model (``models.suggest_hyperparameters``, names prefixed ``<arch>.``), then the shared
ones (window, learning rate, batch size, and any ``train`` setting the user lists in
``search.space``). A TCN trial therefore never carries LSTM parameters. ``search.space`` pins or
narrows any parameter (see ``constraints``).
Tune hands the trial a flat dict of the chosen values; ``decode`` turns it back into a
``TrainSpec`` by replaying the same function on an ``optuna.trial.FixedTrial``.
"""

from __future__ import annotations

from typing import Any

import optuna

from foretune import models
from foretune.config import ConfigError, ExperimentConfig, TrainConfig
from foretune.data.windows import default_windows
from foretune.models.statistical import check_names, statsforecast_available
from foretune.train import TrainSpec

from .constraints import ConstrainedTrial


class DefineByRun:
    """The define-by-run callable handed to ``OptunaSearch(space=...)``.

    A class, not a closure, because Tune pickles the searcher (with its space) to resume.
    """

    def __init__(self, config: ExperimentConfig) -> None:
        self.experiment = config.to_dict()
        self._config = config

    def __getstate__(self) -> dict[str, Any]:
        return {"experiment": self.experiment}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(ExperimentConfig.from_dict(state["experiment"]))

    def __call__(self, trial: optuna.trial.BaseTrial) -> None:
        _suggest(trial, self._config)


def define_space(config: ExperimentConfig) -> DefineByRun:
    """The define-by-run function of the config's search space."""
    return DefineByRun(config)


def _suggest(trial: optuna.trial.BaseTrial, config: ExperimentConfig) -> dict[str, Any]:
    search = config.search
    t = ConstrainedTrial(trial, search.space)
    architecture = t.suggest_categorical("architecture", config.models)
    window = t.suggest_categorical("window", search_windows(config))
    hyperparameters = models.suggest_hyperparameters(t, architecture, window)
    lo, hi = search.learning_rate
    learning_rate = t.suggest_float("learning_rate", lo, hi, log=True) if lo < hi else lo
    batch_size = t.suggest_categorical("batch_size", search.batch_sizes)
    train = {
        key: t.suggest_value(key)
        for key in TrainConfig.model_fields
        if key in search.space and key not in ("learning_rate", "batch_size")
    }
    return {
        "architecture": architecture,
        "window": window,
        "hyperparameters": hyperparameters,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "train": train,
        "asked": t.asked,
    }


#: The order in which the warm start visits lookbacks, as multiples of ``max(horizon, season)``:
#: one round of every architecture's defaults per lookback (N-BEATS ensembles lookbacks of 2-7
#: horizons; the diagnosis found 1x best on monthly panels, 2x on a half-hourly series).
WARM_START_MULTIPLES = (1, 2, 0.5, 3)


def warm_start_points(config: ExperimentConfig) -> list[dict[str, Any]]:
    """The first trials of the sweep (``search.warm_start``): rounds of every architecture of
    ``models`` with its default hyperparameters (``models.default_parameters``) and the training
    defaults, one round per lookback, the lookbacks nearest ``WARM_START_MULTIPLES`` of
    ``max(horizon, season)`` in that order, up to ``search.trials`` points. A small budget so
    holds sound configurations of every architecture at more than one lookback, for the ensemble
    to combine; the sampler chooses the trials after them. Parameters that ``search.space`` pins
    or narrows are left to it."""
    if not config.search.warm_start:
        return []
    windows = search_windows(config)
    base = max(config.data.horizon, config.data.season or 1)
    rounds: list[int] = []
    for multiple in WARM_START_MULTIPLES:
        nearest = min(windows, key=lambda w: (abs(w - multiple * base), w))
        if nearest not in rounds:
            rounds.append(nearest)
    lo, hi = config.search.learning_rate
    batch_sizes = config.search.batch_sizes
    batch = config.train.batch_size if config.train.batch_size in batch_sizes else batch_sizes[0]
    pinned = config.search.space.get("architecture")
    chosen = [
        a for a in config.models if pinned is None or a in (pinned if isinstance(pinned, list) else [pinned])
    ]
    points = []
    for window in rounds:
        for architecture in chosen:
            point = {
                "architecture": architecture,
                "window": window,
                **models.default_parameters(architecture, window),
                "learning_rate": min(max(config.train.learning_rate, lo), hi),
                "batch_size": batch,
            }
            points.append({k: v for k, v in point.items() if k not in config.search.space})
    return points[: config.search.trials]


def parameter_names(config: ExperimentConfig) -> set[str]:
    """Every parameter name the space can ask for (over all chosen architectures)."""
    names: set[str] = set()
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        for architecture in config.models:
            probe = config.model_copy(deep=True)
            probe.search.space = {**config.search.space, "architecture": architecture}
            study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
            names.update(_suggest(study.ask(), probe)["asked"])
    finally:
        optuna.logging.set_verbosity(verbosity)
    return names | set(TrainConfig.model_fields)


def validate_space(config: ExperimentConfig) -> None:
    """Raise ``ConfigError`` for an unknown architecture in ``models``, an unknown statsforecast
    model in ``ensemble.statistical`` or a ``search.space`` key no trial would ever ask for."""
    unknown_models = [m for m in config.models if m not in models.available()]
    if unknown_models:
        raise ConfigError(
            f"models names unknown architecture(s) {unknown_models}; choose from {models.available()}"
        )
    if config.ensemble.statistical and statsforecast_available():
        check_names(config.ensemble.statistical)
    known = parameter_names(config)
    unknown = sorted(set(config.search.space) - known)
    if unknown:
        raise ConfigError(
            f"search.space names unknown parameter(s) {unknown}; known ones for models "
            f"{config.models}: {sorted(known - set(TrainConfig.model_fields))} and the train "
            "settings"
        )


def decode(params: dict[str, Any], config: ExperimentConfig) -> TrainSpec:
    """The ``TrainSpec`` of a trial from the flat parameter dict Tune passes to it."""
    chosen = _suggest(optuna.trial.FixedTrial(params), config)
    train_settings = chosen.pop("train")
    chosen.pop("asked")
    spec = spec_for(config, **chosen)
    for key, value in train_settings.items():
        if hasattr(spec, key):
            setattr(spec, key, value)
    return spec


def spec_for(
    config: ExperimentConfig,
    *,
    architecture: str,
    window: int,
    hyperparameters: dict[str, Any] | None = None,
    learning_rate: float | None = None,
    batch_size: int | None = None,
) -> TrainSpec:
    """A ``TrainSpec`` from the config's training settings and a trial's choices."""
    train = config.train
    return TrainSpec(
        architecture=architecture,
        hyperparameters=hyperparameters or models.default_hyperparameters(architecture, window),
        window=window,
        horizon=config.data.horizon,
        learning_rate=learning_rate or train.learning_rate,
        batch_size=batch_size or train.batch_size,
        max_epochs=train.max_epochs,
        patience=train.patience,
        optimizer=train.optimizer,
        weight_decay=train.weight_decay,
        clip_norm=train.clip_norm,
        direction_weight=train.direction_weight,
        seed=config.seed,
        **{key: getattr(train, key) for key in _LOOP_SETTINGS},
    )


#: ``TrainConfig`` fields handed to ``TrainSpec`` unchanged (the training loop's own settings).
_LOOP_SETTINGS = (
    "clip_value",
    "schedule",
    "warmup_epochs",
    "min_lr_ratio",
    "plateau_factor",
    "plateau_patience",
    "accumulate_steps",
    "precision",
    "compile",
    "stream_threshold_mb",
    "loss",
    "steps_per_epoch",
    "input_levels",
)


def search_windows(config: ExperimentConfig) -> list[int]:
    """``search.windows``, or when None (not yet fit to a panel) the default multiples of
    max(horizon, season) without a length cap."""
    if config.search.windows is not None:
        return list(config.search.windows)
    return default_windows(config.data.horizon, config.data.season, [])
