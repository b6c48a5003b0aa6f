"""Why a network trained on per-step changes loses to seasonal naive, and what each fix buys.

Run from the repository root (a few minutes on 2 CPU cores)::

    python benchmarks/deep_diagnosis.py                    # prints the table, writes the figure
    python benchmarks/deep_diagnosis.py --doc docs/benchmarks.md    # also rewrites its block there

One network (the same MLP, the same window, seed and budget of optimisation steps) is trained
with foretune's training loop (``train.fit``, no search) on each data set's seen part, in the
variants below, and forecasts the held-out windows (the data set's scored tail, which training
never sees) point-wise; the figure shows each variant's MASE per horizon step, with seasonal
naive's, so the growth of the error over the horizon is visible:

- ``changes, mse``: squared error on the standardised per-step changes (the seed's loss);
- ``level path, mase``: the MASE of the levels the changes integrate to (``train.loss: mase``);
- ``level path, mase + level input``: the same, the network also reading the window's level
  path (``train.input_levels``);
- ``nbeats, mase + level input``: the N-BEATS stack in place of the MLP.

Data sets: ``m3_monthly_300`` and ``taylor`` of ``benchmarks/datasets.py``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

try:
    import foretune  # noqa: F401
except ImportError:  # run without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import DATASETS  # noqa: E402
from foretune import metrics as M  # noqa: E402
from foretune.data import RatioTransform, SeriesFrame, model_inputs, prepare, validate  # noqa: E402
from foretune.data.calendar import season_lengths  # noqa: E402
from foretune.data.transform import RowTransform  # noqa: E402
from foretune.train import TrainSpec, fit  # noqa: E402

START, END = "<!-- deep-diagnosis:start -->", "<!-- deep-diagnosis:end -->"
SETS = ("m3_monthly_300", "taylor")


@dataclass(frozen=True)
class Origin:
    """One scored origin: the history before it, the actual next horizon ``[S, H]``, each
    series' levels up to it and MASE scale ``[S, 1]``."""

    history: pd.DataFrame
    actual: np.ndarray
    levels: list[np.ndarray]
    scale: np.ndarray


@dataclass(frozen=True)
class Variant:
    label: str
    architecture: str
    loss: str
    input_levels: bool


VARIANTS = (
    Variant("changes, mse", "mlp", "mse", False),
    Variant("level path, mase", "mlp", "mase", False),
    Variant("level path, mase + level input", "mlp", "mase", True),
    Variant("nbeats, mase + level input", "nbeats", "mase", True),
)


