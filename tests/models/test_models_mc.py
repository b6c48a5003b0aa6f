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
