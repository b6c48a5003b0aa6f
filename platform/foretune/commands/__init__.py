"""The user-facing commands: the top layer, which calls down the flow and is called by nothing.

Each command is one function that the CLI (``foretune <command>``), ``jobs/*.py`` and Python
callers share:

    run.run / run.sweep / run.ensemble   sweep -> leaderboard -> ensemble artifact -> report
    predict.predict                      forecast with a saved ensemble
    evaluate.evaluate_command            rolling-origin backtest against baselines + report
    evaluate.run_report                  the backtest report of a finished run
    explain.explain_command              integrated-gradients attributions of an ensemble
    bench.run_bench                      seconds per training epoch of every architecture
    estimator.Foretune                   the same from Python: fit(df), predict, cross_validation

Import the submodule you need (``from foretune.commands.run import run``): importing this
package imports nothing heavy.
"""
