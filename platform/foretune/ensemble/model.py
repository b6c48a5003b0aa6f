"""``Ensemble``: a saved (or freshly built) weighted set of forecasters that predicts like one.

    ensemble = Ensemble.load("RUN/ensemble")     # verified against its manifest first
    forecast = ensemble.predict(history)          # unique_id, ds, mean, q.., p_.., std_mc, fallback
    ensemble.predict(history, format="nixtla")    # unique_id, ds, foretune, foretune-lo-90, ...
    fig = ensemble.plot(history, series=["a"])    # history and fan chart, a matplotlib Figure
    ensemble.save(path); ensemble.without_calibration(); ensemble.member_alone(i)

``predict`` builds each series' last windows (``inputs``), draws MC-dropout sample paths of every
member (``draws``), pools them into the weighted mixture (``mixture``) and calibrates its central
intervals (``conformal``); its docstring lists the columns and what is calibrated. Every series
with an observation gets a forecast, under its original id and in input order: one with a single
observation a flat one (``fallback``), and none that is not finite (``DataError`` instead).
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from foretune.console import progress
from foretune.data import DataError, RatioTransform, future_dates, read_frame
from foretune.data.covariates import InputSpec, with_inputs
from foretune.errors import ArtifactError, ConfigError
from foretune.metrics import central_interval, quantile_name
from foretune.models.statistical import StatisticalModel, normal_paths, statistical_forecasts
from foretune.storage import RemotePath, as_location, local_copy, remove, resolve, upload
from foretune.timings import stage
from foretune.train import TrainSpec, write_checkpoint

from .artifact import (
    CALIBRATION,
    CONFIG,
    ENSEMBLE,
    MANIFEST,
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
from .conformal import Bounds, Calibration, interval_quantiles
from .draws import DrawsCache, RowTransform, level_draws, member_draws
from .inputs import ModelInputs, build_inputs, read_history
from .mixture import Mixture, mix, resample
from .nixtla import FORMATS, to_nixtla
from .settings import MEMBERS_KEY, EnsembleSettings

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Trial id of a statistical member: this prefix and the statsforecast model's name.
STATISTICAL_PREFIX = "statistical:"
#: Manifest keys an ensemble carries over when it is saved again (the rest is rewritten).
_MANIFEST_INFO = ("input_schema", "freqs", "horizon", "transform")


@dataclass
class Member:
    """One forecaster of the ensemble and its weight: a trained network, or a statistical model
    that is fit on each history it forecasts from (``window`` 0, no spec)."""

    model: nn.Module | StatisticalModel
    architecture: str
    window: int
    weight: float
    spec: TrainSpec | None = None
    n_features: int | None = None
    info: dict[str, Any] = field(default_factory=dict)  # trial id, scores, refit flag, ...

    @property
    def statistical(self) -> bool:
        """Whether this member is a statistical model (``models.statistical``)."""
        return isinstance(self.model, StatisticalModel)

    @classmethod
    def of_statistical(cls, name: str, weight: float = 0.0) -> Member:
        """The statsforecast model ``name`` as a member (its trial id: ``statistical:<name>``)."""
        info = {"trial_id": f"{STATISTICAL_PREFIX}{name}", "statistical": name}
        return cls(StatisticalModel(name), name, 0, weight, info=info)


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
        self.scales: dict[str, float] = dict(scales or {})  # MASE scale per series, NaN: undefined
        self.config = config
        self.horizon: int = int(settings.horizon)
        schema = manifest["input_schema"]
        self.covariates: list[str] = list(schema["covariates"])  # the model's covariate columns
        self.input_spec = InputSpec.from_dict(
            schema.get("inputs") or {"horizon": self.horizon, "past": self.covariates}
        )
        self.freqs: dict = manifest.get("freqs", {})
        self.timings: dict[str, float] = {}  # seconds per stage of the last predict
        #: shared by forecasts of the same windows (a backtest's views of this ensemble)
        self.draws_cache: DrawsCache | None = None

    # -- persistence ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Ensemble:
        """Load and verify an artifact directory written by ``foretune ensemble``/``run``.

        Raises ``ArtifactError`` if a file is missing, modified or of an unknown format. A URI
        (``s3://bucket/run/ensemble``) is downloaded to a private temporary directory first, and
        that copy is checked and read: the checksums cover exactly the bytes loaded.
        """
        path = as_location(path)
        if isinstance(path, RemotePath):
            with local_copy(path) as local:
                try:
                    return cls.load(local)
                except ArtifactError as exc:
                    raise ArtifactError(str(exc).replace(str(local), str(path))) from None
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
            info = {k: v for k, v in entry.items() if k not in ("path", "weight")}
            weight = float(entry["weight"])
            if entry.get("statistical"):
                members.append(Member.of_statistical(str(entry["statistical"]), weight))
                members[-1].info.update(info)
                continue
            require_listed(path, manifest, [f"{entry['path']}/{n}" for n in (MEMBER_WEIGHTS, MEMBER_SPEC)])
            model, spec, n_features = read_member(path / entry["path"])
            members.append(Member(model, spec.architecture, spec.window, weight, spec, n_features, info))
        config = None
        if (path / CONFIG).is_file():
            config = json.loads((path / CONFIG).read_text())
        try:
            settings = EnsembleSettings.from_dict(state)
        except ArtifactError as exc:
            raise ArtifactError(f"{path}/{ENSEMBLE}: {exc}") from None
        return cls(members, transform, settings, manifest, calibration, scales, config)

    def save(self, path: str | Path | RemotePath) -> Path | RemotePath:
        """Write the artifact directory ``path`` (atomically replacing one that exists).

        A URI is written locally, then uploaded with its manifest last (after the old artifact
        is removed), so no reader finds a manifest before the files it vouches for.
        """
        target = resolve(path)
        if isinstance(target, RemotePath):
            with tempfile.TemporaryDirectory(prefix="foretune-") as tmp:
                local = self.save(Path(tmp) / (target.name or "ensemble"))
                remove(target)
                upload(local, target, last=MANIFEST)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".ensemble-", dir=target.parent))
        try:
            entries = []
            for i, member in enumerate(self.members):
                if member.statistical:  # nothing trained to save: it is fit at predict time
                    entries.append(
                        {"path": None, "architecture": member.architecture, "window": 0}
                        | {"weight": member.weight, **member.info}
                    )
                    continue
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
                scales = {k: (float(v) if np.isfinite(v) else None) for k, v in self.scales.items()}
                write_json(staging / CALIBRATION, {**self.calibration.to_dict(), "series_scale": scales})
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
        """The calibrated central interval levels of a forecast, ascending (0.9: ``q05``/``q95``)."""
        return self.settings.interval_levels

    @property
    def windows(self) -> list[int]:
        """The deep members' input window lengths, ascending, without repeats ([1] without any:
        the inputs still carry each series' last level)."""
        return sorted({m.window for m in self.members if not m.statistical}) or [1]

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
        single = type(self)([alone], self.transform, copy.copy(self.settings), self.manifest)
        single.draws_cache = self.draws_cache
        return single

    # -- forecasting ---------------------------------------------------------------------------
    def inputs(
        self,
        data: pd.DataFrame | str | Path,
        series: Iterable[Any] | None = None,
        *,
        futr_df: pd.DataFrame | str | Path | None = None,
        static_df: pd.DataFrame | str | Path | None = None,
        steps: int | None = None,
    ) -> ModelInputs:
        """The members' inputs for every series of ``data`` (or those of ``series``), read with
        the run's ``data.fill`` and ``data.freq`` (a history too short to show its frequency
        takes the run's most common one; see ``inputs``). Future-known covariates come from
        ``futr_df`` (required for the first ``steps`` forecast dates, default the horizon),
        statics from the artifact or ``static_df`` (see ``data.covariates.with_inputs``)."""
        s = self.settings
        spec = self.input_spec
        common = Counter(self.freqs.values()).most_common(1)
        history = read_history(
            data,
            self.transform.kind,
            spec.data_columns,
            list(series or []),
            fill=s.fill,
            freq=s.freq,
            fallback_freq=common[0][0] if common else None,
        )
        if spec.future and futr_df is None:
            raise DataError(
                f"this ensemble uses future-known covariates {list(spec.future)}: pass futr_df (a "
                "frame with unique_id, ds and those columns for each series' forecast dates; "
                "foretune predict --futr PATH)"
            )
        history = with_inputs(history, spec, futr_df, static_df, steps=steps)
        scaled = self.calibration is not None and self.calibration.scaled
        return build_inputs(
            history,
            self.transform,
            self.covariates,
            self.windows,
            self.scales if scaled else None,
            season=s.season,
        )

    def predict(
        self,
        data: pd.DataFrame | str | Path,
        horizon: int | None = None,
        samples: int | None = None,
        seed: int | None = None,
        *,
        sample_columns: int = 0,
        futr_df: pd.DataFrame | str | Path | None = None,
        static_df: pd.DataFrame | str | Path | None = None,
        format: str = "foretune",
        alias: str = "foretune",
    ) -> pd.DataFrame:
        """Forecast every series in ``data`` (each series' history) ``horizon`` steps ahead.

        Covariates: ``data`` holds the past ones (and the history of the future-known ones);
        ``futr_df`` (``unique_id, ds`` and the future-known covariates) must cover each series'
        next ``horizon`` dates, else ``DataError`` names the series and dates; ``static_df``
        (``unique_id`` and the static columns) is needed only for series the run did not see.

        Returns, per series and step, ``unique_id, ds, mean, q.., p_down, p_flat, p_up, std_mc,
        fallback`` in the units of ``y``: every series of ``data`` with at least one
        observation, in input order, ``unique_id`` holding its id as ``data`` did (values and
        dtype). The quantile columns are ``q05, q50, q95``, the configured ``quantiles`` and both
        bounds of every calibrated interval level (``levels``: 0.95 gives ``q025``/``q975``),
        ascending and named by ``metrics.quantile_name`` (``q`` + the decimal digits of the
        level). ``mean``, ``std_mc`` and the quantiles are those of the weighted mixture of every
        member's ``samples`` MC-dropout paths (default: the build's). ``std_mc`` is that raw
        mixture's standard deviation, a diagnostic of the members' spread: it is *not*
        calibrated (``mean +- 1.645 std_mc`` typically covers far less than 90%); use the
        quantile columns for intervals. A series the ensemble was not trained on is forecast
        from statistics fit on its history (``UnseenSeriesWarning``).
        ``format="nixtla"`` returns the same forecast in Nixtla's conventions instead
        (``nixtla.to_nixtla``: ``<alias>``, ``<alias>-median``, ``<alias>-lo-90``, ...).

        Fallback: a series with one observation has no change to learn from; it is forecast flat
        at its last value (``mean``, ``q50``), its quantiles are those of the other series relative
        to their level (per step and quantile, the median over the modelled, non-constant series
        of ``(q - q50) / |last|``, times its ``|last|``; zero width when there is none), ``p_flat``
        is 1 and ``fallback`` is True. A series constant in training is forecast flat by its
        statistics; its direction is that of its deterministic path (``p_flat`` 1 when flat) and
        its calibrated band stays the raw, zero-width one (its MASE scale is undefined).

        Calibration (when the artifact has one): each central interval of a level ``L`` in
        ``levels`` is widened or narrowed by its conformal adjustment (per step, times the
        series' MASE scale) and its two quantile columns take the calibrated bounds, so
        ``q05``/``q95`` are the calibrated 90% interval. All quantile columns are then sorted
        across levels, so they never cross; ``mean``, ``std_mc`` and ``q50`` stay those of the
        raw mixture. ``without_calibration()`` gives the raw one.

        Direction: ``p_down, p_flat, p_up`` from the members' heads, weighted, from the share of
        sample paths in each class, or their average (``settings.direction_source``).
        ``sample_columns=k`` adds ``sample_0 .. sample_{k-1}``, unweighted draws of the mixture
        (for a fallback series, its quantiles read at ``(i + 0.5) / k``). Randomness is seeded
        (``seed``, default the build's) in a forked torch RNG, so a forecast is reproducible and
        the caller's torch RNG is left alone. A forecast that is not finite is never returned:
        ``DataError`` names the series instead.
        """
        if format not in FORMATS:
            raise ConfigError(f"format={format!r} is not known; use one of {', '.join(FORMATS)}")
        horizon = self.horizon if horizon is None else int(horizon)
        if not 1 <= horizon <= self.horizon:
            raise ConfigError(
                f"horizon={horizon} is not available: this ensemble was trained for 1..{self.horizon}"
                " steps; retrain with a longer data.horizon"
            )
        samples = int(samples or self.settings.samples)
        clock = _Clock()
        inputs = self.inputs(data, futr_df=futr_df, static_df=static_df, steps=horizon)
        clock.lap("inputs")
        modelled = np.flatnonzero(~inputs.fallback)
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite forecast is a DataError
            mixture = self._mixture(inputs, modelled, horizon, samples, seed, clock)
            frame = self._frame(inputs, mixture, modelled, horizon, sample_columns)
        clock.lap("frame")
        self.timings = clock.laps
        return to_nixtla(frame, alias) if format == "nixtla" else frame

    def plot(
        self,
        data: pd.DataFrame | str | Path,
        series: Iterable[Any] | None = None,
        horizon: int | None = None,
        samples: int | None = None,
        seed: int | None = None,
        history_factor: int = 4,
    ) -> Figure:
        """Forecast ``series`` of ``data`` (default: its first six) and draw each one's recent
        history, forecast mean, median and shaded calibrated intervals (``plotting.fan_chart``).

        Returns a matplotlib ``Figure``: a notebook shows it, ``fig.savefig(path)`` writes it.
        """
        from foretune.plotting import MAX_SERIES, fan_chart  # matplotlib only when drawing

        history = read_frame(data)
        ids = list(pd.unique(history["unique_id"]))
        chosen = ids[:MAX_SERIES] if series is None else list(series)
        unknown = [uid for uid in chosen if uid not in set(ids)]
        if unknown:
            raise DataError(f"series {unknown[:5]} are not in the data to plot; it has {ids[:5]} ...")
        history = history[history["unique_id"].isin(chosen)]
        forecast = self.predict(history, horizon=horizon, samples=samples, seed=seed)
        return fan_chart(forecast, history, chosen, history_factor=history_factor)

    def _mixture(
        self,
        inputs: ModelInputs,
        modelled: np.ndarray,
        horizon: int,
        samples: int,
        seed: int | None,
        clock: _Clock,
    ) -> Mixture | None:
        """The raw mixture of the series ``modelled`` (rows of ``inputs``), None without any."""
        if not len(modelled):
            return None
        whole = len(modelled) == len(inputs.uids)
        windows = inputs.windows if whole else {w: x[modelled] for w, x in inputs.windows.items()}
        rows = RowTransform(inputs.transform, [inputs.uids[i] for i in modelled])
        histories = [inputs.history[i] for i in modelled]
        return self.forecast(
            windows,
            rows,
            inputs.last[modelled],
            horizon,
            samples,
            seed,
            clock=clock,
            histories=histories,
            seasons=inputs.seasons[modelled],
        )

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
        histories: list[np.ndarray] | None = None,
        seasons: np.ndarray | None = None,
    ) -> Mixture:
        """The raw weighted mixture for prepared windows ``inputs[window] [N, window, F]``.

        ``rows`` and ``last`` describe each of the ``N`` rows (its series' statistics, its last
        level); statistical members fit on ``histories`` (each row's levels) with ``seasons``.
        The mixture's quantiles cover the forecast's quantile columns, the interval bounds of
        this ensemble's ``levels`` and those of ``levels`` given here.
        """
        clock = clock or _Clock()
        need_paths = self.settings.direction_source != "head"
        seed = int(self.settings.seed if seed is None else seed)
        draws = []
        fitted: dict[str, tuple[np.ndarray, np.ndarray]] = {}

        def statistical_paths(name: str) -> np.ndarray:
            """The statistical member's paths; all of them fit in one pass, at the first needed."""
            if not fitted:
                names = [m.model.name for m in self.members if m.statistical]
                fitted.update(statistical_forecasts(names, histories, seasons, horizon))
            return normal_paths(*fitted[name], samples)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for member in progress(self.members, desc="MC draws", unit="member"):
                if member.statistical:
                    if histories is None or seasons is None:
                        raise ConfigError(f"member {member.architecture} forecasts from histories; pass them")
                    with stage("statistical"):
                        draws.append(
                            self._draw(
                                member,
                                [*histories, seasons],
                                rows,
                                last,
                                (horizon, samples),
                                lambda name=member.model.name: level_draws(
                                    statistical_paths(name), rows, last
                                ),
                                random=False,
                            )
                        )
                    continue
                with stage("draws"):
                    x = inputs[member.window]
                    draws.append(
                        self._draw(
                            member,
                            [x],
                            rows,
                            last,
                            (horizon, samples, need_paths),
                            lambda m=member.model, x=x: member_draws(
                                m, x, samples, rows, last, horizon, path_directions=need_paths
                            ),
                        )
                    )
        clock.lap("members")
        wanted = set(self.settings.quantile_levels) | set(interval_quantiles(self.levels))
        wanted |= set(interval_quantiles(levels))
        mixture = mix(draws, [m.weight for m in self.members], sorted(wanted))
        clock.lap("mixture")
        return mixture

    def _draw(
        self,
        member: Member,
        inputs: list[np.ndarray],
        rows: RowTransform,
        last: np.ndarray,
        settings: tuple,
        compute: Any,
        random: bool = True,
    ) -> Any:
        """``compute()``, through ``draws_cache`` when there is one."""
        if self.draws_cache is None:
            return compute()
        return self.draws_cache.draw(member.model, inputs, rows, last, settings, compute, random)

    def intervals(self, mixture: Mixture, scale: np.ndarray | None) -> Bounds:
        """Central intervals per level from the mixture, calibrated when this ensemble is (a
        series whose ``scale`` is undefined, NaN: constant in training, keeps the raw ones)."""
        bounds = mixture.intervals(self.levels)
        if self.calibration is None:
            return bounds
        return self.calibration.apply(bounds, scale)

    # -- internals -----------------------------------------------------------------------------
    def _frame(
        self,
        inputs: ModelInputs,
        mixture: Mixture | None,
        modelled: np.ndarray,
        horizon: int,
        sample_columns: int,
    ) -> pd.DataFrame:
        """The forecast frame of every series: the mixture's rows ``modelled``, the rest fallbacks."""
        n = len(inputs.uids)
        keys = sorted(set(self.settings.quantile_levels) | set(interval_quantiles(self.levels)))
        mean, std = np.full((n, horizon), np.nan), np.full((n, horizon), np.nan)
        table = {q: np.full((n, horizon), np.nan) for q in keys}
        probs = np.zeros((n, horizon, 3))
        drawn = np.full((int(sample_columns), n, horizon), np.nan)
        if mixture is not None:
            scale = None if inputs.scale is None else inputs.scale[modelled]
            own = self._table(mixture, scale)
            mean[modelled], std[modelled] = mixture.mean, mixture.std
            for q in keys:
                table[q][modelled] = own[q]
            probs[modelled] = mixture.direction(self.settings.direction_source)
            if sample_columns:
                drawn[:, modelled] = resample(mixture.paths, mixture.path_weights, int(sample_columns))
            _check_finite(inputs, modelled, [mean, std, *table.values(), probs])  # before pooling
        constant = np.flatnonzero(inputs.constant & ~inputs.fallback)
        if len(constant):
            probs[constant] = _deterministic_directions(inputs, constant, horizon)
        fallback = np.flatnonzero(inputs.fallback)
        if len(fallback):
            pool = np.setdiff1d(modelled, constant)
            _fill_fallback(inputs.last, fallback, pool, mean, std, table, probs, drawn)
        _check_finite(inputs, np.arange(n), [mean, std, *table.values(), probs, np.moveaxis(drawn, 0, 1)])
        columns: dict[str, Any] = {
            "unique_id": inputs.ids.repeat(horizon).reset_index(drop=True),
            "ds": _future_index(inputs.last_ds, inputs.freqs, horizon),
            "mean": mean.ravel(),
        }
        for q in keys:
            columns[quantile_name(q)] = table[q].ravel()
        for k, name in enumerate(("p_down", "p_flat", "p_up")):
            columns[name] = probs[..., k].ravel()
        columns["std_mc"] = std.ravel()
        columns["fallback"] = np.repeat(inputs.fallback, horizon)
        for i in range(int(sample_columns)):
            columns[f"sample_{i}"] = drawn[i].ravel()
        frame = pd.DataFrame(columns)
        assert len(frame) == n * horizon
        return frame

    def _table(self, mixture: Mixture, scale: np.ndarray | None) -> dict[float, np.ndarray]:
        """Quantile table ``[N, H]`` per level: the raw mixture quantiles, the calibrated bounds
        in their places, then a monotone rearrangement across levels so no two columns cross."""
        table = dict(mixture.quantiles)
        for level, pair in self.intervals(mixture, scale).items():
            for q, bound in zip(central_interval(level), pair, strict=True):
                table[q] = bound
        keys = sorted(table)
        ordered = np.sort(np.stack([table[k] for k in keys]), axis=0)
        return dict(zip(keys, ordered, strict=True))


