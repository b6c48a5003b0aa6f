import math

import pytest
import torch

from foretune import models


def test_positional_encoding_hand_computed_entries():
    pe = models.sinusoidal_encoding(5, 4)  # 10000**(2/4) = 100
    assert pe.shape == (5, 4) and pe.dtype == torch.float32
    expected = {
        (0, 0): 0.0,
        (0, 1): 1.0,
        (1, 0): math.sin(1.0),
        (1, 1): math.cos(1.0),
        (1, 2): math.sin(0.01),
        (1, 3): math.cos(0.01),
        (3, 2): math.sin(0.03),
        (4, 0): math.sin(4.0),
        (4, 3): math.cos(0.04),
    }
    for (pos, dim), value in expected.items():
        assert pe[pos, dim].item() == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("d_model", [6, 7])
def test_positional_encoding_matches_formula_everywhere(d_model):
    pe = models.sinusoidal_encoding(9, d_model)
    for pos in range(9):
        for dim in range(d_model):
            i2 = dim - dim % 2
            angle = pos / 10000 ** (i2 / d_model)
            value = math.sin(angle) if dim % 2 == 0 else math.cos(angle)
            assert pe[pos, dim].item() == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("pool", ["last", "mean"])
def test_transformer_variants(causal, pool):
    model = models.build(
        "transformer",
        input_size=2,
        horizon=3,
        window=12,
        causal=causal,
        pool=pool,
        nhead=2,
    )
    assert model.encoder.encoder.layers[0].norm_first
    regression, logits = model(torch.randn(2, 12, 2))
    assert regression.shape == (2, 3) and logits.shape == (2, 3, 3)
    # Longer inputs than the window still get positions.
    assert model(torch.randn(2, 30, 2))[0].shape == (2, 3)


def test_causal_last_token_pooling_sees_every_step():
    torch.manual_seed(0)
    model = models.build("transformer", input_size=1, horizon=1, window=10, causal=True).eval()
    x = torch.randn(1, 10, 1)
    changed = x.clone()
    changed[:, 0] += 1.0
    assert not torch.allclose(model(x)[0], model(changed)[0])


def test_d_model_must_divide_by_heads():
    with pytest.raises(ValueError, match="divisible"):
        models.build("transformer", input_size=1, horizon=1, window=10, d_model=30, nhead=4)
