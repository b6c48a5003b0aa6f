"""The build's reports on the test windows: each member's and the ensemble's scores, directions.

    test_scores(members, test_draws, mixture, test, scale)   # MASE, MAE, scaled CRPS
    direction_report(mixture, test)                           # accuracy, log-loss per source

``Ensemble.report`` holds them as ``test_scores`` and ``direction``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foretune import metrics as M
from foretune.data import WindowSet

from .draws import Draws
from .member import Member
from .mixture import Mixture, resample
from .settings import DIRECTION_SOURCES

#: Paths resampled from the mixture to score its CRPS.
CRPS_PATHS = 200


def test_scores(
    members: list[Member], test_draws: list[Draws], mixture: Mixture, test: WindowSet, scale: np.ndarray
) -> dict[str, Any]:
    """MASE, MAE and scaled CRPS on the test windows: the ensemble and each member."""
    row_scale = scale[test.series][:, None]

    def scores(mean, paths):
        return {
            "mase": M.mae(test.future / row_scale, mean / row_scale),
            "mae": M.mae(test.future, mean),
            "crps_scaled": M.crps_from_samples(test.future / row_scale, paths / row_scale),
        }

    out = {
        "windows": int(len(test)),
        "ensemble": scores(mixture.mean, resample(mixture.paths, mixture.path_weights, CRPS_PATHS)),
    }
    out["members"] = [
        {
            "trial_id": m.info.get("trial_id"),
            "architecture": m.architecture,
            **scores(d.levels.mean(axis=0), d.levels),
        }
        for m, d in zip(members, test_draws, strict=True)
    ]
    return out


def direction_report(mixture: Mixture, test: WindowSet) -> dict[str, Any]:
    """Accuracy and log-loss of the head, sample-path and blended direction probabilities."""
    out = {"windows": int(len(test))}
    for source in DIRECTION_SOURCES:
        probs = mixture.direction(source)
        out[source] = {
            "accuracy": M.direction_accuracy(test.y_dir, probs),
            "log_loss": M.log_loss(test.y_dir, probs),
        }
    out["base_rates"] = [float(np.mean(test.y_dir == k)) for k in range(3)]
    return out
