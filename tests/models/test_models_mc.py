import pytest
import torch

from foretune import models


@pytest.mark.parametrize("name", models.available())
def test_mc_dropout_samples_differ_and_eval_is_deterministic(name):
    torch.manual_seed(0)
    model = models.build(name, input_size=3, horizon=5, window=20, dropout=0.3)
    x = torch.randn(4, 20, 3)
    with torch.no_grad():
        models.set_mc_dropout(model, True)
        assert not model.training
        assert not torch.equal(model(x)[0], model(x)[0])
        # Dropout inside the encoder is on too, not only the head's.
        assert not torch.equal(model.encoder(x), model.encoder(x))
        models.set_mc_dropout(model, False)
        assert not any(m.training for m in model.modules())
        first, second = model(x), model(x)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_mc_dropout_switches_only_dropout_modules():
    model = models.build("lstm", input_size=1, horizon=1, window=10)
    models.set_mc_dropout(model, True)
    on = {type(m).__name__ for m in model.modules() if m.training}
    assert on == {"Dropout", "VariationalDropout"}


@pytest.mark.parametrize("name", models.available())
@pytest.mark.parametrize("depth", [1, 2])
def test_the_encoder_stem_is_deterministic_and_the_trunk_completes_forward(name, depth):
    """MC draws run ``stem`` once per window and ``trunk`` per sample: the stem must draw no
    dropout, and ``trunk(stem(x))`` must be the encoder's forward (the same masks, seeded alike)."""
    sizes = {"hidden_sizes": [16] * depth} if "hidden_sizes" in models.get(name).hyperparameter_names else {}
    torch.manual_seed(0)
    model = models.build(name, input_size=3, horizon=5, window=20, dropout=0.3, **sizes)
    x = torch.randn(6, 20, 3)
    with torch.no_grad():
        models.set_mc_dropout(model, True)
        state = torch.get_rng_state()
        stem = model.encoder.stem(x)
        assert torch.equal(torch.get_rng_state(), state), "the stem drew random numbers"
        torch.testing.assert_close(model.encoder.stem(x), stem, rtol=0, atol=0)
        torch.manual_seed(1)
        split = model.encoder.trunk(stem.repeat(3, *([1] * (stem.dim() - 1))))
        torch.manual_seed(1)
        whole = model.encoder(x.repeat(3, 1, 1))
    torch.testing.assert_close(split, whole, rtol=1e-5, atol=1e-6)
