"""Optimiser, clipping and gradient accumulation in the real epoch (``train.epoch.Trainer``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from foretune.train.epoch import Trainer
from foretune.train.feed import MemoryFeed
from foretune.train.grads import FlatGrads, clip_grad_norm


class Linear(nn.Module):
    """A linear forecaster: regression and direction logits straight from the flat window."""

    def __init__(self, window: int, horizon: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.horizon = horizon
        self.reg = nn.Linear(window, horizon)
        self.dir = nn.Linear(window, 3 * horizon)

    def forward(self, x):
        flat = x.flatten(1)
        return self.reg(flat), self.dir(flat).view(-1, self.horizon, 3)


def _arrays(n=203, window=8, horizon=4, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, window, 1)).astype(np.float32)
    y = (x[:, -horizon:, 0] * 0.5 + 0.1 * rng.standard_normal((n, horizon))).astype(np.float32)
    d = rng.integers(0, 3, (n, horizon)).astype(np.int64)
    return x, y, d


def _trainer(spec, model=None, arrays=None):
    """A trainer on synthetic windows, which have no level paths: the per-step squared error
    (unless a test names another per-step loss) and one pass over the windows per epoch."""
    spec = dataclasses.replace(spec, loss="mse" if spec.loss == "mase" else spec.loss, steps_per_epoch=None)
    arrays = arrays or _arrays()
    model = model or Linear(8, 4)
    return Trainer(spec, model, model, MemoryFeed(spec, arrays, arrays, torch.device("cpu")))


def _grads_at_step(trainer):
    """Record the gradients the optimiser sees at every update."""
    seen = []
    trainer.optimizer.register_step_pre_hook(
        lambda opt, args, kwargs: seen.append([p.grad.clone() for p in trainer.params])
    )
    return seen


def test_adam_and_adamw_use_the_seed_defaults(spec_of):
    for name, cls in (("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)):
        opt = _trainer(spec_of(optimizer=name, weight_decay=0.01)).optimizer
        assert isinstance(opt, cls)
        group = opt.param_groups[0]
        assert group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8
        assert group["weight_decay"] == 0.01


def test_clip_by_value_bounds_every_gradient(spec_of):
    unclipped = _trainer(spec_of(clip_norm=None, learning_rate=0.05))
    raw = _grads_at_step(unclipped)
    unclipped.train_epoch()
    assert max(float(g.abs().max()) for step in raw for g in step) > 0.05  # clipping has work

    trainer = _trainer(spec_of(clip_norm=None, clip_value=0.05, learning_rate=0.05))
    seen = _grads_at_step(trainer)
    trainer.train_epoch()
    limit = float(np.float32(0.05))  # the bound in the gradients' own precision
    assert seen and max(float(g.abs().max()) for step in seen for g in step) <= limit


def test_clip_by_norm_bounds_the_global_norm(spec_of):
    trainer = _trainer(spec_of(clip_norm=0.1))
    seen = _grads_at_step(trainer)
    trainer.train_epoch()
    norms = [float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in s]))) for s in seen]
    assert max(norms) <= 0.1 * (1 + 1e-5)
    assert trainer.grads is not None and trainer.grads.intact()  # the fast flat path was used


@pytest.mark.parametrize("flat", [True, False])
def test_clip_grad_norm_matches_pytorch(flat):
    torch.manual_seed(3)
    a, b = Linear(8, 4), Linear(8, 4)
    b.load_state_dict(a.state_dict())
    x = torch.randn(16, 8, 1) * 10
    params_a, params_b = list(a.parameters()), list(b.parameters())
    grads = FlatGrads.make(params_a) if flat else None
    for model in (a, b):
        reg, logits = model(x)
        (reg.pow(2).sum() + logits.sum()).backward()
    norm = clip_grad_norm(params_a, 0.5, grads.flat if flat else None)
    ref = nn.utils.clip_grad_norm_(params_b, 0.5)
    assert float(norm) == pytest.approx(float(ref), rel=1e-6)
    for pa, pb in zip(params_a, params_b, strict=True):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-6, atol=1e-7)
    if flat:
        assert grads.intact()


def test_accumulation_equals_the_larger_batch(spec_of):
    # k=4 micro-batches of 8 per update == one batch of 32: same update boundaries and the
    # loss of each update is the mean over its 32 samples (sums scaled by 1/32), so the only
    # difference is float rounding of the gradient sums (4 partial sums vs one).
    big = _trainer(spec_of(batch_size=32, accumulate_steps=1, learning_rate=0.01))
    small = _trainer(spec_of(batch_size=8, accumulate_steps=4, learning_rate=0.01))
    assert big.steps_per_epoch == small.steps_per_epoch == 7  # 203 windows, last update 11
    for _ in range(3):
        loss_big, loss_small = big.train_epoch(), small.train_epoch()
        assert loss_small == pytest.approx(loss_big, rel=1e-6)
    for pa, pb in zip(big.model.parameters(), small.model.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)
    # and it is a real difference from 4x more updates of batch 8
    plain = _trainer(spec_of(batch_size=8, accumulate_steps=1, learning_rate=0.01))
    for _ in range(3):
        plain.train_epoch()
    assert not torch.allclose(plain.model.reg.weight, big.model.reg.weight, atol=1e-4)


def test_streaming_equals_resident(prepared, spec_of, recorder):
    from foretune.train import fit

    runs = []
    for threshold in (512.0, 0.0):  # 0 MB: every split streams from NumPy
        rec = recorder()
        fit(spec_of(stream_threshold_mb=threshold), prepared, rec, device="cpu")
        runs.append(rec.reports)
    assert [m for m, _ in runs[0][:-1]] == [m for m, _ in runs[1][:-1]]
    assert runs[0][-1][0]["val_mae"] == runs[1][-1][0]["val_mae"]


def test_precision_is_fp32_on_cpu(prepared, spec_of, recorder):
    from foretune.train import fit

    a, b = recorder(), recorder()
    fit(spec_of(max_epochs=2), prepared, a, device="cpu")
    fit(spec_of(max_epochs=2, precision="bf16"), prepared, b, device="cpu")  # autocast is GPU-only
    assert a.epochs == b.epochs


def test_feeder_streams_above_the_threshold():
    from foretune.train.feed import Feeder, split_bytes

    arrays = _arrays(n=100)
    size = split_bytes(arrays)  # 100 * (8*4 + 4*4 + 4*8) bytes
    assert size == 100 * (32 + 16 + 32)
    cpu = torch.device("cpu")
    assert not Feeder(arrays, cpu, threshold_mb=size / 2**20).stream  # at the threshold: resident
    streamed = Feeder(arrays, cpu, threshold_mb=(size - 1) / 2**20)
    assert streamed.stream
    order = torch.tensor([5, 3, 99])
    for got, want in zip(streamed.shuffled(order)(0, 3), arrays, strict=True):
        assert np.array_equal(got.numpy(), want[[5, 3, 99]])
    chunks = list(streamed.chunks(64))
    assert [len(c[0]) for c in chunks] == [64, 36]


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_val_loss_is_the_chosen_regression_loss(spec_of, loss):
    """``train.loss`` is what the epoch minimises and validation reports: the regression loss
    alone, whatever the direction weight (that term only trains the direction head)."""
    x, y, d = _arrays()
    trainer = _trainer(spec_of(loss=loss, direction_weight=0.5), arrays=(x, y, d))
    with torch.no_grad():
        err = trainer.model(torch.from_numpy(x))[0] - torch.from_numpy(y)
    per_point = {
        "mse": err**2,
        "mae": err.abs(),
        "huber": torch.where(err.abs() <= 1.0, 0.5 * err**2, err.abs() - 0.5),
    }[loss]
    assert trainer.val_loss() == pytest.approx(float(per_point.mean()), rel=1e-5)
