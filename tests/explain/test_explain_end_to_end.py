"""End to end on a real (tiny) ensemble: 2-trial sweep -> ensemble -> ``explain_command``,
``explain_ensemble`` and ``foretune explain``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from foretune.commands.explain import default_out_dir, explain_command
from foretune.data import builtin_dataset_path
from foretune.ensemble import Ensemble
from foretune.explain import explain_ensemble, feature_names

HORIZON = 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture(scope="module")
def artifact(tiny_ensemble_run):
    return tiny_ensemble_run[1]  # horizon HORIZON, shared with the pipeline and evaluate tests


def test_explain_command_writes_everything_next_to_the_model(artifact, capsys):
    history = pd.read_parquet(builtin_dataset_path())
    ex = explain_command(model=artifact, data=builtin_dataset_path(), step=2)
    out = default_out_dir(artifact)
    assert out == artifact.resolve().parent / "explain"
    assert "written to" in capsys.readouterr().out
    frame = pd.read_parquet(out / "attributions.parquet")
    assert list(frame.columns) == ["unique_id", "member", "step", "lag", "feature", "attribution"]
    ensemble = Ensemble.load(artifact)
    n_series = history["unique_id"].nunique()
    assert frame["unique_id"].nunique() == n_series and (frame["step"] == 2).all()
    names = feature_names(ensemble.covariates)
    assert names[-1] == "mask"
    assert set(frame["feature"]) == set(names)
    longest = max(m.window for m in ensemble.members)
    ens = frame[frame.member == "ensemble"]
    assert len(ens) == n_series * longest * len(names)
    assert set(frame["member"]) == {"ensemble", *ensemble.weights}
    assert np.isfinite(frame["attribution"]).all() and frame["attribution"].abs().sum() > 0
    for uid in history["unique_id"].unique():
        assert (out / f"heatmap_{uid}.png").read_bytes()[:8] == PNG_SIGNATURE
    assert (out / "feature_importance.png").read_bytes()[:8] == PNG_SIGNATURE
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == str(artifact.resolve()) and summary["step"] == 2
    check = summary["completeness"]
    assert check["max_relative_error"] == pytest.approx(ex.completeness["relative_error"].max())
    # real trained members: completeness within 5% wherever the forecast moves from the
    # baseline by more than 0.05 standard deviations
    c = ex.completeness
    moved = (c["output"] - c["baseline_output"]).abs()
    assert (c["converged"] | ((moved < 0.05) & (c["delta"].abs() <= 0.005))).all(), c
    assert (c.loc[c["converged"], "relative_error"] <= 0.05).all()


def test_ensemble_explain_direction_with_mean_baseline_for_some_series(artifact):
    ensemble = Ensemble.load(artifact)
    history = pd.read_parquet(builtin_dataset_path())
    ids = sorted(history["unique_id"].unique())[:2]
    ex = explain_ensemble(
        ensemble,
        history,
        series=ids,
        step=HORIZON,
        target="direction",
        baseline="mean",
        direction_class="predicted",
    )
    assert sorted(ex.attributions["unique_id"].unique()) == ids
    assert set(ex.completeness["target"]) <= {"p_down", "p_flat", "p_up"}
    # the mean baseline removes each feature's level: per member, attributions of a window
    # sum (over lags and features) to f(x) - f(mean baseline)
    members = ex.completeness[ex.completeness.member != "ensemble"]
    np.testing.assert_allclose(
        members["attribution_sum"] - (members["output"] - members["baseline_output"]),
        members["delta"],
        atol=1e-6,
    )
    probs = ex.completeness["output"]
    assert ((probs >= 0) & (probs <= 1)).all()


def test_cli_explain_subcommand(artifact, tmp_path):
    from foretune.cli import main

    out = tmp_path / "cli-explain"
    history = pd.read_parquet(builtin_dataset_path())
    uid = sorted(history["unique_id"].unique())[0]
    code = main(
        [
            "explain",
            "--model",
            str(artifact),
            "--data",
            str(builtin_dataset_path()),
            "--series",
            uid,
            "--step",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    frame = pd.read_parquet(out / "attributions.parquet")
    assert set(frame["unique_id"]) == {uid}
    assert (out / f"heatmap_{uid}.png").is_file()
    # a user error (step beyond the horizon) is one line and exit code 2
    bad = main(
        [
            "explain",
            "--model",
            str(artifact),
            "--data",
            str(builtin_dataset_path()),
            "--step",
            str(HORIZON + 1),
            "--out",
            str(out),
        ]
    )
    assert bad == 2
