"""The build's data: the sweep's validation and test windows, once for every member window length.

    windows = load_windows(run, config, members)     # BuildWindows
    windows.val, windows.test                        # WindowSet of the reference data set
    windows.datasets[window].val.x                   # a member's inputs on those windows

In-memory runs prepare the data as the sweep did (checked against its transform statistics) and
keep every series' levels for the statistical members; streamed runs sample whole series'
windows (``ensemble.max_windows``, drawn by the seed) from the run's store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from foretune.config import ExperimentConfig
from foretune.data import PreparedData, WindowSet, season_lengths
from foretune.data.experiment import load_series, prepare_all
from foretune.data.store import SeriesStore, StoreSettings
from foretune.data.windows import Panel
from foretune.errors import EnsembleError
from foretune.rundir import RunDir

from .conformal import usable_scale
from .member import Member


@dataclass
class BuildWindows:
    """The sweep's validation and test windows for each member window length."""

    datasets: dict[int, PreparedData]
    reference: PreparedData  # any one: all share series, origins and transform
    scale: np.ndarray  # [n_series] MASE scale, undefined ones replaced by 1 (selection, scores)
    mase: np.ndarray  # [n_series] MASE scale, NaN where undefined (calibration, the artifact)
    panel: Panel | None = None  # every series' levels (in-memory runs: statistical members)
    seasons: np.ndarray | None = None  # [n_series] season lengths

    def histories(self, part: WindowSet) -> list[np.ndarray]:
        """Each window's history: its series' levels up to and including its origin."""
        assert self.panel is not None
        starts = self.panel.offsets[:-1][part.series]
        return [self.panel.y[a : a + o + 1] for a, o in zip(starts, part.origin, strict=True)]

    @property
    def val(self) -> WindowSet:
        """The validation windows (they weigh the candidates)."""
        return self.reference.val

    @property
    def test(self) -> WindowSet:
        """The test windows (they calibrate and score the kept members)."""
        return self.reference.test


def load_windows(
    run: RunDir, config: ExperimentConfig, members: list[Member], check: bool = True
) -> BuildWindows:
    """The data, once: the sweep's windows (in-memory runs) or a sample of them (streamed runs).

    ``check``: the data must be what the sweep was trained on (its transform statistics)."""
    # statistical members read levels, not windows: any window length gives their origins
    lengths = sorted({m.window for m in members if not m.statistical}) or [min(config.search.windows or [2])]
    panel = None
    if run.streamed:
        datasets = _sample_stream(run, config, lengths)
    else:
        saved = json.loads(run.transform.read_text()) if check else None
        series = load_series(config)
        datasets = _prepare(config, lengths, saved, series)
        panel = Panel.of(series)
    reference = next(iter(datasets.values()))
    if len(reference.val) == 0:
        raise EnsembleError("there are no validation windows to weight the members on")
    mase = np.asarray(reference.mase_scale, dtype=np.float64)
    defined = np.isfinite(mase) & (mase > 0)
    seasons = season_lengths([reference.freqs[uid] for uid in reference.series_ids], config.data.season)
    return BuildWindows(
        datasets, reference, usable_scale(mase), np.where(defined, mase, np.nan), panel, seasons
    )


def _sample_stream(run: RunDir, config: ExperimentConfig, windows: list[int]) -> dict[int, PreparedData]:
    """Streamed runs: validation and test windows of a seeded sample of whole series."""
    if config.ensemble.refit:
        raise EnsembleError(
            "ensemble.refit retrains in memory, which streamed data does not fit; set ensemble.refit: false"
        )
    covariates = tuple(json.loads(run.data_info.read_text())["covariates"])
    store = SeriesStore.open(run.store, StoreSettings.from_config(config, covariates))
    return {w: store.sample(w, config.ensemble.max_windows, config.seed) for w in windows}


def _prepare(
    config: ExperimentConfig, windows: list[int], saved: dict[str, Any] | None, series: Any
) -> dict[int, PreparedData]:
    """The sweep's prepared windows of ``series`` (``load_series``) for each needed window
    length, checked against the sweep's transform statistics ``saved`` (None: not checked)."""
    sub = config.model_copy(deep=True)
    sub.search.windows = windows
    datasets = prepare_all(sub, series)
    reference = next(iter(datasets.values()))
    for uid, stats in reference.transform.stats.items() if saved is not None else ():
        old = saved["stats"].get(uid)
        if old is None or not np.allclose([stats.mu, stats.sigma], [old["mu"], old["sigma"]]):
            raise EnsembleError(
                f"the data of series {uid!r} differ from what the sweep in this run directory was "
                "trained on (its transform statistics changed); rebuild from the same data or "
                "rerun the sweep"
            )
    for data in datasets.values():
        for part in ("val", "test"):
            a, b = getattr(data, part), getattr(reference, part)
            assert np.array_equal(a.series, b.series) and np.array_equal(a.origin, b.origin)
    return datasets
