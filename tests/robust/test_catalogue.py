"""The bad-input catalogue: what a new user hands foretune by mistake, and the refusal each gets.

Every case runs through the command line in process (``foretune.cli.main``) and/or the Python API
(``Foretune``, ``Ensemble``, ``commands.predict``), and must:

- refuse with a ``ForetuneError`` (exit status 2 and one ``foretune: error:`` line, or argparse's
  usage error for a malformed flag), whose message contains the case's ``message``: a regression
  in any message fails here;
- leave every file of the workspace (``workspace.Workspace``: the user's data, models, runs and
  earlier outputs) byte for byte as it was, and write nothing at all from the command line;
- refuse before Ray starts (``ray.init`` fails the test if anything calls it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from workspace import BAD_FRAMES, BAD_MODELS, Workspace

from foretune import Foretune
from foretune.cli import main
from foretune.commands.predict import predict
from foretune.ensemble import Ensemble
from foretune.errors import ForetuneError

SECRET = "AKIAQWERTYUIOPASDFGH:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@dataclass(frozen=True)
class Case:
    """One bad input: ``cli`` arguments and/or an ``api`` call, and what the refusal must say.

    ``{ws}`` in ``cli`` is the workspace, ``{fresh}`` the test's own empty directory (also the
    current directory); ``api(ws, fresh)`` makes the same mistake in Python. ``api_message``
    replaces ``message`` for the API where the flag's spelling differs."""

    name: str
    message: str
    cli: tuple[str, ...] | None = None
    api: Callable[[Workspace, Path], Any] | None = None
    api_message: str | None = None


def _predict(data: str, *flags: str) -> tuple[str, ...]:
    return ("predict", "--model", "{ws}/model", "--data", data, *flags)


def _run(data: str, *flags: str) -> tuple[str, ...]:
    return ("run", "--data", data, "--out", "{fresh}/run", "--models", "mlp", "--trials", "1", *flags)


def _fit(config: dict | None = None, frame: str | None = None, **kwargs: Any) -> Callable:
    def call(ws: Workspace, fresh: Path) -> Any:
        settings = {"out": fresh / "fit", "models": ["mlp"], "trials": 1, "config": config, **kwargs}
        data = ws.frames[frame] if frame else pd.read_parquet(ws.path("hist.parquet"))
        return Foretune(**settings).fit(data)

    return call


# -- data: the same frame through `foretune predict` and Ensemble.predict --------------------------
PREDICTED = {
    "no_y": "required column(s) ['y'] missing",
    "no_ds": "column 'ds' (the time stamp) is missing",
    "no_unique_id": "required column(s) ['unique_id'] missing",
    "no_rows": "the data is empty: it has the columns",
    "no_columns": "the data is empty (no columns, no rows)",
    "null_id": "column 'unique_id' is empty (null) in row 5",
    "duplicate_stamp": "has duplicate time stamp",
    "text_y": "column 'y' must be numeric",
    "bool_y": "column 'y' must be numeric",
    "inf_y": "column 'y' is infinite in row 7",
    "huge_y": "beyond +/-1e+150",
    "null_ds": "column 'ds' is empty (null) in row 9",
    "text_ds": "cannot read 'not a date' as a date",
    "fractional_ds": "not integer time steps",
    "bool_ds": "found booleans",
    "day_first_dates": "holds day-first dates",
    "missing_stamp": "1 gap(s) at frequency 'QS-OCT'",
    "nan_inside": "1 NaN value(s) of y",
    "all_nan_series": "series 'cpi' has no observation",
    "irregular": "is irregularly spaced",
    "wide_text_column": "not numbers: 'color' (object)",
    "wide_only_ds": "wide data needs at least one series column",
}
assert set(PREDICTED) <= set(BAD_FRAMES)


def _predict_frame(name: str) -> Callable:
    return lambda ws, fresh: ws.ensemble.predict(ws.frames[name])


CASES = [
    Case(
        f"data_{name}",
        message,
        _predict("{ws}/data/" + name + (".csv" if name == "bool_ds" else ".parquet")),
        _predict_frame(name),
    )
    for name, message in PREDICTED.items()
]

