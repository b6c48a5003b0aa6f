"""The training loop: ``fit`` trains one model, reporting after every epoch, with early stopping.

The same code runs inline, inside a Tune trial and on every Ray Train worker: ``fit(spec, data,
report)`` calls ``report(metrics, checkpoint)`` and the caller decides what reporting means
(``tune.report``, ``ray.train.report``, a list append), so this module knows no Ray. ``data`` is a
``PreparedData`` (in memory) or a ``WindowStream`` (streamed, ``data.store``). ``fit`` is three
steps: ``_restore`` (a fresh or resumed ``Trainer``), ``_run_epochs`` (train, validate, report,
stop early) and ``_finish`` (best weights, their scores, the final report). The parts live
beside it: feeding in ``train.feed``, the epoch in ``train.epoch``, gradients in ``train.grads``,
the resumable state in ``train.state``, predictions and scores in ``train.predict``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from foretune.data import PreparedData

from .epoch import Trainer
from .feed import Feed, prepare_feed
from .predict import predict_windows, score_windows, to_levels
from .record import TrialStatus
from .schedule import MIN_DELTA
from .spec import FitResult, TrainSpec, build_model
from .state import capture_state, check_resumable, restore_state

if TYPE_CHECKING:
    from foretune.data.store import WindowStream

# re-exported: ``foretune.train.loop`` stays an import path of these names
__all__ = [
    "EarlyStopping",
    "FitResult",
    "TrainSpec",
    "Trainer",
    "build_model",
    "fit",
    "predict_windows",
    "score_windows",
    "to_levels",
]

Report = Callable[[dict[str, Any], dict[str, Any] | None], None]
SaveState = Callable[[dict[str, Any]], None]


def fit(
    spec: TrainSpec,
    data: PreparedData | WindowStream,
    report: Report,
    *,
    device: torch.device | str | None = None,
    rank: int = 0,
    world_size: int = 1,
    wrap: Callable[[nn.Module], nn.Module] | None = None,
    resume_from: dict[str, Any] | None = None,
    save_state: SaveState | None = None,
) -> FitResult:
    """Train ``spec`` on ``data``; report each epoch; return the best model and its metrics.

    Each epoch reports ``epoch, train_loss, val_loss, best_val_loss, lr`` and ``epoch_seconds``
    (its training and validation passes) with checkpoint None. The final report adds ``status``
    (``ok`` or ``diverged``), ``reason``, ``best_epoch``, ``train_seconds``, ``n_params`` and the
    best model's ``val_mae, val_rmse, val_smape, val_mase`` (and ``score_seconds``, their cost);
    its ``val_loss`` is the best one and its checkpoint (rank 0, status ok) holds ``state_dict``,
    ``spec`` and ``n_features`` (what ``checkpoint.write_checkpoint`` stores).
    ``device`` None picks CUDA when this process sees a GPU, else the CPU. ``world_size > 1``:
    ``wrap`` makes the DDP module. ``save_state(state)``, if given, receives the resumable state
    (``train.state``) right before each epoch's report; ``resume_from`` continues from one.
    """
    device = _resolve_device(device)
    feed = prepare_feed(data, spec, device, rank, world_size)
    trainer, stopping, first, before = _restore(spec, feed, data.n_features, wrap, resume_from)
    started = time.perf_counter()

    def state_after(epoch: int) -> dict[str, Any]:  # train_seconds include the run this one resumes
        seconds = before + time.perf_counter() - started
        return capture_state(trainer, epoch, stopping, seconds, data.n_features)

    outcome = _run_epochs(spec, trainer, stopping, first, report, save_state, state_after)
    seconds = before + time.perf_counter() - started
    return _finish(spec, trainer, stopping, outcome, seconds, data.n_features, report)


def _restore(
    spec: TrainSpec,
    feed: Feed,
    n_features: int,
    wrap: Callable[[nn.Module], nn.Module] | None,
    resume_from: dict[str, Any] | None,
) -> tuple[Trainer, EarlyStopping, int, float]:
    """A fresh or resumed trainer and early stopping; the first epoch and the seconds trained."""
    if resume_from is not None:
        check_resumable(resume_from, spec, n_features)
    torch.manual_seed(spec.seed)
    model = build_model(spec, n_features)
    if resume_from is not None:
        model.load_state_dict(resume_from["model"])
    model = model.to(feed.device)
    if feed.rank:  # distinct dropout masks per rank (DDP broadcasts rank 0's initial weights)
        torch.manual_seed(spec.seed + feed.rank)
    trainer = Trainer(spec, model, wrap(model) if wrap else model, feed)
    stopping = EarlyStopping()
    if resume_from is None:
        return trainer, stopping, 0, 0.0
    restore_state(trainer, stopping, resume_from)
    return trainer, stopping, int(resume_from["epoch"]) + 1, float(resume_from["elapsed_s"])


def _run_epochs(
    spec: TrainSpec,
    trainer: Trainer,
    stopping: EarlyStopping,
    first: int,
    report: Report,
    save_state: SaveState | None,
    state_after: Callable[[int], dict[str, Any]],
) -> tuple[str, str, int]:
    """Epochs ``first..`` until ``max_epochs`` or early stopping: ``(status, reason, last epoch)``."""
    last = first - 1
    for epoch in range(first, spec.max_epochs):
        if stopping.bad_epochs >= spec.patience:
            break  # resumed from a state that had already stopped early
        last = epoch
        began = time.perf_counter()
        train_loss = trainer.train_epoch()
        val_loss = trainer.val_loss()
        epoch_seconds = time.perf_counter() - began
        # a non-finite loss or weight ends the run before anything of this epoch is handed out:
        # the caller's last state and the best weights stay the last finite ones
        if not (math.isfinite(train_loss) and math.isfinite(val_loss) and _finite(trainer.model)):
            reason = (
                f"non-finite loss or weights at epoch {epoch} (train_loss={train_loss}, "
                f"val_loss={val_loss}); lower learning_rate or set clip_norm/clip_value"
            )
            return TrialStatus.DIVERGED.value, reason, last
        stopping.update(val_loss, epoch, trainer.model)
        trainer.end_epoch(val_loss)
        metrics = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "best_val_loss": stopping.best_loss,
            "lr": trainer.lr,
            "epoch_seconds": epoch_seconds,
        }
        if save_state is not None:  # before the report: a Tune trainable attaches it to that report
            save_state(state_after(epoch))
        report(metrics, None)
        if stopping.bad_epochs >= spec.patience:
            break
    return TrialStatus.OK.value, "", last


def _finish(
    spec: TrainSpec,
    trainer: Trainer,
    stopping: EarlyStopping,
    outcome: tuple[str, str, int],
    seconds: float,
    n_features: int,
    report: Report,
) -> FitResult:
    """The final report: the best weights restored, scored and (rank 0, status ok) checkpointed."""
    status, reason, last = outcome
    model = trainer.model
    final: dict[str, Any] = {
        "epoch": last,
        "status": status,
        "reason": reason,
        "best_epoch": stopping.best_epoch,
        "val_loss": stopping.best_loss,
        "best_val_loss": stopping.best_loss,
        "train_seconds": seconds,
        "n_params": sum(p.numel() for p in model.parameters()),
    }
    if stopping.best_state is None:  # not one finite epoch
        report(final, None)
        return FitResult(final, None, status)
    model.load_state_dict(stopping.best_state)
    if status != TrialStatus.OK:  # never checkpoint a diverged trial; hand back its best finite weights
        report(final, None)
        return FitResult(final, model.cpu(), status)
    began = time.perf_counter()
    final.update({f"val_{k}": v for k, v in trainer.feed.score(model).items()})
    final["score_seconds"] = time.perf_counter() - began
    model = model.cpu()
    checkpoint = None
    if trainer.rank == 0:  # every rank holds the same weights: one checkpoint is enough
        checkpoint = {"state_dict": model.state_dict(), "spec": spec.to_dict(), "n_features": n_features}
    report(final, checkpoint)
    return FitResult(final, model, status)


class EarlyStopping:
    """Best validation loss, its epoch and weights, and the count of epochs without progress."""

    def __init__(self) -> None:
        self.best_loss, self.best_epoch, self.bad_epochs = math.inf, -1, 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def update(self, val_loss: float, epoch: int, model: nn.Module) -> None:
        if val_loss < self.best_loss - MIN_DELTA:  # the same test as reduce-on-plateau
            self.best_loss, self.best_epoch, self.bad_epochs = val_loss, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1

    def to_dict(self) -> dict[str, Any]:
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load(
        self, values: dict[str, Any], best_state: dict[str, torch.Tensor] | None, device: torch.device
    ) -> None:
        self.best_loss = float(values["best_loss"])
        self.best_epoch = int(values["best_epoch"])
        self.bad_epochs = int(values["bad_epochs"])
        self.best_state = None if best_state is None else {k: v.to(device) for k, v in best_state.items()}


def _resolve_device(device: torch.device | str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())
