"""The define-by-run space: conditional on the architecture, and pinned/narrowed from YAML."""

from __future__ import annotations

import optuna
import pytest

from foretune.config import ConfigError, ExperimentConfig
from foretune.search.space import DefineByRun, decode, validate_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _sample(config: ExperimentConfig, n: int) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = DefineByRun(config)
    params = []
    for _ in range(n):
        trial = study.ask()
        space(trial)
        params.append(dict(trial.params))
        study.tell(trial, 0.0)
    return params


def test_each_trial_carries_only_its_architectures_parameters():
    config = ExperimentConfig.from_dict({"models": ["lstm", "tcn", "mlp"]})
    seen = set()
    for params in _sample(config, 40):
        arch = params["architecture"]
        seen.add(arch)
        own = {k for k in params if "." in k}
        assert own and all(k.startswith(arch + ".") for k in own), params
    assert seen == {"lstm", "tcn", "mlp"}


def test_pinned_and_narrowed_parameters_are_respected():
    config = ExperimentConfig.from_dict(
        {
            "models": ["lstm", "gru"],
            "search": {
                "windows": [8, 16],
                "space": {
                    "architecture": "gru",
                    "learning_rate": [0.002, 0.003],
                    "gru.hidden_sizes.depth": 1,
                    "window": [16],
                    "direction_weight": [0.0, 0.5],
                },
            },
        }
    )
    for params in _sample(config, 15):
        spec = decode(params, config)
        assert spec.architecture == "gru" and spec.window == 16
        assert 0.002 <= spec.learning_rate <= 0.003
        assert len(spec.hyperparameters["hidden_sizes"]) == 1
        assert spec.direction_weight in (0.0, 0.5)
        assert "gru.hidden_sizes.depth" not in params  # pinned: not searched at all


def test_unknown_space_key_is_rejected_with_the_known_names():
    config = ExperimentConfig.from_dict({"models": ["tcn"], "search": {"space": {"tcn.kernal": 3}}})
    with pytest.raises(ConfigError, match=r"tcn\.kernal.*tcn\.kernel_size"):
        validate_space(config)


def test_unknown_statistical_candidate_is_rejected_before_the_sweep():
    config = ExperimentConfig.from_dict({"ensemble": {"statistical": ["AutoETS", "AutoThetta"]}})
    with pytest.raises(ConfigError, match=r"ensemble\.statistical.*AutoThetta"):
        validate_space(config)
    validate_space(ExperimentConfig.from_dict({"ensemble": {"statistical": ["AutoARIMA", "Naive"]}}))


def test_same_seed_same_trials():
    config = ExperimentConfig.from_dict({"models": ["lstm", "tcn"], "seed": 3})
    assert _sample(config, 5) == _sample(config, 5)


def test_warm_start_points_are_each_architecture_with_its_defaults():
    from foretune.config import experiment_config
    from foretune.search.space import decode, warm_start_points

    config = experiment_config(
        {"models": ["nbeats", "gru", "tcn"], "data.horizon": 4, "search.windows": [2, 4, 8]}
    )
    points = warm_start_points(config)  # search.trials 8: a round at 1x, then at 2x, then 0.5x
    assert [(p["architecture"], p["window"]) for p in points] == [
        ("nbeats", 4),
        ("gru", 4),
        ("tcn", 4),
        ("nbeats", 8),
        ("gru", 8),
        ("tcn", 8),
        ("nbeats", 2),
        ("gru", 2),
    ]
    for point in points:
        spec = decode(point, config)  # a point is a complete trial: it decodes on its own
        assert spec.window == point["window"] and spec.learning_rate == config.train.learning_rate
        assert spec.hyperparameters["dropout"] == 0.1
    few = warm_start_points(experiment_config(config, {"search.trials": 2}))
    assert [p["architecture"] for p in few] == ["nbeats", "gru"]  # the budget bounds the points
    pinned = experiment_config(config, {"search.space": {"learning_rate": 0.002, "architecture": "gru"}})
    pinned_points = warm_start_points(pinned)  # gru alone, one point per lookback round
    assert [p["window"] for p in pinned_points] == [4, 8, 2]
    for only in pinned_points:
        assert "gru.dropout" in only and not {"architecture", "learning_rate"} & set(only)  # the pins decide
    assert warm_start_points(experiment_config(config, {"search.warm_start": False})) == []
