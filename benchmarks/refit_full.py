"""Measure ``evaluate.refit_full``: serve the members refit on all the data, or the scored ones?
And refit how: warm-started from their trained weights (the default) or retrained from scratch?

Run from the repository root (several minutes per data set on 2 CPU cores)::

    python benchmarks/refit_full.py                      # us_macro, co2, m1_yearly, business_300
    python benchmarks/refit_full.py --datasets co2
    python benchmarks/refit_full.py --doc docs/benchmarks.md   # also rewrite its block there

For each data set (three real ones, and ``business_300``: about 300 synthetic monthly series of
a business panel, where the refit's cost shows), ``foretune run`` (the packaged quickstart defaults, so
``evaluate.windows: 2`` and ``evaluate.refit_full: true``) sees every series without its last
``horizon`` observations: the outer tail, which no stage of the run sees. One run yields the
ensembles: the one its report scores (trained without the run's own held-out tail) and the same
members and weights trained on all the run's data (what ``refit_full`` serves), twice: each
deep member warm-started from its trained weights for ``refit.WARM_START_STEPS`` updates (the
default) and retrained from scratch for its trial's epochs (as ``refit_full`` did before). All
three forecast the outer tail from the same history (``foretune evaluate``, one window), beside
the seasonal-naive baseline. Printed: MASE, sMAPE, scaled CRPS and 90% coverage per ensemble,
and each refit's seconds as a share of the run's wall clock (sweep, build, report and that
refit).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from pathlib import Path

import pandas as pd

try:
    import foretune  # noqa: F401
except ImportError:  # run without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from accuracy import DATASETS, held_out_split  # noqa: E402
from datasets import DataSet  # noqa: E402


def business_300() -> pd.DataFrame:
    """About 300 synthetic monthly series shaped like a business panel (``run_stages``' panel):
    those of 96 months or more, so any ensemble's lookback fits before the outer tail."""
    from foretune.data.synthetic import business_panel

    frame = business_panel(600)
    lengths = frame.groupby("unique_id")["y"].transform("size")
    return frame[lengths >= 96].reset_index(drop=True)


#: The data sets measured: ``accuracy``'s, and a panel where the refit's cost shows.
SETS = {**DATASETS, "business_300": DataSet(business_300, 18, "monthly")}

START, END = "<!-- refit-full:start -->", "<!-- refit-full:end -->"
COLUMNS = {"mase": "MASE", "smape": "sMAPE", "crps_scaled": "scaled CRPS", "coverage_90": "coverage 90%"}


def measure(name: str, out: Path, seed: int) -> pd.DataFrame:
    from foretune.commands import run as commands
    from foretune.commands.evaluate import evaluate_command, run_report
    from foretune.config import ExperimentConfig
    from foretune.ensemble import Ensemble, refit_on_all_data
    from foretune.ensemble.refit import WARM_START_STEPS

    dataset = SETS[name]
    horizon, frame = dataset.horizon, dataset.loader()
    root = out / name
    root.mkdir(parents=True, exist_ok=True)
    full, seen = root / "data.parquet", root / "seen.parquet"
    frame.to_parquet(full, index=False)
    held_out_split(frame, horizon).to_parquet(seen, index=False)
    config = ExperimentConfig.from_yaml(
        None, {"data.path": str(seen), "data.horizon": horizon, "seed": seed, "out": str(root / "run")}
    )
    run_dir = root / "run"
    stamps = [time.perf_counter()]
    with contextlib.redirect_stdout(io.StringIO()):
        commands.sweep(config, run_dir)
        artifact = commands.ensemble(run_dir, config)
        stamps.append(time.perf_counter())
        run_report(run_dir, artifact)
        stamps.append(time.perf_counter())
        refits = {}
        for label, steps in (("warm start", WARM_START_STEPS), ("retrain", None)):
            started = time.perf_counter()
            refit = refit_on_all_data(run_dir, Ensemble.load(artifact), config, warm_steps=steps)
            refits[label] = (refit.save(root / label.replace(" ", "_")), time.perf_counter() - started)
    base = stamps[-1] - stamps[0]  # sweep, build and report
    rows = []
    served = {"scored": artifact, **{k: path for k, (path, _) in refits.items()}}
    for label, model in served.items():
        out = root / f"outer-{label.replace(' ', '_')}"
        evaluate_command(model, full, windows=1, out=out, members=False, statistical=False, log=None)
        summary = pd.read_parquet(out / "backtest_summary.parquet").set_index("model")
        shown = {"ensemble": f"ensemble ({label})"}
        if label == "scored":
            shown["seasonal_naive"] = "seasonal naive"
        for model_name, text in shown.items():
            scores = summary.loc[model_name, list(COLUMNS)].astype(float)
            rows.append({"data set": name, "model": text, **scores})
    costs = ", ".join(f"{k} {s:.0f} s ({s / (base + s):.0%})" for k, (_, s) in refits.items())
    rows.append({"data set": name, "model": f"refit stage, share of the run: {costs}"})
    return pd.DataFrame(rows)


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="us_macro,co2,m1_yearly,business_300")
    parser.add_argument("--out", default="benchmarks/out/refit_full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--doc",
        "--readme",
        dest="doc",
        metavar="PATH",
        help="rewrite the refit-full block of this Markdown file (docs/benchmarks.md) with the table",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from foretune.runtime import ensure_ray

    load_before = os.getloadavg()[0]
    ensure_ray(num_cpus=2)
    tables = []
    for name in args.datasets.split(","):
        tables.append(measure(name, Path(args.out), args.seed))
        print(markdown(tables[-1].rename(columns=COLUMNS)), flush=True)  # as each set finishes
    result = pd.concat(tables, ignore_index=True)
    text = (
        f"Generated by `python benchmarks/refit_full.py` (seed {args.seed}, data sets "
        f"{args.datasets}; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} cores):\n\n" + markdown(result.rename(columns=COLUMNS)) + "\n"
    )
    print(text)
    if args.doc:
        from accuracy import write_doc

        write_doc(Path(args.doc), text, START, END)
        print(f"rewrote the refit-full block of {args.doc}")


def markdown(frame: pd.DataFrame) -> str:
    """A markdown table (numbers to 3 decimals, blanks for missing)."""

    def cell(v) -> str:
        return "" if pd.isna(v) else f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
