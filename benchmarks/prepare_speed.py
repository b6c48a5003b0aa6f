"""How fast ``prepare`` cuts windows: synthetic panels of 1,000 / 10,000 / 30,000 series x 100 days.

Run from the repository root::

    PYTHONPATH=platform python benchmarks/prepare_speed.py
    PYTHONPATH=platform python benchmarks/prepare_speed.py --series 1000,100000 --length 60 --repeat 3

Each panel comes from ``foretune.data.synthetic.panel_frame`` (positive daily random walks with a
weekly season) and is handed to ``prepare`` as an already valid ``SeriesFrame``, so only
``prepare`` is timed: fitting every series' statistics and MASE scale on its training part and
cutting the train, test and validation windows. The table gives the best of ``--repeat`` runs per
size, the windows per second, and each time relative to the first size measured in the same run
(linear scaling keeps that ratio near the ratio of the sizes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    import foretune  # noqa: F401
except ImportError:  # run without PYTHONPATH=platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from foretune.data import RatioTransform, SeriesFrame, prepare
from foretune.data.synthetic import panel_frame


def panel(series: int, length: int, covariates: int) -> SeriesFrame:
    frame = panel_frame([length] * series, seed=0, covariates=covariates)
    names = tuple(f"x{c}" for c in range(covariates))
    return SeriesFrame(frame, names, {uid: "D" for uid in frame["unique_id"].unique()})


def time_prepare(data: SeriesFrame, window: int, horizon: int, repeat: int) -> tuple[float, int]:
    best, windows = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        prep = prepare(data, window=window, horizon=horizon, transform=RatioTransform())
        best = min(best, time.perf_counter() - started)
        windows = len(prep.train) + len(prep.val) + len(prep.test)
        del prep
    return best, windows


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="1000,10000,30000", help="comma-separated panel sizes")
    parser.add_argument("--length", type=int, default=100, help="observations per series")
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--horizon", type=int, default=4)
    parser.add_argument("--covariates", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    return parser


def main() -> None:
    args = build_parser().parse_args()

    sizes = [int(s) for s in args.series.split(",")]
    print(
        f"prepare: window {args.window}, horizon {args.horizon}, {args.length} observations per series, "
        f"{args.covariates} covariate(s), best of {args.repeat}"
    )
    print(f"{'series':>8} {'windows':>10} {'seconds':>8} {'windows/s':>11} {'x time':>7} {'x size':>7}")
    first = None
    for size in sizes:
        data = panel(size, args.length, args.covariates)
        seconds, windows = time_prepare(data, args.window, args.horizon, args.repeat)
        first = first or (seconds, size)
        print(
            f"{size:>8,} {windows:>10,} {seconds:>8.2f} {windows / seconds:>11,.0f} "
            f"{seconds / first[0]:>7.1f} {size / first[1]:>7.1f}"
        )


if __name__ == "__main__":
    main()
