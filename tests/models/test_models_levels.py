"""The window's level path as an input (``input_levels``) and the N-BEATS stack."""

from __future__ import annotations

import pytest
import torch

from foretune import models
from foretune.models.forecaster import WindowLevels
from foretune.train import TrainSpec, build_model
from foretune.train.spec import STORED_BEFORE


def test_window_levels_on_a_hand_worked_window():
    # changes into steps 1..3 of a window with one padded step: level relative to the origin
    x = torch.tensor([[[0.0, 0.0], [3.0, 1.0], [6.0, 1.0], [-3.0, 1.0]]])  # [B, T, (z, mask)]
    out = WindowLevels()(x)
    assert out.shape == (1, 4, 3)
    raw = torch.tensor([0.0, -3.0, 3.0, 0.0])  # step 1 is 6 - 3 below the origin, step 2 above
    scale = raw[1:].abs().mean()  # over the real steps: 2
    torch.testing.assert_close(out[0, :, 1], raw / scale)
    torch.testing.assert_close(out[..., 0], x[..., 0])  # the changes and the mask stay as they are
    torch.testing.assert_close(out[..., 2], x[..., 1])


def test_window_levels_keep_a_small_path_as_it_is_so_they_are_linear_near_zero():
    x = torch.tensor([[[0.0, 0.0], [1.0, 1.0], [2.0, 1.0], [-1.0, 1.0]]])  # mean |level| 2/3 < 1
    torch.testing.assert_close(WindowLevels()(x)[0, :, 1], torch.tensor([0.0, -1.0, 1.0, 0.0]))
    for alpha in (0.5, 0.1, 1e-3):  # integrated gradients' path from the zero baseline (mask held)
        scaled = x.clone()
        scaled[..., 0] *= alpha
        expected = alpha * torch.tensor([0.0, -1.0, 1.0, 0.0])
        torch.testing.assert_close(WindowLevels()(scaled)[0, :, 1], expected)


@pytest.mark.parametrize("name", models.available())
def test_input_levels_adds_one_feature_and_keeps_stem_plus_rest(name):
    torch.manual_seed(0)
    model = models.build(name, input_size=2, horizon=3, window=12, input_levels=True)
    assert model.config["input_levels"] is True
    x = torch.randn(5, 12, 2)
    x[..., -1] = 1.0
    model.eval()
    reg, logits = model(x)
    assert reg.shape == (5, 3) and logits.shape == (5, 3, 3)
    torch.testing.assert_close(model.rest(model.stem(x))[0], reg)
    rebuilt = models.build(**{k: v for k, v in model.config.items() if k != "name"}, name=name)
    rebuilt.load_state_dict(model.state_dict())  # the config rebuilds the same network


def test_a_spec_stored_before_the_level_input_rebuilds_without_it():
    stored = TrainSpec("mlp", {"hidden_sizes": [8]}, window=6, horizon=2).to_dict()
    for key in STORED_BEFORE:
        stored.pop(key)
    old = TrainSpec.from_dict(stored)
    assert (old.input_levels, old.loss, old.steps_per_epoch) == (False, "mse", None)
    assert build_model(old, 2).encoder.in_features == 12  # two features, no level path
    new = TrainSpec.from_dict(TrainSpec("mlp", {"hidden_sizes": [8]}, window=6, horizon=2).to_dict())
    assert new.input_levels and build_model(new, 2).encoder.in_features == 18


def test_nbeats_blocks_read_what_the_earlier_ones_left():
    torch.manual_seed(0)
    encoder = models.get("nbeats").encoder(1, 16, 0.0, blocks=3, width=8, layers=2, pooling=2)
    assert encoder.kernels == [4, 2, 1] and encoder.out_features == 24
    assert encoder.blocks[-1].backcast is None  # nothing reads the last block's backcast
    x = torch.randn(4, 16, 1)
    flat = x.flatten(1)
    first = encoder.blocks[0].dense(torch.nn.functional.max_pool1d(flat[:, None], 4, 4)[:, 0])
    second_input = flat - encoder.blocks[0].backcast(first)
    second = encoder.blocks[1].dense(torch.nn.functional.max_pool1d(second_input[:, None], 2, 2)[:, 0])
    out = encoder(x)
    torch.testing.assert_close(out[:, :8], first)
    torch.testing.assert_close(out[:, 8:16], second)


def test_the_direction_loss_trains_its_head_but_not_the_features():
    torch.manual_seed(0)
    model = models.build("mlp", input_size=2, horizon=3, window=6)
    _, logits = model(torch.randn(4, 6, 2))
    logits.sum().backward()
    encoder_grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is None or not g.any() for g in encoder_grads)
    assert model.head.direction.weight.grad.abs().sum() > 0
    model.eval()  # explanations: the direction logits' gradient reaches the input
    x = torch.randn(4, 6, 2, requires_grad=True)
    model(x)[1].sum().backward()
    assert x.grad.abs().sum() > 0
