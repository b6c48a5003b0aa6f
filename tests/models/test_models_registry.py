import pytest
import torch

from foretune import models

EXPECTED = [
    "mlp",
    "lstm",
    "gru",
    "bilstm",
    "cnn_lstm",
    "tcn",
    "transformer",
    "attention_lstm",
    "nbeats",
]


def test_available_is_the_exact_ordered_list():
    assert models.available() == EXPECTED


def test_unknown_name_lists_available_names():
    with pytest.raises(ValueError, match="unknown architecture 'nope'") as error:
        models.build("nope", input_size=1, horizon=1, window=10)
    for name in EXPECTED:
        assert name in str(error.value)
    with pytest.raises(ValueError, match="available"):
        models.search_space("nope")


def test_unknown_hyperparameter_is_named():
    with pytest.raises(TypeError, match="hidden_sise"):
        models.build("lstm", input_size=1, horizon=1, window=10, hidden_sise=[8])
    with pytest.raises(TypeError, match="kernel_size"):
        models.build("mlp", input_size=1, horizon=1, window=10, kernel_size=3)


@pytest.mark.parametrize("name", EXPECTED)
def test_defaults_build_and_config_rebuilds(name):
    defaults = models.default_hyperparameters(name, window=20)
    assert defaults["dropout"] == models.DEFAULT_DROPOUT
    model = models.build(name, input_size=2, horizon=4, window=20, **defaults)
    assert isinstance(model, models.Forecaster)
    assert isinstance(model.head, models.MultiTaskHead)
    assert model.encoder.out_features == model.head.regression.in_features
    rebuilt = models.build(**model.config)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(3, 20, 2)
    model.eval()
    rebuilt.eval()
    torch.testing.assert_close(model(x), rebuilt(x))


def test_dropout_is_shared_and_in_every_space():
    for name in EXPECTED:
        assert "dropout" in models.search_space(name)
        assert "dropout" in models.get(name).hyperparameter_names


def test_register_rejects_space_keys_the_encoder_does_not_take():
    with pytest.raises(TypeError, match="width"):

        @models.register("broken", space={"width": models.Int(1, 2)})
        class Broken(models.Encoder):
            def __init__(self, input_size, window, dropout, *, depth=1):
                super().__init__()

    assert "broken" not in models.available()
