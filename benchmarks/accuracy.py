"""Out-of-sample accuracy of foretune's defaults against statsforecast and neuralforecast.

Run from the repository root (about 5-10 minutes per data set on 2 CPU cores)::

    python benchmarks/accuracy.py                          # all data sets
    python benchmarks/accuracy.py --datasets co2,solar     # some of them
    python benchmarks/accuracy.py --set train.loss=mse     # a non-default setting (lever studies)
    python benchmarks/accuracy.py --doc docs/benchmarks.md # also rewrite the tables in docs/

Protocol, per data set: the last ``windows x horizon`` points of every series are cut off before
anything runs. foretune runs ``foretune run``'s sweep and ensemble with the packaged quickstart
configuration (``configs/quickstart.yaml``), changing only the data path and the horizon (plus
any ``--set``), on what is left, and serves what ``foretune run`` serves (``served_ensemble``:
with the default ``evaluate.refit_full`` the chosen members retrained on all of what is left;
the run's own report is skipped). Then one rolling-origin backtest
(``foretune.evaluate.backtest``) forecasts each of the ``windows`` held-out windows from
everything before it, with every system side by side:

- ``foretune``: the served ensemble (conformally calibrated intervals), and the same ensemble
  without calibration (``foretune, uncalibrated``); its weights and calibration never saw the
  scored points;
- statsforecast's ``SeasonalNaive``, ``AutoETS`` and ``AutoTheta`` with their own prediction
  intervals (``level=[20, 40, 60, 80, 90]``, so 90% coverage is compared like for like and the
  CRPS comes from 10 quantiles), refit at every origin;
- neuralforecast's ``NHITS`` (the ``bench`` extra: ``pip install -e .[bench]``) trained with a
  multi-quantile loss (``MQLoss`` on the same levels; point forecast = its median), input size
  ``2 x max(horizon, season)``, ``--nhits-steps`` optimisation steps of 256 windows (otherwise
  neuralforecast's defaults, e.g. robust scaling), trained once on what foretune's run sees and
  forecasting every origin from its history, as foretune's served ensemble does;
- ``member: <architecture> (<weight>)``: each deep member of the served ensemble alone.

Every system is scored by the same code (``foretune.metrics.evaluate_forecasts`` inside
the backtest): MASE and sMAPE (M4 definitions, mean over series), scaled CRPS (CRPS over the
in-sample seasonal-naive MAE, so it equals MASE for a point forecast; from foretune's sample
paths, from the quantiles for the others) and the 90% interval's coverage and mean width (data
units). Wall-clock: foretune's sweep + ensemble build + its backtest forecasts; for the others
their fits and forecasts at all origins.

Data sets: ``benchmarks/datasets.py`` (all public, shipped inside packages that the ``bench``
extra installs; nothing is downloaded), each with its horizon and the number of scored windows
(at least 5 rolling origins for a single series).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    import foretune  # noqa: F401
except ImportError:  # run without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import DATASETS  # noqa: E402  (benchmarks/datasets.py, beside this script)

COLUMNS = {
    "mase": "MASE",
    "smape": "sMAPE",
    "crps_scaled": "scaled CRPS",
    "coverage_90": "coverage 90%",
    "width_90": "width 90%",
    "direction_accuracy": "direction acc.",
    "log_loss": "direction log-loss",
    "seconds": "wall-clock s",
}
LEVELS = (20, 40, 60, 80, 90)
STATISTICAL = ("SeasonalNaive", "AutoETS", "AutoTheta")
FORETUNE = "foretune"
DEEP_ONLY = f"{FORETUNE}, deep only"
MEMBER = "member:"
CLIMATOLOGY = "climatology"  # the backtest's direction reference row (evaluate.backtest.CLIMATOLOGY)
START, END = "<!-- accuracy-benchmark:start -->", "<!-- accuracy-benchmark:end -->"
#: The README's headline: the targets table alone (``--summary README.md``).
SUMMARY_START, SUMMARY_END = "<!-- accuracy-summary:start -->", "<!-- accuracy-summary:end -->"


# --------------------------------------------------------------------------------- forecasters
def quantile_columns(raw: pd.DataFrame, model: str, point: str) -> pd.DataFrame:
    """``unique_id, ds, mean`` and quantile columns (foretune's names) from a Nixtla frame's
    ``<model>-lo/hi-<L>``."""
    from foretune.metrics import quantile_name

    out = raw[["unique_id", "ds"]].copy()
    out["mean"] = raw[point].to_numpy()
    for level in LEVELS:
        lo = (1.0 - level / 100.0) / 2.0
        out[quantile_name(lo)] = raw[f"{model}-lo-{level}"].to_numpy()
        out[quantile_name(1.0 - lo)] = raw[f"{model}-hi-{level}"].to_numpy()
    if f"{model}-median" in raw.columns:
        out["q50"] = raw[f"{model}-median"].to_numpy()
    # a multi-quantile network's outputs can cross (NHITS with MQLoss does early in training):
    # sort each row's quantiles (monotone rearrangement, which never worsens the pinball loss)
    names = sorted((c for c in out.columns if c.startswith("q")), key=lambda c: float("0." + c[1:]))
    out[names] = np.sort(out[names].to_numpy(np.float64), axis=1)
    return out.reset_index(drop=True)


def statistical_forecaster(model: str) -> Callable[[pd.DataFrame, int], pd.DataFrame]:
    from foretune.evaluate.baselines import statistical

    def forecast(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = statistical(history, horizon, models=(model,), level=LEVELS)
        return quantile_columns(raw, model, model)

    return forecast


class NHITSForecaster:
    """neuralforecast's NHITS, trained once on the history of the first origin it is asked for
    (what foretune's run sees) and then forecasting every later origin from its history, as
    foretune's served ensemble does."""

    def __init__(self, steps: int, seed: int) -> None:
        self.steps, self.seed = steps, seed
        self.fitted: Any = None
        self.min_history = 1

    def predict(self, history: pd.DataFrame, horizon: int, **_: Any) -> pd.DataFrame:
        from foretune.data.calendar import infer_freq, season_length

        hist = history[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"])
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.fitted is None:
                freq = infer_freq(hist.loc[hist["unique_id"] == hist["unique_id"].iloc[0], "ds"])
                self.fitted = self._fit(hist, horizon, freq, season_length(freq))
            raw = self.fitted.predict(df=hist)
        if "unique_id" not in raw.columns:
            raw = raw.reset_index()
        return quantile_columns(raw, "NHITS", "NHITS-median")

    def _fit(self, hist: pd.DataFrame, horizon: int, freq: Any, season: int) -> Any:
        from neuralforecast import NeuralForecast
        from neuralforecast.losses.pytorch import MQLoss
        from neuralforecast.models import NHITS

        model = NHITS(
            h=horizon,
            input_size=2 * max(horizon, season),
            loss=MQLoss(level=list(LEVELS)),
            max_steps=self.steps,
            windows_batch_size=256,  # of the default 1024: a quarter of the CPU time per step
            scaler_type="robust",
            start_padding_enabled=True,
            random_seed=self.seed,
            enable_progress_bar=False,
            enable_model_summary=False,
            enable_checkpointing=False,
            logger=False,
            accelerator="cpu",
        )
        nf = NeuralForecast(models=[model], freq=freq)
        nf.fit(df=hist)
        return nf


class Timed:
    """A forecaster that adds the seconds of each ``predict`` to ``seconds``."""

    def __init__(self, forecaster: Any, seconds: float = 0.0) -> None:
        self.forecaster, self.seconds = forecaster, seconds
        self.min_history = getattr(forecaster, "min_history", 2)

    def predict(self, history: pd.DataFrame, horizon: int, **kw: Any) -> pd.DataFrame:
        start = time.perf_counter()
        try:
            return self.forecaster.predict(history, horizon=horizon, **kw)
        finally:
            self.seconds += time.perf_counter() - start


# ---------------------------------------------------------------------------------- benchmark
def held_out_split(frame: pd.DataFrame, points: int) -> pd.DataFrame:
    """Every series without its last ``points`` observations: what the run may see."""
    position = frame.groupby("unique_id", sort=False).cumcount(ascending=False)
    return frame[position >= points].reset_index(drop=True)


def experiment(name: str, data_path: Path, horizon: int, args: argparse.Namespace, extra: dict):
    """The quickstart configuration with this data set's path and horizon (and ``--set``)."""
    from foretune.config import experiment_config

    settings = {
        "name": f"accuracy-{name}",
        "seed": args.seed,
        "data.path": str(data_path),
        "data.horizon": horizon,
        **extra,
        **args.settings,
    }
    return experiment_config(None, settings)


def run_dataset(name: str, out: Path, args: argparse.Namespace) -> tuple[str, pd.DataFrame]:
    """Run every system on one data set; its markdown section and its table's rows."""
    from foretune.evaluate.backtest import backtest
    from foretune.evaluate.forecasters import FunctionForecaster, transform_direction

    spec = DATASETS[name]
    windows = args.windows or spec.windows
    frame = spec.loader()
    run_dir = out / name
    run_dir.mkdir(parents=True, exist_ok=True)
    sizes = frame.groupby("unique_id").size()
    print(
        f"\n=== {name}: {len(sizes)} series, {sizes.min()}-{sizes.max()} points, "
        f"horizon {spec.horizon}, {windows} window(s) ===",
        flush=True,
    )
    served, deep, train_s, config = foretune_ensembles(name, frame, spec.horizon, windows, run_dir, args)
    systems = foretune_systems(served, deep, train_s, config.ensemble.samples, args.seed)
    for model in STATISTICAL:
        systems[model] = Timed(FunctionForecaster(statistical_forecaster(model)))
    if args.nhits_steps:
        systems["NHITS"] = Timed(NHITSForecaster(args.nhits_steps, args.seed))
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    direction = transform_direction(served.transform)
    result = backtest(systems, frame, spec.horizon, windows, direction=direction)
    summary = result.summary.set_index("model")
    summary["seconds"] = pd.Series({k: v.seconds for k, v in systems.items()})
    repeated = [k for k in summary.index if k == f"{FORETUNE}, uncalibrated" or str(k).startswith(MEMBER)]
    summary.loc[repeated, "seconds"] = np.nan  # their forecasts come from the same training
    summary.attrs["deep_weight"] = deep_weight(served)
    section = section_header(name, spec, sizes, windows, run_dir, served) + markdown(summary)
    (run_dir / "section.md").write_text(section)
    summary.reset_index().assign(deep_weight=summary.attrs["deep_weight"]).to_parquet(
        run_dir / "summary.parquet", index=False
    )
    return section, summary


def foretune_ensembles(name: str, frame: pd.DataFrame, horizon: int, windows: int, run_dir: Path, args):
    """The served ensemble, the same sweep's deep-only one (both as ``foretune run`` serves them),
    the seconds their sweep and builds took, and the config."""
    from foretune.commands.run import served_ensemble
    from foretune.ensemble import Ensemble, make_ensemble
    from foretune.search import run_sweep

    seen_path = run_dir / "seen.parquet"  # without the scored tail: the run never sees it
    config = experiment(name, seen_path, horizon, args, {})
    artifact, deep_artifact = run_dir / "ensemble", run_dir / "ensemble-deep"
    if args.reuse and artifact.exists() and deep_artifact.exists():  # timed by their files
        train_s = artifact.stat().st_mtime - seen_path.stat().st_mtime
        print(f"reusing the ensembles of {run_dir} ({train_s:.0f} s to build)", flush=True)
        return Ensemble.load(artifact), Ensemble.load(deep_artifact), train_s, config
    held_out_split(frame, windows * horizon).to_parquet(seen_path, index=False)
    start = time.perf_counter()
    run_sweep(config, run_dir)
    evaluated = make_ensemble(run_dir, config)
    (served_ensemble(config, run_dir, evaluated) or evaluated).save(artifact)
    train_s = time.perf_counter() - start
    deep_config = config.model_copy(deep=True)
    deep_config.ensemble.statistical = []
    deep = make_ensemble(run_dir, deep_config)
    (served_ensemble(deep_config, run_dir, deep) or deep).save(deep_artifact)
    return Ensemble.load(artifact), Ensemble.load(deep_artifact), train_s, config


def foretune_systems(served, deep, train_s: float, samples: int, seed: int) -> dict[str, Timed]:
    """foretune as served, uncalibrated, deep only, and each deep member alone."""
    from foretune.ensemble.forecasters import ModelForecaster

    common = {"samples": samples, "seed": seed, "min_history": 2}
    systems = {FORETUNE: Timed(ModelForecaster.with_draws(served, 100, **common), train_s)}
    if served.calibration is not None:
        raw = ModelForecaster.with_draws(served.without_calibration(), 100, **common)
        systems[f"{FORETUNE}, uncalibrated"] = Timed(raw, train_s)
    systems[DEEP_ONLY] = Timed(ModelForecaster.with_draws(deep, 100, **common), train_s)
    for i, member in enumerate(deep.members):
        label = f"{MEMBER} {member.architecture} w{member.window} ({member.weight:.2f})"
        systems[label] = Timed(ModelForecaster.with_draws(deep.member_alone(i), 100, **common), train_s)
    return systems


def deep_weight(ensemble) -> float:
    """The share of an ensemble's weight on its deep (trained) members."""
    return float(sum(m.weight for m in ensemble.members if not m.statistical))


def section_header(name: str, spec, sizes: pd.Series, windows: int, run_dir: Path, served) -> str:
    board = pd.read_parquet(run_dir / "leaderboard.parquet")
    archs = ", ".join(f"{a} x{n}" for a, n in board["architecture"].value_counts().items())
    members = ", ".join(f"{k} {v:.2f}" for k, v in served.weights.items())
    return (
        f"### {name}: {spec.frequency}, {len(sizes)} series of {sizes.min()}-{sizes.max()} points; "
        f"horizon {spec.horizon}, the last {windows} window(s) = {windows * spec.horizon} points "
        f"per series held out\n\n"
        f"foretune: {len(board)} trials ({archs}), {int((board['status'] == 'ok').sum())} ok; "
        f"served ensemble {members} (deep members {deep_weight(served):.2f} of the weight).\n\n"
    )


def saved_dataset(name: str, out: Path) -> tuple[str, pd.DataFrame]:
    """A data set's section and table rows as an earlier run under ``out`` saved them."""
    run_dir = out / name
    if not (run_dir / "summary.parquet").is_file():
        raise SystemExit(f"{run_dir} holds no finished run of {name} (run it without --report-only)")
    saved = pd.read_parquet(run_dir / "summary.parquet")
    summary = saved.drop(columns="deep_weight").set_index("model")
    summary.attrs["deep_weight"] = float(saved["deep_weight"].iloc[0])
    return (run_dir / "section.md").read_text(), summary


def markdown(summary: pd.DataFrame) -> str:
    """One row per system, the best value of each column in bold (coverage: nearest 0.90)."""
    lines = ["| system | " + " | ".join(COLUMNS.values()) + " |", "|---|" + "---:|" * len(COLUMNS)]
    best = {c: _best(summary, c) for c in COLUMNS}
    for label, row in summary.iterrows():
        cells = []
        for col in COLUMNS:
            text = _fmt(row.get(col, np.nan))
            cells.append(f"**{text}**" if text != "-" and label in best[col] else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison(summaries: dict[str, pd.DataFrame], sizes: dict[str, int]) -> str:
    """Per data set, the targets' figures: the deep-only ensemble against seasonal naive and
    NHITS, foretune as served against every other system and the best statistical baseline, the
    deep members' share of the served weight, and the served 90% interval's coverage; then how
    many sets meet each target."""
    lines = [
        "| data set | series | deep only MASE | vs SeasonalNaive | vs NHITS | served MASE | lowest of all? "
        "| vs best statistical | deep weight | coverage 90% |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    met = {"naive": 0, "nhits": 0, "lowest": 0, "statistical": 0, "weight": 0, "coverage": 0}
    panels = 0
    for name, s in summaries.items():
        mase = pd.to_numeric(s["mase"], errors="coerce")
        deep, ours = mase.get(DEEP_ONLY, np.nan), mase.get(FORETUNE, np.nan)
        naive, nhits = mase.get("SeasonalNaive", np.nan), mase.get("NHITS", np.nan)
        best_stat = mase.reindex(list(STATISTICAL)).min()
        others = mase.drop([i for i in mase.index if str(i).startswith((FORETUNE, MEMBER))]).dropna()
        lowest = bool(len(others)) and ours <= others.min()
        coverage = _column(s, "coverage_90").get(FORETUNE, np.nan)
        weight = s.attrs.get("deep_weight", np.nan)
        met["naive"] += deep < naive
        met["nhits"] += deep < nhits
        met["lowest"] += lowest
        met["statistical"] += ours <= 1.02 * best_stat
        met["coverage"] += 0.85 <= coverage <= 0.95
        if sizes.get(name, 0) >= 100:
            panels += 1
            met["weight"] += weight >= 0.5
        lines.append(
            f"| {name} | {sizes.get(name, '-')} | {_fmt(deep)} | {deep / naive:.2f}x | {deep / nhits:.2f}x "
            f"| {_fmt(ours)} | {'yes' if lowest else 'no'} | {ours / best_stat:.2f}x | {weight:.2f} "
            f"| {_fmt(coverage)} |"
        )
    n = len(summaries)
    lines += [
        "",
        f"Targets met: deep only below seasonal naive on {met['naive']} of {n} sets (target: all); "
        f"below NHITS on {met['nhits']} of {n} (target: two thirds); served lowest of all systems on "
        f"{met['lowest']} of {n} (two thirds) and within 1.02x the best statistical baseline on "
        f"{met['statistical']} of {n} (all); deep members at least half the served weight on "
        f"{met['weight']} of {panels} panels of 100+ series (all); 90% coverage in 0.85-0.95 on "
        f"{met['coverage']} of {n} (two thirds).",
    ]
    return "\n".join(lines)


def _column(summary: pd.DataFrame, col: str) -> pd.Series:
    if col not in summary.columns:
        return pd.Series(dtype=float)
    return pd.to_numeric(summary[col], errors="coerce")


def _best(summary: pd.DataFrame, col: str) -> set[str]:
    if col not in summary.columns or col.startswith(("width", "seconds")):
        return set()
    values = pd.to_numeric(summary[col], errors="coerce")
    if values.notna().sum() == 0:
        return set()
    key = (values - 0.9).abs() if col.startswith("coverage") else values
    return set(key.index[np.isclose(key, key.min())])


def _fmt(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-"
    if not np.isfinite(v):
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def write_doc(doc: Path, text: str, start: str = START, end: str = END) -> None:
    """Replace what lies between the markers ``start`` and ``end`` (by default this benchmark's)
    of the Markdown file ``doc`` (``docs/benchmarks.md``) with ``text``."""
    content = doc.read_text()
    if start not in content or end not in content:
        raise SystemExit(f"{doc} has no {start} ... {end} block to replace")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated")
    parser.add_argument(
        "--windows", type=int, default=None, help="scored windows per series (default: the data set's)"
    )
    parser.add_argument("--nhits-steps", type=int, default=200, help="NHITS optimisation steps; 0 = skip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config setting")
    parser.add_argument("--out", help="output directory (default runs/accuracy-<time>)")
    parser.add_argument(
        "--doc",
        "--readme",
        dest="doc",
        metavar="PATH",
        help="rewrite the accuracy-benchmark block of this Markdown file (docs/benchmarks.md)",
    )
    parser.add_argument(
        "--summary",
        metavar="PATH",
        help="rewrite the accuracy-summary block of this Markdown file (README.md): the targets table",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="score the sweep and ensemble already under --out/<data set> instead of running them again",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: print (and --doc) the tables of the data sets already run under --out "
        "(e.g. by several processes, one per data set)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from foretune.config import parse_settings

    parser = build_parser()
    args = parser.parse_args(argv)
    args.settings = parse_settings(args.set)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {unknown}; choose from {list(DATASETS)}")
    out = Path(args.out or f"runs/accuracy-{time.strftime('%Y%m%d-%H%M%S')}").resolve()

    if not args.report_only:
        from foretune.runtime import ensure_ray

        ensure_ray(num_cpus=2)
    sections, summaries = [], {}
    for name in names:
        if args.report_only:
            if not (out / name / "summary.parquet").is_file():
                sections.append(f"### {name}: not run (no finished run under {out.name})")
                continue
            section, summaries[name] = saved_dataset(name, out)
        else:
            section, summaries[name] = run_dataset(name, out, args)
            print("\n" + section, flush=True)
        sections.append(section)
    write_outputs(args, out, summaries, sections)
    return 0


def write_outputs(args: argparse.Namespace, out: Path, summaries: dict, sections: list[str]) -> None:
    """``out/accuracy.md`` (and ``--doc``): the generated line, the targets table and every data
    set's section; ``--summary``: the generated line and the targets table."""
    settings = ", ".join(args.set) or "none"
    head = (
        f"Generated by `python benchmarks/accuracy.py` (seed {args.seed}, quickstart defaults, 8 trials "
        f"per set, extra settings: {settings}; "
        + (f"NHITS {args.nhits_steps} steps; " if args.nhits_steps else "NHITS not run (--nhits-steps 0); ")
        + f"{os.cpu_count()} CPUs shared with other jobs, so compare wall-clock within a table).\n\n"
        + comparison(summaries, {n: DATASETS[n].loader()["unique_id"].nunique() for n in summaries})
    )
    text = head + "\n\n" + "\n\n".join(sections) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.md").write_text(text)
    print("\n" + text)
    print(f"written to {out / 'accuracy.md'}")
    if args.doc:
        write_doc(Path(args.doc), text)
        print(f"rewrote the benchmark block of {args.doc}")
    if args.summary:
        write_doc(Path(args.summary), head, SUMMARY_START, SUMMARY_END)
        print(f"rewrote the accuracy summary of {args.summary}")


if __name__ == "__main__":
    sys.exit(main())
