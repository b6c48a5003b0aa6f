"""``Ensemble``: a saved (or freshly built) weighted set of forecasters that predicts like one.

``predict(data, horizon, samples, seed)`` takes each series' history and returns, per series and
step, ``unique_id, ds, mean, std, q.., lo_<L>, hi_<L>, p_down, p_flat, p_up`` in the units of
``y``:

1. Inputs: the last ``window`` standardised changes of every series for each member's window,
   stacked into one batch per window length. Series seen in training use their saved statistics;
   a new series of the same kind (global model) gets statistics fit on the history it comes with.
2. MC dropout: every member runs ``samples`` times with dropout on, batched over all series
   (``draws.member_draws``). Each *sample path* is inverted through the transform to levels
   (levels are never obtained by inverting a mean), vectorised over series and samples.
3. Mixture: all members' paths are pooled, each carrying ``weight / samples``; ``mean``, ``std``
   and the quantiles are those of the weighted mixture.
4. Calibration (when the artifact has one, see ``conformal``): each central interval of level
   ``L`` in ``levels`` (default 50/80/90/95%) is widened or narrowed by its conformal adjustment
   (per step, times the series' MASE scale). ``lo_<L>``/``hi_<L>`` are the calibrated bounds and
   the matching quantile columns take them too, so **``q05``/``q95`` are the calibrated 90%
   interval** (``q10``/``q90`` the 80%, ``q25``/``q75`` the 50%, ``q02.5``/``q97.5`` the 95%).
   All quantile columns are then sorted across levels (monotone rearrangement), so they never
   cross. ``mean``, ``std`` and ``q50`` come from the uncalibrated mixture (q50 may move only
   through that rearrangement). ``without_calibration()`` gives the raw mixture.
5. Direction: ``p_down, p_flat, p_up`` per step from the members' classification heads,
   weighted (``direction_source: head``), from the fraction of sample paths whose cumulative
   change falls in each class (``samples``), or their average (``blend``).

``sample_columns=k`` adds ``sample_0 .. sample_{k-1}``: ``k`` unweighted draws from the mixture
(systematic resampling), which ``evaluate.metrics.evaluate_forecasts`` scores with CRPS.
Randomness is seeded (``seed``, default the experiment's) inside a forked torch RNG, so
``predict`` is reproducible and leaves the caller's global torch RNG untouched.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from foretune.data import (
    DataError,
    RatioTransform,
    SeriesFrame,
    features,
    future_dates,
    read_frame,
    season_length,
    validate,
)
from foretune.evaluate import metrics as M
from foretune.train import TrainSpec, read_checkpoint, write_checkpoint

from .artifact import ArtifactError, finalize, require_listed, verify, write_json
from .conformal import Calibration, interval_quantiles, level_name, usable_scale
from .draws import RowTransform, member_draws
from .mixture import Mixture, mix, quantile_name, resample

DEFAULT_LEVELS = (0.5, 0.8, 0.9, 0.95)


@dataclass
class Member:
    """One trained forecaster of the ensemble and its weight."""

    model: nn.Module
    architecture: str
    window: int
    weight: float
    spec: TrainSpec | None = None
    n_features: int | None = None
    info: dict[str, Any] = field(default_factory=dict)  # trial id, scores, refit flag, ...


@dataclass
class _Batch:
    """What ``predict`` needs of the validated input: one row per series."""

    uids: list[str]
    last: np.ndarray  # [N] last observed level
    last_ds: list[Any]
    freqs: list[Any]
    inputs: dict[int, np.ndarray]  # window -> [N, window, F]
    rows: RowTransform
    scale: np.ndarray  # [N] series scale for the conformal adjustment


class Ensemble:
    """A weighted set of trained forecasters sharing one transform; see the module docstring."""

    def __init__(
        self,
        members: list[Member],
        transform: RatioTransform,
        settings: dict[str, Any],
        manifest: dict[str, Any],
        calibration: Calibration | None = None,
        scales: dict[str, float] | None = None,
        config: dict[str, Any] | None = None,
    ):
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = members
        self.transform = transform
        self.settings = settings
        self.manifest = manifest
        self.calibration = calibration
        self.scales: dict[str, float] = dict(scales or {})
        self.config = config
        self.horizon: int = int(settings["horizon"])
        self.covariates: list[str] = list(manifest["input_schema"]["covariates"])
        self.freqs: dict = manifest.get("freqs", {})
        self.timings: dict[str, float] = {}  # seconds per stage of the last predict

    # -- persistence ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Ensemble:
        """Load and verify an artifact directory written by ``foretune ensemble``/``run``."""
        path = Path(path)
        manifest = verify(path)
        optional = [n for n in ("calibration.json", "config.json") if (path / n).is_file()]
        require_listed(path, manifest, ["ensemble.json", "transform.json", *optional])
        settings = json.loads((path / "ensemble.json").read_text())
        transform = RatioTransform.from_dict(json.loads((path / "transform.json").read_text()))
        _check_manifest_members(path, manifest, settings)
        calibration, scales = None, {}
        if (path / "calibration.json").is_file():
            state = json.loads((path / "calibration.json").read_text())
            try:
                calibration = Calibration.from_dict(state)
            except (KeyError, ValueError) as exc:
                raise ArtifactError(f"{path}/calibration.json is not usable: {exc}") from None
            scales = {str(k): float(v) for k, v in state.get("series_scale", {}).items()}
        members = []
        for entry in settings["members"]:
            directory = path / entry["path"]
            require_listed(path, manifest, [f"{entry['path']}/model.pt", f"{entry['path']}/spec.json"])
            model, spec = read_checkpoint(directory)
            model.eval()
            meta = json.loads((directory / "spec.json").read_text())
            info = {k: v for k, v in entry.items() if k not in ("path", "weight")}
            members.append(
                Member(
                    model,
                    spec.architecture,
                    spec.window,
                    float(entry["weight"]),
                    spec,
                    int(meta["n_features"]),
                    info,
                )
            )
        config = None
        if (path / "config.json").is_file():
            config = json.loads((path / "config.json").read_text())
        return cls(members, transform, settings, manifest, calibration, scales, config)

    def save(self, path: str | Path) -> Path:
        """Write the artifact directory ``path`` (atomically replacing one that exists)."""
        target = Path(path).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".ensemble-", dir=target.parent))
        try:
            entries = []
            for i, member in enumerate(self.members):
                assert member.spec is not None and member.n_features is not None
                write_checkpoint(
                    staging / "members" / str(i),
                    {
                        "state_dict": member.model.state_dict(),
                        "spec": member.spec.to_dict(),
                        "n_features": member.n_features,
                    },
                )
                entries.append(
                    {
                        "path": f"members/{i}",
                        "architecture": member.architecture,
                        "window": member.window,
                        "weight": member.weight,
                        **member.info,
                    }
                )
            settings = {**self.settings, "members": entries}
            write_json(staging / "ensemble.json", settings)
            write_json(staging / "transform.json", self.transform.to_dict())
            if self.config is not None:
                write_json(staging / "config.json", self.config)
            if self.calibration is not None:
                write_json(
                    staging / "calibration.json", {**self.calibration.to_dict(), "series_scale": self.scales}
                )
            info = {k: v for k, v in self.manifest.items() if k in _MANIFEST_INFO}
            info["members"] = [
                {
                    "path": e["path"],
                    "architecture": e["architecture"],
                    "window": e["window"],
                    "weight": e["weight"],
                    "trial_id": e.get("trial_id"),
                }
                for e in entries
            ]
            info["weights"] = [e["weight"] for e in entries]
            info["calibrated"] = self.calibration is not None
            self.settings = settings
            return finalize(staging, target, info)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    # -- views ---------------------------------------------------------------------------------
    @property
    def weights(self) -> dict[str, float]:
        return {f"{i}:{m.architecture}": m.weight for i, m in enumerate(self.members)}

    @property
    def report(self) -> dict[str, Any]:
        """Selection, test-window scores, calibration and direction reports from the build."""
        return {k: self.settings[k] for k in _REPORTS if k in self.settings}

    @property
    def levels(self) -> list[float]:
        return sorted(float(v) for v in self.settings.get("levels", DEFAULT_LEVELS))

    def without_calibration(self) -> Ensemble:
        """The same ensemble reporting the raw mixture's intervals."""
        raw = copy.copy(self)
        raw.calibration = None
        raw.timings = {}
        return raw

    def member_alone(self, index: int) -> Ensemble:
        """Member ``index`` as an uncalibrated ensemble of its own (weight 1, even if it had
        none), so it can be scored as it enters the mixture."""
        entries = list(self.settings.get("members", []))
        settings = dict(self.settings)
        settings["members"] = [entries[index]] if index < len(entries) else []
        alone = copy.copy(self.members[index])
        alone.weight = 1.0
        return Ensemble([alone], self.transform, settings, self.manifest)

    # -- forecasting ---------------------------------------------------------------------------
    def predict(
        self,
        data: pd.DataFrame | str | Path,
        horizon: int | None = None,
        samples: int | None = None,
        seed: int | None = None,
        *,
        sample_columns: int = 0,
    ) -> pd.DataFrame:
        """Forecast every series in ``data`` (its history) ``horizon`` steps ahead.

        Returns ``unique_id, ds, mean, std, q.., lo_<L>, hi_<L>, p_down, p_flat, p_up`` in the
        units of ``y`` (see the module docstring for what is calibrated).
        """
        horizon = self.horizon if horizon is None else int(horizon)
        if not 1 <= horizon <= self.horizon:
            raise ValueError(
                f"horizon={horizon} is not available: this ensemble was trained for 1..{self.horizon}"
                " steps; retrain with a longer data.horizon"
            )
        samples = int(samples or self.settings.get("samples", 50))
        clock = _Clock()
        longest = max(m.window for m in self.members)
        series = validate(
            read_frame(data),
            transform=self.transform.kind,
            min_length=longest + 1,
            covariates=self.covariates,
        )
        if not series.series_ids:
            raise DataError("no series to forecast in the given data")
        batch = self._batch(series, longest)
        clock.lap("inputs")
        mixture = self.forecast(batch.inputs, batch.rows, batch.last, horizon, samples, seed, clock=clock)
        frame = self._frame(batch, mixture, horizon, sample_columns)
        clock.lap("frame")
        self.timings = clock.laps
        return frame

    def forecast(
        self,
        inputs: dict[int, np.ndarray],
        rows: RowTransform,
        last: np.ndarray,
        horizon: int,
        samples: int,
        seed: int | None = None,
        levels=(),
        clock: _Clock | None = None,
    ) -> Mixture:
        """The raw weighted mixture for prepared windows ``inputs[window] [N, window, F]``.

        ``rows`` and ``last`` describe each of the ``N`` rows (its series' statistics, its last
        level). The mixture's quantiles cover the configured quantiles, the interval bounds of
        ``levels`` (default the calibrated ones) and ``levels`` given here.
        """
        clock = clock or _Clock()
        need_paths = self.settings.get("direction_source", "head") != "head"
        seed = int(self.settings.get("seed", 0) if seed is None else seed)
        draws = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for member in self.members:
                draws.append(
                    member_draws(
                        member.model,
                        inputs[member.window],
                        samples,
                        rows,
                        last,
                        horizon,
                        path_directions=need_paths,
                    )
                )
        clock.lap("members")
        wanted = set(self._quantile_levels()) | set(interval_quantiles(self.levels))
        wanted |= set(interval_quantiles(levels))
        mixture = mix(draws, [m.weight for m in self.members], sorted(wanted))
        clock.lap("mixture")
        return mixture

    def intervals(self, mixture: Mixture, scale: np.ndarray | None) -> dict[float, tuple]:
        """Central intervals per level from the mixture, calibrated when this ensemble is."""
        bounds = {
            level: (
                mixture.quantiles[round((1 - level) / 2, 12)],
                mixture.quantiles[round((1 + level) / 2, 12)],
            )
            for level in self.levels
        }
        if self.calibration is None:
            return bounds
        return self.calibration.apply(bounds, None if scale is None else usable_scale(scale))

    # -- internals -----------------------------------------------------------------------------
    def _quantile_levels(self) -> list[float]:
        return sorted(set(float(q) for q in self.settings.get("quantiles", [])) | {0.05, 0.5, 0.95})

    def _batch(self, series: SeriesFrame, longest: int) -> _Batch:
        transform = copy.copy(self.transform)
        transform.stats = dict(self.transform.stats)
        uids, last, last_ds, freqs, scale = [], [], [], [], []
        windows = sorted({m.window for m in self.members})
        tails: list[np.ndarray] = []
        scaled = self.calibration is not None and self.calibration.scaled
        for uid, group in series.frame.groupby("unique_id", sort=False):
            y = group["y"].to_numpy(np.float64)
            cov = group[self.covariates].to_numpy(np.float64)
            if uid not in transform.stats:
                transform.fit_series(uid, y, cov)
            tails.append(features(transform, uid, y[-(longest + 1) :], cov[-(longest + 1) :]))
            uids.append(uid)
            last.append(y[-1])
            last_ds.append(group["ds"].iloc[-1])
            freqs.append(series.freqs[uid])
            if scaled:
                scale.append(
                    self.scales[uid]
                    if uid in self.scales
                    else M.mase_scale(y, season_length(series.freqs[uid]))
                )
        stacked = np.stack(tails)  # [N, longest, F]
        inputs = {w: np.ascontiguousarray(stacked[:, -w:]) for w in windows}
        return _Batch(
            uids,
            np.asarray(last),
            last_ds,
            freqs,
            inputs,
            RowTransform(transform, uids),
            np.asarray(scale) if scaled else None,
        )

    def _frame(self, batch: _Batch, mixture: Mixture, horizon: int, sample_columns: int):
        n = len(batch.uids)
        bounds = self.intervals(mixture, batch.scale)
        # Quantile table: raw mixture quantiles, the calibrated bounds in their places, then a
        # monotone rearrangement across levels so no two columns cross.
        table = dict(mixture.quantiles)
        for level, (lo, hi) in bounds.items():
            table[round((1 - level) / 2, 12)] = lo
            table[round((1 + level) / 2, 12)] = hi
        keys = sorted(table)
        ordered = np.sort(np.stack([table[k] for k in keys]), axis=0)
        table = dict(zip(keys, ordered, strict=True))
        columns: dict[str, Any] = {
            "unique_id": np.repeat(np.asarray(batch.uids, dtype=object), horizon),
            "ds": _future_index(batch.last_ds, batch.freqs, horizon),
            "mean": mixture.mean.ravel(),
            "std": mixture.std.ravel(),
        }
        for q in self._quantile_levels():
            columns[quantile_name(q)] = table[q].ravel()
        for level in self.levels:
            name = level_name(level)
            columns[f"lo_{name}"] = table[round((1 - level) / 2, 12)].ravel()
            columns[f"hi_{name}"] = table[round((1 + level) / 2, 12)].ravel()
        probs = mixture.direction(self.settings.get("direction_source", "head"))
        for k, name in enumerate(("p_down", "p_flat", "p_up")):
            columns[name] = probs[..., k].ravel()
        if sample_columns:
            drawn = resample(mixture.paths, mixture.path_weights, int(sample_columns))
            for i in range(int(sample_columns)):
                columns[f"sample_{i}"] = drawn[i].ravel()
        frame = pd.DataFrame(columns)
        assert len(frame) == n * horizon
        return frame

    # -- explanation (delegates to foretune.explain; needs the optional captum extra) ----------
    def explain(self, data, series=None, step=1, target="forecast", baseline="zeros", **kw):
        """Integrated-gradients attributions of the forecast at ``step`` (1-based) per lag and
        feature, per member and weighted; see :mod:`foretune.explain` (needs
        ``pip install foretune[explain]``). Returns a ``foretune.explain.Explanation``.
        """
        from foretune.explain import explain_ensemble

        return explain_ensemble(self, data, series=series, step=step, target=target, baseline=baseline, **kw)


