"""Evaluation: baselines, the rolling-origin backtest and the HTML report.

Modules: ``baselines`` (naive, seasonal naive, statsforecast), ``forecasters`` (the protocol a
backtest evaluates, and adapters to it), ``backtest`` (origins -> forecasts -> scores, from
``origins``, ``forecast_frames``, ``scores`` and ``summary``), ``report`` (the HTML report, from
``report_sections``, ``report_tables``, ``report_series`` and ``report_html``) and ``plots``
(its figures). Import from the submodules, e.g. ``from foretune.evaluate.backtest import
backtest``; this package module imports nothing.
"""
