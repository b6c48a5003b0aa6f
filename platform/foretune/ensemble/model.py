"""``Ensemble``: a saved (or freshly built) weighted set of forecasters that predicts like one.

    ensemble = Ensemble.load("RUN/ensemble")     # verified against its manifest first
    forecast = ensemble.predict(history)          # unique_id, ds, mean, std, q.., lo_/hi_, p_..
    ensemble.save(path); ensemble.without_calibration(); ensemble.member_alone(i)

``predict`` builds each series' last windows (``inputs``), draws MC-dropout sample paths of every
member (``draws``), pools them into the weighted mixture (``mixture``) and calibrates its central
intervals (``conformal``); its docstring lists the columns and what is calibrated.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from foretune.data import DataError, RatioTransform, future_dates
from foretune.errors import ArtifactError, ConfigError
from foretune.evaluate.metrics import central_interval
from foretune.train import TrainSpec, write_checkpoint

from .artifact import (
    CALIBRATION,
    CONFIG,
    ENSEMBLE,
    MEMBER_SPEC,
    MEMBER_WEIGHTS,
    TRANSFORM,
    finalize,
    member_dir,
    read_member,
    require_listed,
    verify,
    write_json,
)
from .conformal import Bounds, Calibration, interval_quantiles, level_name, usable_scale
from .draws import RowTransform, member_draws
from .inputs import ModelInputs, build_inputs, read_history
from .mixture import Mixture, mix, quantile_name, resample
from .settings import MEMBERS_KEY, EnsembleSettings

#: Manifest keys an ensemble carries over when it is saved again (the rest is rewritten).
_MANIFEST_INFO = ("input_schema", "freqs", "horizon", "transform")


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


class Ensemble:
    """A weighted set of trained forecasters sharing one transform; see the module docstring.

    ``settings`` may also be given as the mapping ``ensemble.json`` holds.
    """

    def __init__(
        self,
        members: list[Member],
        transform: RatioTransform,
        settings: EnsembleSettings | Mapping[str, Any],
        manifest: dict[str, Any],
        calibration: Calibration | None = None,
        scales: dict[str, float] | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        assert members, "an ensemble needs at least one member"
        if not isinstance(settings, EnsembleSettings):
            settings = EnsembleSettings.from_dict(settings)
        self.members = members
        self.transform = transform
        self.settings = settings
        self.manifest = manifest
        self.calibration = calibration
        self.scales: dict[str, float] = dict(scales or {})
        self.config = config
        self.horizon: int = int(settings.horizon)
        self.covariates: list[str] = list(manifest["input_schema"]["covariates"])
        self.freqs: dict = manifest.get("freqs", {})
        self.timings: dict[str, float] = {}  # seconds per stage of the last predict

    # -- persistence ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Ensemble:
        """Load and verify an artifact directory written by ``foretune ensemble``/``run``.

        Raises ``ArtifactError`` if a file is missing, modified or of an unknown format.
        """
        path = Path(path)
        manifest = verify(path)
        optional = [n for n in (CALIBRATION, CONFIG) if (path / n).is_file()]
        require_listed(path, manifest, [ENSEMBLE, TRANSFORM, *optional])
        state = json.loads((path / ENSEMBLE).read_text())
        transform = RatioTransform.from_dict(json.loads((path / TRANSFORM).read_text()))
        _check_manifest_members(path, manifest, state)
        calibration, scales = _read_calibration(path)
        entries = state.get(MEMBERS_KEY) or []
        if not entries:
            raise ArtifactError(f"{path}/{ENSEMBLE} lists no members")
        members = []
        for entry in entries:
            require_listed(path, manifest, [f"{entry['path']}/{n}" for n in (MEMBER_WEIGHTS, MEMBER_SPEC)])
            model, spec, n_features = read_member(path / entry["path"])
            info = {k: v for k, v in entry.items() if k not in ("path", "weight")}
            weight = float(entry["weight"])
            members.append(Member(model, spec.architecture, spec.window, weight, spec, n_features, info))
        config = None
        if (path / CONFIG).is_file():
            config = json.loads((path / CONFIG).read_text())
        try:
            settings = EnsembleSettings.from_dict(state)
        except ArtifactError as exc:
            raise ArtifactError(f"{path}/{ENSEMBLE}: {exc}") from None
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
                    staging / member_dir(i),
                    {
                        "state_dict": member.model.state_dict(),
                        "spec": member.spec.to_dict(),
                        "n_features": member.n_features,
                    },
                )
                entries.append(
                    {
                        "path": member_dir(i),
                        "architecture": member.architecture,
                        "window": member.window,
                        "weight": member.weight,
                        **member.info,
                    }
                )
            write_json(staging / ENSEMBLE, {**self.settings.to_dict(), MEMBERS_KEY: entries})
            write_json(staging / TRANSFORM, self.transform.to_dict())
            if self.config is not None:
                write_json(staging / CONFIG, self.config)
            if self.calibration is not None:
                write_json(staging / CALIBRATION, {**self.calibration.to_dict(), "series_scale": self.scales})
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
            return finalize(staging, target, info)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    # -- views ---------------------------------------------------------------------------------
    @property
    def weights(self) -> dict[str, float]:
        """Member weights by ``"<index>:<architecture>"``."""
        return {f"{i}:{m.architecture}": m.weight for i, m in enumerate(self.members)}

    @property
    def report(self) -> dict[str, Any]:
        """Selection, test-window scores, calibration and direction reports from the build."""
        return self.settings.reports

    @property
    def levels(self) -> list[float]:
        """The central interval levels of a forecast (``lo_<L>``/``hi_<L>``), ascending."""
        return self.settings.interval_levels

    @property
    def windows(self) -> list[int]:
        """The members' input window lengths, ascending, without repeats."""
        return sorted({m.window for m in self.members})

    def without_calibration(self) -> Ensemble:
        """The same ensemble reporting the raw mixture's intervals."""
        raw = copy.copy(self)
        raw.calibration = None
        raw.timings = {}
        return raw

    def member_alone(self, index: int) -> Ensemble:
        """Member ``index`` as an uncalibrated ensemble of its own (weight 1, even if it had
        none), so it can be scored as it enters the mixture."""
        alone = copy.copy(self.members[index])
        alone.weight = 1.0
        return type(self)([alone], self.transform, copy.copy(self.settings), self.manifest)

    # -- forecasting ---------------------------------------------------------------------------
    def inputs(self, data: pd.DataFrame | str | Path) -> ModelInputs:
        """The members' inputs for every series of ``data`` (validated; see ``inputs``)."""
        history = read_history(data, self.transform.kind, self.covariates, max(self.windows) + 1)
        if not history.series_ids:
            raise DataError("no series to forecast in the given data")
        scaled = self.calibration is not None and self.calibration.scaled
        return build_inputs(
            history, self.transform, self.covariates, self.windows, self.scales if scaled else None
        )

    def predict(
        self,
        data: pd.DataFrame | str | Path,
        horizon: int | None = None,
        samples: int | None = None,
        seed: int | None = None,
        *,
        sample_columns: int = 0,
    ) -> pd.DataFrame:
        """Forecast every series in ``data`` (each series' history) ``horizon`` steps ahead.

        Returns, per series and step, ``unique_id, ds, mean, std, q.., lo_<L>, hi_<L>, p_down,
        p_flat, p_up`` in the units of ``y``. ``mean``, ``std`` and the quantiles are those of the
        weighted mixture of every member's ``samples`` MC-dropout paths (default: the build's).

        Calibration (when the artifact has one): each central interval of a level ``L`` in
        ``levels`` is widened or narrowed by its conformal adjustment (per step, times the
        series' MASE scale). ``lo_<L>``/``hi_<L>`` are the calibrated bounds and the matching
        quantile columns take them too, so ``q05``/``q95`` are the calibrated 90% interval. All
        quantile columns are then sorted across levels, so they never cross; ``mean``, ``std``
        and ``q50`` stay those of the raw mixture. ``without_calibration()`` gives the raw one.

        Direction: ``p_down, p_flat, p_up`` from the members' heads, weighted, from the share of
        sample paths in each class, or their average (``settings.direction_source``).
        ``sample_columns=k`` adds ``sample_0 .. sample_{k-1}``, unweighted draws of the mixture.
        Randomness is seeded (``seed``, default the build's) in a forked torch RNG, so a forecast
        is reproducible and the caller's torch RNG is left alone.
        """
        horizon = self.horizon if horizon is None else int(horizon)
        if not 1 <= horizon <= self.horizon:
            raise ConfigError(
                f"horizon={horizon} is not available: this ensemble was trained for 1..{self.horizon}"
                " steps; retrain with a longer data.horizon"
            )
        samples = int(samples or self.settings.samples)
        clock = _Clock()
        inputs = self.inputs(data)
        rows = RowTransform(inputs.transform, inputs.uids)
        clock.lap("inputs")
        mixture = self.forecast(inputs.windows, rows, inputs.last, horizon, samples, seed, clock=clock)
        frame = self._frame(inputs, mixture, horizon, sample_columns)
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
        levels: Iterable[float] = (),
        clock: _Clock | None = None,
    ) -> Mixture:
        """The raw weighted mixture for prepared windows ``inputs[window] [N, window, F]``.

        ``rows`` and ``last`` describe each of the ``N`` rows (its series' statistics, its last
        level). The mixture's quantiles cover the forecast's quantile columns, the interval
        bounds of this ensemble's ``levels`` and those of ``levels`` given here.
        """
        clock = clock or _Clock()
        need_paths = self.settings.direction_source != "head"
        seed = int(self.settings.seed if seed is None else seed)
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
        wanted = set(self.settings.quantile_levels) | set(interval_quantiles(self.levels))
        wanted |= set(interval_quantiles(levels))
        mixture = mix(draws, [m.weight for m in self.members], sorted(wanted))
        clock.lap("mixture")
        return mixture

    def intervals(self, mixture: Mixture, scale: np.ndarray | None) -> Bounds:
        """Central intervals per level from the mixture, calibrated when this ensemble is."""
        bounds = mixture.intervals(self.levels)
        if self.calibration is None:
            return bounds
        return self.calibration.apply(bounds, None if scale is None else usable_scale(scale))

    # -- internals -----------------------------------------------------------------------------
    def _frame(
        self, inputs: ModelInputs, mixture: Mixture, horizon: int, sample_columns: int
    ) -> pd.DataFrame:
        n = len(inputs.uids)
        bounds = self.intervals(mixture, inputs.scale)
        # Quantile table: raw mixture quantiles, the calibrated bounds in their places, then a
        # monotone rearrangement across levels so no two columns cross.
        table = dict(mixture.quantiles)
        for level, pair in bounds.items():
            for q, bound in zip(central_interval(level), pair, strict=True):
                table[q] = bound
        keys = sorted(table)
        ordered = np.sort(np.stack([table[k] for k in keys]), axis=0)
        table = dict(zip(keys, ordered, strict=True))
        columns: dict[str, Any] = {
            "unique_id": np.repeat(np.asarray(inputs.uids, dtype=object), horizon),
            "ds": _future_index(inputs.last_ds, inputs.freqs, horizon),
            "mean": mixture.mean.ravel(),
            "std": mixture.std.ravel(),
        }
        for q in self.settings.quantile_levels:
            columns[quantile_name(q)] = table[q].ravel()
        for level in self.levels:
            name = level_name(level)
            lo, hi = central_interval(level)
            columns[f"lo_{name}"] = table[lo].ravel()
            columns[f"hi_{name}"] = table[hi].ravel()
        probs = mixture.direction(self.settings.direction_source)
        for k, name in enumerate(("p_down", "p_flat", "p_up")):
            columns[name] = probs[..., k].ravel()
        if sample_columns:
            drawn = resample(mixture.paths, mixture.path_weights, int(sample_columns))
            for i in range(int(sample_columns)):
                columns[f"sample_{i}"] = drawn[i].ravel()
        frame = pd.DataFrame(columns)
        assert len(frame) == n * horizon
        return frame


def _read_calibration(path: Path) -> tuple[Calibration | None, dict[str, float]]:
    """The artifact's calibration and series scales, or ``(None, {})`` without one."""
    if not (path / CALIBRATION).is_file():
        return None, {}
    state = json.loads((path / CALIBRATION).read_text())
    try:
        calibration = Calibration.from_dict(state)
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{path}/{CALIBRATION} is not usable: {exc}") from None
    scales = {str(k): float(v) for k, v in state.get("series_scale", {}).items()}
    return calibration, scales


def _check_manifest_members(path: Path, manifest: dict[str, Any], state: dict[str, Any]) -> None:
    """The manifest's member list (not itself checksummed) must agree with ensemble.json."""
    listed = manifest.get("members")
    if listed is None:
        return
    actual = [(e["path"], round(float(e["weight"]), 12)) for e in state.get(MEMBERS_KEY, [])]
    claimed = [(e["path"], round(float(e["weight"]), 12)) for e in listed]
    if actual != claimed:
        raise ArtifactError(
            f"{path}: the manifest's member list disagrees with {ENSEMBLE}; the artifact was "
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
