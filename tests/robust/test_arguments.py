"""One rule per argument (``foretune.arguments``): the same value gets the same answer through the
command line, ``Foretune``, ``Ensemble`` and ``commands.predict``."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_artifact import builtin_history, save_tiny_artifact, tiny_ensemble

from foretune import Foretune, arguments
from foretune.cli import main
from foretune.commands.predict import predict
from foretune.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), (np.int64(3), 3), (3.0, 3), (None, None)],
)
def test_samples_accepts_integers_of_any_kind(value, expected):
    assert arguments.samples(value) == expected


@pytest.mark.parametrize("value", [0, -2, 1.5, True, "3", float("inf"), float("nan"), [3]])
def test_samples_refuses_everything_else_naming_it(value):
    with pytest.raises(ConfigError, match=r"^samples must be an integer >= 1, got "):
        arguments.samples(value)


def test_horizon_defaults_to_the_most_and_names_the_range():
    assert arguments.horizon(None, 6) == 6 and arguments.horizon(2, 6) == 2
    with pytest.raises(ConfigError, match="horizon=7 is not available: this ensemble was trained for 1..6"):
        arguments.horizon(7, 6)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_artifact(tmp_path_factory.mktemp("model") / "ensemble", architectures=("mlp",))


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("-1", -1), ("2.5", 2.5), ("many", "many")])
def test_samples_gets_the_same_message_wherever_it_enters(text, value, model, tmp_path, capsys):
    history = builtin_history()
    path = tmp_path / "hist.parquet"
    history.to_parquet(path, index=False)
    with pytest.raises(SystemExit) as exit:  # argparse refuses the flag
        main(["predict", "--model", str(model), "--data", str(path), "--samples", text])
    assert exit.value.code == 2
    cli = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--samples must be an integer >= 1, got " in cli, cli
    ensemble = tiny_ensemble(architectures=("mlp",))
    fitted = Foretune()
    fitted.ensemble, fitted._data = ensemble, history  # as after fit(history)
    messages = set()
    for call in (
        lambda: ensemble.predict(history, samples=value),
        lambda: fitted.predict(samples=value),
        lambda: predict(model, path, samples=value),
    ):
        with pytest.raises(ConfigError) as raised:
            call()
        messages.add(str(raised.value))
    assert messages == {f"samples must be an integer >= 1, got {value!r}"}
    assert list(tmp_path.iterdir()) == [path]  # refused before anything was written
