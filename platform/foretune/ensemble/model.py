"""``Ensemble``: load a saved artifact and forecast with MC-dropout sample paths.

``predict`` takes each series' history, runs every member ``samples`` times with dropout active
(MC dropout), inverts each *sample path* through the transform to original units (levels are
never obtained by inverting a mean), pools all members' paths as a weighted mixture (each path
carries ``weight / samples``), and reports mean, std and quantiles of the mixture plus the
weighted direction probabilities of the members' classification heads.

Series seen in training use their saved statistics; a new series of the same kind (global model)
gets statistics fit on the history it comes with.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from foretune.data import (
    DataError,
    RatioTransform,
    features,
    future_dates,
    read_frame,
    validate,
)
from foretune.models import set_mc_dropout
from foretune.train import read_checkpoint

from .artifact import verify
from .mixture import quantile_name, weighted_moments, weighted_quantiles


@dataclass
class Member:
    model: nn.Module
    architecture: str
    window: int
    weight: float


class Ensemble:
    """A weighted set of trained forecasters sharing one transform; see the module docstring."""

    def __init__(self, members, transform: RatioTransform, settings: dict, manifest: dict):
        self.members: list[Member] = members
        self.transform = transform
        self.settings = settings
        self.manifest = manifest
        self.horizon: int = int(settings["horizon"])
        self.covariates: list[str] = list(manifest["input_schema"]["covariates"])
        self.freqs: dict = manifest.get("freqs", {})

    @classmethod
    def load(cls, path: str | Path) -> Ensemble:
        """Load and verify an artifact directory written by ``foretune ensemble``/``run``."""
        path = Path(path)
        manifest = verify(path)
        settings = json.loads((path / "ensemble.json").read_text())
        transform = RatioTransform.from_dict(json.loads((path / "transform.json").read_text()))
        members = []
        for entry in settings["members"]:
            model, spec = read_checkpoint(path / entry["path"])
            model.eval()
            members.append(Member(model, spec.architecture, spec.window, float(entry["weight"])))
        return cls(members, transform, settings, manifest)

    @property
    def weights(self) -> dict[str, float]:
        return {f"{i}:{m.architecture}": m.weight for i, m in enumerate(self.members)}

    def predict(
        self,
        data: pd.DataFrame | str | Path,
        horizon: int | None = None,
        samples: int | None = None,
        seed: int | None = None,
    ) -> pd.DataFrame:
        """Forecast every series in ``data`` (its history) ``horizon`` steps ahead.

        Returns ``unique_id, ds, mean, std, q.., p_down, p_flat, p_up`` in the units of ``y``.
        """
        horizon = self.horizon if horizon is None else int(horizon)
        if not 1 <= horizon <= self.horizon:
            raise ValueError(
                f"horizon={horizon} is not available: this ensemble was trained for 1..{self.horizon}"
                " steps; retrain with a longer data.horizon"
            )
        samples = int(samples or self.settings.get("samples", 50))
        longest = max(m.window for m in self.members)
        series = validate(
            read_frame(data),
            transform=self.transform.kind,
            min_length=longest + 1,
            covariates=self.covariates,
        )
        transform = copy.deepcopy(self.transform)
        uids, last_levels, last_ds, inputs = [], [], [], {m.window: [] for m in self.members}
        for uid, group in series.frame.groupby("unique_id", sort=False):
            y = group["y"].to_numpy(np.float64)
            cov = group[self.covariates].to_numpy(np.float64)
            if uid not in transform.stats:
                transform.fit_series(uid, y, cov)
            feats = features(transform, uid, y, cov)
            for window in inputs:
                inputs[window].append(feats[-window:])
            uids.append(uid)
            last_levels.append(y[-1])
            last_ds.append(group["ds"].iloc[-1])
        last = np.asarray(last_levels)
        generator_seed = self.settings.get("seed", 0) if seed is None else seed
        torch.manual_seed(generator_seed)
        paths, path_weights, probs = [], [], 0.0
        for member in self.members:
            x = torch.as_tensor(np.stack(inputs[member.window]))
            z, p = _mc_samples(member.model, x, samples)  # [S, N, H], [N, H, 3]
            paths.append(_invert(transform, uids, last, z[..., :horizon]))
            path_weights.append(np.full(samples, member.weight / samples))
            probs = probs + member.weight * p[:, :horizon]
        total = sum(m.weight for m in self.members)
        pooled = np.concatenate(paths)  # [K, N, H]
        w = np.concatenate(path_weights) / total
        probs = probs / total
        mean, std = weighted_moments(pooled, w)
        levels = sorted(set(self.settings.get("quantiles", [])) | {0.05, 0.5, 0.95})
        qs = weighted_quantiles(pooled, w, levels)
        return _frame(series, uids, last_ds, horizon, mean, std, levels, qs, probs)


def _mc_samples(model: nn.Module, x: torch.Tensor, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` MC-dropout draws of the regression head and the mean direction probabilities."""
    set_mc_dropout(model, True)
    n = len(x)
    try:
        with torch.no_grad():
            reg, logits = model(x.repeat(samples, 1, 1))
    finally:
        set_mc_dropout(model, False)
    z = reg.reshape(samples, n, -1).numpy().astype(np.float64)
    p = torch.softmax(logits.float(), dim=-1).reshape(samples, n, -1, 3).mean(0).numpy()
    return z, p


def _invert(transform: RatioTransform, uids, last: np.ndarray, z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    for i, uid in enumerate(uids):
        r = transform.unstandardize(uid, z[:, i])
        out[:, i] = transform.integrate(np.full(len(r), last[i]), r)
    return out


def _frame(series, uids, last_ds, horizon, mean, std, levels, qs, probs) -> pd.DataFrame:
    rows = []
    for i, uid in enumerate(uids):
        ds = future_dates(last_ds[i], series.freqs[uid], horizon)
        block = {
            "unique_id": uid,
            "ds": ds,
            "mean": mean[i],
            "std": std[i],
            **{quantile_name(q): qs[j, i] for j, q in enumerate(levels)},
            "p_down": probs[i, :, 0],
            "p_flat": probs[i, :, 1],
            "p_up": probs[i, :, 2],
        }
        rows.append(pd.DataFrame(block))
    if not rows:
        raise DataError("no series to forecast in the given data")
    return pd.concat(rows, ignore_index=True)
