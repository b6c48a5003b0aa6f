"""Helpers shared by test modules (importable: pyproject puts tests/ on the path)."""

from __future__ import annotations

from typing import Any

from foretune.config import ExperimentConfig

TINY = {
    "seed": 0,
    "models": ["mlp", "lstm"],
    # one validation and one test window (not auto): the tests' window counts stay fixed
    "data": {"horizon": 4, "val_windows": 1, "test_windows": 1},
    "train": {"max_epochs": 4, "patience": 3},
    "search": {"trials": 2, "windows": [8], "scheduler": "none", "max_concurrent": 2},
    "ensemble": {"top_k": 2, "samples": 16},
}


def tiny_config(**overrides: Any) -> ExperimentConfig:
    """A tiny but real experiment on the built-in data; ``overrides`` use dotted keys."""
    raw: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TINY.items()}
    for key, value in overrides.items():
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return ExperimentConfig.from_dict(raw)


def tiny_run(tmp_path_factory, **overrides: Any):
    """Sweep and build the ensemble of ``tiny_config(**overrides)``: (run_dir, artifact)."""
    from foretune.ensemble import build_ensemble
    from foretune.search import run_sweep

    config = tiny_config(**overrides)
    run_dir = tmp_path_factory.mktemp("run")
    run_sweep(config, run_dir)
    return run_dir, build_ensemble(run_dir, config)


COVARIATE_SERIES = ["realgdp", "realcons", "cpi"]


def covariate_panel():
    """``(df, static_df)``: 60 quarters of three series, ``money`` (the m1 series) as a past
    covariate, ``promo`` (0/1, known ahead) lifting ``y`` by 20%, ``size`` static per series."""
    import numpy as np
    import pandas as pd

    from foretune.data import builtin_dataset_path

    raw = pd.read_parquet(builtin_dataset_path())
    money = raw[raw["unique_id"] == "m1"].set_index("ds")["y"]
    df = raw[raw["unique_id"].isin(COVARIATE_SERIES)].groupby("unique_id", sort=False).tail(60).copy()
    df["money"] = df["ds"].map(money).to_numpy()
    df["promo"] = np.random.default_rng(0).integers(0, 2, len(df)).astype(float)
    df["y"] = df["y"] * (1 + 0.2 * df["promo"])
    static = pd.DataFrame(
        {
            "unique_id": COVARIATE_SERIES,
            "size": np.log10(df.groupby("unique_id")["y"].mean()[COVARIATE_SERIES]),
        }
    )
    return df.reset_index(drop=True), static


def m1_yearly_panel(series: int | None = None):
    """The M1 competition's yearly panel as shipped inside ``aeon`` (181 series of 15-58
    observations, horizon 6): a real ragged panel, long format with integer-year ``ds``.

    ``series`` keeps that many series, always including the shortest ones, in file order.
    """
    from importlib import resources

    import pandas as pd
    from aeon.datasets import load_from_tsf_file

    path = resources.files("aeon").joinpath("datasets/data/m1_yearly_dataset/m1_yearly_dataset.tsf")
    raw, _ = load_from_tsf_file(str(path))
    rows = []
    for _, row in raw.iterrows():
        values = list(row["series_value"])
        start = pd.Timestamp(row["start_timestamp"]).year
        rows += [(row["series_name"], start + i, float(v)) for i, v in enumerate(values)]
    frame = pd.DataFrame(rows, columns=["unique_id", "ds", "y"])
    if series is not None:
        lengths = frame.groupby("unique_id", sort=False).size()
        keep = set(lengths.sort_values(kind="stable").index[: series // 2])
        keep |= set([uid for uid in lengths.index if uid not in keep][: series - len(keep)])
        frame = frame[frame["unique_id"].isin(keep)]
    return frame.reset_index(drop=True)


def recorded_finished(state_texts: list[str]) -> set[str]:
    """Trial ids that Tune's saved experiment state (the texts of ``experiment_state-*.json``,
    newest last) records as finished: what a resumed sweep can keep. A trial that finished after
    the last save is rerun by a resume, under a new id (a file being written reads as empty)."""
    import json

    for text in reversed(state_texts):
        try:
            state = json.loads(text)
        except ValueError:
            continue
        finished = set()
        for entry in state.get("trial_data", []):
            trial = json.loads(entry[0] if isinstance(entry, list) else entry)
            if trial.get("status") == "TERMINATED":
                finished.add(str(trial["trial_id"]))
        return finished
    return set()