# -- data through a run: covariates, frequencies, the values a run checks ----------------------------
CASES += [
    Case(
        "run_huge_covariate",
        "column 'promo' has a value 1e+200",
        _run("{ws}/data/huge_covariate.parquet"),
        _fit(frame="huge_covariate"),
    ),
    Case(
        "run_text_covariate_declared",
        "covariate column 'color' must be numeric",
        _run("{ws}/data/text_covariate.parquet", "--set", "data.covariates=[color]"),
        _fit({"data.covariates": ["color"]}, frame="text_covariate"),
    ),
    Case(
        "run_missing_covariate",
        "column(s) ['nope'] not in the data",
        _run("{ws}/hist.parquet", "--set", "data.covariates=[nope]"),
        _fit({"data.covariates": ["nope"]}),
    ),
    Case(
        "run_covariate_declared_twice",
        "are in both data.covariates and data.future_covariates",
        _run(
            "{ws}/data/huge_covariate.parquet",
            "--set",
            "data.covariates=[promo]",
            "--set",
            "data.future_covariates=[promo]",
        ),
        _fit({"data.covariates": ["promo"], "data.future_covariates": ["promo"]}, frame="huge_covariate"),
    ),
    Case(
        "run_daily_freq_on_quarterly_data",
        "wrong frequency or date format, not gaps; its time stamps follow frequency 'QS-OCT'",
        _run("{ws}/quarterly.parquet", "--freq", "D"),
        _fit({"data.freq": "D"}, frame="quarterly_one"),
    ),
    Case(
        "run_daily_freq_filled",
        "wrong frequency or date format",
        _run("{ws}/quarterly.parquet", "--freq", "D", "--fill", "ffill"),
        _fit({"data.freq": "D", "data.fill": "ffill"}, frame="quarterly_one"),
    ),
    Case(
        "run_freq_not_an_alias",
        "data.freq='xyz' is not a pandas frequency alias",
        _run("{ws}/hist.parquet", "--freq", "xyz"),
        _fit({"data.freq": "xyz"}),
    ),
    Case(
        "run_integer_freq_on_dates",
        "is an integer step but ds holds dates",
        _run("{ws}/hist.parquet", "--freq", "5"),
        _fit({"data.freq": 5}),
    ),
    Case(
        "run_day_first_dates",
        "holds day-first dates",
        _run("{ws}/data/day_first_dates.parquet"),
        _fit(frame="day_first_dates"),
    ),
    Case("run_no_rows", "the data is empty", _run("{ws}/data/no_rows.parquet"), _fit(frame="no_rows")),
    Case(
        "run_wide_text_column",
        "not numbers: 'color'",
        _run("{ws}/data/wide_text_column.parquet"),
        _fit(frame="wide_text_column"),
    ),
    Case(
        "run_no_ds",
        "column 'ds' (the time stamp) is missing",
        _run("{ws}/data/no_ds.parquet"),
        _fit(frame="no_ds"),
    ),
    Case("run_missing_data_file", "does not exist", _run("{ws}/nope.parquet")),
    Case("run_broken_parquet", "cannot read", _run("{ws}/broken.parquet")),
    Case(
        "run_unknown_architecture",
        "unknown architecture(s) ['nosuch']",
        ("run", "--data", "{ws}/hist.parquet", "--out", "{fresh}/run", "--models", "nosuch"),
        lambda ws, fresh: Foretune(models=["nosuch"], out=fresh / "fit").fit(ws.path("hist.parquet")),
    ),
]

# -- the saved ensemble: `foretune predict --model` and Ensemble.load ----------------------------------
MODELS = {
    "tampered_member": "does not match its checksum",
    "manifest_not_json": "is not valid JSON",
    "manifest_other_format": "is not a foretune ensemble artifact",
    "future_version": "upgrade foretune to load it",
    "no_manifest": "is not a foretune ensemble (no manifest.json)",
    "interrupted_save": "a save was interrupted while replacing it",
}
assert set(MODELS) == set(BAD_MODELS)
CASES += [
    Case(
        f"model_{name}",
        message,
        ("predict", "--model", "{ws}/bad_models/" + name, "--data", "{ws}/hist.parquet"),
        lambda ws, fresh, name=name: Ensemble.load(ws.path("bad_models", name)),
    )
    for name, message in MODELS.items()
]
CASES += [
    Case(
        "model_is_the_run_directory",
        "is a run directory, not an ensemble; its ensemble is",
        ("predict", "--model", "{ws}/run", "--data", "{ws}/hist.parquet"),
        lambda ws, fresh: Ensemble.load(ws.path("run")),
    ),
    Case(
        "model_missing",
        "does not exist",
        ("predict", "--model", "{ws}/nothing", "--data", "{ws}/hist.parquet"),
        lambda ws, fresh: Ensemble.load(ws.path("nothing")),
    ),
    Case(
        "model_is_a_file",
        "is not a foretune ensemble",
        ("predict", "--model", "{ws}/afile", "--data", "{ws}/hist.parquet"),
        lambda ws, fresh: Ensemble.load(ws.path("afile")),
    ),
    Case(
        "ensemble_of_a_directory_without_sweep",
        "leaderboard.parquet not found; run `foretune sweep` first",
        ("ensemble", "--run", "{ws}/nonempty"),
    ),
]

