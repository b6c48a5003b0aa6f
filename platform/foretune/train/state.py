"""The resumable training state: everything needed to continue a run after its last finished epoch.

``capture_state(trainer, epoch, stopping, elapsed, n_features)`` gives a self-contained dict of
CPU tensors and plain values (``torch.save``-able, loadable with ``weights_only=True``;
``checkpoint.write_state``/``read_state`` keep it in one file): the last and the best weights,
early-stopping counters, optimiser, scheduler and ``GradScaler`` states, the epoch, the elapsed
training time and the RNG states (the feed's shuffle generator and each rank's torch RNG, which
draws dropout masks). ``restore_state`` puts one back into a freshly built ``Trainer``; on CPU with
the same world size the resumed run then reports the same metrics and weights as one that was
never interrupted. With ``world_size > 1`` every rank must call ``capture_state`` (gathering the
ranks' RNG states is a collective); the caller persists rank 0's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .epoch import Trainer
    from .loop import EarlyStopping
    from .spec import TrainSpec

STATE_FORMAT = "foretune-train-state"
STATE_VERSION = 1
#: Spec fields a resumed run must share with the saved state (they shape the model or data).
_RESUME_KEYS = ("architecture", "hyperparameters", "window", "horizon")


def capture_state(
    trainer: Trainer, epoch: int, stopping: EarlyStopping, elapsed: float, n_features: int
) -> dict[str, Any]:
    """The full training state after ``epoch`` (see the module docstring)."""
    device = trainer.device
    rng = {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }
    ranks = [rng]
    if trainer.world > 1:
        import torch.distributed as dist

        ranks = [None] * trainer.world
        dist.all_gather_object(ranks, rng)
    return _cpu_copy(
        {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "spec": trainer.spec.to_dict(),
            "n_features": n_features,
            "world_size": trainer.world,
            "epoch": epoch,
            "elapsed_s": elapsed,
            "model": trainer.model.state_dict(),
            "best_state": stopping.best_state,
            "early_stopping": stopping.to_dict(),
            "optimizer": trainer.optimizer.state_dict(),
            "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
            "scaler": trainer.scaler.state_dict() if trainer.scaler is not None else None,
            "rng": {"permutation": trainer.feed.generator.get_state(), "ranks": ranks},
        }
    )


def check_resumable(state: dict[str, Any], spec: TrainSpec, n_features: int) -> None:
    """Raise ``ValueError`` unless ``state`` is a training state of ``spec``'s model."""
    if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
        raise ValueError(
            f"resume_from is not a foretune training state ({STATE_FORMAT} version {STATE_VERSION})"
        )
    saved = state["spec"]
    ours = spec.to_dict()
    differ = [k for k in _RESUME_KEYS if saved.get(k) != ours[k]]
    if differ or state["n_features"] != n_features:
        raise ValueError(f"resume_from was saved for a different model: {differ or 'n_features'} differ")


def restore_state(trainer: Trainer, stopping: EarlyStopping, state: dict[str, Any]) -> None:
    """Continue ``trainer`` and ``stopping`` from ``state`` (the weights: loaded by the caller,
    before the model is wrapped and the optimiser built)."""
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None and state.get("scheduler") is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    if trainer.scaler is not None and state.get("scaler"):
        trainer.scaler.load_state_dict(state["scaler"])
    rng = state["rng"]
    trainer.feed.generator.set_state(rng["permutation"])
    ranks, rank, device = rng["ranks"], trainer.rank, trainer.device
    if rank < len(ranks):  # same world size: exact; otherwise keep the seeded RNG
        torch.set_rng_state(ranks[rank]["torch"])
        if device.type == "cuda" and ranks[rank]["cuda"] is not None:
            torch.cuda.set_rng_state(ranks[rank]["cuda"], device)
    trainer.epochs_done = int(state["epoch"]) + 1
    stopping.load(state["early_stopping"], state["best_state"], device)


def _cpu_copy(tree: Any) -> Any:
    """A deep copy with every tensor detached and copied to the CPU."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().to("cpu", copy=True)
    if isinstance(tree, dict):
        return {k: _cpu_copy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_cpu_copy(v) for v in tree)
    return tree
