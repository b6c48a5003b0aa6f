"""What a trial leaves behind: its ``TrialStatus`` and its ``TrialRecord`` (a leaderboard row).

The training loop produces the status (``ok`` or ``diverged``) and the validation scores; the
sweep adds what only it knows (``early_stopped``, ``failed``, resources, the checkpoint's path).
The leaderboard, the ensemble build and the report read these names, so each is spelled here
once: ``LEADERBOARD_COLUMNS`` are ``TrialRecord``'s fields, ``VALIDATION_METRICS`` the scores
``fit`` reports as ``val_<name>``. Usage::

    usable = board["status"].isin(TrialStatus.with_weights())
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from foretune.metrics.windows import NAMES as VALIDATION_METRICS


class TrialStatus(str, Enum):
    """How a trial ended. Compares equal to its value, so frames hold plain strings."""

    OK = "ok"  # finished; its checkpoint holds its best weights
    DIVERGED = "diverged"  # a non-finite loss or weight ended it
    EARLY_STOPPED = "early_stopped"  # the scheduler or the time budget stopped it
    FAILED = "failed"  # it raised (after its retries); ``reason`` holds the error's last line

    def __str__(self) -> str:
        return self.value

    @classmethod
    def with_weights(cls) -> tuple[str, ...]:
        """Statuses whose trial may hold best weights (an ensemble member needs them)."""
        return (cls.OK.value, cls.EARLY_STOPPED.value)


@dataclass
class TrialRecord:
    """One trial's leaderboard row (``hp_*`` columns of its hyperparameters follow these)."""

    trial_id: str
    architecture: str | None = None
    window: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    status: str = TrialStatus.FAILED.value
    reason: str = ""
    val_loss: float | None = None
    val_mae: float | None = None
    val_rmse: float | None = None
    val_smape: float | None = None
    val_mase: float | None = None
    train_seconds: float | None = None
    epochs: int | None = None
    n_params: int | None = None
    cpus: float | None = None
    gpus: float | None = None
    workers: int | None = None
    checkpoint_path: str | None = None
    hyperparameters: str | None = None

    def to_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: The leaderboard's columns, in order (before the ``hp_*`` ones).
LEADERBOARD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(TrialRecord))
assert all(f"val_{name}" in LEADERBOARD_COLUMNS for name in VALIDATION_METRICS)
