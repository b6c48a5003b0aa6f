"""How fast a served ensemble forecasts: the import, ``Ensemble.load`` and ``Ensemble.predict``.

Run from the repository root::

    PYTHONPATH=platform python benchmarks/predict_speed.py                 # 1,000 and 10,000 series
    PYTHONPATH=platform python benchmarks/predict_speed.py --series 1428 --repeat 3

For each panel size it builds an ensemble in memory, saves it, loads it back and forecasts every
series' next ``--horizon`` steps with the default samples (``ensemble.samples``), twice: with
the deep members only (``--members``: freshly initialised networks of those architectures,
default hyperparameters; speed does not depend on the weights' values) and with the statistical
members beside them (``--statistical``, each with its fitted state per series, as a build saves
them, so ``predict`` applies them instead of estimating). It prints the seconds of the import
(``from foretune.ensemble import Ensemble`` in a fresh interpreter, best of three), of the load
and of ``predict`` (best of ``--repeat``) with its stages, and ``refit=True`` once (the
statistical members estimated anew, as every call did before they kept their states).

The panel is ``foretune.data.synthetic.business_panel``: monthly series of 24-144 months with
trend and a yearly season. Fitting the statistical states of 10,000 series would take longer
than everything measured, so ``--distinct`` series are generated and fit once and a larger panel
repeats them under new ids (level scaled per copy): applying a state costs the same whichever
series it was fit on.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

try:
    import foretune  # noqa: F401
except ImportError:  # run without PYTHONPATH=platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from foretune.config import EnsembleConfig
from foretune.data import RatioTransform
from foretune.data.synthetic import business_panel
from foretune.ensemble.conformal import Calibration
from foretune.ensemble.model import Ensemble, Member
from foretune.models.statistical import StatisticalModel, forecast_histories
from foretune.train import TrainSpec, build_model

START, END = "<!-- predict-speed:start -->", "<!-- predict-speed:end -->"

IMPORT = (
    "import time; t = time.perf_counter(); from foretune.ensemble import Ensemble; "
    "print(time.perf_counter() - t)"
)


def panel(series: int, distinct: int) -> pd.DataFrame:
    """``series`` series: ``distinct`` generated ones, repeated under new ids (scaled levels)."""
    base = business_panel(min(series, distinct))
    copies = []
    for k in range(-(-series // len(base["unique_id"].unique()))):
        copy = base.assign(unique_id=base["unique_id"] + f"_{k}", y=base["y"] * (1 + 0.01 * k))
        copies.append(copy)
    frame = pd.concat(copies, ignore_index=True)
    keep = frame["unique_id"].unique()[:series]
    return frame[frame["unique_id"].isin(keep)].reset_index(drop=True)


def fitted_states(frame: pd.DataFrame, names: list[str], distinct: int, horizon: int) -> dict[str, dict]:
    """Each statistical model's states per series: fit on the distinct series' histories without
    their last ``horizon`` points (as a build fits at its earliest window), copied to the repeats."""
    groups = {uid: g["y"].to_numpy() for uid, g in frame.groupby("unique_id", sort=False)}
    base = {uid.rsplit("_", 1)[0]: y for uid, y in groups.items() if uid.endswith("_0")}
    ids = list(base)[:distinct]
    histories = [base[u][: max(2, len(base[u]) - horizon)] for u in ids]
    started = time.perf_counter()
    fitted = forecast_histories([StatisticalModel(n) for n in names], histories, 12, horizon, ids)
    print(f"  (fitting {', '.join(names)} on {len(ids):,} series took {time.perf_counter() - started:.0f} s)")
    return {
        name: {uid: result.states[uid.rsplit("_", 1)[0]] for uid in groups}
        for name, result in zip(names, fitted, strict=True)
    }


def ensemble_for(
    frame: pd.DataFrame, deep: list[str], states: dict[str, dict], horizon: int, window: int
) -> Ensemble:
    """An ensemble of fresh ``deep`` networks and the statistical models of ``states``, weighted
    equally, with a calibration of every default level."""
    transform = RatioTransform("log_ratio")
    for uid, group in frame.groupby("unique_id", sort=False):
        transform.fit_series(uid, group["y"].to_numpy()[: max(2, int(len(group) * 0.75))])
    weight = 1.0 / (len(deep) + len(states))
    members = []
    for i, arch in enumerate(deep):
        spec = TrainSpec(arch, {}, window, horizon, seed=i)  # the training defaults (level input)
        model = build_model(spec, 2).eval()
        members.append(Member(model, arch, window, weight, spec, 2, {"trial_id": f"t{i}"}))  # y + mask
    for name, per_series in states.items():
        member = Member.of_statistical(name, weight)
        member.model = member.model.with_states(per_series)
        members.append(member)
    defaults = EnsembleConfig()
    settings = {
        "horizon": horizon,
        "samples": defaults.samples,
        "seed": 0,
        "levels": defaults.levels,
        "quantiles": defaults.quantiles,
        "direction_source": defaults.direction_source,
    }
    manifest = {"input_schema": {"required": ["unique_id", "ds", "y"], "covariates": []}, "freqs": {}}
    calibration = Calibration({level: np.full(horizon, 0.5) for level in defaults.levels})
    scales = {uid: 1.0 for uid in transform.stats}
    return Ensemble(members, transform, settings, manifest, calibration, scales)


def import_seconds(repeat: int = 3) -> float:
    """``from foretune.ensemble import Ensemble`` in a fresh interpreter, best of ``repeat``."""
    root = Path(__file__).resolve().parents[1] / "platform"
    env = {**os.environ, "PYTHONPATH": str(root)}
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT], capture_output=True, text=True, env=env, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


def measure(ensemble: Ensemble, frame: pd.DataFrame, repeat: int) -> dict[str, float]:
    """Save and load ``ensemble``; the load's and the best ``predict``'s seconds and stages."""
    with tempfile.TemporaryDirectory() as tmp:
        path = ensemble.save(Path(tmp) / "ensemble")
        started = time.perf_counter()
        loaded = Ensemble.load(path)
        load = time.perf_counter() - started
    best, stages = np.inf, {}
    for _ in range(repeat):
        started = time.perf_counter()
        forecast = loaded.predict(frame)
        seconds = time.perf_counter() - started
        if seconds < best:
            best, stages = seconds, dict(loaded.timings)
    assert len(forecast) == frame["unique_id"].nunique() * ensemble.horizon
    out = {"load": load, "predict": best, **{f"  {k}": v for k, v in stages.items()}}
    if any(m.statistical for m in loaded.members):
        started = time.perf_counter()
        loaded.predict(frame, refit=True)
        out["predict(refit=True)"] = time.perf_counter() - started
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="1000,10000", help="comma-separated panel sizes")
    parser.add_argument("--horizon", type=int, default=18)
    parser.add_argument("--window", type=int, default=36)
    parser.add_argument("--members", default="nbeats,mlp,gru,tcn", help="the quickstart's models")
    parser.add_argument("--statistical", default="AutoETS,AutoTheta,SeasonalNaive")
    parser.add_argument("--distinct", type=int, default=1000, help="series generated and fit")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--doc",
        metavar="PATH",
        help="rewrite the predict-speed block of this Markdown file (docs/benchmarks.md)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    deep, names = args.members.split(","), [n for n in args.statistical.split(",") if n]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    imported = import_seconds()
    print(f"import foretune.ensemble: {imported:.2f} s (fresh interpreter, best of 3)")
    rows = {}
    for n in (int(s) for s in args.series.split(",")):
        frame = panel(n, args.distinct)
        print(f"{n:,} series, horizon {args.horizon}, members {deep} + {names}:")
        states = fitted_states(frame, names, args.distinct, args.horizon) if names else {}
        for label, kept in (("deep only", {}), ("with statistical", states)):
            if label == "with statistical" and not names:
                continue
            ensemble = ensemble_for(frame, deep, kept, args.horizon, args.window)
            rows[f"{n:,} series, {label}"] = measure(ensemble, frame, args.repeat)
    table = pd.DataFrame(rows).round(2)
    print(table.fillna("").to_string())
    if args.doc:
        text = (
            f"Generated by `python benchmarks/predict_speed.py` (seconds; members {deep} + {names}, "
            f"horizon {args.horizon}, {EnsembleConfig().samples} samples, torch {torch.get_num_threads()} "
            f"threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, shared with other "
            f"jobs):\n\nimport foretune.ensemble: {imported:.2f} s (fresh interpreter, best of 3)\n\n"
            + markdown(table)
        )
        from accuracy import write_doc  # benchmarks/accuracy.py, beside this script

        write_doc(Path(args.doc), text, START, END)


def markdown(table: pd.DataFrame) -> str:
    """``table`` (stages as rows, panels as columns) as a Markdown table."""
    lines = ["| seconds | " + " | ".join(table.columns) + " |", "|---|" + "---:|" * len(table.columns)]
    for stage, row in table.iterrows():
        name = str(stage)
        label = "&nbsp;&nbsp;" + name.strip() if name.startswith(" ") else name
        cells = ["" if pd.isna(v) else f"{v:.2f}" for v in row]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
