import pytest
import torch

from foretune import models


def tcn_encoder(window=64, **hyperparameters):
    torch.manual_seed(0)
    model = models.build("tcn", input_size=2, horizon=1, window=window, dropout=0.1, **hyperparameters)
    return model.encoder.eval()


@pytest.mark.parametrize("norm", ["weight", "layer"])
def test_sequence_features_are_causal(norm):
    encoder = tcn_encoder(window=40, channels=[16, 16, 8], kernel_size=3, norm=norm)
    x = torch.randn(3, 40, 2)
    base = encoder.sequence_features(x)
    assert base.shape == (3, 40, 8)
    for t in (0, 7, 20, 38):
        changed = x.clone()
        changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :])
        features = encoder.sequence_features(changed)
        torch.testing.assert_close(features[:, : t + 1], base[:, : t + 1], atol=1e-6, rtol=0)
        assert not torch.allclose(features[:, t + 1 :], base[:, t + 1 :])
    torch.testing.assert_close(encoder(x), base[:, -1])


@pytest.mark.parametrize(("kernel_size", "num_layers"), [(2, 3), (3, 3), (3, 4), (5, 2), (4, 1)])
@pytest.mark.parametrize("norm", ["weight", "layer"])
def test_measured_receptive_field_equals_formula(kernel_size, num_layers, norm):
    encoder = tcn_encoder(channels=12, kernel_size=kernel_size, num_layers=num_layers, norm=norm)
    x = torch.randn(4, 64, 2)
    base = encoder.sequence_features(x)
    source = 5
    x[:, source] += 10.0
    changed = ((encoder.sequence_features(x) - base).abs().amax(dim=(0, 2)) > 1e-6).nonzero().flatten()
    expected = models.receptive_field(kernel_size, num_layers)
    assert changed.tolist() == list(range(source, source + expected))
    assert encoder.receptive_field == expected


def test_receptive_field_formula_examples():
    assert models.receptive_field(3, 3) == 15
    assert models.receptive_field(3, 4) == 31
    assert models.receptive_field(5, 3) == 29
    assert models.layers_for_receptive_field(3, 31) == 4
    assert models.layers_for_receptive_field(3, 32) == 5
    assert models.layers_for_receptive_field(3, 1) == 1


def test_depth_from_receptive_field_window_or_channels():
    assert tcn_encoder(channels=8, kernel_size=3, receptive_field=20).num_layers == 4
    assert tcn_encoder(window=24, channels=8, kernel_size=2).receptive_field >= 24
    assert tcn_encoder(channels=[8, 8], kernel_size=3).num_layers == 2
    with pytest.raises(ValueError, match="layers"):
        tcn_encoder(channels=[8, 8], kernel_size=3, num_layers=3)
    with pytest.raises(ValueError, match="not both"):
        tcn_encoder(channels=8, num_layers=2, receptive_field=7)


def test_weight_norm_is_used():
    encoder = tcn_encoder(channels=8, num_layers=2, norm="weight")
    conv = encoder.blocks[0].conv.conv
    assert torch.nn.utils.parametrize.is_parametrized(conv, "weight")
