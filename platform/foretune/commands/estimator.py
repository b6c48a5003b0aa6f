"""``Foretune``: train, forecast and cross-validate from Python, in the style of the field.

    from foretune import Foretune

    ft = Foretune(horizon=12, models=["lstm", "tcn"], trials=16, config={"train.max_epochs": 20})
    ens = ft.fit(df)                          # long frame: unique_id, ds, y [, covariates]
    forecast = ft.predict()                   # the next 12 steps of every series of df
    cv = ft.cross_validation(df, n_windows=3) # unique_id, ds, cutoff, y, mean, q05, q50, q95, ...

A fit is exactly ``foretune run``: the frame is written to ``RUN/input.parquet`` and the run goes
through ``commands.run.sweep`` and ``commands.run.ensemble`` (the backtest report only with
``fit(df, report=True)``), so ``ft.run_dir`` is an ordinary run directory that ``foretune
predict/evaluate/explain`` and ``Ensemble.load(ft.run_dir / "ensemble")`` read. Ray starts
embedded as for ``foretune run``, or joins the cluster ``RAY_ADDRESS`` names.

``config`` is a YAML path (like ``--config``) or a mapping of dotted keys applied on top of the
quickstart config (like ``--set``); ``horizon``, ``models``, ``trials``, ``seed`` and ``out`` are
applied last and win, as on the command line (``config.experiment_config``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from foretune import console
from foretune.config import ExperimentConfig, experiment_config
from foretune.data.io import is_csv
from foretune.errors import ConfigError, DataError
from foretune.rundir import RunDir, check_run_dir, clear_run_outputs

if TYPE_CHECKING:
    from foretune.ensemble import Ensemble

__all__ = ["Foretune"]
CV_DIR = "cv"  # cross-validation runs, one per cutoff
STATIC_FILE = "static.parquet"  # fit(static_df=frame) writes it in the run directory


def _local(location: str | Path) -> Path:
    """An absolute local run directory; the estimator does not write to object storage (the CLI
    and ``jobs/`` do)."""
    if "://" in str(location):
        raise ConfigError(
            f"Foretune writes its run directory locally, not to {location}; give out= a local "
            "directory (or unset FORETUNE_RUNS), or run `foretune run --out "
            f"{location}` for a run directory on object storage"
        )
    return Path(location).resolve()


def _unused(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``, ... when it exists (two fits within one second)."""
    candidate, n = path, 2
    while candidate.exists():
        candidate, n = path.with_name(f"{path.name}-{n}"), n + 1
    return candidate


# -- data --------------------------------------------------------------------------------------
def _is_ray_dataset(data: Any) -> bool:
    return type(data).__module__.startswith("ray.data") and hasattr(data, "write_parquet")


def _frame_of(data: Any) -> pd.DataFrame:
    """A long frame of a DataFrame, a Parquet/CSV path or a Ray Dataset."""
    from foretune.data import read_frame

    if _is_ray_dataset(data):
        return read_frame(data.to_pandas())
    if isinstance(data, (pd.DataFrame, str, Path)):
        return read_frame(data)
    raise DataError(
        "the data must be a pandas DataFrame (unique_id, ds, y), a Parquet or CSV path or a Ray "
        f"Dataset, not {type(data).__name__}"
    )


