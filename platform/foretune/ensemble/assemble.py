"""The build's last steps: calibrate the mixture on the test windows, then assemble the ensemble.

    calibration, report = calibrate_on_test(mixture, windows, config.ensemble)   # None if skipped
    ensemble = assemble(run, config, members, test_draws, mixture, windows, selection, calibration, report)

The test windows are the ones no earlier step used (not training, early stopping, selection nor
weighting), so the conformal calibration on them and the scores reported on them are honest.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from foretune.config import EnsembleConfig, ExperimentConfig
from foretune.data import WindowSet
from foretune.rundir import RunDir

from .conformal import Calibration, calibrate
from .draws import Draws
from .member import Member
from .mixture import Mixture
from .model import Ensemble
from .reports import direction_report, test_scores
from .settings import EnsembleSettings
from .windows import BuildWindows


def calibrate_on_test(
    mixture: Mixture, windows: BuildWindows, settings: EnsembleConfig
) -> tuple[Calibration | None, dict[str, Any]]:
    """CQR per level and step on the test windows, and its report (or why there is none).

    Cross-fitted on the earlier and later half of each series' windows (``halves``) for an
    honest estimate of the calibrated coverage (``after_crossfit``).
    """
    test = windows.test
    if len(test) == 0:
        return None, {"skipped": "no held-out test windows (data.test_windows is 0)"}
    if settings.calibration == "none":
        return None, {"skipped": "ensemble.calibration is none"}
    # a window of a series whose scale is undefined (constant in training) is left out of the
    # fit and keeps its raw band, rather than be scored in the units of y
    row_scale = windows.mase[test.series] if settings.calibration_scale == "mase" else None
    calibration = calibrate(mixture.intervals(settings.levels), test.future, row_scale, folds=halves(test))
    return calibration, calibration.report


def halves(ws: WindowSet) -> np.ndarray:
    """0 for the earlier half of each series' windows, 1 for the later half (cross-fitting); the
    series with a single window (e.g. ``data.test_windows: 1``) go to fold 0 and 1 in turn, so
    that both folds hold windows."""
    order = np.lexsort((ws.origin, ws.series))
    series = ws.series[order]
    first = np.flatnonzero(np.r_[True, series[1:] != series[:-1]]) if len(series) else np.zeros(0, int)
    counts = np.diff(np.r_[first, len(series)])
    position = np.arange(len(series)) - np.repeat(first, counts)
    sorted_fold = (position >= np.repeat(counts // 2, counts)).astype(np.int64)
    single = np.repeat(counts == 1, counts)
    sorted_fold[single] = np.arange(int(single.sum())) % 2
    fold = np.zeros(len(ws), dtype=np.int64)
    fold[order] = sorted_fold
    return fold


def assemble(
    run: RunDir,
    config: ExperimentConfig,
    members: list[Member],
    test_draws: list[Draws],
    mixture: Mixture,
    windows: BuildWindows,
    selection: dict[str, Any],
    calibration: Calibration | None,
    calibration_report: dict[str, Any],
) -> Ensemble:
    """The ensemble with its settings, the steps' reports and the run's input schema."""
    test = windows.test
    settings = EnsembleSettings.from_config(
        config,
        selection=selection,
        calibration=calibration_report,
        test_scores=test_scores(members, test_draws, mixture, test, windows.scale) if len(test) else {},
        direction=direction_report(mixture, test) if len(test) else {},
    )
    reference = windows.reference
    scales = {uid: float(s) for uid, s in zip(reference.series_ids, windows.mase, strict=True)}
    return Ensemble(
        members,
        reference.transform,
        settings,
        _manifest_info(run, config),
        calibration,
        scales,
        config.to_dict(),
    )


def _manifest_info(run: RunDir, config: ExperimentConfig) -> dict[str, Any]:
    """What the artifact's manifest says of the run: its input schema, frequencies, horizon and
    transform kind."""
    data_info = json.loads(run.data_info.read_text())
    return {
        "input_schema": {
            "required": ["unique_id", "ds", "y"],
            "covariates": data_info["covariates"],
            "inputs": data_info.get("inputs") or {},
        },
        "freqs": data_info["freqs"],
        "horizon": config.data.horizon,
        "transform": json.loads(run.transform.read_text())["kind"],
    }
