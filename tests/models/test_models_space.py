import optuna
import pytest
import torch

from foretune import models
from foretune.models.space import Categorical, Float, Int, Layers, WindowFraction

optuna.logging.set_verbosity(optuna.logging.WARNING)
WINDOW = 24


@pytest.mark.parametrize("name", models.available())
def test_suggested_hyperparameters_build(name):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        trial = study.ask()
        kwargs = models.suggest_hyperparameters(trial, name, window=WINDOW)
        assert set(kwargs) <= set(models.get(name).hyperparameter_names)
        assert all(key.startswith(f"{name}.") for key in trial.params)
        model = models.build(name, input_size=2, horizon=3, window=WINDOW, **kwargs)
        assert model(torch.randn(2, WINDOW, 2))[0].shape == (2, 3)
        study.tell(trial, 0.0)


def test_tcn_trial_params_are_prefixed_and_receptive_field_window_relative():
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    kwargs = models.suggest_hyperparameters(trial, "tcn", window=WINDOW)
    assert trial.params and all(key.startswith("tcn.") for key in trial.params)
    assert set(kwargs) == {
        "dropout",
        "channels",
        "kernel_size",
        "receptive_field",
        "norm",
    }
    assert WINDOW // 2 <= kwargs["receptive_field"] <= WINDOW
    encoder = models.build("tcn", input_size=1, horizon=1, window=WINDOW, **kwargs).encoder
    assert encoder.receptive_field >= kwargs["receptive_field"]


def test_fixed_trial_decodes_layers():
    params = {
        "lstm.dropout": 0.2,
        "lstm.hidden_sizes.width": 64,
        "lstm.hidden_sizes.depth": 2,
        "lstm.hidden_sizes.taper": 0.5,
        "lstm.layer_norm": True,
    }
    kwargs = models.suggest_hyperparameters(optuna.trial.FixedTrial(params), "lstm", window=WINDOW)
    assert kwargs == {"dropout": 0.2, "hidden_sizes": [64, 32], "layer_norm": True}
    # depth 1: the taper is never asked for (conditional parameter).
    params.update({"lstm.hidden_sizes.depth": 1})
    del params["lstm.hidden_sizes.taper"]
    kwargs = models.suggest_hyperparameters(optuna.trial.FixedTrial(params), "lstm", window=WINDOW)
    assert kwargs["hidden_sizes"] == [64]


def test_conditional_space_in_one_study():
    def objective(trial):
        name = trial.suggest_categorical("architecture", models.available())
        kwargs = models.suggest_hyperparameters(trial, name, window=WINDOW)
        models.build(name, input_size=1, horizon=2, window=WINDOW, **kwargs)
        assert all(k == "architecture" or k.startswith(f"{name}.") for k in trial.params)
        return 0.0

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=12)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_search_space_is_data():
    space = models.search_space("tcn")
    assert space["receptive_field"] == WindowFraction(0.5, 1.0)
    assert space["dropout"] == Float(0.0, 0.3)
    assert isinstance(models.search_space("lstm")["hidden_sizes"], Layers)


def test_dimension_helpers():
    assert WindowFraction(0.5, 1.0).bounds(24) == (12, 24)
    assert WindowFraction(0.3, 0.3).bounds(10) == (3, 3)
    assert WindowFraction(0.1, 0.2).bounds(3) == (1, 1)
    assert Layers.decode(64, 3, 0.5) == [64, 32, 16]
    assert Layers.decode(10, 3, 0.25, min_size=4) == [10, 4, 4]
    with pytest.raises(ValueError):
        Categorical(([64, 32], [16]))
    with pytest.raises(ValueError):
        Int(5, 1)
    with pytest.raises(ValueError):
        Float(0.0, 1.0, log=True)


@pytest.mark.parametrize("name", models.available())
def test_default_parameters_decode_to_the_defaults(name):
    """A trial given ``default_parameters`` builds the architecture's defaults (within its
    space: TCN's per-layer channels become one width and its depth the window's field)."""
    import optuna

    window = 18
    params = models.default_parameters(name, window)
    assert all(key.startswith(f"{name}.") for key in params)
    decoded = models.suggest_hyperparameters(optuna.trial.FixedTrial(params), name, window)
    defaults = models.default_hyperparameters(name, window)
    if name == "tcn":
        assert decoded["channels"] == defaults["channels"][0] and decoded["receptive_field"] == window
        assert {k: decoded[k] for k in ("dropout", "kernel_size", "norm")} == {
            k: defaults[k] for k in ("dropout", "kernel_size", "norm")
        }
    else:
        assert decoded == defaults
