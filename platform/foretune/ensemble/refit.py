"""Retraining chosen members: from scratch (``ensemble.refit: true``) or warm-started
(``evaluate.refit_full``).

    epochs = best_epochs(run, board)                  # trial id -> epoch of its best val loss
    model, spec = refit(member.spec, data, epochs[trial_id])   # model None if it diverged
    results = refit_all([(spec, data, epoch), ...], {"num_cpus": 1})   # as parallel Ray tasks
    refit_members(run, board, members, datasets, config)      # the build's step, in place
    warm_start_members(members, datasets, steps=WARM_START_STEPS, threads=1)   # refit_full's

``refit``: a member is retrained from scratch with its trial's spec (architecture,
hyperparameters, seed) for exactly the epochs early stopping chose in the sweep.
``warm_start``: a member continues from its trained weights for one pass over the train +
validation windows (a seeded sample of ``steps`` updates where a pass is longer), with its
trial's optimiser and a fresh schedule: the learning rate warms up over the first
``WARM_UP`` of the updates to the trial's, then anneals to zero (a fresh Adam's first updates at
the full rate undo much of what the member learnt). About one epoch of a retrain's many, for the
served ensemble to learn from the tail the run held out; ``benchmarks/refit_full.py`` compares
the two. Either way the weights chosen on the original members' out-of-sample
validation forecasts are kept, and the test windows stay unseen, so the calibration on them
remains honest.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from foretune.config import ExperimentConfig
from foretune.data import PreparedData, WindowSet
from foretune.rundir import RunDir
from foretune.storage import read_parquet
from foretune.train import TrainSpec, build_model, fit
from foretune.train.epoch import Trainer
from foretune.train.feed import prepare_feed
from foretune.train.record import TrialStatus

from .member import Member

NO_PATIENCE = 10**9  # early stopping never triggers: every epoch runs
#: Most updates of a warm-started member (``warm_start``): one pass over the windows of a panel
#: of some 500 series, a sample of them on a larger one, so the cost stays bounded.
WARM_START_STEPS = 1000
#: The share of a warm start's updates over which its learning rate warms up.
WARM_UP = 0.2


def best_epochs(run: RunDir, board: pd.DataFrame) -> dict[str, int]:
    """Epoch index of each trial's best validation loss (from the run's curves, else the
    leaderboard's epoch count)."""
    out: dict[str, int] = {}
    if run.curves.is_file():
        curves = read_parquet(run.curves)
        for trial_id, group in curves.groupby("trial_id"):
            losses = group["val_loss"].to_numpy(np.float64)
            if np.isfinite(losses).any():
                out[str(trial_id)] = int(group["epoch"].to_numpy()[np.nanargmin(losses)])
    for row in board.itertuples():
        if str(row.trial_id) not in out and pd.notna(getattr(row, "epochs", np.nan)):
            out[str(row.trial_id)] = max(int(row.epochs) - 1, 0)
    return out


def concat_windows(*sets: WindowSet) -> WindowSet:
    """The windows of ``sets``, one after the other."""
    return WindowSet(*(np.concatenate([getattr(s, f) for s in sets]) for f in WindowSet.__dataclass_fields__))


def with_validation_in_train(data: PreparedData) -> PreparedData:
    """``data`` whose training windows also include the validation windows.

    The transform keeps its statistics from the training part (the artifact has one transform
    for all members), and windows whose targets straddle the train/validation boundary are in
    neither split, so they are not added.
    """
    return dataclasses.replace(data, train=concat_windows(data.train, data.val))


def refit(spec: TrainSpec, data: PreparedData, best_epoch: int) -> tuple[nn.Module | None, TrainSpec]:
    """Retrain ``spec`` for ``best_epoch + 1`` epochs on train + validation; the model or None.

    Runs in this process (``refit_all`` runs several in parallel). ``fit`` still evaluates on
    the validation windows (now seen in training) and restores its best epoch: with no patience
    every epoch runs, and the best in-sample epoch is almost always the last one.
    """
    spec = dataclasses.replace(spec, max_epochs=best_epoch + 1, patience=NO_PATIENCE)
    result = fit(spec, with_validation_in_train(data), lambda metrics, checkpoint: None)
    if result.status != TrialStatus.OK or result.model is None:
        return None, spec
    result.model.eval()
    return result.model, spec


def refit_all(
    jobs: Sequence[tuple[TrainSpec, PreparedData, int]], resources: dict[str, float]
) -> list[tuple[nn.Module | None, TrainSpec]]:
    """``refit(spec, data, best_epoch)`` of each job, in order.

    With Ray connected and more than one job, the jobs run as parallel Ray tasks asking
    ``resources`` each (``num_cpus``, ``num_gpus``: what a trial asks), with as many torch
    threads as CPUs; each data set goes to the object store once. Otherwise inline, one after
    the other. Each refit seeds itself from its spec, so the models are the same either way up
    to floating-point summation order.
    """
    import ray

    if len(jobs) < 2 or not ray.is_initialized():
        with torch_threads(int(resources.get("num_cpus", 1))):
            return [refit(spec, data, best) for spec, data, best in jobs]
    stored: dict[int, ray.ObjectRef] = {}
    for _, data, _ in jobs:
        stored.setdefault(id(data), ray.put(data))
    task = ray.remote(_refit_task).options(
        num_cpus=resources.get("num_cpus", 1), num_gpus=resources.get("num_gpus", 0)
    )
    threads = max(1, int(resources.get("num_cpus", 1)))
    results = ray.get([task.remote(spec, stored[id(data)], best, threads) for spec, data, best in jobs])
    out: list[tuple[nn.Module | None, TrainSpec]] = []
    for (_, data, _), (state, spec) in zip(jobs, results, strict=True):
        model = None
        if state is not None:  # weights travel as a state dict (weight-normed modules do not pickle)
            model = build_model(spec, data.n_features)
            model.load_state_dict(state)
            model.eval()
        out.append((model, spec))
    return out