# -- arguments: one rule wherever they enter (foretune.arguments, the config) ------------------------
HIST = "{ws}/hist.parquet"
CASES += [
    Case(
        "samples_zero",
        "must be an integer >= 1, got 0",
        _predict(HIST, "--samples", "0"),
        lambda ws, fresh: ws.ensemble.predict(ws.frames["quarterly_one"], samples=0),
    ),
    Case(
        "samples_text",
        "must be an integer >= 1, got 'abc'",
        _predict(HIST, "--samples", "abc"),
        lambda ws, fresh: ws.ensemble.predict(ws.frames["quarterly_one"], samples="abc"),
    ),
    Case(
        "samples_fraction",
        "must be an integer >= 1, got",
        _predict(HIST, "--samples", "1.5"),
        lambda ws, fresh: predict(ws.path("model"), ws.path("hist.parquet"), samples=1.5),
    ),
    Case(
        "samples_bool",
        "samples must be an integer >= 1, got True",
        None,
        lambda ws, fresh: ws.ensemble.predict(ws.frames["quarterly_one"], samples=True),
    ),
    Case(
        "horizon_zero",
        "must be an integer >= 1, got 0",
        _predict(HIST, "--horizon", "0"),
        lambda ws, fresh: ws.ensemble.predict(ws.frames["quarterly_one"], horizon=0),
    ),
    Case(
        "horizon_beyond_training",
        "horizon=9 is not available: this ensemble was trained for 1..4 steps",
        _predict(HIST, "--horizon", "9"),
        lambda ws, fresh: ws.ensemble.predict(ws.frames["quarterly_one"], horizon=9),
        api_message="horizon=9 is not available",
    ),
    Case(
        "seed_negative",
        "seed must be an integer >= 0, got -1",
        None,
        lambda ws, fresh: ws.ensemble.predict(ws.frames["quarterly_one"], seed=-1),
    ),
    Case(
        "sample_columns_negative",
        "sample_columns must be an integer >= 0, got -1",
        None,
        lambda ws, fresh: ws.ensemble.predict(ws.frames["quarterly_one"], sample_columns=-1),
    ),
    Case(
        "unknown_format",
        "format='xml' is not known",
        None,
        lambda ws, fresh: ws.ensemble.predict(ws.frames["quarterly_one"], format="xml"),
    ),
    Case(
        "num_cpus_zero",
        "num-cpus must be an integer >= 1, got 0",
        ("run", "--num-cpus", "0"),
        lambda ws, fresh: Foretune(num_cpus=0),
        api_message="num_cpus must be an integer >= 1, got 0",
    ),
    Case(
        "verbosity_unknown",
        "verbosity must be one of",
        None,
        lambda ws, fresh: Foretune(verbosity="loud"),
    ),
    Case(
        "trials_zero",
        "search.trials=0: Input should be greater than or equal to 1",
        ("run", "--trials", "0", "--out", "{fresh}/run"),
        lambda ws, fresh: Foretune(trials=0),
    ),
    Case(
        "run_horizon_zero",
        "data.horizon=0: Input should be greater than or equal to 1",
        ("run", "--horizon", "0", "--out", "{fresh}/run"),
        lambda ws, fresh: Foretune(horizon=0),
    ),
    Case(
        "fill_unknown",
        "invalid choice: 'bogus'",
        ("run", "--fill", "bogus"),
        lambda ws, fresh: Foretune(config={"data.fill": "bogus"}),
        api_message="data.fill='bogus'",
    ),
    Case(
        "unknown_setting",
        "unknown setting",
        ("run", "--set", "data.bogus=1", "--out", "{fresh}/run"),
        lambda ws, fresh: Foretune(config={"data.bogus": 1}),
    ),
    Case(
        "config_file_missing",
        "does not exist",
        ("run", "--config", "{ws}/nope.yaml", "--out", "{fresh}/run"),
        lambda ws, fresh: Foretune(config=ws.path("nope.yaml")),
    ),
    Case(
        "evaluate_windows_zero",
        "--windows must be an integer >= 1, got 0",
        ("evaluate", "--model", "{ws}/model", "--data", HIST, "--windows", "0"),
    ),
    Case(
        "explain_step_zero",
        "--step must be an integer >= 1, got 0",
        ("explain", "--model", "{ws}/model", "--data", HIST, "--step", "0"),
    ),
    Case(
        "cv_windows_do_not_fit",
        "n_windows=14 does not fit",
        None,
        lambda ws, fresh: Foretune(horizon=4, out=fresh / "cv").cross_validation(
            ws.frames["quarterly_one"].tail(24), n_windows=14
        ),
    ),
    Case(
        "cv_windows_largest_named",
        "the largest n_windows that fits is 3",
        None,
        lambda ws, fresh: Foretune(horizon=4, out=fresh / "cv").cross_validation(
            ws.frames["quarterly_one"].tail(24), n_windows=4
        ),
    ),
    Case(
        "cv_windows_zero",
        "n_windows must be >= 1",
        None,
        lambda ws, fresh: Foretune(horizon=4).cross_validation(ws.frames["quarterly_one"], n_windows=0),
    ),
]