def _deterministic_directions(inputs: ModelInputs, rows: np.ndarray, horizon: int) -> np.ndarray:
    """One-hot directions ``[R, H, 3]`` of series whose statistics make their path deterministic
    (constant in training: every sample path is the same, flat for a constant level)."""
    transform = RowTransform(inputs.transform, [inputs.uids[i] for i in rows])
    last = inputs.last[rows]
    r = transform.changes(np.zeros((1, len(rows), horizon)))
    return np.eye(3)[transform.direction(last, r)[0]]


def _fill_fallback(
    last: np.ndarray,
    rows: np.ndarray,
    pool: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    table: dict[float, np.ndarray],
    probs: np.ndarray,
    drawn: np.ndarray,
) -> None:
    """Fill the forecast of the one-observation series ``rows`` in place: flat at ``last``, with
    the quantiles of the series ``pool`` relative to their level (see ``Ensemble.predict``)."""
    pool = pool[np.isfinite(last[pool]) & (last[pool] != 0)]
    size = np.abs(last[pool])[:, None]
    centre = table[0.5][pool]

    def relative(values: np.ndarray) -> np.ndarray:
        """Per step: the median over ``pool`` of ``values / |last|`` (0 without a pool)."""
        return np.median(values / size, axis=0) if len(pool) else np.zeros(values.shape[-1])

    here = last[rows][:, None]
    mean[rows] = here
    std[rows] = relative(std[pool]) * np.abs(here)
    for q in table:
        table[q][rows] = here + relative(table[q][pool] - centre) * np.abs(here)
    probs[rows] = (0.0, 1.0, 0.0)
    levels = np.array(sorted(table))
    for i in range(len(drawn)):  # the quantile function read at (i + 0.5) / k, linearly
        p = (i + 0.5) / len(drawn)
        j = int(np.clip(np.searchsorted(levels, p), 1, len(levels) - 1))
        w = float(np.clip((p - levels[j - 1]) / (levels[j] - levels[j - 1]), 0.0, 1.0))
        drawn[i, rows] = (1 - w) * table[levels[j - 1]][rows] + w * table[levels[j]][rows]