def split(frame: pd.DataFrame, points: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seen part and the scored tail (the last ``points`` of every series)."""
    frame = frame.sort_values(["unique_id", "ds"]).reset_index(drop=True)
    frame["unique_id"] = frame["unique_id"].astype(str)
    position = frame.groupby("unique_id").cumcount(ascending=False)
    return frame[position >= points].reset_index(drop=True), frame[position < points].reset_index(drop=True)


def train(variant: Variant, data, steps: int, seed: int):
    """One network of ``variant`` on ``data``: ``steps`` updates, early stopping on validation."""
    spec = TrainSpec(
        variant.architecture,
        {},
        window=data.window,
        horizon=data.horizon,
        loss=variant.loss,
        input_levels=variant.input_levels,
        steps_per_epoch=100,
        max_epochs=steps // 100,
        patience=5,
        direction_weight=0.0,
        seed=seed,
    )
    return fit(spec, data, lambda metrics, checkpoint: None, device="cpu").model.eval()


def forecast(model, transform: RatioTransform, history: pd.DataFrame, window: int) -> np.ndarray:
    """Point forecasts ``[S, H]`` from the end of each series of ``history`` (id order)."""
    groups = list(history.groupby("unique_id", sort=True))
    x = np.stack(
        [model_inputs(transform, uid, g["y"].to_numpy(np.float64), None, window) for uid, g in groups]
    )
    last = np.array([g["y"].iloc[-1] for _, g in groups], dtype=np.float64)
    with torch.no_grad():
        z = model(torch.as_tensor(x))[0].numpy().astype(np.float64)
    rows = RowTransform(transform, np.array([uid for uid, _ in groups], dtype=object))
    return rows.levels(last, rows.changes(z))


def seen_series(name: str) -> tuple[pd.DataFrame, SeriesFrame, int, int]:
    """Data set ``name``: its whole frame, its seen part validated, its season and the lookback
    ``max(horizon, season)``."""
    spec = DATASETS[name]
    frame = spec.loader()
    seen, _ = split(frame, spec.windows * spec.horizon)
    series = validate(seen, min_length=1)
    season = int(season_lengths(list(series.freqs.values()))[0])
    return frame, series, season, max(spec.horizon, season)


def scored_origins(frame: pd.DataFrame, horizon: int, windows: int, season: int) -> Iterator[Origin]:
    """The rolling origins over the scored tail (the last ``windows`` horizons of each series)."""
    for k in range(windows):
        history, future = split(frame, (windows - k) * horizon)
        actual = future.groupby("unique_id").head(horizon)["y"].to_numpy().reshape(-1, horizon)
        ys = [g["y"].to_numpy(np.float64) for _, g in history.groupby("unique_id", sort=True)]
        scale = np.array([M.mase_scale(y, season) for y in ys])[:, None]
        yield Origin(history, actual, ys, scale)


def step_mase(name: str, steps: int, seed: int) -> pd.DataFrame:
    """MASE per horizon step (mean over series and scored windows) of every variant and of
    seasonal naive, on data set ``name``."""
    horizon, windows = DATASETS[name].horizon, DATASETS[name].windows
    frame, series, season, window = seen_series(name)
    data = prepare(series, window=window, horizon=horizon, transform=RatioTransform("auto"), test_windows=0)
    models = {v.label: train(v, data, steps, seed) for v in VARIANTS}
    rows = {label: [] for label in [*models, "seasonal naive"]}
    for origin in scored_origins(frame, horizon, windows, season):
        naive = np.stack(
            [
                np.resize(y[-season:], horizon) if len(y) >= season else np.full(horizon, y[-1])
                for y in origin.levels
            ]
        )
        rows["seasonal naive"].append(np.abs(origin.actual - naive) / origin.scale)
        for label, model in models.items():
            predicted = forecast(model, data.transform, origin.history, window)
            rows[label].append(np.abs(origin.actual - predicted) / origin.scale)
    out = {label: np.nanmean(np.concatenate(errors), axis=0) for label, errors in rows.items()}
    return pd.DataFrame(out, index=pd.RangeIndex(1, horizon + 1, name="step"))


def figure(curves: dict[str, pd.DataFrame], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    for ax, (name, table) in zip(fig.subplots(1, len(curves)), curves.items(), strict=True):
        for label in table.columns:
            style = "--" if label == "seasonal naive" else "-"
            ax.plot(table.index, table[label], style, label=label)
        ax.set_title(name)
        ax.set_xlabel("horizon step")
        ax.set_ylabel("MASE at the step")
    fig.axes[0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def table(curves: dict[str, pd.DataFrame]) -> str:
    labels = list(next(iter(curves.values())).columns)
    lines = ["| variant | " + " | ".join(curves) + " |", "|---|" + "---:|" * len(curves)]
    for label in labels:
        cells = [f"{curves[name][label].mean():.3f}" for name in curves]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _shown(path: str) -> str:
    """``path`` relative to the repository when it lies inside it (as the docs link it)."""
    root = Path(__file__).resolve().parents[1]
    resolved = Path(path).resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else path


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="optimisation steps per network")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", default="docs/figures/deep_diagnosis.png")
    parser.add_argument(
        "--doc",
        "--docs",
        dest="doc",
        metavar="PATH",
        help="rewrite the deep-diagnosis block of this Markdown file (docs/benchmarks.md)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    curves = {name: step_mase(name, args.steps, args.seed) for name in SETS}
    figure(curves, Path(args.figure))
    text = (
        f"Generated by `python benchmarks/deep_diagnosis.py` (seed {args.seed}, {args.steps} steps "
        f"per network, mean MASE over the horizon; figure: `{_shown(args.figure)}`).\n\n" + table(curves)
    )
    print(text)
    if args.doc:
        from accuracy import write_doc

        write_doc(Path(args.doc), text, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
