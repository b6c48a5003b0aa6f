"""Measure ``Foretune.cross_validation``: one fit (``refit=False``) against a fit per cutoff.

Run from the repository root (a few minutes on 2 CPU cores)::

    python benchmarks/cross_validation.py                       # us_macro, 3 windows
    python benchmarks/cross_validation.py --windows 4 --trials 4 --epochs 10

On one panel (the built-in quarterly data, horizon 4) the same estimator cross-validates
``--windows`` cutoffs with ``refit=False`` (one sweep and one ensemble on the data before the
first cutoff, forecasting from every cutoff) and with ``refit=True`` (a sweep and an ensemble per
cutoff). One untimed fit warms Ray's workers up first, then the modes run in the order False,
True, True, False, so a drift in the machine's load weighs on both alike. Printed per mode: the
fastest wall-clock seconds of its two runs, fits, the time ratio to ``refit=False``, and the
accuracy of the forecasts (mean over cutoffs of MASE, sMAPE and 90% coverage, scored by
``foretune.metrics.evaluate_forecasts`` with each cutoff's history; the same in both runs of a
mode, as the seed is), so the cost and what it buys sit side by side. Other jobs on the machine
slow both modes; compare the ratio, and read the load average printed with it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

try:
    import foretune  # noqa: F401
except ImportError:  # run without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

HORIZON = 4


def scores(cv: pd.DataFrame, data: pd.DataFrame) -> dict[str, float]:
    """Mean over cutoffs of MASE (season 4), sMAPE and 90% coverage of a cross-validation frame."""
    from foretune.metrics import evaluate_forecasts

    per_cutoff = []
    for cutoff, fold in cv.groupby("cutoff"):
        history = data[data["ds"] <= cutoff]
        _, aggregate = evaluate_forecasts(fold.drop(columns="cutoff"), history, season=4)
        per_cutoff.append({k: aggregate[k] for k in ("mase", "smape", "coverage_90")})
    return pd.DataFrame(per_cutoff).mean().to_dict()


def run(data: pd.DataFrame, args: argparse.Namespace, out: Path, refit: bool, windows: int) -> dict:
    """One timed cross-validation: seconds, fits and scores."""
    from foretune import Foretune

    ft = Foretune(
        horizon=HORIZON,
        models=args.models,
        trials=args.trials,
        config={"train.max_epochs": args.epochs, "search.windows": [8, 16]},
        seed=args.seed,
        out=out,
        overwrite=True,
        verbosity="quiet",
    )
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        cv = ft.cross_validation(data, n_windows=windows, refit=refit)
    seconds = time.perf_counter() - start
    return {"refit": refit, "seconds": seconds, "fits": len(list(ft.cv_dir.iterdir())), **scores(cv, data)}


def measure(data: pd.DataFrame, args: argparse.Namespace, out: Path) -> pd.DataFrame:
    run(data, args, out / "warm-up", False, 1)
    runs = pd.DataFrame(
        [
            run(data, args, out / f"{k}", refit, args.windows)
            for k, refit in enumerate((False, True, True, False))
        ]
    )
    table = (
        runs.groupby("refit", sort=False)
        .agg({"seconds": "min", "fits": "first", "mase": "first", "smape": "first", "coverage_90": "first"})
        .reset_index()
    )
    table.insert(2, "x time", table["seconds"] / table["seconds"].iloc[0])
    return table


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--models", default="mlp,tcn")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="where the fits go (default: a temporary directory)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from foretune.data import builtin_dataset_path
    from foretune.runtime import ensure_ray

    data = pd.read_parquet(builtin_dataset_path())
    load_before = os.getloadavg()[0]
    ensure_ray(num_cpus=2)
    with tempfile.TemporaryDirectory(prefix="foretune-cv-") as tmp:
        table = measure(data, args, Path(args.out or tmp))
    print(
        f"cross_validation on us_macro (8 quarterly series, horizon {HORIZON}, {args.windows} windows; "
        f"models {args.models}, {args.trials} trials x {args.epochs} epochs, seed {args.seed}); "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores:\n"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
