"""Learning-rate schedules follow their formulas (values worked out by hand), in the real loop too."""

from __future__ import annotations

import math

import pytest
import torch

from foretune.train import lr_factor
from foretune.train.schedule import build_scheduler


def test_cosine_annealing_values():
    # lr(t) = lr_min + (lr_max - lr_min) (1 + cos(pi t / T)) / 2, T = 10 updates
    assert lr_factor("cosine", 0, 10) == 1.0
    assert lr_factor("cosine", 2, 10) == pytest.approx((1 + math.cos(0.2 * math.pi)) / 2)
    assert lr_factor("cosine", 2, 10) == pytest.approx(0.9045085)
    assert lr_factor("cosine", 5, 10) == pytest.approx(0.5)
    assert lr_factor("cosine", 10, 10) == pytest.approx(0.0)
    assert lr_factor("cosine", 12, 10) == pytest.approx(0.0)  # stays at the floor
    # floor min_lr_ratio = 0.1: halfway is (1 + 0.1) / 2
    assert lr_factor("cosine", 5, 10, min_ratio=0.1) == pytest.approx(0.55)
    assert lr_factor("cosine", 10, 10, min_ratio=0.1) == pytest.approx(0.1)


def test_warmup_cosine_values():
    # W = 4 warmup updates: 1/4, 2/4, 3/4, 4/4, then cosine over the remaining T - W = 8
    got = [lr_factor("warmup_cosine", t, 12, warmup_steps=4) for t in range(13)]
    assert got[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert got[4] == pytest.approx(1.0)
    assert got[8] == pytest.approx(0.5)  # halfway through the cosine part
    assert got[12] == pytest.approx(0.0)


def test_inverse_sqrt_values():
    # peak-normalised d^-0.5 min(t^-0.5, t W^-1.5): lr * min(t/W, sqrt(W/t)), t from 1, W = 4
    got = [lr_factor("inverse_sqrt", s, 100, warmup_steps=4) for s in (0, 1, 3, 15, 63)]
    assert got == pytest.approx([0.25, 0.5, 1.0, 0.5, 0.25])
    assert lr_factor("inverse_sqrt", 8, 100, warmup_steps=0) == pytest.approx(1 / 3)  # 1/sqrt(9)


def _optimizer(lr=0.1):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_scheduler_drives_the_optimizer(spec_of):
    # 5 updates per epoch, 2 epochs, warmup 0.4 epoch = 2 updates; lr 0.1
    spec = spec_of(schedule="warmup_cosine", warmup_epochs=0.4, max_epochs=2, learning_rate=0.1)
    opt = _optimizer(0.1)
    scheduler, per_update = build_scheduler(spec, opt, steps_per_epoch=5)
    assert per_update
    seen = []
    for _ in range(10):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    # updates 0,1 warm up (0.05, 0.1); then cosine over 8 updates: 0.1 (1 + cos(pi k / 8)) / 2
    expected = [0.05, 0.1] + [0.1 * (1 + math.cos(math.pi * k / 8)) / 2 for k in range(8)]
    assert seen == pytest.approx(expected)


def test_plateau_cuts_after_patience_bad_epochs(spec_of):
    spec = spec_of(
        schedule="plateau", plateau_patience=2, plateau_factor=0.5, learning_rate=0.1, min_lr_ratio=0.2
    )
    opt = _optimizer(0.1)
    scheduler, per_update = build_scheduler(spec, opt, steps_per_epoch=5)
    assert not per_update
    lrs = []
    for loss in [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.8, 0.85, 0.85, 0.85, 0.85]:
        scheduler.step(loss)
        lrs.append(opt.param_groups[0]["lr"])
    # 0.95, 0.91: two bad epochs -> 0.05 (counter resets); 0.92, 0.93 -> 0.025; 0.8 improves;
    # 0.85, 0.85 -> 0.0125, floored at 0.2 * 0.1 = 0.02; two more bad epochs: stays at the floor
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02])


def test_fit_reports_the_scheduled_lr(prepared, spec_of, recorder):
    from foretune.train import fit

    spec = spec_of(schedule="cosine", max_epochs=3, learning_rate=0.01, batch_size=256)
    steps = math.ceil(len(prepared.train) / 256)
    rec = recorder()
    fit(spec, prepared, rec, device="cpu")
    lrs = [m["lr"] for m in rec.epochs]
    # after epoch e the next update is (e + 1) * steps of 3 * steps in all
    expected = [0.01 * lr_factor("cosine", (e + 1) * steps, 3 * steps) for e in range(3)]
    assert lrs == pytest.approx(expected)
    assert lrs[-1] == pytest.approx(0.0)


def test_none_keeps_the_rate(prepared, spec_of, recorder):
    from foretune.train import fit

    rec = recorder()
    fit(spec_of(max_epochs=2, learning_rate=0.003), prepared, rec, device="cpu")
    assert [m["lr"] for m in rec.epochs] == [0.003, 0.003]
