"""The cutoffs of ``Foretune.cross_validation``, which of them refit, and the actuals joined
onto each one's forecast.

    frame, position, size = series_positions(df)
    every = refit_every(refit=False)            # 0: fit once, at the first cutoff
    for cutoff in cutoffs(frame, position, size, horizon=12, n_windows=3, step=12):
        if fits_at(cutoff.index, every):
            ...  # a fit on cutoff.history
        forecast = ...  # the latest fit's forecast of `horizon` steps from cutoff.history
        piece = join_actuals(forecast, cutoff.history, cutoff.actual, series_key)

The last cutoff lies ``horizon`` rows before each series' end and each earlier one ``step`` rows
before the next; a series with nothing left before a cutoff sits that cutoff out.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from foretune import console
from foretune.data.checks import check_cutoffs
from foretune.errors import ConfigError, DataError

from .estimator_io import Data, frame_of

__all__ = [
    "CV_DIR",
    "CrossValidating",
    "Cutoff",
    "check_windows",
    "cutoffs",
    "fits_at",
    "join_actuals",
    "refit_every",
    "series_positions",
    "step_of",
]

CV_DIR = "cv"  # cross-validation runs, one per cutoff that fits
_FOLD = re.compile(r"cutoff-\d+")


@dataclass(frozen=True)
class Cutoff:
    """Cutoff ``index`` (0 for the earliest): each series' ``history`` up to it (``back`` rows
    held back from its end) and its ``actual`` rows over the next ``horizon`` steps."""

    index: int
    back: int
    history: pd.DataFrame
    actual: pd.DataFrame


def check_windows(n_windows: int, step: int) -> tuple[int, int]:
    """``n_windows`` and ``step`` as integers; ``ConfigError`` when one is below 1."""
    n_windows, step = int(n_windows), int(step)
    if n_windows < 1:
        raise ConfigError(f"n_windows must be >= 1, got {n_windows}")
    if step < 1:
        raise ConfigError(f"step must be >= 1, got {step}")
    return n_windows, step


def step_of(step_size: int | None, step: int | None, horizon: int) -> int:
    """The rows between cutoffs: ``step_size`` (neuralforecast's name) or its alias ``step``,
    default ``horizon``; ``ConfigError`` when both are given and differ."""
    if step_size is not None and step is not None and int(step_size) != int(step):
        raise ConfigError(f"step_size={step_size} and step={step} disagree; give one (step is its alias)")
    chosen = step_size if step_size is not None else step
    return int(horizon if chosen is None else chosen)


def refit_every(refit: bool | int) -> int:
    """Fit at every ``k``-th cutoff (the first included): ``refit=True`` is 1, ``False`` (or 0)
    is 0, fit once at the first; ``ConfigError`` for a negative ``k``."""
    if isinstance(refit, bool):
        return int(refit)
    if int(refit) != refit or int(refit) < 0:
        raise ConfigError(f"refit must be True, False or a whole number of windows >= 0, got {refit!r}")
    return int(refit)


def fits_at(index: int, every: int) -> bool:
    """Whether cutoff ``index`` (0 the earliest) gets a fit of its own under ``refit_every``."""
    return index == 0 if every == 0 else index % every == 0


def series_positions(df: Any) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """``df`` as a long frame ordered by series (first appearance) and ``ds``, with each row's
    position in its series and its series' length."""
    frame = frame_of(df)
    if not {"unique_id", "y"} <= set(frame.columns):
        raise DataError(f"cross_validation needs columns unique_id, ds and y; found {list(frame.columns)}")
    order = frame.groupby("unique_id", sort=False, dropna=False).ngroup()
    frame = frame.assign(_order=order).sort_values(["_order", "ds"], kind="stable").reset_index(drop=True)
    groups = frame.groupby("_order", sort=False)
    position, size = groups.cumcount(), groups["ds"].transform("size")
    return frame.drop(columns="_order"), position, size


def cutoffs(
    frame: pd.DataFrame, position: pd.Series, size: pd.Series, horizon: int, n_windows: int, step: int
) -> Iterator[Cutoff]:
    """The ``n_windows`` cutoffs of ``series_positions``' frame, earliest first; ``DataError`` at
    a cutoff that leaves no series any history."""
    for k in range(n_windows):
        back = horizon + step * (n_windows - 1 - k)
        cut = size - 1 - back  # each series' last history row
        history = frame[position <= cut]
        if history.empty:
            raise DataError(
                f"no series has more than {back} rows, so cutoff {k} leaves no history; "
                "use fewer n_windows or a smaller step"
            )
        actual = frame[(position > cut) & (position <= cut + horizon)]
        yield Cutoff(index=k, back=back, history=history, actual=actual)


def join_actuals(
    forecast: pd.DataFrame,
    history: pd.DataFrame,
    actual: pd.DataFrame,
    series_key: Callable[[Any], str],
) -> pd.DataFrame:
    """``forecast`` with ``cutoff`` (each series' last history stamp) and the actual ``y``."""
    as_ds = _ds_converter(forecast["ds"])
    cutoffs = history.groupby("unique_id", sort=False, dropna=False)["ds"].last()
    cutoff_of = {series_key(uid): ds for uid, ds in cutoffs.items()}
    keys = forecast["unique_id"].map(series_key)
    values = actual.assign(_key=actual["unique_id"].map(series_key), ds=as_ds(actual["ds"]))
    values = values.drop_duplicates(["_key", "ds"], keep="last").set_index(["_key", "ds"])["y"]
    out = forecast.reset_index(drop=True)
    out.insert(2, "cutoff", as_ds(keys.map(cutoff_of)).to_numpy())
    lookup = pd.MultiIndex.from_arrays([keys.to_numpy(), out["ds"].to_numpy()])
    out.insert(3, "y", values.reindex(lookup).to_numpy(dtype=float))
    return out


def _ds_converter(target: pd.Series) -> Callable[[pd.Series], pd.Series]:
    """Convert time stamps of the input to the forecast's ``ds`` type, so that they compare."""
    if pd.api.types.is_datetime64_any_dtype(target):
        dtype = target.dtype

        def convert(values: pd.Series) -> pd.Series:
            return pd.to_datetime(pd.Series(values)).astype(dtype)

        return convert
    return lambda values: pd.Series(values)


class CrossValidating:
    """``cross_validation`` of ``Foretune`` (see the module docstring for the cutoffs), mixed into
    ``commands.estimator.Foretune``: it reads the estimator's ``config``, ``horizon``,
    ``columns``, ``verbosity``, ``num_cpus``, ``run_dir`` and ``out`` and fits fresh estimators
    of its own class (``_blank``, ``fit``)."""

    def cross_validation(
        self,
        df: Data,
        n_windows: int = 3,
        step_size: int | None = None,
        refit: bool | int = False,
        *,
        step: int | None = None,
        static_df: Data = None,
        level: Sequence[float] | None = None,
        format: str = "native",
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> pd.DataFrame:
        """Forecast ``n_windows`` past cutoffs of every series and join the actuals.

        The last cutoff lies ``horizon`` rows before each series' end and each earlier one
        ``step_size`` (alias ``step``; default ``horizon``) rows before the next; a series with
        nothing before a cutoff sits it out. ``refit=False`` (the default) costs **one fit**:
        a sweep and an ensemble on the histories before the first cutoff, whose members then
        forecast from every cutoff (the statistical members are fit on each history, as in
        ``predict``). ``refit=True`` fits anew at every cutoff (**one fit per cutoff**: the
        members learn from all data before each), and ``refit=k`` at every k-th. The fits go
        under ``<run>/cv/cutoff-<k>`` (``<run>``: ``run_dir`` after a fit, else ``out`` or a
        new default directory), replacing those of an earlier call; ``self`` is not refit.
        Future-known covariates of each horizon are read from ``df``; ``static_df`` goes to
        each fit.

        Returns one long frame, like neuralforecast's: ``unique_id, ds, cutoff, y`` (the actual,
        NaN where the data has none; the user's column names), then the forecast's columns as
        ``predict`` gives them in ``format`` and ``level``, cutoffs in time order.
        """
        from foretune.ensemble.nixtla import keep_levels, to_nixtla

        names = self.columns.or_these(id_col, time_col, target_col)
        n_windows, step_size = check_windows(n_windows, step_of(step_size, step, self.horizon))
        every = refit_every(refit)
        frame, position, size = series_positions(names.inward(df))
        val = self.config.data.val_windows
        check_cutoffs(
            int(size.max()) if len(size) else 0,
            self.horizon,
            n_windows,
            step_size,
            val if val != "auto" else 1,
        )
        root = self._cv_root()
        static = names.inward(static_df, time=False, target=False)
        fold: Any = None
        pieces = []
        for cutoff in cutoffs(frame, position, size, self.horizon, n_windows, step_size):
            if fold is None or fits_at(cutoff.index, every):
                fold = self._cv_fit(cutoff, n_windows, root, static)
            pieces.append(self._cv_forecast(fold, cutoff, frame))
        cv = pd.concat(pieces, ignore_index=True)
        cv = to_nixtla(cv, level=level) if format == "nixtla" else keep_levels(cv, level)
        return names.outward(cv)

    def _cv_fit(self, cutoff: Cutoff, n_windows: int, root: Path, static_df: Any) -> Any:
        """A fit on the cutoff's history under ``root/cutoff-<k>``."""
        if self.verbosity != console.QUIET:
            print(
                f"foretune: cross-validation: fitting at cutoff {cutoff.index + 1}/{n_windows} on "
                f"{cutoff.history['unique_id'].nunique(dropna=False)} series, {cutoff.back} rows held back",
                flush=True,
            )
        fold = type(self).__new__(type(self))
        fold._blank(self.config, root / f"cutoff-{cutoff.index}", self.num_cpus, self.verbosity)
        return fold.fit(cutoff.history, static_df=static_df)

    def _cv_forecast(self, fold: Any, cutoff: Cutoff, frame: pd.DataFrame) -> pd.DataFrame:
        """``fold``'s forecast from the cutoff's history (its known covariates read from
        ``frame``), with the actuals joined."""
        from foretune.data import series_key

        futr = frame if fold.ensemble.input_spec.future else None  # the horizon's known covariates
        with console.verbosity(self.verbosity):
            forecast = fold.ensemble.predict(cutoff.history, horizon=self.horizon, futr_df=futr)
        return join_actuals(forecast, cutoff.history, cutoff.actual, series_key)

    def _cv_root(self) -> Path:
        """``<run>/cv``, emptied of an earlier call's fits; ``ConfigError`` when it holds
        anything else."""
        if self.run_dir is not None:
            base = self.run_dir
        elif self.out is not None:
            base = self.out
        else:
            base = self._default_run_dir()
        root = base / CV_DIR
        if root.is_file() or (root.is_dir() and any(not _FOLD.fullmatch(p.name) for p in root.iterdir())):
            raise ConfigError(
                f"{root} holds files besides cross-validation fits (cutoff-<k>); move them or give "
                "another out="
            )
        if root.exists():
            shutil.rmtree(root)
        self.cv_dir = root
        return root
