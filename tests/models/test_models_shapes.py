import pytest
import torch

from foretune import models

B, T, F, H = 4, 20, 3, 5


@pytest.mark.parametrize("name", models.available())
@pytest.mark.parametrize("training", [True, False])
def test_output_shapes_and_finite(name, training):
    torch.manual_seed(0)
    model = models.build(name, input_size=F, horizon=H, window=T)
    model.train(training)
    regression, logits = model(torch.randn(B, T, F))
    assert regression.shape == (B, H)
    assert logits.shape == (B, H, 3)
    assert torch.isfinite(regression).all() and torch.isfinite(logits).all()
    assert regression.dtype == logits.dtype == torch.float32


@pytest.mark.parametrize("name", models.available())
def test_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = models.build(name, input_size=F, horizon=H, window=T)
    regression, logits = model(torch.randn(B, T, F))
    (regression.sum() + logits.sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_no_batchnorm_anywhere():
    for name in models.available():
        model = models.build(name, input_size=F, horizon=H, window=T)
        assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_layer_norm_variants_run():
    x = torch.randn(B, T, F)
    for name in ("lstm", "gru", "bilstm", "attention_lstm"):
        model = models.build(
            name,
            input_size=F,
            horizon=H,
            window=T,
            layer_norm=True,
            hidden_sizes=[16, 8, 8],
        )
        assert any(isinstance(m, torch.nn.LayerNorm) for m in model.modules())
        assert model(x)[0].shape == (B, H)
