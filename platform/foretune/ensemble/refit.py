"""Optional refit of chosen members on train + validation windows (``ensemble.refit: true``).

A member is retrained from scratch with its trial's spec (same architecture, hyperparameters and
seed) for exactly ``best_epoch + 1`` epochs, the epoch count early stopping chose in the sweep,
on windows whose training split is the sweep's training *and* validation windows. The weights
chosen by greedy selection on the original members' out-of-sample validation forecasts are
kept (AutoGluon's ``refit_full`` does the same); the test windows stay unseen, so calibration
on them remains honest.

Kept simple on purpose:
- ``fit`` still evaluates on the validation windows (now seen in training) and restores its best
  epoch; patience is set so large that every epoch runs, and the best in-sample epoch is almost
  always the last one.
- The transform keeps its statistics from the training part only (the artifact has one transform
  for all members), and the few windows whose targets straddle the train/validation boundary are
  in neither split, so they are not added.
- Training runs inline in the building process, one member after the other (small models).
A member whose refit does not finish (diverged) keeps its original weights; its ``info`` says so.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from foretune.data import PreparedData, WindowSet
from foretune.train import TrainSpec, fit

NO_PATIENCE = 10**9


def best_epochs(run_dir: Path, board: pd.DataFrame) -> dict[str, int]:
    """Epoch index of each trial's best validation loss (from ``curves.parquet``)."""
    out: dict[str, int] = {}
    curves_path = run_dir / "curves.parquet"
    if curves_path.is_file():
        curves = pd.read_parquet(curves_path)
        for trial_id, group in curves.groupby("trial_id"):
            losses = group["val_loss"].to_numpy(np.float64)
            if np.isfinite(losses).any():
                out[str(trial_id)] = int(group["epoch"].to_numpy()[np.nanargmin(losses)])
    for row in board.itertuples():
        if str(row.trial_id) not in out and pd.notna(getattr(row, "epochs", np.nan)):
            out[str(row.trial_id)] = max(int(row.epochs) - 1, 0)
    return out


def with_validation_in_train(data: PreparedData) -> PreparedData:
    """``data`` whose training windows also include the validation windows."""
    train = WindowSet(
        *(
            np.concatenate([getattr(data.train, f), getattr(data.val, f)])
            for f in WindowSet.__dataclass_fields__
        )
    )
    return dataclasses.replace(data, train=train)


def refit(spec: TrainSpec, data: PreparedData, best_epoch: int):
    """Retrain ``spec`` for ``best_epoch + 1`` epochs on train + validation; the model or None."""
    spec = dataclasses.replace(spec, max_epochs=best_epoch + 1, patience=NO_PATIENCE)
    result = fit(spec, with_validation_in_train(data), lambda metrics, checkpoint: None)
    if result.status != "ok" or result.model is None:
        return None, spec
    result.model.eval()
    return result.model, spec
