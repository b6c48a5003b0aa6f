"""Evaluation: metrics, baselines, the rolling-origin backtest and the HTML report.

Modules: ``metrics`` (metric functions, the bottom of the flow), ``baselines`` (naive, seasonal
naive, statsforecast), ``forecasters`` (what a backtest evaluates, incl. an ensemble and its
members), ``backtest`` (origins -> forecasts -> scores), ``report`` and ``plots`` (the HTML
report and its figures). Import from the submodules, e.g. ``from foretune.metrics
import mase``; this package module imports nothing so that ``metrics`` stays cheap to load.
"""
