"""``seeded_rows``: each row's dropout masks from its own seed, as ``nn.Dropout`` scales them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from foretune import models
from foretune.models.seeded_dropout import RowGenerators, per_row_maskable, seeded_rows

SAMPLES = 5


def masks(module: nn.Module, seeds: list[int], shape: tuple[int, ...]) -> torch.Tensor:
    """``module`` (in MC mode) on ones ``[SAMPLES * rows, *shape]`` under ``seeded_rows``, as
    ``[SAMPLES, rows, *shape]``."""
    module.train()
    with torch.no_grad(), seeded_rows(module, seeds, SAMPLES):
        out = module(torch.ones(SAMPLES * len(seeds), *shape))
    return out.reshape(SAMPLES, len(seeds), *shape)


@pytest.mark.parametrize("kind", [nn.Dropout, models.VariationalDropout])
def test_a_rows_masks_depend_on_its_seed_only(kind):
    alone = masks(kind(0.3), [11], (6, 4))
    among = masks(kind(0.3), [5, 7, 11, 13], (6, 4))
    assert torch.equal(among[:, 2], alone[:, 0])  # the same whatever the rows beside it
    assert not torch.equal(among[:, 0], among[:, 1])  # another seed, other masks
    assert not torch.equal(among[0], among[1])  # and each sample its own


def test_the_masks_keep_one_minus_p_scaled_as_nn_dropout_does():
    p = 0.3
    out = masks(nn.Dropout(p), list(range(20)), (500,))
    reference = nn.Dropout(p).train()(torch.ones(10_000))
    assert set(out.unique().tolist()) == set(reference.unique().tolist())  # {0, 1 / (1 - p)}
    assert abs((out > 0).double().mean().item() - (1 - p)) < 0.01


def test_variational_masks_are_shared_over_time_per_row_and_feature():
    p = 0.4
    out = masks(models.VariationalDropout(p), list(range(30)), (9, 200))
    assert torch.equal(out, out[:, :, :1].expand_as(out))  # one mask per sequence and feature
    reference = models.VariationalDropout(p).train()(torch.ones(4, 9, 2000))
    assert set(out.unique().tolist()) == set(reference.unique().tolist())
    assert abs((out[:, :, 0] > 0).double().mean().item() - (1 - p)) < 0.02


def test_seeded_rows_leave_the_global_rng_and_the_modules_as_they_were():
    model = models.build("tcn", input_size=2, horizon=3, window=8, dropout=0.3)
    models.set_mc_dropout(model, True)
    x = torch.randn(SAMPLES * 3, 8, 2)
    state = torch.get_rng_state()
    with torch.no_grad(), seeded_rows(model, [1, 2, 3], SAMPLES):
        first = model(x)[0]
        assert not torch.equal(model(x)[0], first)  # the generators advance from pass to pass
    assert torch.equal(torch.get_rng_state(), state)
    assert not any("forward" in vars(m) for m in model.modules())


def test_a_batch_of_another_size_is_refused():
    module = nn.Dropout(0.1).train()
    with pytest.raises(ValueError, match="expects 10 rows"), seeded_rows(module, [1, 2], SAMPLES):
        module(torch.ones(7, 3))


def test_row_generators_draw_each_rows_block_of_samples():
    generators = RowGenerators([3, 4], samples=2)
    mask = generators.mask((1000,), 0.5, torch.empty(0))
    first = torch.empty(2, 1000).bernoulli_(0.5, generator=torch.Generator().manual_seed(3)) / 0.5
    assert torch.equal(mask[0::2], first)  # rows 0 and 2 are samples 0 and 1 of row 0


@pytest.mark.parametrize("name", models.available())
def test_only_attention_architectures_keep_the_row_by_row_draws(name):
    model = models.build(name, input_size=2, horizon=3, window=8)
    assert per_row_maskable(model) == (name != "transformer")


def test_a_recurrent_modules_inner_dropout_is_not_maskable_per_row():
    assert not per_row_maskable(nn.LSTM(3, 4, num_layers=2, dropout=0.1))
    assert per_row_maskable(nn.LSTM(3, 4, num_layers=1))
    assert not per_row_maskable(nn.Sequential(nn.AlphaDropout(0.1)))
