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
applied last and win, as on the command line (``config.experiment_config``). How the data gets
into the run directory is ``estimator_io``'s; the cutoffs of ``cross_validation`` are those of the
module of that name.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from foretune import arguments, console
from foretune.config import ExperimentConfig, experiment_config
from foretune.data.checks import check_cutoffs
from foretune.errors import ConfigError
from foretune.rundir import RunDir, check_run_dir, clear_run_outputs

from .cross_validation import CV_DIR, Cutoff, check_windows, cutoffs, join_actuals, series_positions
from .estimator_io import STATIC_FILE, is_ray_dataset, local_dir, stage_data, stage_static, unused

if TYPE_CHECKING:
    from foretune.ensemble import Ensemble

__all__ = ["Foretune"]


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
        self.out = local_dir(out) if out is not None else None
        self.overwrite = bool(overwrite)
        self.num_cpus = None if num_cpus is None else arguments.count(num_cpus, "num_cpus")
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
        data = stage_data(df, run_dir)
        config = self.config.model_copy(deep=True)
        config.data.path, config.out = data, str(run_dir)
        if static_df is not None:
            config.data.static_path = stage_static(static_df, run_dir)
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

    def _default_run_dir(self) -> Path:
        """A new ``runs/<name>-<time>`` directory, named as ``foretune run`` names it."""
        from foretune.commands.run import default_run_dir

        return unused(local_dir(default_run_dir(self.config.model_copy(update={"out": None}))))

    def _new_run_dir(self) -> Path:
        if self.out is None:
            return self._default_run_dir()
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
        of ``y`` (see ``Ensemble.predict``). ``samples``: MC-dropout draws per member (default:
        the build's, ``ensemble.samples``).
        """
        if self.ensemble_ is None:
            raise ConfigError("this Foretune has not been fit: call ft.fit(df) before ft.predict()")
        arguments.samples(samples)
        data = self._data if df is None else df
        if is_ray_dataset(data):
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
        n_windows, step = check_windows(n_windows, step if step is not None else self.horizon)
        frame, position, size = series_positions(df)
        val = self.config.data.val_windows
        check_cutoffs(
            int(size.max()) if len(size) else 0, self.horizon, n_windows, step, val if val != "auto" else 1
        )
        root = self._cv_root()
        if root.exists():
            shutil.rmtree(root)
        pieces = [
            self._cv_fold(cutoff, n_windows, frame, root, static_df)
            for cutoff in cutoffs(frame, position, size, self.horizon, n_windows, step)
        ]
        return pd.concat(pieces, ignore_index=True)

    def _cv_fold(
        self, cutoff: Cutoff, n_windows: int, frame: pd.DataFrame, root: Path, static_df: Any
    ) -> pd.DataFrame:
        """Fit on the cutoff's history under ``root/cutoff-<k>``, forecast its horizon (its known
        covariates read from ``frame``) and join the actuals."""
        from foretune.data import series_key

        if self.verbosity != console.QUIET:
            print(
                f"foretune: cross-validation cutoff {cutoff.index + 1}/{n_windows}: fitting on "
                f"{cutoff.history['unique_id'].nunique(dropna=False)} series, {cutoff.back} rows held back",
                flush=True,
            )
        fold = Foretune._from_config(
            self.config, root / f"cutoff-{cutoff.index}", self.num_cpus, self.verbosity
        )
        fold.fit(cutoff.history, static_df=static_df)
        futr = frame if fold.ensemble_.input_spec.future else None  # the horizon's known covariates
        with console.verbosity(self.verbosity):
            forecast = fold.ensemble_.predict(cutoff.history, horizon=self.horizon, futr_df=futr)
        return join_actuals(forecast, cutoff.history, cutoff.actual, series_key)

    def _cv_root(self) -> Path:
        if self.run_dir is not None:
            base = self.run_dir
        elif self.out is not None:
            base = self.out
        else:
            base = self._default_run_dir()
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