_MANIFEST_INFO = ("input_schema", "freqs", "horizon", "transform")
_REPORTS = ("selection", "test_scores", "calibration", "direction")


def _check_manifest_members(path: Path, manifest: dict, settings: dict) -> None:
    """The manifest's member list (not itself checksummed) must agree with ensemble.json."""
    listed = manifest.get("members")
    if listed is None:
        return
    actual = [(e["path"], round(float(e["weight"]), 12)) for e in settings["members"]]
    claimed = [(e["path"], round(float(e["weight"]), 12)) for e in listed]
    if actual != claimed:
        raise ArtifactError(
            f"{path}: the manifest's member list disagrees with ensemble.json; the artifact was "
            "modified, refusing to load it"
        )


def _future_index(last_ds: list[Any], freqs: list[Any], horizon: int) -> pd.Index:
    """Concatenated future time stamps of every series (computed once per distinct start)."""
    cache: dict[tuple[Any, Any], int] = {}
    distinct: list[pd.Index] = []
    which = np.empty(len(last_ds), dtype=np.int64)
    for i, (ds, freq) in enumerate(zip(last_ds, freqs, strict=True)):
        key = (ds, freq)
        if key not in cache:
            cache[key] = len(distinct)
            distinct.append(future_dates(ds, freq, horizon))
        which[i] = cache[key]
    steps = np.arange(horizon)
    if len(distinct) == 1:
        return distinct[0].take(np.tile(steps, len(last_ds)))
    stacked = distinct[0].append(distinct[1:])
    return stacked.take((which[:, None] * horizon + steps).ravel())


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now
