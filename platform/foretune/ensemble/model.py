"""``Ensemble``: a saved (or freshly built) weighted set of forecasters that predicts like one.

    ensemble = Ensemble.load("RUN/ensemble")     # verified against its manifest first
    forecast = ensemble.predict(history)          # unique_id, ds, mean, q.., p_.., std_mc, fallback
    ensemble.predict(history, format="nixtla")    # unique_id, ds, foretune, foretune-lo-90, ...
    fig = ensemble.plot(history, series=["a"])    # history and fan chart, a matplotlib Figure
    ensemble.save(path); ensemble.without_calibration(); ensemble.member_alone(i)

``predict`` builds each series' last windows (``inputs``), draws MC-dropout sample paths of every
member (``predictor.draw_members``, ``draws``), pools them into the weighted mixture (``mixture``),
calibrates its central intervals (``conformal``) and writes the forecast frame
(``predictor.forecast_frame``, whose module docstring says how each column is made). Every
series with an observation gets a forecast, under its original id and in input order: one with a
single observation a flat one (``fallback``), and none that is not finite (``DataError``
instead). ``load`` and ``save`` are ``persist.read_artifact`` and ``persist.write_artifact``;
``plot`` is ``plot.plot_forecast``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from foretune import arguments
from foretune.console import summary_html, summary_text
from foretune.data import DataError, RatioTransform
from foretune.data.calendar import common_freq
from foretune.data.covariates import InputSpec, with_inputs
from foretune.errors import ConfigError
from foretune.storage import RemotePath

from .conformal import Bounds, Calibration, interval_quantiles
from .draws import DrawsCache, RowTransform
from .inputs import ModelInputs, build_inputs, read_history
from .member import STATISTICAL_PREFIX, Member
from .mixture import Mixture, mix
from .nixtla import FORMATS, to_nixtla
from .persist import read_artifact, write_artifact
from .plot import plot_forecast
from .predictor import Clock, Histories, draw_members, forecast_frame
from .settings import EnsembleSettings

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["STATISTICAL_PREFIX", "Ensemble", "Member"]


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

    def __repr__(self) -> str:
        return summary_text("Ensemble", summary_rows(self))

    def _repr_html_(self) -> str:
        return summary_html("Ensemble", summary_rows(self))

    # -- persistence ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Ensemble:
        """Load and verify an artifact directory written by ``foretune ensemble``/``run``.

        Raises ``ArtifactError`` if a file is missing, modified or of an unknown format. A URI
        (``s3://bucket/run/ensemble``) is downloaded to a private temporary directory first, and
        that copy is checked and read: the checksums cover exactly the bytes loaded.
        """
        return cls(**read_artifact(path))

    def save(self, path: str | Path | RemotePath) -> Path | RemotePath:
        """Write the artifact directory ``path`` (atomically replacing one that exists).

        A URI is written locally, then uploaded with its manifest last (after the old artifact
        is removed), so no reader finds a manifest before the files it vouches for.
        """
        return write_artifact(self, path)

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
        history = read_history(
            data,
            self.transform.kind,
            spec.data_columns,
            list(series or []),
            fill=s.fill,
            freq=s.freq,
            fallback_freq=common_freq(self.freqs.values()),
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
        refit: bool = False,
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
        from statistics fit on its history (``UnseenSeriesWarning``). ``sample_columns=k`` adds
        ``sample_0 .. sample_{k-1}``; ``seed`` defaults to the build's, and each series' draws come
        from it and the series' id (``draws.row_seeds``), so a series' rows do not depend on the
        other series of ``data`` or their order. How fallbacks, the
        calibration and the direction columns are made: ``predictor``'s module docstring.
        ``format="nixtla"`` returns the same forecast in Nixtla's conventions instead
        (``nixtla.to_nixtla``: ``<alias>``, ``<alias>-lo-90``, ``<alias>-hi-90``, ...).
        A statistical member applies the parameters the build fit for each series to its new
        history (``models.statistical``); ``refit=True`` estimates them anew on it (slower).
        """
        horizon = self._checked_horizon(horizon, format)
        samples = arguments.samples(samples) or self.settings.samples  # one rule: foretune.arguments
        seed, sample_columns = arguments.seed(seed), arguments.sample_columns(sample_columns)
        clock = Clock()
        inputs = self.inputs(data, futr_df=futr_df, static_df=static_df, steps=horizon)
        clock.lap("inputs")
        modelled = np.flatnonzero(~inputs.fallback)
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite forecast is a DataError
            mixture = self._mixture(inputs, modelled, horizon, samples, seed, clock, refit)
            frame = forecast_frame(self, inputs, mixture, modelled, horizon, sample_columns)
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
        *,
        futr_df: pd.DataFrame | str | Path | None = None,
        static_df: pd.DataFrame | str | Path | None = None,
    ) -> Figure:
        """Forecast ``series`` of ``data`` (default: its first six) and draw each one's recent
        history, forecast mean, median and shaded calibrated intervals (``ensemble.fan_chart``).
        ``futr_df`` and ``static_df`` are the covariates, as for ``predict``.

        Returns a matplotlib ``Figure``: a notebook shows it, ``fig.savefig(path)`` writes it.
        """
        return plot_forecast(
            self, data, series, horizon, samples, seed, history_factor, futr_df=futr_df, static_df=static_df
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
        clock: Clock | None = None,
        histories: Histories | None = None,
    ) -> Mixture:
        """The raw weighted mixture for prepared windows ``inputs[window] [N, window, F]``.

        ``rows`` and ``last`` describe each of the ``N`` rows (its series' statistics, its last
        level); statistical members forecast from ``histories`` (each row's levels, season and
        series id).
        The mixture's quantiles cover the forecast's quantile columns, the interval bounds of
        this ensemble's ``levels`` and those of ``levels`` given here.
        """
        clock = clock or Clock()
        seed = int(self.settings.seed if seed is None else seed)
        draws = draw_members(self, inputs, rows, last, horizon, samples, seed, histories)
        clock.lap("members")
        wanted = set(self.settings.quantile_levels) | set(interval_quantiles(self.levels))
        wanted |= set(interval_quantiles(levels))
        mixture = mix(draws, [m.weight for m in self.members], sorted(wanted))
        clock.lap("mixture")
        return mixture

    def intervals(self, mixture: Mixture, scale: np.ndarray | None) -> Bounds:
        """Central intervals per level from the mixture, calibrated when this ensemble is (a
        series whose ``scale`` is undefined, NaN: constant in training, keeps the raw ones)."""
        bounds = mixture.intervals(self.levels)
        if self.calibration is None:
            return bounds
        return self.calibration.apply(bounds, scale)

    # -- internals -----------------------------------------------------------------------------
    def _checked_horizon(self, horizon: int | None, format: str) -> int:
        """``horizon`` (None: the ensemble's); ``ConfigError`` for an unknown ``format`` or a
        horizon the ensemble was not trained for."""
        if format not in FORMATS:
            raise ConfigError(f"format={format!r} is not known; use one of {', '.join(FORMATS)}")
        return arguments.horizon(horizon, self.horizon)

    def _mixture(
        self,
        inputs: ModelInputs,
        modelled: np.ndarray,
        horizon: int,
        samples: int,
        seed: int | None,
        clock: Clock,
        refit: bool = False,
    ) -> Mixture | None:
        """The raw mixture of the series ``modelled`` (rows of ``inputs``), None without any;
        ``refit``: statistical members estimate their parameters anew."""
        if not len(modelled):
            return None
        whole = len(modelled) == len(inputs.uids)
        windows = inputs.windows if whole else {w: x[modelled] for w, x in inputs.windows.items()}
        uids = [inputs.uids[i] for i in modelled]
        rows = RowTransform(inputs.transform, uids)
        histories = Histories(
            [inputs.history[i] for i in modelled], inputs.seasons[modelled], [str(u) for u in uids], refit
        )
        return self.forecast(
            windows,
            rows,
            inputs.last[modelled],
            horizon,
            samples,
            seed,
            clock=clock,
            histories=histories,
        )


def summary_rows(ensemble: Ensemble) -> list[tuple[str, str]]:
    """What ``repr`` shows of an ensemble: horizon, series trained on, members and weights,
    intervals and inputs (``Foretune``'s summary shows them too)."""
    members = ", ".join(
        f"{i}:{m.architecture}" + (f" (window {m.window})" if not m.statistical else "") + f" {m.weight:.3f}"
        for i, m in enumerate(ensemble.members)
    )
    levels = ", ".join(f"{level * 100:g}%" for level in ensemble.levels) or "none"
    spec = ensemble.input_spec
    kinds = {"past": spec.past, "future": spec.future, "calendar": spec.calendar, "static": spec.static}
    inputs = [f"{kind} {', '.join(names)}" for kind, names in kinds.items() if names]
    return [
        ("horizon", str(ensemble.horizon)),
        ("series trained on", str(len(ensemble.transform.stats))),
        ("members (weight)", members),
        ("intervals", levels + (" (calibrated)" if ensemble.calibration is not None else " (raw)")),
        ("covariates", "; ".join(inputs) or "none"),
    ]