# -- outputs: never over an input, never an existing file silently, the format by the suffix ---------
CASES += [
    Case(
        "out_is_the_data",
        "is the --data input",
        _predict(HIST, "--out", "{ws}/hist.parquet"),
        lambda ws, fresh: predict(ws.path("model"), ws.path("hist.parquet"), out=ws.path("hist.parquet")),
    ),
    Case(
        "out_is_the_data_even_with_overwrite",
        "is the --data input",
        _predict(HIST, "--out", "{ws}/hist.parquet", "--overwrite"),
        lambda ws, fresh: predict(
            ws.path("model"), ws.path("hist.parquet"), out=ws.path("hist.parquet"), overwrite=True
        ),
    ),
    Case(
        "out_is_the_csv_data",
        "is the --data input",
        _predict("{ws}/hist.csv", "--out", "{ws}/hist.csv", "--overwrite"),
        lambda ws, fresh: predict(
            ws.path("model"), ws.path("hist.csv"), out=ws.path("hist.csv"), overwrite=True
        ),
    ),
    Case(
        "out_is_a_hard_link_to_the_data",
        "is the --data input",
        _predict(HIST, "--out", "{ws}/hist-link.parquet", "--overwrite"),
        lambda ws, fresh: predict(
            ws.path("model"), ws.path("hist.parquet"), out=ws.path("hist-link.parquet"), overwrite=True
        ),
    ),
    Case(
        "out_inside_the_model",
        "is the --model input",
        _predict(HIST, "--out", "{ws}/model/forecast.parquet"),
        lambda ws, fresh: predict(
            ws.path("model"), ws.path("hist.parquet"), out=ws.path("model", "f.parquet")
        ),
    ),
    Case(
        "out_exists",
        "already exists; pass --overwrite",
        _predict(HIST, "--out", "{ws}/existing.parquet"),
        lambda ws, fresh: predict(ws.path("model"), ws.path("hist.parquet"), out=ws.path("existing.parquet")),
    ),
    Case(
        "out_unknown_suffix",
        "the output's format follows its suffix; give a path ending in .parquet or .csv",
        _predict(HIST, "--out", "{fresh}/forecast.txt"),
        lambda ws, fresh: predict(ws.path("model"), ws.path("hist.parquet"), out=fresh / "forecast.txt"),
    ),
    Case(
        "out_without_suffix",
        "format follows its suffix",
        _predict(HIST, "--out", "{fresh}/forecast"),
        lambda ws, fresh: predict(ws.path("model"), ws.path("hist.parquet"), out=fresh / "forecast"),
    ),
    Case(
        "out_is_a_directory",
        "is a directory; give the output's file path",
        _predict(HIST, "--out", "{ws}/adir.parquet"),
        lambda ws, fresh: predict(ws.path("model"), ws.path("hist.parquet"), out=ws.path("adir.parquet")),
    ),
    Case(
        "out_under_a_file",
        "cannot be written",
        _predict(HIST, "--out", "{ws}/afile/forecast.parquet"),
        lambda ws, fresh: predict(
            ws.path("model"), ws.path("hist.parquet"), out=ws.path("afile", "f.parquet")
        ),
    ),
    Case(
        "run_out_not_empty",
        "is not empty (it holds notes.txt)",
        ("run", "--data", HIST, "--out", "{ws}/nonempty"),
        lambda ws, fresh: Foretune(out=ws.path("nonempty")).fit(ws.path("hist.parquet")),
    ),
    Case(
        "run_overwrite_without_a_run",
        "there is nothing to overwrite",
        ("run", "--data", HIST, "--out", "{ws}/nonempty", "--overwrite"),
        lambda ws, fresh: Foretune(out=ws.path("nonempty"), overwrite=True).fit(ws.path("hist.parquet")),
    ),
    Case(
        "run_out_under_a_file",
        "is a file",
        ("run", "--data", HIST, "--out", "{ws}/afile/run"),
        lambda ws, fresh: Foretune(out=ws.path("afile", "run")).fit(ws.path("hist.parquet")),
    ),
    Case("resume_without_a_run", "has no config.json", ("run", "--resume", "{ws}/nonempty")),
]