def refit_members(
    run: RunDir,
    board: pd.DataFrame,
    members: list[Member],
    datasets: dict[int, PreparedData],
    config: ExperimentConfig,
) -> None:
    """Retrain the deep ``members`` on train + validation of ``datasets[member.window]``, in
    place, each for its trial's best epoch count (``best_epochs``), in parallel where Ray is
    connected (``refit_all``, each asking one inline trial's or one Ray Train worker's CPUs and
    GPU). A member whose refit diverges keeps its original weights; its ``info`` says so.
    """
    epochs = best_epochs(run, board)
    deep = [m for m in members if not m.statistical]  # a statistical one has nothing to retrain
    best = [epochs.get(m.info["trial_id"], m.spec.max_epochs - 1) for m in deep]
    # imported here: foretune.search loads Ray Tune, which loading an ensemble need not pay for
    from foretune.search.resources import process_request

    request = process_request(config)  # a refit is one process
    resources = {"num_cpus": request["CPU"], "num_gpus": request["GPU"]}
    with torch.random.fork_rng(devices=[]):
        results = refit_all(
            [(m.spec, datasets[m.window], b) for m, b in zip(deep, best, strict=True)], resources
        )
    for member, epoch, (model, spec) in zip(deep, best, results, strict=True):
        if model is None:
            member.info["refit"] = "failed (diverged); original weights kept"
            continue
        member.model, member.spec = model, spec
        member.info["refit"] = f"train+validation, {epoch + 1} epochs"


def _refit_task(
    spec: TrainSpec, data: PreparedData, best_epoch: int, threads: int
) -> tuple[dict[str, Any] | None, TrainSpec]:
    torch.set_num_threads(threads)
    model, spec = refit(spec, data, best_epoch)
    return (None if model is None else model.cpu().state_dict()), spec


def warm_start(
    model: nn.Module, spec: TrainSpec, data: PreparedData, steps: int
) -> tuple[nn.Module | None, int]:
    """A copy of ``model`` trained one more pass over ``data``'s train + validation windows (a
    seeded sample of ``steps`` updates where a pass is longer), warming the learning rate up over
    ``WARM_UP`` of them and annealing it to zero; ``(None, updates)`` if it diverged. Returns the
    model (in eval mode) and the updates run."""
    train = with_validation_in_train(data).train
    take = min(len(train), max(1, steps) * spec.batch_size * spec.accumulate_steps)
    rng = np.random.default_rng(spec.seed)
    chosen = np.sort(rng.choice(len(train), size=take, replace=False))
    sample = WindowSet(*(getattr(train, f)[chosen] for f in WindowSet.__dataclass_fields__))
    spec = dataclasses.replace(
        spec, max_epochs=1, schedule="warmup_cosine", warmup_epochs=WARM_UP, min_lr_ratio=0.0
    )
    feed = prepare_feed(dataclasses.replace(data, train=sample), spec, torch.device("cpu"))
    warm = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        trainer = Trainer(spec, warm, warm, feed)
        loss = trainer.train_epoch()
    warm.eval()
    finite = math.isfinite(loss) and all(torch.isfinite(p).all() for p in warm.parameters())
    return (warm if finite else None), trainer.steps_per_epoch


def warm_start_members(
    members: list[Member], datasets: dict[int, PreparedData], steps: int = WARM_START_STEPS, threads: int = 1
) -> None:
    """Warm-start the deep ``members`` in place (``warm_start`` on ``datasets[member.window]``,
    with ``threads`` torch threads, one after the other); a member that diverges keeps its
    weights, and its ``info`` says so."""
    with torch_threads(threads):
        for member in (m for m in members if not m.statistical):
            assert member.spec is not None
            model, ran = warm_start(member.model, member.spec, datasets[member.window], steps)
            if model is None:
                member.info["refit"] = "warm start failed (diverged); weights of the evaluated ensemble kept"
                continue
            member.model = model
            member.info["refit"] = f"warm-started on all the data: {ran} updates from the evaluated weights"


def trial_threads(config: ExperimentConfig) -> int:
    """The CPUs one training process of ``config`` asks for (at least 1)."""
    # imported here: foretune.search loads Ray Tune, which loading an ensemble need not pay for
    from foretune.search.resources import process_request

    return max(1, int(process_request(config)["CPU"]))


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (what a trial asks for): more threads than
    CPUs it may use make a loaded machine far slower, not faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)
