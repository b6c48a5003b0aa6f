"""Choose members from the leaderboard, weight them, and write the ensemble artifact.

Members: the ``top_k`` finished trials by validation loss. Weights: inverse validation loss,
normalised (a simple, robust default; a trial with half the loss gets twice the weight).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from foretune.config import ExperimentConfig
from foretune.train.checkpoint import META, WEIGHTS

from .artifact import finalize, write_json


class EnsembleError(RuntimeError):
    """The sweep produced nothing an ensemble can be built from."""


def select_members(board: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """The ``top_k`` usable trials (status ok, with a checkpoint), best first."""
    ok = board[(board["status"] == "ok") & board["checkpoint_path"].notna()]
    ok = ok[np.isfinite(ok["val_loss"].astype(float))]
    if ok.empty:
        reasons = board["reason"].fillna("").replace("", np.nan).dropna()
        common = reasons.mode().iloc[0] if not reasons.empty else "no trial finished"
        raise EnsembleError(
            f"no trial of {len(board)} finished successfully, so there is no ensemble to build; "
            f"most common reason: {common}"
        )
    return ok.sort_values("val_loss").head(top_k)


def inverse_error_weights(losses: np.ndarray) -> np.ndarray:
    inv = 1.0 / np.maximum(np.asarray(losses, dtype=float), 1e-12)
    return inv / inv.sum()


def build_ensemble(run_dir: str | Path, config: ExperimentConfig | None = None) -> Path:
    """Build ``run_dir/ensemble`` from ``run_dir/leaderboard.parquet``; return its path."""
    run_dir = Path(run_dir).resolve()
    board_path = run_dir / "leaderboard.parquet"
    if not board_path.is_file():
        raise EnsembleError(f"{board_path} not found; run `foretune sweep` first")
    if config is None:
        config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    board = pd.read_parquet(board_path)
    members = select_members(board, config.ensemble.top_k)
    weights = inverse_error_weights(members["val_loss"].to_numpy())
    staging = Path(tempfile.mkdtemp(prefix=".ensemble-", dir=run_dir))
    entries = []
    for i, (row, weight) in enumerate(zip(members.itertuples(), weights, strict=True)):
        target = staging / "members" / str(i)
        target.mkdir(parents=True)
        for name in (WEIGHTS, META):
            shutil.copyfile(Path(row.checkpoint_path) / name, target / name)
        entries.append(
            {
                "path": f"members/{i}",
                "architecture": row.architecture,
                "window": int(row.window),
                "weight": float(weight),
                "trial_id": row.trial_id,
                "val_loss": float(row.val_loss),
            }
        )
    transform = json.loads((run_dir / "transform.json").read_text())
    write_json(staging / "transform.json", transform)
    write_json(staging / "config.json", config.to_dict())
    write_json(
        staging / "ensemble.json",
        {
            "members": entries,
            "weighting": "inverse_val_loss",
            "horizon": config.data.horizon,
            "samples": config.ensemble.samples,
            "quantiles": config.ensemble.quantiles,
            "seed": config.seed,
        },
    )
    data_info = json.loads((run_dir / "data.json").read_text())
    info = {
        "input_schema": {
            "required": ["unique_id", "ds", "y"],
            "covariates": data_info["covariates"],
        },
        "freqs": data_info["freqs"],
        "horizon": config.data.horizon,
        "transform": transform["kind"],
    }
    return finalize(staging, run_dir / "ensemble", info)