def _check_finite(inputs: ModelInputs, rows: np.ndarray, arrays: list[np.ndarray]) -> None:
    """``DataError`` naming the series among ``rows`` with a value that is not finite in one of
    ``arrays`` (each with the series on its first axis)."""
    bad = np.zeros(len(rows), dtype=bool)
    for values in arrays:
        bad |= ~np.isfinite(values[rows].reshape(len(rows), -1)).all(axis=1)
    if bad.any():
        where = rows[bad]
        raise DataError(
            f"the forecast of {len(where)} series is not finite (NaN or infinite): "
            f"{inputs.names(where)}; check their history for extreme values, huge jumps or levels "
            "near zero that overflow the transform when the forecast is turned back into levels, "
            "and rescale or fix those values"
        )


def _read_calibration(path: Path) -> tuple[Calibration | None, dict[str, float]]:
    """The artifact's calibration and series scales, or ``(None, {})`` without one."""
    if not (path / CALIBRATION).is_file():
        return None, {}
    state = json.loads((path / CALIBRATION).read_text())
    try:
        calibration = Calibration.from_dict(state)
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{path}/{CALIBRATION} is not usable: {exc}") from None
    # null: a series whose MASE scale is undefined (constant in training), kept uncalibrated
    scales = {
        str(k): float("nan") if v is None else float(v) for k, v in state.get("series_scale", {}).items()
    }
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
