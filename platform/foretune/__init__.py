"""foretune: search, train and ensemble deep-learning forecasters for time series on Ray.

``Foretune(horizon=12).fit(df)`` trains from Python and returns the estimator, which chains:
``.predict()``, ``.plot(df)``, ``.evaluate(df_with_future)``, ``.leaderboard()``, ``.explain(df)``,
``.save(path)`` / ``Foretune.load(path)``, ``.cross_validation(df)``;
``from foretune import Ensemble; Ensemble.load(path).predict(frame)`` serves a saved ensemble;
``plot_forecast(forecast, history)`` draws a fan chart (a matplotlib ``Figure``).
"""

__version__ = "0.1.0"

__all__ = ["Ensemble", "Foretune", "__version__", "plot_forecast"]


def __getattr__(name: str):
    # Lazy so that `import foretune` (e.g. for the CLI's --help) does not import torch.
    if name == "Ensemble":
        from foretune.ensemble import Ensemble

        return Ensemble
    if name == "Foretune":
        from foretune.commands.estimator import Foretune

        return Foretune
    if name == "plot_forecast":
        from foretune.ensemble.fan_chart import fan_chart

        return fan_chart
    raise AttributeError(name)