# -- the estimator -----------------------------------------------------------------------------
class Foretune:
    """Search, train and ensemble forecasters for a panel of series; forecast and cross-validate.

    Parameters
    ----------
    horizon : int
        Steps to forecast (``data.horizon``).
    models : list of str, optional
        Architectures to search (``foretune.models.ARCHITECTURES``); default: the config's.
    trials : int, optional
        Trials of the sweep (``search.trials``); default: the config's.
    config : str, Path or dict, optional
        A YAML file, or dotted keys on top of the quickstart config, e.g.
        ``{"train.max_epochs": 5, "search.windows": [8]}``.
    seed : int
        Seeds the splits, initialisation, search and sampling.
    out : str or Path, optional
        The run directory; default ``runs/<name>-<time>`` under the current directory, as for
        ``foretune run``. It must be new or empty unless ``overwrite``.
    overwrite : bool
        Replace an earlier run in ``out`` (what it wrote is removed first).
    num_cpus : int, optional
        CPUs of the embedded Ray instance (ignored on a cluster).
    verbosity : {"normal", "quiet", "verbose"}
        What ``fit`` and ``cross_validation`` print (``foretune.console``): progress lines, a
        heartbeat every 30 s and progress bars; nothing but errors; or also Ray Tune's reporter.

    After ``fit``: ``run_dir`` (the run directory) and ``ensemble_`` (the fitted ``Ensemble``).
    A bad setting raises ``ConfigError`` here, before anything runs.
    """

    def __init__(
        self,
        horizon: int = 12,
        models: list[str] | None = None,
        trials: int | None = None,
        config: str | Path | Mapping[str, Any] | None = None,
        seed: int = 0,
        out: str | Path | None = None,
        *,
        overwrite: bool = False,
        num_cpus: int | None = None,
        verbosity: str = "normal",
    ) -> None:
        if verbosity not in console.LEVELS:
            raise ConfigError(f"verbosity must be one of {', '.join(console.LEVELS)}, got {verbosity!r}")
        if isinstance(models, str):
            models = [m.strip() for m in models.split(",") if m.strip()]
        given = {
            "data.horizon": horizon,
            "models": list(models) if models is not None else None,
            "search.trials": trials,
            "seed": seed,
            "out": str(out) if out is not None else None,
        }
        self.config = experiment_config(config, {k: v for k, v in given.items() if v is not None})
        self.horizon = self.config.data.horizon
        self.out = _local(out) if out is not None else None
        self.overwrite = bool(overwrite)
        self.num_cpus = num_cpus
        self.verbosity = verbosity
        self.run_dir: Path | None = None
        self.ensemble_: Ensemble | None = None
        self.cv_dir: Path | None = None
        self._data: Any = None

    def __repr__(self) -> str:
        state = f", run_dir={str(self.run_dir)!r}" if self.ensemble_ is not None else ""
        return (
            f"Foretune(horizon={self.horizon}, models={self.config.models}, "
            f"trials={self.config.search.trials}, seed={self.config.seed}{state})"
        )

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, df: Any, report: bool = False, *, static_df: Any = None) -> Ensemble:
        """Sweep, then build the ensemble, on ``df``; return the ``Ensemble``.

        ``df``: a long DataFrame (``unique_id, ds, y`` plus numeric covariates; wide frames with
        ``ds`` and one column per series work too), a Parquet file or directory, a CSV file, or a
        Ray Dataset. A frame (or CSV, or Ray Dataset) is written to ``RUN/input.parquet`` first;
        a Parquet path is read in place. ``report=True`` runs ``foretune run``'s protocol: the
        last ``evaluate.windows`` x horizon steps are held out of the sweep and the ensemble, the
        report under ``RUN/report`` scores them, and (``evaluate.refit_full``) the returned
        ensemble is refit on all the data; with ``report=False`` nothing is held out. Ctrl+C stops
        the sweep's trials (the run can be resumed with ``foretune run --resume RUN``) and raises
        ``KeyboardInterrupt``.

        Covariates: ``df``'s past ones (``data.covariates``) and future-known ones
        (``data.future_covariates``, also in ``df`` for its history); ``static_df``
        (``unique_id`` plus numeric columns, a frame or a path) gives each series' static
        attributes (written to ``RUN/static.parquet`` as ``data.static_path``).
        """
        from foretune.commands import run as commands
        from foretune.ensemble import Ensemble

        run_dir = self._new_run_dir()
        self.run_dir, self.ensemble_ = run_dir, None
        data = self._stage(df, run_dir)
        config = self.config.model_copy(deep=True)
        config.data.path, config.out = data, str(run_dir)
        if static_df is not None:
            config.data.static_path = self._stage_static(static_df, run_dir)
        if not report:  # nothing to score: the models may learn from every observation
            config.evaluate.windows = 0
        with console.verbosity(self.verbosity), commands.timed(run_dir):
            commands.sweep(config, run_dir, num_cpus=self.num_cpus)  # Ctrl+C: KeyboardInterrupt
            artifact = commands.ensemble(run_dir, config)
            if report:
                artifact = commands.report_and_serve(config, run_dir, artifact)
        self.ensemble_ = Ensemble.load(artifact)
        self._data = data
        return self.ensemble_

    def _new_run_dir(self) -> Path:
        from foretune.commands.run import default_run_dir

        if self.out is None:
            return _unused(_local(default_run_dir(self.config.model_copy(update={"out": None}))))
        check_run_dir(
            self.out,
            overwrite=self.overwrite,
            hint="or pass overwrite=True to replace the run in it",
            label="out",
            ignore=(CV_DIR, RunDir(self.out).input.name, STATIC_FILE),
        )
        if self.out.is_dir():
            clear_run_outputs(self.out)
        return self.out

    @staticmethod
    def _stage(df: Any, run_dir: Path) -> str:
        """``data.path`` for ``df``: a Parquet path as it is, anything else as ``RUN/input.parquet``."""
        target = RunDir(run_dir).input
        if isinstance(df, (str, Path)) and "://" in str(df):
            return str(df)  # a URI (s3://, gs://) every node can read
        if isinstance(df, (str, Path)) and not is_csv(str(df)):
            if not Path(df).exists():
                raise DataError(f"data path {df} does not exist")
            return str(Path(df).resolve())
        run_dir.mkdir(parents=True, exist_ok=True)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)  # an earlier fit's Ray Dataset
        elif target.exists() or target.is_symlink():
            target.unlink()
        if _is_ray_dataset(df):
            df.write_parquet(str(target))
            return str(target)
        frame = _frame_of(df)
        try:
            frame.to_parquet(target, index=False)
        except (TypeError, ValueError, NotImplementedError) as exc:  # a column pyarrow cannot store
            raise DataError(f"cannot write the data as Parquet ({target}): {exc}") from None
        return str(target)

    @staticmethod
    def _stage_static(static_df: Any, run_dir: Path) -> str:
        """``data.static_path`` for ``static_df``: a path as it is, a frame as ``RUN/static.parquet``."""
        if isinstance(static_df, (str, Path)):
            return str(static_df)
        if not isinstance(static_df, pd.DataFrame):
            raise DataError(f"static_df must be a DataFrame or a path, not {type(static_df).__name__}")
        target = run_dir / STATIC_FILE
        run_dir.mkdir(parents=True, exist_ok=True)
        static_df.to_parquet(target, index=False)
        return str(target)

    # -- predict -------------------------------------------------------------------------------
    def predict(
        self,
        df: Any = None,
        horizon: int | None = None,
        samples: int | None = None,
        *,
        futr_df: Any = None,
        static_df: Any = None,
    ) -> pd.DataFrame:
        """Forecast every series of ``df`` (default: the data ``fit`` was given) ``horizon`` steps.

        ``futr_df``: the future-known covariates for each series' next ``horizon`` dates (needed
        when the run has ``data.future_covariates``); ``static_df``: static attributes of series
        the run did not see (see ``Ensemble.predict``).

        Returns ``unique_id, ds, mean, q05, q50, q95`` (with the config's other quantiles and
        every calibrated level's bounds), ``p_down, p_flat, p_up, std_mc, fallback`` in the units
        of ``y``
        (see ``Ensemble.predict``). ``samples``: MC-dropout draws per member (default: the
        build's, ``ensemble.samples``).
        """
        if self.ensemble_ is None:
            raise ConfigError("this Foretune has not been fit: call ft.fit(df) before ft.predict()")
        if samples is not None and int(samples) < 1:
            raise ConfigError(f"samples must be >= 1, got {samples}")
        data = self._data if df is None else df
        if _is_ray_dataset(data):
            data = data.to_pandas()
        with console.verbosity(self.verbosity):
            return self.ensemble_.predict(
                data, horizon=horizon, samples=samples, futr_df=futr_df, static_df=static_df
            )

    # -- cross-validation ----------------------------------------------------------------------
    def cross_validation(
        self, df: Any, n_windows: int = 3, step: int | None = None, *, static_df: Any = None
    ) -> pd.DataFrame:
        """Forecast ``n_windows`` past cutoffs of every series, each from a fit on its history.

        The last cutoff lies ``horizon`` rows before each series' end and each earlier one
        ``step`` (default ``horizon``) rows before the next. For every cutoff each series is cut
        there (a series with nothing left before a cutoff sits that cutoff out), a whole
        ``fit`` runs on the histories (a sweep and an ensemble: **each cutoff costs one fit**,
        so keep ``trials`` and epochs small), and the next ``horizon`` steps are forecast.
        The runs go under ``<run>/cv/cutoff-<k>`` (``k`` = 0 for the earliest; ``<run>`` is
        ``run_dir`` after a fit, else ``out`` or a new default directory), replacing those of
        an earlier call. ``self`` is not refit. Future-known covariates of each cutoff's horizon
        are read from ``df``; ``static_df`` is passed to each fit.

        Returns one long frame, like neuralforecast's: ``unique_id, ds, cutoff, y`` (the actual
        value, NaN where the data has none), then the forecast's columns (``mean, q05, q50,
        q95, ..., p_down, p_flat, p_up, std_mc, fallback``), cutoffs in time order.
        """
        from foretune.data import series_key

        n_windows, step = int(n_windows), int(step if step is not None else self.horizon)
        if n_windows < 1:
            raise ConfigError(f"n_windows must be >= 1, got {n_windows}")
        if step < 1:
            raise ConfigError(f"step must be >= 1, got {step}")
        frame = _frame_of(df)
        if not {"unique_id", "y"} <= set(frame.columns):
            raise DataError(
                f"cross_validation needs columns unique_id, ds and y; found {list(frame.columns)}"
            )
        order = frame.groupby("unique_id", sort=False, dropna=False).ngroup()
        frame = frame.assign(_order=order).sort_values(["_order", "ds"], kind="stable").reset_index(drop=True)
        groups = frame.groupby("_order", sort=False)
        position, size = groups.cumcount(), groups["ds"].transform("size")
        frame = frame.drop(columns="_order")
        root = self._cv_root()
        if root.exists():
            shutil.rmtree(root)
        pieces = []
        for k in range(n_windows):
            back = self.horizon + step * (n_windows - 1 - k)
            cut = size - 1 - back  # each series' last history row
            history = frame[position <= cut]
            if history.empty:
                raise DataError(
                    f"no series has more than {back} rows, so cutoff {k} leaves no history; "
                    "use fewer n_windows or a smaller step"
                )
            actual = frame[(position > cut) & (position <= cut + self.horizon)]
            if self.verbosity != console.QUIET:
                print(
                    f"foretune: cross-validation cutoff {k + 1}/{n_windows}: fitting on "
                    f"{history['unique_id'].nunique(dropna=False)} series, {back} rows held back",
                    flush=True,
                )
            fold = Foretune._from_config(self.config, root / f"cutoff-{k}", self.num_cpus, self.verbosity)
            fold.fit(history, static_df=static_df)
            futr = frame if fold.ensemble_.input_spec.future else None  # the horizon's known covariates
            with console.verbosity(self.verbosity):
                forecast = fold.ensemble_.predict(history, horizon=self.horizon, futr_df=futr)
            pieces.append(_join_actuals(forecast, history, actual, series_key))
        return pd.concat(pieces, ignore_index=True)

    def _cv_root(self) -> Path:
        from foretune.commands.run import default_run_dir

        if self.run_dir is not None:
            base = self.run_dir
        elif self.out is not None:
            base = self.out
        else:
            base = _unused(_local(default_run_dir(self.config.model_copy(update={"out": None}))))
        check_run_dir(base / CV_DIR, overwrite=True, hint="")
        self.cv_dir = base / CV_DIR
        return self.cv_dir

    @classmethod
    def _from_config(
        cls, config: ExperimentConfig, out: Path, num_cpus: int | None, verbosity: str
    ) -> Foretune:
        fold = cls.__new__(cls)
        fold.config = config.model_copy(update={"out": str(out)}, deep=True)
        fold.horizon = config.data.horizon
        fold.out, fold.overwrite, fold.num_cpus, fold.verbosity = out, True, num_cpus, verbosity
        fold.run_dir, fold.ensemble_, fold.cv_dir, fold._data = None, None, None, None
        return fold


def _join_actuals(
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
