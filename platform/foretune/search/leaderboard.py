"""Turn Tune's results into the leaderboard (one row per trial) and the training curves.

Statuses: ``ok`` (finished, has a checkpoint), ``diverged`` (non-finite loss), ``early_stopped``
(stopped by the scheduler or the time budget before its final report; its ``checkpoint_path`` is
set when its last checkpoint holds its best weights, as after an ASHA rung, so it can still be an
ensemble member), ``failed`` (raised, after retries; ``reason`` holds the error's last line). A
failed trial never crashes the sweep.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.fs as pafs
from ray.tune import ResultGrid

from foretune.config import ExperimentConfig
from foretune.storage import uri
from foretune.train.checkpoint import WEIGHTS
from foretune.train.record import LEADERBOARD_COLUMNS, VALIDATION_METRICS, TrialRecord, TrialStatus

from .resources import trial_request
from .space import decode

#: One row per trial: ``TrialRecord``'s fields, then ``hp_*`` and ``pareto``.
COLUMNS = list(LEADERBOARD_COLUMNS)


def leaderboard_frame(results: ResultGrid, config: ExperimentConfig) -> pd.DataFrame:
    """One row per trial, best validation loss first; failed trials last with their reason.

    ``pareto`` marks the finished trials no other finished trial beats on both validation loss
    and training seconds (the front of the multi-objective view).
    """
    request = trial_request(config)
    rows = []
    for result in results:
        record, hyperparameters = _record(result, config)
        record.cpus, record.gpus, record.workers = request["CPU"], request["GPU"], config.train.num_workers
        rows.append({**record.to_row(), **hyperparameters})
    board = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in board:
            board[column] = np.nan
    hp_columns = sorted(c for c in board.columns if c.startswith("hp_"))
    for column in hp_columns:  # one type per Parquet column: mixed cells become text
        values = board[column].dropna()
        if values.map(type).nunique() > 1:
            board[column] = board[column].map(lambda v: v if pd.isna(v) else str(v))
    board = board[COLUMNS + hp_columns]
    board["_failed"] = board["status"] != TrialStatus.OK
    board = board.sort_values(["_failed", "val_loss"], na_position="last", kind="stable")
    board = board.drop(columns="_failed").reset_index(drop=True)
    board["pareto"] = pareto_front(board)
    return board


def pareto_front(board: pd.DataFrame) -> pd.Series:
    """True for finished trials not dominated on (val_loss, train_seconds)."""
    ok = board["status"].eq(TrialStatus.OK.value).to_numpy()
    loss = board["val_loss"].astype(float).to_numpy()
    secs = board["train_seconds"].astype(float).to_numpy()
    front = np.zeros(len(board), dtype=bool)
    for i in np.flatnonzero(ok):
        beaten = ok & (loss <= loss[i]) & (secs <= secs[i]) & ((loss < loss[i]) | (secs < secs[i]))
        front[i] = not beaten.any()
    return pd.Series(front, index=board.index)


def curves_frame(results: ResultGrid) -> pd.DataFrame:
    """Per-epoch ``trial_id, epoch, train_loss, val_loss`` of every trial that reported."""
    frames = []
    for result in results:
        df = result.metrics_dataframe
        if df is None or df.empty or "train_loss" not in df:
            continue
        df = df.dropna(subset=["train_loss"])
        frames.append(
            pd.DataFrame(
                {
                    "trial_id": df["trial_id"].astype(str),
                    "epoch": df["epoch"].astype(int),
                    "train_loss": df["train_loss"].astype(float),
                    "val_loss": df["val_loss"].astype(float),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["trial_id", "epoch", "train_loss", "val_loss"])
    return pd.concat(frames, ignore_index=True)


def _record(result, config: ExperimentConfig) -> tuple[TrialRecord, dict[str, Any]]:
    """A trial's ``TrialRecord`` and its ``hp_*`` cells."""
    metrics = result.metrics or {}
    params = result.config or {}
    record = TrialRecord(trial_id=str(metrics.get("trial_id") or Path(result.path).name))
    hyperparameters: dict[str, Any] = {}
    try:
        spec = decode(params, config)
        record.architecture, record.window = spec.architecture, spec.window
        record.learning_rate, record.batch_size = spec.learning_rate, spec.batch_size
        record.hyperparameters = json.dumps(spec.hyperparameters, sort_keys=True, default=str)
        hyperparameters = {f"hp_{k}": _scalar(v) for k, v in spec.hyperparameters.items()}
    except Exception:  # noqa: BLE001 - a trial whose parameters cannot be decoded still counts
        record.architecture = params.get("architecture")
        record.hyperparameters = json.dumps(params, default=str)
    if result.error is not None:
        record.status, record.reason = TrialStatus.FAILED.value, _last_line(result.error)
        return record, hyperparameters
    checkpoint = (
        uri(result.checkpoint.filesystem, result.checkpoint.path)
        if result.checkpoint
        else metrics.get("checkpoint_path")
    )
    status = TrialStatus(metrics.get("status") or TrialStatus.EARLY_STOPPED)
    if status is TrialStatus.OK and not checkpoint:
        status = TrialStatus.EARLY_STOPPED
    record.status = status.value
    record.reason = metrics.get("reason", "") or (
        "stopped by the scheduler or budget" if status is TrialStatus.EARLY_STOPPED else ""
    )
    record.val_loss = metrics.get("best_val_loss", metrics.get("val_loss"))
    record.train_seconds = metrics.get("train_seconds", metrics.get("time_total_s"))
    record.epochs = (metrics.get("epoch", -1) or 0) + 1
    record.n_params = metrics.get("n_params")
    if status is TrialStatus.OK or _holds_weights(result.checkpoint):
        record.checkpoint_path = checkpoint
    for name in VALIDATION_METRICS:
        setattr(record, f"val_{name}", metrics.get(f"val_{name}"))
    return record, hyperparameters


def _holds_weights(checkpoint) -> bool:
    """Whether a Tune checkpoint (local or on object storage) holds best weights (``model.pt``)."""
    if checkpoint is None:
        return False
    info = checkpoint.filesystem.get_file_info(f"{checkpoint.path}/{WEIGHTS}")
    return info.type == pafs.FileType.File


def _last_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else type(error).__name__)[:500]


def _scalar(value: Any) -> Any:
    """Leaderboard cells hold scalars; lists (layer sizes) become strings like ``64-32``."""
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return value
