"""The sweep's search space as an Optuna define-by-run function (truly conditional).

The architecture is chosen first, then that architecture's own parameters from the space declared
beside the model (``models.suggest_hyperparameters``, names prefixed ``<arch>.``), then the shared
ones (window, learning rate, batch size). A TCN trial therefore never carries LSTM parameters.
Tune hands the trial a flat dict of the chosen values; ``decode`` turns it back into a
``TrainSpec`` by replaying the same function on an ``optuna.trial.FixedTrial``.
"""

from __future__ import annotations

from typing import Any

import optuna

from foretune import models
from foretune.config import ExperimentConfig
from foretune.train import TrainSpec


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
    architecture = trial.suggest_categorical("architecture", config.models)
    window = trial.suggest_categorical("window", search.windows)
    hyperparameters = models.suggest_hyperparameters(trial, architecture, window)
    lo, hi = search.learning_rate
    learning_rate = trial.suggest_float("learning_rate", lo, hi, log=lo < hi) if lo < hi else lo
    batch_size = trial.suggest_categorical("batch_size", search.batch_sizes)
    return {
        "architecture": architecture,
        "window": window,
        "hyperparameters": hyperparameters,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
    }


def decode(params: dict[str, Any], config: ExperimentConfig) -> TrainSpec:
    """The ``TrainSpec`` of a trial from the flat parameter dict Tune passes to it."""
    chosen = _suggest(optuna.trial.FixedTrial(params), config)
    return spec_for(config, **chosen)


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
    )
