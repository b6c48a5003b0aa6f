"""Ray Train (TorchTrainer, DDP with gloo on CPU): N workers × batch b == one process × batch N·b."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from foretune.train import fit, read_checkpoint


def test_two_workers_follow_the_single_process_curve(ray_session, prepared, spec_of, recorder, tmp_path):
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from foretune.train.distributed import train_worker

    # dropout off: with it each rank draws its own masks, a legitimate but different trajectory.
    # A smooth loss and one pass per epoch (~70 updates): the absolute-error MASE loss turns
    # float-summation noise into sign flips at near-zero residuals, which the 1e-5 below would
    # read as a difference in batching (a sweep with the default loss on two TorchTrainer
    # workers: tests/cluster/cluster_scenarios.py)
    single = spec_of(
        "mlp", hyperparameters={"dropout": 0.0}, batch_size=64, max_epochs=4, loss="mse", steps_per_epoch=None
    )
    reference = recorder()
    fit(single, prepared, reference, device="cpu")

    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"spec": replace(single, batch_size=32).to_dict(), "data": prepared},
        scaling_config=ScalingConfig(num_workers=2, use_gpu=False, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(name="ddp", storage_path=str(tmp_path)),
    )
    result = trainer.fit()
    assert result.error is None
    history = result.return_value  # rank 0's reports
    epochs = [m for m in history if "status" not in m]
    assert [m["epoch"] for m in epochs] == [0, 1, 2, 3]
    # Both runs take the same global batches of 64 (one seeded permutation, each rank its
    # contiguous half) and average the same per-sample losses; they differ only in float32
    # summation order (two partial gradient sums + the all-reduce vs one sum, and 1 vs 2
    # threads' matmul blocking), ~1e-7 relative per update. Adam normalises the gradient, so
    # such perturbations stay of that relative size in the weights over these ~70 updates:
    # 1e-5 leaves two orders of magnitude of margin while any real difference in batching,
    # ordering or loss scaling (e.g. a rank::world shard, or averaging unequal shards) shows
    # up at 1e-3 or more.
    for ours, ref in zip(epochs, reference.epochs, strict=True):
        assert ours["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-5)
        assert ours["val_loss"] == pytest.approx(ref["val_loss"], rel=1e-5)
    assert history[-1]["status"] == "ok"
    model, _ = read_checkpoint(result.checkpoint.path)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, reference.final[1]["state_dict"][key], rtol=1e-4, atol=1e-5)
