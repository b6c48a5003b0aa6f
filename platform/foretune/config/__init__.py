"""Typed experiment configuration: every knob lives here once, with its default and its check.

``ExperimentConfig.from_yaml(path, overrides)`` loads a YAML file and applies CLI overrides given
as a flat mapping of dotted keys (``{"data.horizon": 8, "search.trials": 4}``). A bad value raises
``ConfigError`` naming the key, the value and what is allowed.

Modules: ``sections`` (``DataConfig``, ``TrainConfig``, ``SearchConfig``, ``EnsembleConfig``,
``EvaluateConfig``: each setting's default, check and description; ``default`` reads one), ``experiment``
(``ExperimentConfig``: loading and validating), ``dotted`` (``check_setting``, ``parse_settings``,
``experiment_config``: dotted keys from ``--set`` and Python callers).
"""

from foretune.errors import ConfigError

from .dotted import check_setting, experiment_config, parse_settings
from .experiment import ExperimentConfig
from .sections import (
    CalendarKind,
    DataConfig,
    EnsembleConfig,
    EvaluateConfig,
    SearchConfig,
    TrainConfig,
    default,
)

__all__ = [
    "CalendarKind",
    "ConfigError",
    "DataConfig",
    "EnsembleConfig",
    "EvaluateConfig",
    "ExperimentConfig",
    "SearchConfig",
    "TrainConfig",
    "check_setting",
    "default",
    "experiment_config",
    "parse_settings",
]
