"""``Foretune``: one estimator to fit, forecast, plot, evaluate, explain, save and cross-validate.

    from foretune import Foretune

    ft = Foretune(horizon=12, models=["lstm", "tcn"], trials=16, futr_exog=["promo"]).fit(df)
    forecast = ft.predict(futr_df=future)             # unique_id, ds, mean, q05, q50, q95, ...
    ft.plot(df, futr_df=future)                       # history and fan chart (a Figure)
    ft.evaluate(df_with_future)                       # the backtest table, out of sample
    ft.leaderboard(); ft.leaderboard(members=True)    # the trials; the members and weights
    ft.explain(df, futr_df=future)                    # integrated-gradients attributions
    ft.save("model"); ft = Foretune.load("model")     # a directory, local or s3://, gs://
    cv = ft.cross_validation(df, n_windows=3)         # one fit, forecasts from every cutoff

A fit is exactly ``foretune run``: the frame is written to ``RUN/input.parquet`` and the run goes
through ``commands.run.sweep`` and ``commands.run.ensemble`` (the backtest report only with
``fit(df, report=True)``), so ``ft.run_dir`` is an ordinary run directory that ``foretune
predict/evaluate/explain`` and ``Ensemble.load(ft.run_dir / "ensemble")`` read; ``ft.ensemble``
is the fitted ``Ensemble``. Ray starts embedded as for ``foretune run``, or joins the cluster
``RAY_ADDRESS`` names.

``config`` is a YAML path (like ``--config``) or a mapping of dotted keys applied on top of the
quickstart config (like ``--set``); ``horizon``, ``models``, ``trials``, ``seed``, ``out``,
``futr_exog`` and ``hist_exog`` are applied last and win, as on the command line
(``config.experiment_config``). How the data gets into the run directory and how the user's
column names map to foretune's is ``estimator_io``'s; saving is ``estimator_store``'s; the
backtest, members and future dates are ``estimator_eval``'s (imported when used, so ``import
foretune`` stays light); the cutoffs of ``cross_validation`` are those of the module of that name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from foretune import arguments, console
from foretune.config import ExperimentConfig, experiment_config
from foretune.errors import ConfigError, DataError
from foretune.rundir import RunDir, check_run_dir, clear_run_outputs

from .cross_validation import CV_DIR, CrossValidating
from .estimator_io import (
    STATIC_FILE,
    Columns,
    Data,
    is_ray_dataset,
    local_dir,
    stage_data,
    stage_static,
    unused,
)
from .estimator_reports import Reports

__all__ = ["Foretune"]


class Foretune(Reports, CrossValidating):
    """Search, train and ensemble forecasters for a panel of series; forecast, evaluate, explain.

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
    futr_exog : list of str, optional
        Columns of the data known ahead (prices, promotions, holidays): ``predict`` then needs
        their values over the horizon (``futr_df``) (``data.future_covariates``).
    hist_exog : list of str, optional
        Columns known only up to the forecast origin (``data.covariates``; default: every other
        numeric column). Static attributes come as ``fit(df, static_df=...)``.
    overwrite : bool
        Replace an earlier run in ``out`` (what it wrote is removed first).
    num_cpus : int, optional
        CPUs of the embedded Ray instance (ignored on a cluster).
    verbosity : {"normal", "quiet", "verbose"}
        What ``fit`` and ``cross_validation`` print (``foretune.console``): progress lines and
        bars and a heartbeat every 30 s; nothing but errors; or also Ray Tune's reporter.

    After ``fit``: ``ensemble`` (the fitted ``foretune.Ensemble``) and ``run_dir``. A bad
    setting raises ``ConfigError`` here, before anything runs.
    """

    def __init__(
        self,
        horizon: int = 12,
        models: Sequence[str] | str | None = None,
        trials: int | None = None,
        config: str | Path | Mapping[str, Any] | None = None,
        seed: int = 0,
        out: str | Path | None = None,
        *,
        futr_exog: Sequence[str] | None = None,
        hist_exog: Sequence[str] | None = None,
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
            "data.future_covariates": list(futr_exog) if futr_exog is not None else None,
            "data.covariates": list(hist_exog) if hist_exog is not None else None,
        }
        config = experiment_config(config, {k: v for k, v in given.items() if v is not None})
        self._blank(config, local_dir(out) if out is not None else None, num_cpus, verbosity)
        self.overwrite = bool(overwrite)

    def __repr__(self) -> str:
        return console.summary_text("Foretune", self._summary())

    def _repr_html_(self) -> str:
        return console.summary_html("Foretune", self._summary())

    def _summary(self) -> list[tuple[str, str]]:
        """What the notebook view shows: the settings, then the fitted ensemble and where it lives."""
        rows = [
            ("models", ", ".join(self.config.models)),
            ("trials", str(self.config.search.trials)),
            ("seed", str(self.config.seed)),
        ]
        if self.ensemble is None:
            return [("horizon", str(self.horizon)), *rows, ("state", "not fit: call .fit(df)")]
        from foretune.ensemble.model import summary_rows

        where = self.saved_at or (str(self.run_dir) if self.run_dir is not None else "in memory")
        return [*summary_rows(self.ensemble), *rows, ("lives in", where)]

    # -- fit -----------------------------------------------------------------------------------
    def fit(
        self,
        df: Data,
        static_df: Data = None,
        *,
        id_col: str = "unique_id",
        time_col: str = "ds",
        target_col: str = "y",
        report: bool = False,
    ) -> Foretune:
        """Sweep, then build the ensemble, on ``df``; return this estimator (``ft.ensemble``).

        ``df``: a long DataFrame (``unique_id, ds, y`` or the columns ``id_col``, ``time_col``,
        ``target_col`` name, plus numeric covariates; wide frames with ``ds`` and one column per
        series work too), a Parquet file or directory, a CSV file, or a Ray Dataset. A frame (or
        CSV, or Ray Dataset, or data with other column names) is written to
        ``RUN/input.parquet`` first; a Parquet path is read in place. The column names stay the
        default of ``predict``, ``plot``, ``evaluate`` and ``cross_validation`` and name their
        output's columns. ``report=True`` runs ``foretune run``'s protocol: the last
        ``evaluate.windows`` x horizon steps are held out of the sweep and the ensemble, the
        report under ``RUN/report`` scores them, and (``evaluate.refit_full``) the ensemble is
        refit on all the data; with ``report=False`` nothing is held out. Ctrl+C stops the
        sweep's trials (resume with ``foretune run --resume RUN``) and raises
        ``KeyboardInterrupt``.

        Covariates: ``df``'s past ones (``hist_exog``) and future-known ones (``futr_exog``,
        also in ``df`` for its history); ``static_df`` (the id column plus numeric columns, a
        frame or a path) gives each series' static attributes (``RUN/static.parquet``).
        """
        from foretune.commands import run as commands
        from foretune.ensemble import Ensemble

        self.columns = Columns(id_col, time_col, target_col)
        run_dir = self._new_run_dir()
        self.run_dir, self.ensemble, self._ends, self._board = run_dir, None, None, None
        data = stage_data(self.columns.inward(df), run_dir)
        config = self.config.model_copy(deep=True)
        config.data.path, config.out = data, str(run_dir)
        if static_df is not None:
            config.data.static_path = stage_static(
                self.columns.inward(static_df, time=False, target=False), run_dir
            )
        if not report:  # nothing to score: the models may learn from every observation
            config.evaluate.windows = 0
        with console.verbosity(self.verbosity), commands.timed(run_dir):
            commands.sweep(config, run_dir, num_cpus=self.num_cpus)  # Ctrl+C: KeyboardInterrupt
            artifact = commands.ensemble(run_dir, config)
            if report:
                artifact = commands.report_and_serve(config, run_dir, artifact)
        self.ensemble = Ensemble.load(artifact)
        self._data = data
        return self

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

    def _default_run_dir(self) -> Path:
        """A new ``runs/<name>-<time>`` directory, named as ``foretune run`` names it."""
        from foretune.commands.run import default_run_dir

        return unused(local_dir(default_run_dir(self.config.model_copy(update={"out": None}))))

    # -- forecasts -----------------------------------------------------------------------------
    def predict(
        self,
        df: Data = None,
        *,
        futr_df: Data = None,
        static_df: Data = None,
        horizon: int | None = None,
        samples: int | None = None,
        level: Sequence[float] | None = None,
        format: str = "native",
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> pd.DataFrame:
        """Forecast every series of ``df`` (default: the data ``fit`` was given) ``horizon`` steps.

        ``futr_df``: the future-known covariates for each series' next ``horizon`` dates (needed
        with ``futr_exog``; ``make_future_dataframe`` gives the dates, ``get_missing_future``
        what is missing); ``static_df``: static attributes of series the fit did not see.

        ``format="native"`` returns ``unique_id, ds, mean, q05, q50, q95`` (with the config's
        other quantiles and every calibrated level's bounds), ``p_down, p_flat, p_up, std_mc,
        fallback`` in the units of ``y`` (see ``Ensemble.predict``); ``format="nixtla"``
        returns ``unique_id, ds, foretune, foretune-lo-90, foretune-hi-90, ...``, which
        utilsforecast's ``evaluate`` and ``plot_series`` read as they read a neuralforecast
        forecast. ``level`` (percent, e.g. ``[90]``) keeps only those calibrated intervals.
        ``samples``: MC-dropout draws per member (default: the build's). The id and time
        columns are named as in ``fit`` (or by ``id_col``, ``time_col``, ``target_col``).
        """
        from foretune.ensemble.nixtla import keep_levels, to_nixtla

        ensemble = self._fitted("predict")
        arguments.samples(samples)  # one rule: foretune.arguments
        names = self.columns.or_these(id_col, time_col, target_col)
        data = self._history(df, names)
        with console.verbosity(self.verbosity):
            forecast = ensemble.predict(
                data,
                horizon=horizon,
                samples=samples,
                futr_df=names.inward(futr_df, target=False),
                static_df=names.inward(static_df, time=False, target=False),
                format="native" if format == "nixtla" else format,
            )
        forecast = to_nixtla(forecast, level=level) if format == "nixtla" else keep_levels(forecast, level)
        return names.outward(forecast)

    def plot(
        self,
        df: Data = None,
        *,
        futr_df: Data = None,
        static_df: Data = None,
        series: Sequence[Any] | None = None,
        horizon: int | None = None,
        samples: int | None = None,
        history_factor: int = 4,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> Any:
        """Forecast ``series`` of ``df`` (default: the fit's data; its first six series) and draw
        each one's recent history, mean, median and shaded calibrated intervals; covariates as
        for ``predict``. Returns a matplotlib ``Figure`` (a notebook shows it)."""
        ensemble = self._fitted("plot")
        names = self.columns.or_these(id_col, time_col, target_col)
        data = self._history(df, names)
        with console.verbosity(self.verbosity):
            return ensemble.plot(
                data,
                series=series,
                horizon=horizon,
                samples=samples,
                history_factor=history_factor,
                futr_df=names.inward(futr_df, target=False),
                static_df=names.inward(static_df, time=False, target=False),
            )

    def make_future_dataframe(self, df: Data = None) -> pd.DataFrame:
        """The id and time columns of the next ``horizon`` dates of every series of ``df``
        (default: the fit's data), as ``predict`` dates them: fill in the future-known
        covariates and pass it as ``futr_df``."""
        from .estimator_eval import future_frame

        ensemble = self._fitted("make_future_dataframe")
        return self.columns.outward(future_frame(ensemble, self._history(df, self.columns), self.horizon))

    def get_missing_future(self, futr_df: Data, df: Data = None) -> pd.DataFrame:
        """The rows of ``make_future_dataframe(df)`` that ``futr_df`` lacks (empty: complete)."""
        from .estimator_eval import future_frame, missing_future

        ensemble = self._fitted("get_missing_future")
        expected = future_frame(ensemble, self._history(df, self.columns), self.horizon)
        missing = missing_future(expected, self.columns.inward(futr_df, target=False))
        return self.columns.outward(missing)

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path, *, save_dataset: bool = True) -> Any:
        """Write this fitted estimator to the directory ``path`` (local, or a URI such as
        ``s3://bucket/models/m1``), replacing an earlier save there; ``Foretune.load(path)``
        reads it back and forecasts the same. ``save_dataset``: keep the fit's data, so that
        ``predict()`` and ``make_future_dataframe()`` need none (as neuralforecast's).
        Returns where it was written."""
        from foretune.data import read_frame

        from .estimator_store import Saved, write_saved

        ensemble = self._fitted("save")
        history = read_frame(self._data) if save_dataset and self._data is not None else None
        board = None
        try:
            board = self.leaderboard()
        except ConfigError:
            pass
        settings = {"config": self.config.to_dict(), "columns": self.columns.to_dict()}
        return write_saved(path, Saved(settings, ensemble, history, self._fit_ends(), board))

    @classmethod
    def load(cls, path: str | Path, *, verbosity: str = "normal") -> Foretune:
        """A ``Foretune`` saved with ``save(path)`` (local or a URI), ready to predict."""
        from .estimator_store import read_saved

        saved = read_saved(path)
        ft = cls.__new__(cls)
        ft._blank(ExperimentConfig.from_dict(saved.settings["config"]), None, None, verbosity)
        ft.columns = Columns(**saved.settings.get("columns", {}))
        ft.ensemble, ft._data, ft._ends, ft._board = (
            saved.ensemble,
            saved.history,
            saved.ends,
            saved.leaderboard,
        )
        ft.saved_at = str(path)
        return ft

    # -- internals -----------------------------------------------------------------------------
    def _blank(
        self, config: ExperimentConfig, out: Path | None, num_cpus: int | None, verbosity: str
    ) -> None:
        """Set every attribute of an unfitted estimator of ``config`` writing to ``out``."""
        self.config = config.model_copy(update={"out": str(out)} if out else {}, deep=True)
        self.horizon: int = config.data.horizon
        self.out, self.overwrite, self.verbosity = out, True, verbosity
        self.num_cpus = None if num_cpus is None else arguments.count(num_cpus, "num_cpus")
        self.columns = Columns()
        self.run_dir: Path | None = None
        self.ensemble: Any = None  # the fitted foretune.Ensemble
        self.cv_dir: Path | None = None
        self.saved_at: str | None = None  # where Foretune.load read it from
        self._data: Any = None  # the fit's data: data.path, or the frame a load read
        self._ends: pd.DataFrame | None = None  # each series' last fit time stamp
        self._board: pd.DataFrame | None = None  # the trials, once read

    def _fitted(self, what: str) -> Any:
        if self.ensemble is None:
            raise ConfigError(f"this Foretune has not been fit: call ft.fit(df) before ft.{what}()")
        return self.ensemble

    def _history(self, df: Data, names: Columns) -> Any:
        """``df`` in foretune's columns, or the fit's data when None."""
        if df is None:
            if self._data is None:
                raise DataError("pass the series' history: this Foretune was saved without its data")
            return self._data
        data = names.inward(df)
        return data.to_pandas() if is_ray_dataset(data) else data

    def _fit_ends(self) -> pd.DataFrame:
        """Each series' last time stamp in the fit's data (``estimator_eval.fit_ends``)."""
        from .estimator_eval import fit_ends

        if self._ends is None:
            self._ends = fit_ends(self._data)
        return self._ends