# -- locations: credentials refused and redacted, unknown schemes named ---------------------------------
CASES += [
    Case(
        "out_uri_with_keys",
        "--out s3://***@my-bucket/runs/x holds credentials",
        ("run", "--out", f"s3://{SECRET}@my-bucket/runs/x"),
        lambda ws, fresh: Foretune(out=f"s3://{SECRET}@my-bucket/runs/x"),
        api_message="s3://***@my-bucket/runs/x holds credentials",
    ),
    Case(
        "data_uri_with_query_keys",
        "secret_key=*** holds credentials in its query",
        _predict("s3://my-bucket/h.parquet?access_key=AKIAQWERTY&secret_key=wJalrXUtn/FEMI"),
        lambda ws, fresh: ws.ensemble.predict(
            "s3://my-bucket/h.parquet?access_key=AKIAQWERTY&secret_key=wJalrXUtn/FEMI"
        ),
    ),
    Case(
        "model_uri_with_key",
        "s3://***@my-bucket/run/ensemble holds credentials",
        ("predict", "--model", "s3://AKIAQWERTY@my-bucket/run/ensemble", "--data", HIST),
        lambda ws, fresh: Ensemble.load("s3://AKIAQWERTY@my-bucket/run/ensemble"),
    ),
    Case(
        "s3_uri_with_settings_query",
        "has a query; foretune takes S3 settings from the environment",
        _predict("s3://my-bucket/h.parquet?region=us-east-1"),
        lambda ws, fresh: ws.ensemble.predict("s3://my-bucket/h.parquet?region=us-east-1"),
    ),
    Case(
        "unknown_scheme",
        "cannot open nosuch://bucket/h.parquet",
        _predict("nosuch://bucket/h.parquet"),
        lambda ws, fresh: ws.ensemble.predict("nosuch://bucket/h.parquet"),
    ),
    Case(
        "estimator_out_on_object_storage",
        "Foretune writes its run directory locally",
        None,
        lambda ws, fresh: Foretune(out="s3://my-bucket/runs/x"),
    ),
]

# -- the Python API's own mistakes ---------------------------------------------------------------------
CASES += [
    Case(
        "predict_before_fit",
        "this Foretune has not been fit",
        None,
        lambda ws, fresh: Foretune().predict(),
    ),
    Case(
        "fit_a_number",
        "the data must be a pandas DataFrame",
        None,
        lambda ws, fresh: Foretune(out=fresh / "fit").fit(123),
    ),
    Case(
        "static_without_ids",
        "static_df needs a unique_id column",
        None,
        lambda ws, fresh: Foretune(out=fresh / "fit", models=["mlp"], trials=1).fit(
            ws.path("hist.parquet"), static_df=pd.DataFrame({"size": [1.0]})
        ),
    ),
    Case(
        "missing_data_path",
        "does not exist",
        None,
        lambda ws, fresh: Foretune(out=fresh / "fit").fit(ws.path("nope.parquet")),
    ),
]
CASES = [c for c in CASES if c.cli or c.api]


def test_the_catalogue_is_large_and_names_are_unique():
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    workspace = Workspace.build(tmp_path_factory.mktemp("workspace"))
    (workspace.root / "adir.parquet").mkdir()
    return workspace


@pytest.fixture(autouse=True)
def no_ray(monkeypatch):
    """A refusal comes before Ray: starting it fails the test."""
    import ray

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started for an input that should be refused first")

    monkeypatch.setattr(ray, "init", refuse)


@pytest.mark.parametrize("case", [c for c in CASES if c.cli], ids=lambda c: c.name)
def test_the_command_line_refuses_with_its_message(case, ws, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = ws.snapshot()
    argv = [a.format(ws=ws.root, fresh=tmp_path) for a in case.cli]
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse: a malformed flag
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert case.message in lines[0], err
    assert ws.snapshot() == before, "a refusal changed the workspace"
    assert list(tmp_path.iterdir()) == [], "a refusal wrote files"


@pytest.mark.parametrize("case", [c for c in CASES if c.api], ids=lambda c: c.name)
def test_the_python_api_refuses_with_its_message(case, ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = ws.snapshot()
    with pytest.raises(ForetuneError) as raised:
        case.api(ws, tmp_path)
    assert (case.api_message or case.message) in str(raised.value)
    assert "\n" not in str(raised.value), "a refusal is one line"
    assert ws.snapshot() == before, "a refusal changed the workspace"
