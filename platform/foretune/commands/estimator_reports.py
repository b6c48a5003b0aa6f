"""``Foretune``'s reports on a fit: ``evaluate`` (the out-of-sample backtest table),
``leaderboard`` (the trials, or the members and weights) and ``explain`` (attributions).

``Reports`` is mixed into ``commands.estimator.Foretune``: it reads the estimator's ``ensemble``,
``columns``, ``verbosity`` and ``run_dir`` and its ``_fitted``, ``_history`` and ``_fit_ends``;
the work itself is ``estimator_eval``'s and ``foretune.explain``'s, imported when used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from foretune import console
from foretune.errors import ConfigError
from foretune.rundir import RunDir

from .estimator_io import Data

__all__ = ["Reports"]


class Reports:
    """``evaluate``, ``leaderboard`` and ``explain`` of a fitted ``Foretune`` (module doc)."""

    def evaluate(
        self,
        df: Data,
        metrics: Sequence[str] | None = None,
        *,
        members: bool = True,
        samples: int | None = None,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> pd.DataFrame:
        """Score the forecasts of ``df``'s steps after the data the fit was given: the backtest
        table of ``foretune evaluate`` (one row per model: the ensemble, its uncalibrated view,
        each member alone with ``members``, naive, seasonal naive, AutoETS, AutoTheta; the mean
        over series of MASE, sMAPE, CRPS, MAE, RMSE, quantile loss, coverage and width per
        level, direction accuracy and log-loss), out of sample by construction.

        ``df`` holds each series' history and its actuals after the fit (e.g. train and test
        together); those later steps are cut into windows of the horizon, each forecast from
        everything before it (``estimator_eval.backtest_after_fit``). ``metrics`` picks columns
        (names as in the table). Future-known covariates are read from ``df``.
        """
        from .estimator_eval import backtest_after_fit

        ensemble = self._fitted("evaluate")
        names = self.columns.or_these(id_col, time_col, target_col)
        with console.verbosity(self.verbosity):
            result = backtest_after_fit(
                ensemble, names.inward(df), self._fit_ends(), members=members, samples=samples
            )
        table = result.summary
        if metrics is None:
            return table
        unknown = [m for m in metrics if m not in table.columns]
        if unknown:
            offered = ", ".join(c for c in table.columns if c != "model")
            raise ConfigError(f"metrics {unknown} are not in the table; choose among {offered}")
        return table[["model", *metrics]]

    def leaderboard(self, members: bool = False) -> pd.DataFrame:
        """The sweep's trials, best first (id, architecture, hyperparameters, validation scores,
        train seconds, status, checkpoint), or with ``members=True`` the ensemble's members
        (``member, architecture, window, weight, trial_id, statistical``)."""
        from .estimator_eval import members_table

        ensemble = self._fitted("leaderboard")
        if members:
            return members_table(ensemble)
        if self._board is None:
            board = RunDir(self.run_dir).leaderboard if self.run_dir is not None else None
            if board is None or not board.is_file():
                raise ConfigError("this Foretune has no leaderboard: it was saved without its run")
            self._board = pd.read_parquet(board)
        return self._board

    def explain(
        self,
        df: Data = None,
        *,
        futr_df: Data = None,
        static_df: Data = None,
        series: Sequence[Any] | None = None,
        step: int = 1,
        target: str = "forecast",
        **settings: Any,
    ) -> Any:
        """Integrated-gradients attributions of the forecast at ``step`` (``target``
        ``"forecast"`` or ``"direction"``) to every input lag and feature of each series of
        ``df`` (default: the fit's data), per member and for the weighted ensemble; other
        ``foretune.explain.IGSettings`` fields as keywords. The baseline keeps the padding mask
        and calendar phases at their actual values. Returns a ``foretune.explain.Explanation``
        (``.attributions``, ``.matrix(series)``, ``.save(dir)``); needs captum."""
        from foretune.explain import explain_ensemble

        ensemble = self._fitted("explain")
        return explain_ensemble(
            ensemble,
            self._history(df, self.columns),
            series=list(series) if series is not None else None,
            futr_df=self.columns.inward(futr_df, target=False),
            static_df=self.columns.inward(static_df, time=False, target=False),
            step=step,
            target=target,
            **settings,
        )
